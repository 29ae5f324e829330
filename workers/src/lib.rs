//! Anchor workers on apalis: the job queue and the jobs the scheduler's tick feeds it.
//!
//! The `scheduler` crate decides (pure: due periods, the governor, backfill pacing); the
//! scheduler process (`scheduler/process`, crate `scheduler-process`) turns those decisions
//! into runs ([`runs`]) and jobs; this crate's job handlers ([`handler`]) run [`rollup`],
//! [`upgrade`], [`sample`] verification, OTS [`catchup`], the [`backfill`] step and the
//! calendar [`canary`].
//! The rollup writes each period's tree through the read side (the `proofs` crate), from
//! which per-manifest proofs and bundles are derived on request.
//! Every job is safe to repeat and to interrupt (see each module), because every step either
//! reads back what an earlier attempt stored or writes create-only, deterministic bytes.
//!
//! [`service`] runs a worker pool in a process, and the shutdown signal every role shares.

pub mod backfill;
mod blobs;
pub mod canary;
pub mod catchup;
pub mod ctx;
pub mod error;
pub mod handler;
pub mod job;
pub mod outage;
pub mod public;
pub mod queue;
mod receipt_log;
pub mod rollup;
pub mod sample;
pub mod service;
pub mod upgrade;
pub mod webhooks;

pub use ctx::Ctx;
pub use error::{Result, WorkerError};
pub use job::Job;
pub use queue::Queue;
