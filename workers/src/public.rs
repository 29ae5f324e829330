//! What a run summary says about why a run was held, failed or deferred an anchor: a fixed
//! vocabulary of classes, never the detail.
//!
//! Run summaries are public artifacts: a public tenant's chain is served to anyone (`GET
//! /anchor/chain/{tenant}`) and a tenant hands its chain to auditors. The details name the
//! operator's internals: a storage endpoint and request id in a storage error, a database
//! host, the free-text reason and the account (`$USER`) of whoever set the kill switch. Those
//! stay in the operator's own records: the run row (`anchor run`, `GET /admin/runs`), the
//! anchor rows, the incidents and the logs. Decision (issue 22): before, the summary carried
//! the same text as the run row.

use ledger::LedgerError;
use stamp::StampError;

use crate::error::WorkerError;

/// The tenant is opted out, paused or disabled.
pub const HELD_NOT_ANCHORING: &str = "held: the tenant does not anchor now (consent or status)";
/// The governor's cost ceiling.
pub const HELD_COST_CEILING: &str = "held: the monthly cost ceiling would be crossed";
/// The plan's schedule wants no anchor for the cadence.
pub const HELD_NO_ANCHORS: &str = "held: the plan wants no anchors for this cadence";
/// The kill switch holds the fleet (or the tenant) at TSA only; the catch-up job stamps the
/// root into OpenTimestamps later.
pub const OTS_DEFERRED_KILL_SWITCH: &str =
    "ots deferred: the kill switch is tsa-only; stamped later by catch-up";
/// The calendars failed transiently; the catch-up job stamps the root later.
pub const OTS_DEFERRED_CALENDARS: &str =
    "ots deferred: calendars unavailable; stamped later by catch-up";

/// The class of a governor's hold reason (`scheduler::decide`'s `Hold`).
pub fn held(reason: &str) -> &'static str {
    if reason.starts_with("cost ceiling") {
        HELD_COST_CEILING
    } else {
        HELD_NO_ANCHORS
    }
}

/// `failed: {class}` for the error that failed a run for good.
pub fn failed(e: &WorkerError, gave_up: bool) -> String {
    let class = match e {
        WorkerError::Ledger(LedgerError::Blob { .. }) => "artifact storage",
        WorkerError::Ledger(LedgerError::Sql(_) | LedgerError::Unavailable { .. }) => "database",
        WorkerError::Ledger(LedgerError::Redis(_)) => "key-value store",
        WorkerError::Ledger(LedgerError::Key(_) | LedgerError::Signature(_)) => "signing",
        WorkerError::Ledger(_) => "system of record",
        WorkerError::Stamp(StampError::Tsa { .. }) => "timestamping authority",
        WorkerError::Stamp(StampError::Calendar(_)) => "calendars",
        WorkerError::Stamp(StampError::HeaderSource(_)) => "bitcoin header source",
        WorkerError::Stamp(_) => "timestamp",
        WorkerError::Merkle(_) => "tree",
        WorkerError::Policy(_) | WorkerError::Config(_) => "configuration",
        WorkerError::Queue(_) => "job queue",
        WorkerError::Transient(_) => "transient failure",
        WorkerError::Permanent(_) => "verification",
        WorkerError::RunMissing(_) | WorkerError::NotFound(_) => "missing record",
    };
    if gave_up {
        format!("failed: {class} (retries exhausted)")
    } else {
        format!("failed: {class}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{KillMode, Plan};
    use scheduler::{Anchors, Decision, RunFacts, decide};

    fn facts() -> RunFacts {
        RunFacts {
            wanted: scheduler::policy::Plans::standard().schedules(Plan::Pro)[0].anchors,
            kill: KillMode::Normal,
            kill_reason: String::new(),
            month_spent_micro_usd: 0,
            ceiling_micro_usd: 1_000_000,
            roots_in_window: 0,
            max_roots_per_period: 0,
        }
    }

    fn hold_reason(f: &RunFacts) -> String {
        match decide(f, &scheduler::UnitCosts::standard()) {
            Decision::Hold { reason } => reason,
            other => panic!("expected a hold, got {other:?}"),
        }
    }

    #[test]
    fn each_hold_of_the_governor_has_its_own_public_class() {
        let mut over = facts();
        over.ceiling_micro_usd = 0;
        assert_eq!(held(&hold_reason(&over)), HELD_COST_CEILING);
        let mut none = facts();
        none.wanted = Anchors::NONE;
        assert_eq!(held(&hold_reason(&none)), HELD_NO_ANCHORS);
    }

    #[test]
    fn a_failure_class_never_carries_the_error_text() {
        let e = WorkerError::Ledger(LedgerError::Blob {
            key: "acme/2026-W47/root.bin".into(),
            detail: "PUT https://s3.internal.example: 503 request id 7F3A".into(),
        });
        let said = failed(&e, true);
        assert_eq!(said, "failed: artifact storage (retries exhausted)");
        assert_eq!(
            failed(&WorkerError::Permanent("levels.bin: bad".into()), false),
            "failed: verification"
        );
    }
}
