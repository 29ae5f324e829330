//! One rollup now, in this process (`anchor run`): the run is created (idempotently) and rolled
//! up under its lease; a deferral or a retry goes to the queue, where a worker picks it up.

use std::time::Duration;

use chrono::Utc;
use ledger::config::Config;
use ledger::sql::{Run, RunStatus, Trigger};
use ledger::{Period, TenantId};
use workers::ctx::Progress;
use workers::rollup::Rollup;

use crate::edge::open_ctx;
use crate::error::{FleetError, Result};

/// What one rollup attempt came to: the JSON line `anchor run` prints and what it means.
#[derive(Debug)]
pub struct RollupNow {
    /// `{"run","status","result","root","tree_size","errors"}`.
    pub line: serde_json::Value,
    /// The `result` word of the line.
    pub result: &'static str,
    /// `None` when the run is anchored (or was before).
    pub unfinished: Option<Unfinished>,
}

/// Why a rollup attempt did not leave the run anchored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// Nothing failed; it is not done yet (lease held elsewhere, deferred, to be retried).
    NotYet(String),
    /// Held by policy until an operator acts, or failed for good.
    Stopped(String),
}

/// Rolls up `tenant`'s `period` now; `progress` is told each checkpoint the rollup passes.
pub async fn rollup_now(
    config: &Config,
    tenant: &TenantId,
    period: Period,
    progress: Option<Progress>,
) -> Result<RollupNow> {
    let mut ctx = open_ctx(config, config.is_embedded()).await?;
    ctx.store
        .tenant(tenant)
        .await
        .map_err(|e| FleetError::Input(chain(&e)))?;
    ctx.progress = progress;
    let (run, _) = ctx
        .store
        .create_run(tenant, period, Trigger::Manual, Utc::now())
        .await?;
    if ctx.progress.is_some() {
        eprint!("rolling up {} …", run.id);
    }
    let leased = workers::handler::rollup_leased(&ctx, &run.id).await;
    // A deferral or a retry goes to the queue, where a worker picks it up (a no-op when the
    // run's rollup job is queued already).
    if let Some(next) = leased.follow_up {
        ctx.queue.push(next.job, next.delay).await?;
    }
    let row = ctx.store.run(&run.id).await?;
    let (result, unfinished) = classify(&run.id, &row, leased.result, ctx.run_lease);
    let line = serde_json::json!({
        "run": row.id,
        "status": row.status.as_str(),
        "result": result,
        "root": row.root.map(|r| r.to_string()),
        "tree_size": row.tree_size,
        "errors": row.errors,
    });
    Ok(RollupNow {
        line,
        result,
        unfinished,
    })
}

/// An error and its causes, `outer: inner: …`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// What `anchor run` reports for one rollup attempt: the `result` word of its JSON line and
/// why the run is unfinished (`None`: exit 0).
///
/// | result | exit | when |
/// |---|---|---|
/// | `anchored`, `complete`, `already-done` | 0 | the run is anchored (OTS may still be pending) or was before |
/// | `lease-held` | 3 | another process holds the run's lease: it is rolling the run up now, or died and its lease (at most `LEDGER_RUN_LEASE`) has not expired; nothing was done here |
/// | `deferred` | 3 | not now (kill switch `paused`, root limit): the workers look again later |
/// | `retrying` | 3 | a transient failure (TSA, calendar, database, S3 unreachable); the run stays queued and the workers retry it with backoff |
/// | `held` | 1 | held by policy (cost ceiling, consent withdrawn) until an operator acts |
/// | `failed` | 1 | a permanent failure, or the last of the retries; recorded in the run and its summary |
pub fn classify(
    id: &str,
    row: &Run,
    outcome: workers::Result<Option<Rollup>>,
    lease: Duration,
) -> (&'static str, Option<Unfinished>) {
    use Unfinished::{NotYet, Stopped};
    match outcome {
        Ok(Some(Rollup::Anchored { status, .. })) => (status.as_str(), None),
        Ok(Some(Rollup::AlreadyDone(_))) => ("already-done", None),
        Ok(None) => (
            "lease-held",
            Some(NotYet(format!(
                "run {id} not rolled up here: another process holds its lease (it is rolling \
                 the run up now, or stopped and its lease expires within {}s); run this again \
                 later or let the workers finish it",
                lease.as_secs()
            ))),
        ),
        Ok(Some(Rollup::Deferred { reason, retry_in })) => (
            "deferred",
            Some(NotYet(format!(
                "run {id} deferred: {reason}; the workers look again in {}s",
                retry_in.as_secs()
            ))),
        ),
        Ok(Some(Rollup::Held(reason))) => {
            ("held", Some(Stopped(format!("run {id} is held: {reason}"))))
        }
        Err(e) if e.is_transient() && row.status != RunStatus::Failed => (
            "retrying",
            Some(NotYet(format!(
                "run {id} not done yet: transient failure (attempt {} of {}), queued for a \
                 retry in {}s by the workers (`anchor worker` or `anchor up`): {e}",
                row.attempt.max(1),
                workers::handler::MAX_ATTEMPTS,
                workers::handler::backoff(row.attempt).as_secs()
            ))),
        ),
        Err(e) => (
            "failed",
            Some(Stopped(format!("run {id} failed: {}", chain(&e)))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_chain_reads_outermost_first_joined_by_colons() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&e), "outer: inner");
    }
}
