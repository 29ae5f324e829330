//! Runs: how a run comes to be, and the rules of a manual run.
//!
//! A run is created in the system of record (`{tenant}:{period}`, once: `create_run` is
//! idempotent) and its rollup is enqueued only by the caller that created it. The queue is a
//! port ([`RunQueue`]): the workers' job queue implements it, and a binary hands it to the API,
//! so neither the API nor this layer depends on the job runner.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use ledger::sql::{Run, Store};
use ledger::{Period, TenantId, Trigger};
use scheduler::Policy;

use crate::error::{Result, ServiceError};

/// A boxed future of the port's answers (the port is used as a trait object).
pub type QueueFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// The job queue as the service layer sees it: enqueue a run's rollup, and answer a
/// readiness probe. Errors are the queue's own words.
pub trait RunQueue: Send + Sync {
    /// Enqueues the rollup of run `run` now; `via` says who asked (`scheduled`, `manual`,
    /// `backfill-{id}`), for the job's log. A rollup already queued is not queued twice.
    fn enqueue_rollup<'a>(&'a self, run: &'a str, via: &'a str) -> QueueFuture<'a>;
    /// Whether the queue answers.
    fn ping(&self) -> QueueFuture<'_>;
}

/// Creates the run of `tenant`'s `period` and, when it is new, enqueues its rollup; returns
/// the new run's id (`None`: the run existed, so its rollup was enqueued before). The
/// scheduler's tick, backfills and the API's `POST /admin/runs` all create runs through this.
pub async fn create_and_enqueue(
    store: &Store,
    queue: &dyn RunQueue,
    tenant: &TenantId,
    period: Period,
    trigger: Trigger,
    via: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let (run, created) = store.create_run(tenant, period, trigger, now).await?;
    if !created {
        return Ok(None);
    }
    queue
        .enqueue_rollup(&run.id, via)
        .await
        .map_err(ServiceError::Queue)?;
    Ok(Some(run.id))
}

/// A manual run (trigger `manual`) of one period now: the period's cadence must be one the
/// tenant's plan anchors, and the period must have closed. A period that already has a run
/// is a conflict naming its status: runs are once per period, and a held or failed one is
/// re-run by the scheduler's reaper and catch-up, not by a second run. Returns the run.
pub async fn start_manual(
    store: &Store,
    policy: &Policy,
    queue: &dyn RunQueue,
    tenant: &TenantId,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Run> {
    let t = store.tenant(tenant).await?;
    let schedules = policy.plans.schedules(t.plan);
    if !schedules.iter().any(|s| s.cadence == period.cadence()) {
        return Err(ServiceError::Unprocessable(format!(
            "period {period} is {}, and plan {} anchors {}",
            period.cadence(),
            t.plan,
            schedules
                .iter()
                .map(|s| s.cadence.to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    }
    if period.end() > now {
        return Err(ServiceError::Unprocessable(format!(
            "period {period} has not closed yet"
        )));
    }
    let created =
        create_and_enqueue(store, queue, tenant, period, Trigger::Manual, "manual", now).await?;
    let run = store.run(&Run::id_for(tenant, period)).await?;
    if created.is_none() {
        return Err(ServiceError::Conflict(format!(
            "run {} exists and is {}",
            run.id, run.status
        )));
    }
    Ok(run)
}
