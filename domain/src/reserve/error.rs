//! What breaks a rule of a reserve value or document. The messages of seed 001's error
//! catalogue are reproduced verbatim where the rule is the same (`reserve_attestation_i3_violated:
//! …`, `reserve_ratio_bps=… does not match computed value …`), so an operator's runbook that
//! greps for them keeps working. `reserves::ReserveError` wraps it (`Rule`) with the store's
//! and the webhooks' errors.

use merkle::MerkleError;

use crate::DomainError;

pub type Result<T, E = ReserveError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// A value from outside (a body, a file, a row) is not what the type allows.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

    /// Seed 001, I3: "Both `reserve_ratio_bps` and `min_reserve_ratio_bps` MUST be >= 10000".
    #[error("reserve_attestation_i3_violated: reserve_ratio_bps={ratio} < 10000")]
    I3Ratio { ratio: u128 },

    #[error("reserve_attestation_i3_violated: min_reserve_ratio_bps={min} < 10000")]
    I3MinRatio { min: u128 },

    /// Seed 001: "Mismatches are rejected with an error identifying the computed vs.
    /// submitted values" (±1 bps tolerance).
    #[error("reserve_ratio_bps={submitted} does not match computed value {computed}")]
    RatioMismatch { submitted: u128, computed: u128 },

    /// A rule of the publication request that is not I3 (period order, minimum above the
    /// period-end ratio, liabilities that do not add up).
    #[error("{0}")]
    Request(String),

    /// A change the value's current state does not allow (a snapshot of a deleted asset).
    #[error("conflict on {what} {key:?}: {reason}")]
    Conflict {
        what: &'static str,
        key: String,
        reason: String,
    },

    /// An integer would leave the range amounts are allowed to hold.
    #[error("arithmetic overflow: {0}")]
    Overflow(String),

    /// The run summary an attestation binds is older than the configured maximum age.
    #[error(
        "the run summary of tenant {tenant} (seq {seq}, ts {ts}) is {age} old, older than the \
         configured maximum age {max}; anchor a newer period before publishing"
    )]
    StaleSummary {
        tenant: String,
        seq: u64,
        ts: String,
        age: String,
        max: String,
    },

    /// The anchoring binding (run summary, root, inclusion proof) does not hold together.
    #[error("anchor binding: {0}")]
    Binding(String),

    /// A signed attestation whose hash or signature does not check.
    #[error("signature: {0}")]
    Signature(String),

    /// A document that is not in the attestation format.
    #[error("format: {0}")]
    Format(String),

    /// A value or document of the domain (a tenant id, a run summary) that is not what it must
    /// be.
    #[error(transparent)]
    Domain(#[from] DomainError),

    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

impl ReserveError {
    pub fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> ReserveError {
        ReserveError::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
