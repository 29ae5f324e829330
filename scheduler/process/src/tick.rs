//! The scheduler's tick: the I/O half of the `scheduler` crate's decisions.
//!
//! Every tick (`LEDGER_TICK`, default 30 s):
//!
//! 1. **Lease**: `lease:scheduler-tick:{n}` (n = the tick's number since the epoch) is taken
//!    set-if-absent; a second scheduler running at once finds it held and skips that tick.
//!    Even without the lease nothing would be done twice: runs are created with
//!    deterministic ids (`{tenant}:{period}`, `INSERT … ON CONFLICT DO NOTHING`) and only the
//!    creator enqueues; jobs carry deterministic idempotency keys.
//! 2. **Due periods**: for every tenant that opted in and is active and not paused, for each
//!    cadence of its plan, every period that has manifests, has closed plus the grace, ended
//!    after the tenant was created, and has no run yet ([`scheduler::due_periods`]) gets a
//!    run and a rollup job. After downtime every missed period is therefore caught up once.
//! 3. **Reaper**: a run still `queued` or `running` a lease TTL after it was created or
//!    started is re-enqueued (its job was lost with a queue, or its worker died), unless it
//!    was deferred and its `not_before` has not come; the run lease and the stored artifacts
//!    make the repeat safe, and the queue holds one job per run (a push while the run's job
//!    is queued does nothing). Once per lease TTL every run whose OTS anchor is pending gets
//!    its upgrade job back the same way ([`reconcile_upgrades`]), so no loss of queue state
//!    strands a run.
//! 4. **Catch-up**: while the automation holds the fleet at tsa-only, or runs with a deferred
//!    OTS anchor exist, a catch-up job is enqueued.
//! 5. **Backfills**: every queued or running backfill gets a step job, which enqueues the
//!    periods its token bucket and cost ceiling allow.
//! 6. **Calendar canary**: when on (`LEDGER_CANARY_INTERVAL`), a canary job about once a
//!    minute ([`workers::canary`]).
//! 7. **Queue upkeep**: finished and dead jobs past their retention are trimmed
//!    ([`workers::Queue::trim`]) and the queue's depth is exported (`queue_jobs{state}`).
//! 8. **Webhooks**: the tenants' due events are sent to their webhooks, failures retried
//!    with backoff on later ticks ([`workers::webhooks`]). Under the tick's lease, so two
//!    schedulers do not send the same delivery at once (it stays at least once: receivers
//!    deduplicate on `X-Ledger-Delivery`).

use chrono::{DateTime, Utc};
use ledger::KillMode;
use ledger::kv::KvKey;
use ledger::sql::{BackfillStatus, RunFilter, RunStatus, Trigger};

use workers::job::Job;
use workers::{Ctx, Result, WorkerError};

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// False when another scheduler held this tick's lease.
    pub ran: bool,
    /// Runs created and enqueued.
    pub enqueued: Vec<String>,
    /// Runs re-enqueued by the reaper.
    pub reaped: Vec<String>,
    pub catch_up: bool,
    pub backfills: usize,
    /// A calendar-canary cycle was enqueued ([`workers::canary`]).
    pub canary: bool,
    /// Upgrade jobs pushed by the reconciliation (deduplicated by the queue).
    pub reconciled: usize,
    /// Finished job records trimmed from the queue.
    pub trimmed: u64,
    /// Webhook deliveries made and failed.
    pub webhooks: workers::webhooks::Delivered,
}

fn tick_number(ctx: &Ctx, now: DateTime<Utc>) -> i64 {
    let secs = i64::try_from(ctx.policy.tick.as_secs().max(1)).unwrap_or(30);
    now.timestamp().div_euclid(secs)
}

