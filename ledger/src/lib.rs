//! The system of record of Ledger Anchors: its I/O (SQL, blobs, KV, key files) behind the
//! domain types of the `domain` crate, which are re-exported under their old paths
//! (`ledger::ids`, `ledger::formats`, `ledger::chain`, `ledger::redact`, `ledger::kinds`).
//!
//! - [`config`]: one typed configuration choosing every backend; embedded defaults need none.
//! - [`sql`]: the SQL store on SQLite (embedded) or Postgres (fleet), with migrations.
//! - [`blob`]: artifacts on a local directory or S3/R2, create-only, under DESIGN.md's keys.
//! - [`private`]: owner-only (0700 / 0600) creation of data, blob and key directories and files.
//! - [`kv`]: last-anchor pointers, idempotency keys and rate counters on the SQL store or Redis.
//! - [`keys`]: loading the ES256 signing key from the environment or a file.
//! - Appending to and exporting the run-summary chain are [`sql::Store::append_summary`] and
//!   [`sql::Store::export_jsonl`]; verifying an export is `domain::chain`.

pub mod blob;
pub mod config;
pub mod error;
pub mod keys;
pub mod kv;
pub mod private;
pub mod sql;

// The domain core's modules, under the paths every crate used before `domain` existed.
pub use domain::DomainError;
pub use domain::{chain, formats, hmac, ids, kinds, note, receipt_log, redact, reserve};
pub use error::{LedgerError, Result};
pub use ids::{Cadence, CalendarUrl, Period, Plan, TenantId};
pub use sql::{AnchorKind, AnchorStatus, KillMode, Trigger};
