//! Reserve attestations (seeds 000 and 001), the pure half: the values and documents an
//! attestation is made of, seed 001's computation and rules, and the verification of a served
//! attestation over bytes. The `reserves` crate adds the registry's store, the publication
//! workflow and the webhooks; the `verifier` crate reports [`attestation::verify`]'s steps as
//! checks (`anchor reserves verify`, the Node package's `verifyAttestation`).
//!
//! - [`types`]: asset ids, labels, basis points, integer amounts, staleness windows, ids.
//! - [`asset`]: the registry's assets and patches, snapshots and pack normalisation.
//! - [`compute`]: eligible amounts, totals, coverage ratio, seed 001's I3 and ratio checks.
//! - [`attestation`]: the balances manifest, the anchoring binding, the signed payload and its
//!   verification.
//! - [`error`]: what breaks one of those rules.

pub mod asset;
pub mod attestation;
pub mod compute;
pub mod error;
pub mod liabilities;
pub mod types;

pub use error::ReserveError;
