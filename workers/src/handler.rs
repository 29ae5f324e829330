//! The one job handler: dispatch by kind, a lease per run, our own retries, one job per key.
//!
//! - **Lease**: a rollup takes `lease:run:{id}` in the KV store (set-if-absent with the
//!   configured TTL, `LEDGER_RUN_LEASE`, default 10 min) so two deliveries of one run never
//!   work at once; a worker that dies keeps it only until it expires, then the scheduler's
//!   reaper re-enqueues the run and another worker resumes it from what is stored.
//! - **Follow-ups**: a job that must run again later (deferred, leased elsewhere, a transient
//!   failure, an upgrade still pending) returns a [`FollowUp`] instead of pushing it: the
//!   handler first releases the job's key ([`crate::Queue::release`]), then pushes the
//!   follow-up under the same key. A job is therefore in the queue at most once, however
//!   often it is deferred (issue 26: each deferral used to add a copy).
//! - **Deferral** records the run's `not_before` in the system of record, so the reaper leaves
//!   it alone until then.
//! - **Retries**: transient errors re-enqueue the job with exponential backoff (2 s doubling,
//!   at most 10 min), up to [`MAX_ATTEMPTS`] attempts of the run; then, or at once for a
//!   permanent error, the run fails with the reason in its row and its summary.
//! - **Dead letters**: a job whose run does not exist here is recorded in the queue's
//!   dead-letter set with the reason and killed (apalis's dead set), never acknowledged done.
//! - The handler returns an error to apalis only when the queue itself failed (apalis then
//!   delivers the same job again) or for a dead letter (killed, not retried).

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::{AbortError, BoxDynError, Data, TaskId};
use ledger::kv::KvKey;
use ledger::sql::{RunOutcome, RunStatus};
use tracing::Instrument as _;

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::job::{FollowUp, Job};
use crate::queue::{Queue, queue_err};
use crate::rollup::Rollup;

/// A run that has failed transiently this many times fails for good.
pub const MAX_ATTEMPTS: u32 = 8;

/// Backoff before retry `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let secs = 2u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(600))
}

/// The apalis entry point.
pub async fn handle(
    job: Job,
    ctx: Data<Arc<Ctx>>,
    task: TaskId,
) -> std::result::Result<(), BoxDynError> {
    let started = Instant::now();
    let kind = job.kind();
    let span = job_span(&job);
    let Dispatched { result, follow_up } = Box::pin(dispatch(&ctx, &job))
        .instrument(span.clone())
        .await;
    let outcome = match &result {
        Ok(()) => "ok",
        Err(WorkerError::RunMissing(_)) => "dead-letter",
        Err(_) => "error",
    };
    let took = started.elapsed();
    metrics::histogram!("job_duration_seconds", "kind" => kind, "outcome" => outcome)
        .record(took.as_secs_f64());
    span.in_scope(|| {
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        tracing::info!(outcome, duration_ms, "job finished");
    });
    let task = task.to_string();
    if let Err(e @ WorkerError::RunMissing(_)) = &result {
        ctx.queue.dead_letter(&task, &job, &e.to_string()).await?;
    }
    // Free the key before the follow-up takes it (and before apalis acknowledges us). A
    // follow-up is pushed whatever the result: a transient failure's retry comes with its
    // error.
    ctx.queue.release(&job.key(), &task).await?;
    if let Some(next) = follow_up {
        ctx.queue.push(next.job, next.delay).await?;
    }
    match result {
        Ok(()) => Ok(()),
        Err(e @ WorkerError::Queue(_)) => Err(Box::new(e)),
        Err(e @ WorkerError::RunMissing(_)) => Err(Box::new(AbortError::new(e))),
        Err(e) => {
            tracing::error!(job = %job.key(), error = %e, "job failed");
            Ok(())
        }
    }
}

/// The span every line a job logs carries (`LEDGER_LOG_FORMAT=json` writes it with each
/// line): the job's kind and key and, for a run's job, the run, tenant and period.
fn job_span(job: &Job) -> tracing::Span {
    let run = job.run();
    let (tenant, period) = run.and_then(|r| r.split_once(':')).unzip();
    // Display, not Debug: `run=acme:2026-W47` in text logs, as the jobs' own lines write it.
    tracing::info_span!(
        "job",
        kind = %job.kind(),
        key = %job.key(),
        run = run.map(tracing::field::display),
        tenant = tenant.map(tracing::field::display),
        period = period.map(tracing::field::display)
    )
}

/// What one job did, and the job that must follow it (if any), whether or not it failed.
#[derive(Debug)]
pub struct Dispatched {
    pub result: Result<()>,
    pub follow_up: Option<FollowUp>,
}

