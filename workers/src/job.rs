//! The jobs workers run, and their deterministic keys.
//!
//! Jobs carry ids, never data: a worker reloads the run from the system of record, so a job
//! that is delivered twice, or after the run finished, finds the run's true state and does
//! nothing it has already done.
//!
//! [`Job::key`] is stable per run (or backfill) and purpose, never per attempt or reason: the
//! queue holds at most one job per key at any time (see `queue`), so however often the
//! scheduler, a deferral or a retry asks for a run's rollup, one job stands for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One unit of work. Serialised as JSON in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Job {
    /// Build, stamp, prove, sign and record one run (`{tenant}:{period}`). `via` says why it
    /// was enqueued (`scheduled`, `manual`, `retry-3`, `reaped-…`), for logs only.
    Rollup { run: String, via: String },
    /// Ask the calendars whether the run's OTS proof has reached Bitcoin.
    Upgrade { run: String, attempt: u32 },
    /// Re-prove a random sample of the run's leaves from the stored artifacts.
    SampleVerify { run: String },
    /// Stamp into OTS the roots anchored TSA-only during a calendar outage. `tick` is the
    /// scheduler tick (Unix seconds rounded to the tick) that asked for it.
    CatchUp { tick: i64 },
    /// Enqueue the next periods of a backfill, as its token bucket allows.
    Backfill { id: String, tick: i64 },
    /// One calendar-canary cycle: follow every calendar's canaries, stamp new ones when due,
    /// export `calendar_pending_oldest_seconds` and open or resolve calendar incidents.
    Canary { tick: i64 },
}

impl Job {
    /// The queue's idempotency key: one per run (or backfill) and purpose, whatever the
    /// attempt, reason or tick.
    pub fn key(&self) -> String {
        match self {
            Job::Rollup { run, .. } => format!("rollup:{run}"),
            Job::Upgrade { run, .. } => format!("upgrade:{run}"),
            Job::SampleVerify { run } => format!("sample-verify:{run}"),
            Job::CatchUp { .. } => "catch-up".to_owned(),
            Job::Backfill { id, .. } => format!("backfill:{id}"),
            Job::Canary { .. } => "canary".to_owned(),
        }
    }

    /// The run (`{tenant}:{period}`) the job works on, if it works on one.
    pub fn run(&self) -> Option<&str> {
        match self {
            Job::Rollup { run, .. } | Job::Upgrade { run, .. } | Job::SampleVerify { run } => {
                Some(run)
            }
            Job::CatchUp { .. } | Job::Backfill { .. } | Job::Canary { .. } => None,
        }
    }

    /// The job's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Rollup { .. } => "rollup",
            Job::Upgrade { .. } => "upgrade",
            Job::SampleVerify { .. } => "sample-verify",
            Job::CatchUp { .. } => "catch-up",
            Job::Backfill { .. } => "backfill",
            Job::Canary { .. } => "canary",
        }
    }
}

/// The same job again, later: pushed by the handler after the delivery released its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUp {
    pub job: Job,
    pub delay: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_serialise_with_a_kind_tag_and_round_trip() {
        let job = Job::Rollup {
            run: "acme:2026-W47".into(),
            via: "retry-2".into(),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(
            json,
            r#"{"job":"rollup","run":"acme:2026-W47","via":"retry-2"}"#
        );
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
    }

    #[test]
    fn keys_are_one_per_run_and_purpose_whatever_the_reason_attempt_or_tick() {
        let a = Job::Rollup {
            run: "t:2026-11".into(),
            via: "scheduled".into(),
        };
        let b = Job::Rollup {
            run: "t:2026-11".into(),
            via: "retry-1".into(),
        };
        let c = Job::Upgrade {
            run: "t:2026-11".into(),
            attempt: 0,
        };
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        let c2 = Job::Upgrade {
            run: "t:2026-11".into(),
            attempt: 5,
        };
        assert_eq!(c.key(), c2.key());
        assert_eq!(
            Job::CatchUp { tick: 1 }.key(),
            Job::CatchUp { tick: 2 }.key()
        );
        assert_ne!(
            Job::Backfill {
                id: "a".into(),
                tick: 1
            }
            .key(),
            Job::Backfill {
                id: "b".into(),
                tick: 1
            }
            .key()
        );
    }
}