/// One scheduler tick at `now`: the steps of the module documentation, in order.
pub async fn tick(ctx: &Ctx, now: DateTime<Utc>) -> Result<TickReport> {
    let n = tick_number(ctx, now);
    let lease = KvKey::lease(&format!("scheduler-tick:{n}"))?;
    let mut report = TickReport::default();
    if !ctx
        .kv
        .set_if_absent(
            &lease,
            &ctx.worker_id,
            ctx.policy.tick.max(std::time::Duration::from_secs(1)) * 2,
        )
        .await?
    {
        return Ok(report);
    }
    report.ran = true;
    let started = std::time::Instant::now();
    report.enqueued = enqueue_due_periods(ctx, now).await?;
    report.reaped = reap_stale_runs(ctx, now, n, &report.enqueued).await?;
    enqueue_periodic_jobs(ctx, now, n, &mut report).await?;
    report.trimmed = queue_upkeep(ctx).await?;
    report.webhooks = workers::webhooks::deliver(ctx, now).await?;
    metrics::histogram!("scheduler_tick_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("scheduler_runs_enqueued_total").increment(report.enqueued.len() as u64);
    tracing::info!(
        enqueued = report.enqueued.len(),
        reaped = report.reaped.len(),
        catch_up = report.catch_up,
        backfills = report.backfills,
        reconciled = report.reconciled,
        trimmed = report.trimmed,
        "scheduler tick"
    );
    Ok(report)
}

/// Step 2: a run and a rollup job for every due period of every tenant that anchors and is
/// not paused; returns the runs created.
async fn enqueue_due_periods(ctx: &Ctx, now: DateTime<Utc>) -> Result<Vec<String>> {
    let mut enqueued = Vec::new();
    for tenant in ctx.store.tenants().await? {
        if !tenant.anchoring_enabled()
            || ctx.store.effective_kill_mode(&tenant.id).await? == KillMode::Paused
        {
            continue;
        }
        let from = tenant.created_at.date_naive() - chrono::Duration::days(62);
        let days: Vec<chrono::NaiveDate> = ctx
            .store
            .manifest_days(&tenant.id, from, now.date_naive())
            .await?
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        for schedule in ctx.policy.plans.schedules(tenant.plan) {
            let due = scheduler::due_periods(
                schedule.cadence,
                &days,
                tenant.created_at,
                now,
                ctx.policy.grace,
            );
            for period in due {
                if let Some(run) = service::runs::create_and_enqueue(
                    &ctx.store,
                    &ctx.queue,
                    &tenant.id,
                    period,
                    Trigger::Scheduled,
                    "scheduled",
                    now,
                )
                .await?
                {
                    enqueued.push(run);
                }
            }
        }
    }

    Ok(enqueued)
}

/// Step 3, the reaper: re-enqueues every run queued or running past the run lease (and not
/// deferred), except those this tick just created; returns them.
async fn reap_stale_runs(
    ctx: &Ctx,
    now: DateTime<Utc>,
    n: i64,
    enqueued: &[String],
) -> Result<Vec<String>> {
    let mut reaped = Vec::new();
    let stale = chrono::Duration::from_std(ctx.run_lease)
        .map_err(|_| WorkerError::Config("LEDGER_RUN_LEASE is too large".into()))?;
    for status in [RunStatus::Queued, RunStatus::Running] {
        let runs = ctx
            .store
            .runs(&RunFilter {
                tenant: None,
                status: Some(status),
                limit: Some(10_000),
            })
            .await?;
        for run in runs {
            let since = run.started_at.unwrap_or(run.created_at);
            let deferred = run.not_before.is_some_and(|t| t > now);
            if now - since >= stale && !deferred && !enqueued.contains(&run.id) {
                ctx.queue
                    .push(
                        Job::Rollup {
                            run: run.id.clone(),
                            via: format!("reaped-{n}"),
                        },
                        std::time::Duration::ZERO,
                    )
                    .await?;
                reaped.push(run.id);
            }
        }
    }

    Ok(reaped)
}

/// Steps 4 to 6 and the upgrade reconciliation: the catch-up, backfill-step and canary jobs
/// when due, and every pending anchor's upgrade job once per lease TTL.
async fn enqueue_periodic_jobs(
    ctx: &Ctx,
    now: DateTime<Utc>,
    n: i64,
    report: &mut TickReport,
) -> Result<()> {
    if workers::outage::auto_tsa_only(ctx).await?
        || !workers::catchup::deferred_runs(ctx).await?.is_empty()
    {
        ctx.queue
            .push(Job::CatchUp { tick: n }, std::time::Duration::ZERO)
            .await?;
        report.catch_up = true;
    }

    for b in ctx.store.backfills(None).await? {
        if matches!(b.status, BackfillStatus::Queued | BackfillStatus::Running) {
            ctx.queue
                .push(
                    Job::Backfill {
                        id: b.id.clone(),
                        tick: n,
                    },
                    std::time::Duration::ZERO,
                )
                .await?;
            report.backfills += 1;
        }
    }
    // The calendar canary: one cycle about once a minute (every tick when ticks are a
    // minute or longer apart); the queue holds at most one.
    let canary_ticks = (60 / ctx.policy.tick.as_secs().max(1)).max(1);
    if ctx.canary.is_some() && n.rem_euclid(i64::try_from(canary_ticks).unwrap_or(1)) == 0 {
        ctx.queue
            .push(Job::Canary { tick: n }, std::time::Duration::ZERO)
            .await?;
        report.canary = true;
    }
    let lease_ticks = (ctx.run_lease.as_secs() / ctx.policy.tick.as_secs().max(1)).max(1);
    if n.rem_euclid(i64::try_from(lease_ticks).unwrap_or(1)) == 0 {
        report.reconciled = reconcile_upgrades(ctx, now).await?;
    }
    Ok(())
}

/// Step 7: trims finished and dead jobs past their retention and exports the queue's depth;
/// returns how many records were trimmed.
async fn queue_upkeep(ctx: &Ctx) -> Result<u64> {
    let trimmed = ctx
        .queue
        .trim_older_than(ctx.queue_retain_done, workers::queue::RETAIN_DEAD)
        .await?;
    let stats = ctx.queue.stats().await?;
    for (state, v) in [
        ("pending", stats.pending),
        ("scheduled", stats.scheduled),
        ("running", stats.running),
        ("done", stats.done),
        ("dead", stats.dead),
        ("dead-letter", stats.dead_letters),
    ] {
        #[allow(clippy::cast_precision_loss)] // a gauge; counts far below 2^52
        metrics::gauge!("queue_jobs", "state" => state).set(v as f64);
    }
    Ok(trimmed)
}

/// Gives every run whose OTS anchor is pending (status `anchored`) its upgrade job, resuming
/// the backoff where the time since the submission puts it. The queue keeps one upgrade job
/// per run, so this pushes nothing new while the job exists; after a loss of queue state
/// (a flushed Redis, a deleted queue file) it brings every pending anchor back. Returns how
/// many pushes it made.
pub async fn reconcile_upgrades(ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let runs = workers::ctx::anchored_runs(ctx).await?;
    let mut pushed = 0;
    for run in runs {
        let submitted = run.finished_at.unwrap_or(run.created_at);
        let age = (now - submitted).to_std().unwrap_or_default();
        let attempt = workers::upgrade::attempt_for_age(age);
        ctx.queue
            .push(
                Job::Upgrade {
                    run: run.id.clone(),
                    attempt,
                },
                std::time::Duration::ZERO,
            )
            .await?;
        pushed += 1;
    }
    Ok(pushed)
}
