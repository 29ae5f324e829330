//! The worker pool as a long-running role, the shutdown signal every role of a process shares
//! (the scheduler loop is `scheduler_process::scheduler_loop`), and the run counts both use.

use std::sync::Arc;
use std::time::Duration;

use ledger::sql::{RunFilter, RunStatus};
use tokio::sync::watch;

use crate::ctx::Ctx;
use crate::error::Result;

/// A shutdown signal shared by every role of a process.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// Triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Resolves once the trigger fired (or was dropped).
    pub async fn wait(mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Runs a pool of `concurrency` workers until shutdown.
pub async fn worker_pool(ctx: Arc<Ctx>, concurrency: usize, shutdown: Shutdown) -> Result<()> {
    let name = format!("anchor-worker-{}", ctx.worker_id);
    crate::handler::run_workers(ctx.queue.clone(), ctx, &name, concurrency, || {
        shutdown.clone().wait()
    })
    .await
}

/// Counts of runs by status (a gauge for metrics, and the demo's "all done" test).
pub async fn runs_by_status(ctx: &Ctx) -> Result<Vec<(RunStatus, usize)>> {
    let mut out = Vec::new();
    for &status in RunStatus::ALL {
        let n = ctx
            .store
            .runs(&RunFilter {
                tenant: None,
                status: Some(status),
                limit: Some(1_000_000),
            })
            .await?
            .len();
        metrics::gauge!("runs", "status" => status.as_str())
            .set(f64::from(u32::try_from(n).unwrap_or(u32::MAX)));
        out.push((status, n));
    }
    Ok(out)
}

/// Waits until no run is queued or running (or `timeout` passes): how `anchor demo` and the
/// end-to-end tests know the fleet has drained.
pub async fn wait_until_idle(ctx: &Ctx, timeout: Duration) -> Result<bool> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let counts = runs_by_status(ctx).await?;
        let busy: usize = counts
            .iter()
            .filter(|(s, _)| matches!(s, RunStatus::Queued | RunStatus::Running))
            .map(|(_, n)| n)
            .sum();
        if busy == 0 {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
