//! The one job handler: dispatch by kind, a lease per run, our own retries.
//!
//! - **Lease**: a rollup takes `lease:run:{id}` in the KV store (set-if-absent with the
//!   configured TTL, `LEDGER_RUN_LEASE`, default 10 min) so two deliveries of one run never
//!   work at once; a worker that dies keeps it only until it expires, then the scheduler's
//!   reaper re-enqueues the run and another worker resumes it from what is stored.
//! - **Retries**: transient errors re-enqueue the job with exponential backoff (2 s doubling,
//!   at most 10 min) under a new key, up to [`MAX_ATTEMPTS`] attempts of the run; then, or at
//!   once for a permanent error, the run fails with the reason in its row and its summary.
//! - The handler returns an error to apalis only when the queue itself failed, so apalis's
//!   own bookkeeping never re-runs a job behind our back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::{BoxDynError, Data};
use ledger::kv::KvKey;
use ledger::sql::{RunOutcome, RunStatus};

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::job::Job;
use crate::rollup::Rollup;

/// A run that has failed transiently this many times fails for good.
pub const MAX_ATTEMPTS: u32 = 8;

/// Backoff before retry `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let secs = 2u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(600))
}

/// The apalis entry point.
pub async fn handle(job: Job, ctx: Data<Arc<Ctx>>) -> std::result::Result<(), BoxDynError> {
    let started = Instant::now();
    let kind = job.kind();
    let result = Box::pin(dispatch(&ctx, &job)).await;
    let outcome = match &result {
        Ok(()) => "ok",
        Err(_) => "error",
    };
    metrics::histogram!("job_duration_seconds", "kind" => kind, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(()) => Ok(()),
        Err(e @ WorkerError::Queue(_)) => Err(Box::new(e)),
        Err(e) => {
            tracing::error!(job = %job.key(), error = %e, "job failed");
            Ok(())
        }
    }
}

/// Runs one job; public so `anchor run` can run a rollup in-process.
pub async fn dispatch(ctx: &Ctx, job: &Job) -> Result<()> {
    match job {
        Job::Rollup { run, .. } => Box::pin(rollup_leased(ctx, run)).await.map(|_| ()),
        Job::Upgrade { run, attempt } => match crate::upgrade::job(ctx, run, *attempt).await {
            Err(e) if e.is_transient() => {
                tracing::warn!(run, error = %e, "upgrade attempt failed; will retry");
                ctx.queue
                    .push(
                        Job::Upgrade {
                            run: run.clone(),
                            attempt: attempt + 1,
                        },
                        crate::upgrade::delay(attempt + 1),
                    )
                    .await
            }
            other => other,
        },
        Job::SampleVerify { run } => crate::sample::job(ctx, run).await,
        Job::CatchUp { .. } => crate::catchup::job(ctx).await,
        Job::Backfill { id, .. } => crate::tick::backfill_step(ctx, id).await,
    }
}

/// A rollup under the run's lease, with retries and failure recording.
pub async fn rollup_leased(ctx: &Ctx, run_id: &str) -> Result<Option<Rollup>> {
    let lease = KvKey::lease(&format!("run:{run_id}"))?;
    if !ctx
        .kv
        .set_if_absent(&lease, &ctx.worker_id, ctx.run_lease)
        .await?
    {
        tracing::info!(
            run = run_id,
            "run is leased by another worker; looking again later"
        );
        let now = ctx.now().timestamp();
        ctx.queue
            .push(
                Job::Rollup {
                    run: run_id.to_owned(),
                    via: format!("leased-{now}"),
                },
                ctx.run_lease.min(Duration::from_secs(30)),
            )
            .await?;
        return Ok(None);
    }
    let result = Box::pin(crate::rollup::rollup(ctx, run_id)).await;
    let out = match result {
        Ok(Rollup::Deferred { reason, retry_in }) => {
            tracing::info!(run = run_id, reason, "run deferred");
            let now = ctx.now().timestamp();
            ctx.queue
                .push(
                    Job::Rollup {
                        run: run_id.to_owned(),
                        via: format!("deferred-{now}"),
                    },
                    retry_in,
                )
                .await?;
            Ok(Some(Rollup::Deferred { reason, retry_in }))
        }
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_transient() => {
            let attempt = ctx
                .store
                .run(run_id)
                .await
                .map_or(MAX_ATTEMPTS, |r| r.attempt);
            if attempt >= MAX_ATTEMPTS {
                fail_run(
                    ctx,
                    run_id,
                    &format!("gave up after {attempt} attempts: {e}"),
                )
                .await?;
            } else {
                let wait = backoff(attempt);
                tracing::warn!(run = run_id, attempt, error = %e, retry_in_s = wait.as_secs(), "transient failure; retrying");
                ctx.queue
                    .push(
                        Job::Rollup {
                            run: run_id.to_owned(),
                            via: format!("retry-{attempt}"),
                        },
                        wait,
                    )
                    .await?;
            }
            Err(e)
        }
        Err(e) => {
            fail_run(ctx, run_id, &e.to_string()).await?;
            Err(e)
        }
    };
    ctx.kv.delete(&lease).await?;
    out
}

/// Records a run as failed, with a summary naming why.
async fn fail_run(ctx: &Ctx, run_id: &str, reason: &str) -> Result<()> {
    let run = ctx.store.run(run_id).await?;
    if matches!(
        run.status,
        RunStatus::Anchored | RunStatus::Complete | RunStatus::Failed
    ) {
        return Ok(());
    }
    let tenant = ctx.store.tenant(&run.tenant).await?;
    let (kill, _) = crate::rollup::kill_state(ctx, &tenant).await?;
    crate::rollup::append_outcome_summary(
        ctx,
        &tenant,
        &run,
        None,
        vec![reason.to_owned()],
        0,
        kill,
    )
    .await?;
    ctx.store
        .finish_run(
            run_id,
            &RunOutcome {
                status: RunStatus::Failed,
                root: None,
                tree_size: None,
                estimated_cost_micro_usd: 0,
                errors: vec![reason.to_owned()],
            },
            ctx.now(),
        )
        .await?;
    metrics::counter!("runs_finished_total", "status" => "failed").increment(1);
    tracing::error!(run = run_id, reason, "run failed");
    Ok(())
}
