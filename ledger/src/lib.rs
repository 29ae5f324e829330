//! The system of record of Ledger Anchors.
//!
//! - [`ids`]: validated identifiers — tenant slugs, cadences, UTC periods, plans.
//! - [`config`]: one typed configuration choosing every backend; embedded defaults need none.
//! - [`sql`]: the SQL store on SQLite (embedded) or Postgres (fleet), with migrations.
//! - [`blob`]: artifacts on a local directory or S3/R2, create-only, under DESIGN.md's keys.
//! - [`private`]: owner-only (0700 / 0600) creation of data, blob and key directories and files.
//! - [`redact`]: the one redaction of URLs (passwords, secret query values) for errors and logs.
//! - [`kv`]: last-anchor pointers, idempotency keys and rate counters on the SQL store or Redis.
//! - [`keys`]: ES256 signing keys, RFC 7638 key ids, JWKS.
//! - [`formats`]: receipt, root metadata and run summary documents, signed over JCS.
//! - [`chain`]: verifying an exported run-summary chain (seed 004 rules); appending and
//!   exporting are [`sql::Store::append_summary`] and [`sql::Store::export_jsonl`].

pub mod blob;
pub mod chain;
pub mod config;
pub mod error;
pub mod formats;
pub mod ids;
pub mod keys;
pub mod kv;
pub mod private;
pub mod redact;
pub mod sql;

pub use error::{LedgerError, Result};
pub use ids::{Cadence, CalendarUrl, Period, Plan, TenantId};
pub use sql::{AnchorKind, AnchorStatus, KillMode, Trigger};
