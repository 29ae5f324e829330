//! Anchor workers on apalis, and the scheduler's tick that feeds them.
//!
//! The `scheduler` crate decides (pure: due periods, the governor, backfill pacing); this
//! crate does: [`tick`] turns those decisions into runs and jobs, and the job handlers
//! ([`handler`]) run [`rollup`], [`upgrade`], [`sample`] verification and OTS [`catchup`].
//! Per-manifest proofs are derived on request from the stored tree ([`proofs`]), and
//! assembled with everything else needed to verify one manifest into a [`bundle`].
//! Every job is safe to repeat and to interrupt (see each module), because every step either
//! reads back what an earlier attempt stored or writes create-only, deterministic bytes.
//!
//! [`service`] runs the roles in a process: the scheduler loop, a worker pool, or both.

mod blobs;
pub mod bundle;
pub mod canary;
pub mod catchup;
pub mod ctx;
pub mod error;
pub mod handler;
pub mod job;
pub mod levels;
pub mod outage;
pub mod proofs;
pub mod queue;
pub mod rollup;
pub mod sample;
pub mod service;
pub mod tick;
pub mod upgrade;

pub use ctx::Ctx;
pub use error::{Result, WorkerError};
pub use job::Job;
pub use queue::Queue;