impl From<Result<Option<FollowUp>>> for Dispatched {
    fn from(r: Result<Option<FollowUp>>) -> Dispatched {
        match r {
            Ok(follow_up) => Dispatched {
                result: Ok(()),
                follow_up,
            },
            Err(e) => Dispatched {
                result: Err(e),
                follow_up: None,
            },
        }
    }
}

/// Runs one job and returns what must follow it; public so `anchor run` and the demo can run
/// jobs in-process (they push the follow-up themselves).
pub async fn dispatch(ctx: &Ctx, job: &Job) -> Dispatched {
    let step = match job {
        Job::Rollup { run, .. } => {
            let leased = Box::pin(rollup_leased(ctx, run)).await;
            return Dispatched {
                result: leased.result.map(drop),
                follow_up: leased.follow_up,
            };
        }
        Job::Upgrade { run, attempt } => match crate::upgrade::job(ctx, run, *attempt).await {
            Err(e) if e.is_transient() => {
                tracing::warn!(run, error = %e, "upgrade attempt failed; will retry");
                Ok(Some(crate::upgrade::next(run, attempt + 1)))
            }
            other => other,
        },
        Job::SampleVerify { run } => crate::sample::job(ctx, run).await.map(|()| None),
        Job::CatchUp { .. } => crate::catchup::job(ctx).await.map(|()| None),
        Job::Backfill { id, .. } => crate::backfill::step(ctx, id).await.map(|()| None),
        Job::Canary { .. } => crate::canary::cycle(ctx, ctx.now()).await.map(|_| None),
    };
    step.into()
}

/// What [`rollup_leased`] did, and the job that must follow it (if any).
#[derive(Debug)]
pub struct Leased {
    /// `Ok(None)`: another process holds the run's lease.
    pub result: Result<Option<Rollup>>,
    pub follow_up: Option<FollowUp>,
}

fn rollup_again(run_id: &str, via: String, delay: Duration) -> FollowUp {
    FollowUp {
        job: Job::Rollup {
            run: run_id.to_owned(),
            via,
        },
        delay,
    }
}

/// A rollup under the run's lease, with retries and failure recording. The follow-up (a
/// deferral, a retry, a look again when another process holds the lease) is returned, not
/// pushed.
pub async fn rollup_leased(ctx: &Ctx, run_id: &str) -> Leased {
    let lease = match KvKey::lease(&format!("run:{run_id}")) {
        Ok(l) => l,
        Err(e) => {
            return Leased {
                result: Err(e.into()),
                follow_up: None,
            };
        }
    };
    match ctx
        .kv
        .set_if_absent(&lease, &ctx.worker_id, ctx.run_lease)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(
                run = run_id,
                "run is leased by another worker; looking again later"
            );
            let now = ctx.now().timestamp();
            return Leased {
                result: Ok(None),
                follow_up: Some(rollup_again(
                    run_id,
                    format!("leased-{now}"),
                    ctx.run_lease.min(Duration::from_secs(30)),
                )),
            };
        }
        Err(e) => {
            return Leased {
                result: Err(e.into()),
                follow_up: Some(rollup_again(run_id, "kv-error".into(), backoff(1))),
            };
        }
    }
    let mut out = Box::pin(rollup_under_lease(ctx, run_id)).await;
    if let Err(e) = ctx.kv.delete(&lease).await
        && out.result.is_ok()
    {
        out.result = Err(e.into());
    }
    out
}

async fn rollup_under_lease(ctx: &Ctx, run_id: &str) -> Leased {
    match Box::pin(crate::rollup::rollup(ctx, run_id)).await {
        Ok(Rollup::Deferred { reason, retry_in }) => {
            tracing::info!(run = run_id, reason, "run deferred");
            let now = ctx.now();
            let until = now + chrono::Duration::from_std(retry_in).unwrap_or_default();
            if let Err(e) = ctx.store.defer_run(run_id, until).await {
                return Leased {
                    result: Err(e.into()),
                    follow_up: Some(rollup_again(run_id, "retry-defer".into(), backoff(1))),
                };
            }
            Leased {
                result: Ok(Some(Rollup::Deferred { reason, retry_in })),
                follow_up: Some(rollup_again(
                    run_id,
                    format!("deferred-{}", now.timestamp()),
                    retry_in,
                )),
            }
        }
        Ok(r) => Leased {
            result: Ok(Some(r)),
            follow_up: None,
        },
        Err(e) if e.is_transient() => {
            let attempt = ctx
                .store
                .run(run_id)
                .await
                .map_or(MAX_ATTEMPTS, |r| r.attempt);
            if attempt >= MAX_ATTEMPTS {
                let reason = format!("gave up after {attempt} attempts: {e}");
                fail_for_good(ctx, run_id, &reason, e).await
            } else {
                let wait = backoff(attempt);
                tracing::warn!(run = run_id, attempt, error = %e, retry_in_s = wait.as_secs(), "transient failure; retrying");
                Leased {
                    result: Err(e),
                    follow_up: Some(rollup_again(run_id, format!("retry-{attempt}"), wait)),
                }
            }
        }
        Err(e @ WorkerError::RunMissing(_)) => Leased {
            result: Err(e),
            follow_up: None,
        },
        Err(e) => {
            let reason = e.to_string();
            fail_for_good(ctx, run_id, &reason, e).await
        }
    }
}

