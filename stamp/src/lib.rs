//! Timestamping for Ledger Anchors: OpenTimestamps proofs today (the `.ots` codec, Bitcoin
//! header verification, per-manifest proofs); the calendar client, upgrades and RFC 3161 come
//! with the rest of their issue.

pub mod bitcoin;
pub mod calendar;
pub mod dev;
pub mod devcal;
pub mod epochs;
pub mod error;
pub mod header;
pub mod headers;
pub mod manifest;
pub mod ots;
pub mod tsp;
pub mod tx;
pub mod verify;

pub use error::{Result, StampError, TsaCheck};
pub use ots::{Attestation, DetachedTimestamp, Entry, Op, Timestamp};
