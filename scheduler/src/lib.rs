//! Pure scheduling decisions of Ledger Anchors (DESIGN.md "Scheduling policy").
//!
//! The scheduler decides; the workers do. Everything here is a function of facts the caller
//! read from the store and the clock it passes in, so every rule is tested at its exact
//! boundary without a database, a runtime or a sleeping test.
//!
//! - [`policy`]: plans and their cadences and anchors, unit costs, the tunables, and parsing
//!   them from configuration variables.
//! - [`due`]: when a period is due, and which missed periods to catch up.
//! - [`governor`]: kill switch, rate limit and cost ceiling, in that order, for one run.
//! - [`backfill`]: pacing a backfill with a token bucket and stopping it before the ceiling.

pub mod backfill;
pub mod due;
pub mod error;
pub mod governor;
pub mod policy;

pub use backfill::{BackfillFacts, BackfillStep, Candidate, TokenBucket, plan_backfill};
pub use due::{due_periods, is_due};
pub use error::{Result, SchedulerError};
pub use governor::{Decision, RunFacts, decide};
pub use policy::{Anchors, Plans, Policy, Schedule, UnitCosts};
