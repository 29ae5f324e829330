//! The backfill job: one step of an operator's backfill (`anchor backfill`, `POST
//! /admin/backfills`), enqueued by the scheduler's tick for every queued or running backfill.
//! The decisions (token bucket, cost ceiling, order) are `scheduler::plan_backfill`'s; this
//! module reads the backfill's state, carries out the step and records its progress.

use chrono::{DateTime, Utc};
use ledger::kv::KvKey;
use ledger::sql::{Backfill, BackfillProgress, BackfillStatus};
use ledger::{Cadence, Period, Plan, Trigger};
use scheduler::{BackfillFacts, BackfillStep, Candidate, TokenBucket};

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};

fn bucket_key(id: &str) -> Result<KvKey> {
    Ok(KvKey::state(&format!("backfill-bucket:{id}"))?)
}

/// One step of a backfill: enqueue what its token bucket and cost ceiling allow. While the
/// tenant does not anchor (opted out, or paused or disabled by an operator) a step does
/// nothing, so the backfill waits rather than creating runs that would only be held.
///
/// Progress counters count what was enqueued (periods, manifests, estimated cost): the cost
/// ceiling must hold for what is committed, not only for what has finished. Backfilled runs
/// have trigger `backfill`, so their receipts say `backfilled: true` next to the period they
/// cover and the (later) time they were anchored — never backdated.
pub async fn step(ctx: &Ctx, id: &str) -> Result<()> {
    let b = ctx.store.backfill(id).await?;
    if !matches!(b.status, BackfillStatus::Queued | BackfillStatus::Running) {
        return Ok(());
    }
    let now = ctx.now();
    let tenant = ctx.store.tenant(&b.tenant).await?;
    if !tenant.anchoring_enabled() {
        // Opted out (or paused/disabled by an operator): no new runs, no tokens, no spend.
        // A run created now would only be held for good, and its period lost to the
        // backfill; waiting lets the backfill go on where it was once the tenant anchors
        // again.
        tracing::info!(
            backfill = id,
            tenant = %tenant.id,
            consent = %tenant.consent,
            status = %tenant.status,
            "tenant does not anchor now: backfill waits"
        );
        return Ok(());
    }
    let candidates = backfill_candidates(ctx, &b, tenant.plan, now).await?;
    let key = bucket_key(id)?;
    let mut bucket = match ctx.kv.get(&key).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| WorkerError::Permanent(format!("backfill bucket {id}: {e}")))?,
        None => TokenBucket::full(b.manifests_per_hour, b.created_at)?,
    };
    let facts = BackfillFacts {
        cost_ceiling_micro_usd: b.cost_ceiling_micro_usd,
        committed_micro_usd: b.cost_spent_micro_usd,
    };
    let step = scheduler::plan_backfill(&facts, &mut bucket, &candidates, now);
    ctx.kv
        .set(
            &key,
            &serde_json::to_string(&bucket).expect("a bucket serialises"),
        )
        .await?;
    apply_backfill_step(ctx, &b, step, &candidates, now).await
}

/// The closed periods of the backfill's range, per cadence of the tenant's plan, that have
/// manifests and no run yet, oldest first (daily before longer cadences of the same start).
async fn backfill_candidates(
    ctx: &Ctx,
    b: &Backfill,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>> {
    let days = ctx.store.manifest_days(&b.tenant, b.from, b.to).await?;
    let mut candidates: Vec<Candidate> = Vec::new();
    for schedule in ctx.policy.plans.schedules(plan) {
        let mut periods: Vec<Period> = days
            .iter()
            .map(|(d, _)| Period::containing(schedule.cadence, day_start(*d)))
            .collect();
        periods.dedup();
        for period in periods {
            // A period must have closed: a backfill never anchors an open period.
            if period.end() > now || ctx.store.find_run(&b.tenant, period).await?.is_some() {
                continue;
            }
            candidates.push(Candidate {
                period,
                manifests: ctx.store.count_period_manifests(&b.tenant, period).await?,
                estimate_micro_usd: ctx.policy.costs.estimate(schedule.anchors),
            });
        }
    }
    candidates.sort_by_key(|c| (c.period.start(), c.period.cadence() != Cadence::Daily));
    Ok(candidates)
}

/// Carries out what [`scheduler::plan_backfill`] decided: enqueue the planned periods and
/// record the progress, wait for the bucket, or stop or finish the backfill.
async fn apply_backfill_step(
    ctx: &Ctx,
    b: &Backfill,
    step: BackfillStep,
    candidates: &[Candidate],
    now: DateTime<Utc>,
) -> Result<()> {
    let id = b.id.as_str();
    let first = b.status == BackfillStatus::Queued;
    match step {
        BackfillStep::Enqueue(periods) => {
            let mut progress = BackfillProgress {
                periods_total: first.then_some(candidates.len() as u64 + b.periods_done),
                ..BackfillProgress::default()
            };
            for period in periods {
                let c = candidates
                    .iter()
                    .find(|c| c.period == period)
                    .expect("planned from candidates");
                let via = format!("backfill-{id}");
                if service::runs::create_and_enqueue(
                    &ctx.store,
                    &ctx.queue,
                    &b.tenant,
                    period,
                    Trigger::Backfill,
                    &via,
                    now,
                )
                .await?
                .is_some()
                {
                    progress.periods_done += 1;
                    progress.manifests_done += c.manifests;
                    progress.cost_spent_micro_usd += c.estimate_micro_usd;
                }
            }
            ctx.store.add_backfill_progress(id, progress, now).await?;
            if first {
                ctx.store
                    .set_backfill_status(id, BackfillStatus::Running, None, now)
                    .await?;
            }
        }
        BackfillStep::Wait { until } => {
            tracing::debug!(backfill = id, %until, "backfill waiting for its token bucket");
            if first {
                ctx.store
                    .set_backfill_status(id, BackfillStatus::Running, None, now)
                    .await?;
            }
        }
        BackfillStep::Stop { reason } => {
            ctx.store
                .set_backfill_status(id, BackfillStatus::Stopped, Some(&reason), now)
                .await?;
            tracing::warn!(backfill = id, reason, "backfill stopped");
        }
        BackfillStep::Done => {
            ctx.store
                .set_backfill_status(id, BackfillStatus::Done, None, now)
                .await?;
        }
    }
    Ok(())
}

fn day_start(d: chrono::NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}
