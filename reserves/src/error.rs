//! The one error type of the crate.
//!
//! The messages of seed 001's error catalogue are reproduced verbatim where this crate has the
//! same rule (`reserve_attestation_i3_violated: …`, `reserve_ratio_bps=… does not match
//! computed value …`, `reserve_attestation_not_found`), so an operator's runbook that greps for
//! them keeps working.

use ledger::LedgerError;
use merkle::MerkleError;

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

    /// Seed 001's catalogued `reserve_attestation_not_found`, with the id when there is one.
    #[error("reserve_attestation_not_found{}", .0.as_ref().map(|id| format!(": {id}")).unwrap_or_default())]
    AttestationNotFound(Option<String>),

    #[error("{what} {key:?} not found")]
    NotFound { what: &'static str, key: String },

    #[error("conflict on {what} {key:?}: {reason}")]
    Conflict {
        what: &'static str,
        key: String,
        reason: String,
    },

    /// The database failed (connection, migration, a query).
    #[error("reserves store: {0}")]
    Store(String),

    /// A webhook could not be reached or configured.
    #[error("webhook {url}: {detail}")]
    Webhook { url: String, detail: String },

    #[error(transparent)]
    Ledger(#[from] LedgerError),

    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

impl ReserveError {
    pub(crate) fn invalid(
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

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for ReserveError {
    fn from(e: ledger::DomainError) -> Self {
        ReserveError::Ledger(e.into())
    }
}
