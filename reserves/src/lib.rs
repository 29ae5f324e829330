//! Reserve attestations (DESIGN.md; seeds 000 and 001) that bind anchored, signed run
//! summaries.
//!
//! Pure domain (no I/O), in `domain::reserve` (so that the verifier, and the Node package over
//! it, check attestations without this crate's SQL and HTTP) and re-exported here:
//!
//! - [`types`]: asset ids, labels, basis points, integer amounts, staleness windows, ids.
//! - [`asset`]: the registry's assets and patches, snapshots and pack normalisation.
//! - [`compute`]: eligible amounts, totals, coverage ratio, seed 001's I3 and ratio checks.
//! - [`attestation`]: the balances manifest, the anchoring binding, the signed payload and its
//!   verification.
//!
//! I/O:
//!
//! - [`sql`]: the registry, snapshots and attestations on SQLite or Postgres.
//! - [`config`]: `LEDGER_RESERVES_*` variables.
//! - [`publisher`]: the outbox delivering attestations to webhooks, with retries.
//! - [`publish`]: the publication workflow (compute, check, submit or bind, sign, store,
//!   deliver), which `anchor reserves publish` adapts.
//!
//! See README.md for the publication flow.

pub mod config;
pub mod error;
pub mod publish;
pub mod publisher;
pub mod sql;

pub use domain::reserve::{asset, attestation, compute, types};

pub use error::{ReserveError, Result};
