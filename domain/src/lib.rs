//! The domain core of Ledger Anchors: values and documents with their invariants and their
//! canonical bytes, and nothing that does I/O (no database, no network, no files, no async).
//!
//! - [`ids`]: tenant slugs, calendar URLs, cadences, UTC periods, plans, timestamps.
//! - [`kinds`]: the closed sets (visibility, consent, statuses, triggers, the kill switch).
//! - [`money`]: integer micro-USD, parsed and printed exactly.
//! - [`duration`]: the one grammar of durations in configuration (`90s`, `15m`, `2d`).
//! - [`keys`]: ES256 signing keys, RFC 7638 key ids, public JWKs and JWK sets.
//! - [`formats`]: receipt, root metadata and run summary documents, signed over JCS.
//! - [`bundle`]: the per-manifest verification bundle `c2c.bundle.v1` (read and written).
//! - [`chain`]: verifying an exported run-summary chain (seed 004 rules).
//! - [`note`]: C2SP signed notes (Ed25519) and tlog checkpoints.
//! - [`receipt_log`]: the per-tenant receipt log's entries and origin.
//! - [`redact`]: the one redaction of URLs (passwords, secret query values).
//! - [`reserve`]: reserve attestations (seeds 000, 001): values, computation, the signed
//!   document and its verification.

pub mod bundle;
pub mod chain;
pub mod duration;
pub mod error;
pub mod formats;
pub mod hmac;
pub mod ids;
pub mod keys;
pub mod kinds;
pub mod money;
pub mod note;
pub mod receipt_log;
pub mod redact;
pub mod reserve;

pub use error::{DomainError, Result};
pub use ids::{Cadence, CalendarUrl, Period, Plan, TenantId};
pub use kinds::{AnchorKind, AnchorStatus, KillMode, Trigger};
