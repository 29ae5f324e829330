//! Timestamping for Ledger Anchors: OpenTimestamps (the `.ots` codec, Bitcoin header
//! verification, per-manifest proofs, the calendar client) and RFC 3161 (requests, tokens,
//! verification, the client and a dev responder).
//!
//! The `net` feature (on by default) holds everything that talks to a network: the calendar
//! client, the header sources, the RFC 3161 client and the dev servers. Without it the crate
//! is the formats and their verification, pure over bytes.

pub mod bitcoin;
#[cfg(feature = "net")]
pub mod calendar;
#[cfg(feature = "net")]
pub mod dev;
#[cfg(feature = "net")]
pub mod devcal;
pub mod epochs;
pub mod error;
pub mod header;
#[cfg(feature = "net")]
pub mod headers;
pub mod manifest;
pub mod ots;
pub mod report;
pub mod tablecheck;
pub mod tsp;
pub mod tx;
pub mod verify;

pub use error::{Result, StampError, TsaCheck};
pub use ots::{Attestation, DetachedTimestamp, Entry, Op, Timestamp};
