//! The scheduler process (`anchor scheduler`, and the scheduler half of `anchor up`): the
//! loop that runs the scheduler's [`tick`] every `LEDGER_TICK`.
//!
//! The `scheduler` crate (one directory up) decides, with no I/O: due periods, the cost
//! governor, backfill pacing. This crate is the process that acts on those decisions against
//! the system of record and the job queue: it creates runs and enqueues jobs, reaps stalled
//! runs, reconciles pending upgrades and trims the queue. The jobs themselves, and the queue,
//! are the `workers` crate's; this crate adds no job of its own. It shares the workers'
//! context ([`workers::Ctx`]) and error type ([`workers::WorkerError`]): both processes read
//! one configuration and fail in the same ways (store, KV, queue), so a second error enum
//! would only re-wrap the first.

use std::sync::Arc;

use workers::Ctx;
use workers::service::{Shutdown, runs_by_status};

pub mod tick;

pub use tick::{TickReport, reconcile_upgrades};

/// Ticks every `policy.tick` until shutdown, then refreshes the `runs{status}` gauges. A failed
/// tick is logged and retried next time.
pub async fn scheduler_loop(ctx: Arc<Ctx>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(ctx.policy.tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = every.tick() => {
                if let Err(e) = tick::tick(&ctx, ctx.now()).await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
                // The `runs{status}` gauges: `queued` is the backlog the workers face.
                if let Err(e) = runs_by_status(&ctx).await {
                    tracing::warn!(error = %e, "counting runs by status failed");
                }
            }
        }
    }
}