/// Records the run as failed with `reason` and returns `e`; when recording the failure
/// itself fails (the database is down), the rollup is asked for again instead.
async fn fail_for_good(ctx: &Ctx, run_id: &str, reason: &str, e: WorkerError) -> Leased {
    let public = crate::public::failed(&e, reason.starts_with("gave up after"));
    match fail_run(ctx, run_id, (reason, &public)).await {
        Ok(()) => Leased {
            result: Err(e),
            follow_up: None,
        },
        Err(f) => Leased {
            result: Err(f),
            follow_up: Some(rollup_again(run_id, "retry-fail".into(), backoff(1))),
        },
    }
}

/// Records a run as failed: `reason` in its row, the `public` class in its summary
/// ([`crate::public`]).
async fn fail_run(ctx: &Ctx, run_id: &str, (reason, public): (&str, &str)) -> Result<()> {
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
        vec![public.to_owned()],
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

/// Runs a pool of `concurrency` workers on `queue` until a `shutdown()` future resolves (a
/// new one per attempt: on Redis a worker refused by its backend is registered again, at
/// most [`REDIS_RESTARTS`] times in a row).
pub async fn run_workers<F>(
    queue: Queue,
    ctx: Arc<Ctx>,
    name: &str,
    concurrency: usize,
    shutdown: impl Fn() -> F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    // The builder's extension traits (poll strategies, concurrency, parallelism).
    use apalis::prelude::*;
    let signal = |stop: F| async move {
        stop.await;
        Ok::<(), std::io::Error>(())
    };
    let concurrency = concurrency.max(1);
    let r = match queue {
        Queue::Sqlite(s, ..) => {
            return WorkerBuilder::new(name)
                .backend(s.poll_with_interval(Queue::POLL))
                .data(ctx)
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(handle)
                .run_until(signal(shutdown()))
                .await
                .map_err(queue_err);
        }
        Queue::Redis(r, ..) => r,
    };
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        // Fetch no more jobs than this process runs at once: a worker that fetched ten while
        // running two would sit on eight that an idle worker could run.
        let config = r.get_config().clone().batch_size(concurrency);
        let ran = WorkerBuilder::new(name)
            .backend(
                r.clone()
                    .with_config(config)
                    .poll_with_interval(Queue::POLL),
            )
            .data(ctx.clone())
            .concurrency(concurrency)
            .parallelize(tokio::spawn)
            .build(handle)
            .run_until(signal(shutdown()))
            .await;
        let Err(e) = ran else {
            return Ok(());
        };
        if started.elapsed() > REDIS_STEADY {
            failures = 0;
        }
        failures += 1;
        if failures > REDIS_RESTARTS {
            return Err(queue_err(e));
        }
        let wait = Duration::from_secs(1 << (failures - 1));
        tracing::warn!(
            error = %e,
            failures,
            "the Redis queue refused this worker (its registration was lost, or Redis is \
             unreachable): registering it again in {}s",
            wait.as_secs()
        );
        tokio::select! {
            () = shutdown() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// How many times in a row the Redis worker is registered again after its backend failed
/// (1, 2, 4, 8 and 16 s apart) before the process gives up and exits for its supervisor.
/// Decision (issue 22): a Redis that lost its data (restarted without persistence, flushed)
/// forgets the worker's registration, and apalis then refuses every poll ("worker not
/// registered"); registering again recovers at once, and the scheduler's reconciliation gives
/// every pending anchor its job back. A Redis that stays down still ends the process, about
/// 30 s later than before, so a supervisor sees it.
const REDIS_RESTARTS: u32 = 5;

/// A worker that ran this long before failing starts a new count of [`REDIS_RESTARTS`].
const REDIS_STEADY: Duration = Duration::from_mins(1);
