//! The one error type of the crate: a broken rule of the reserve values and documents
//! (`domain::reserve::ReserveError`, seed 001's catalogue verbatim), or what the store and the
//! webhooks add.

use ledger::LedgerError;
use merkle::MerkleError;

pub use domain::reserve::ReserveError as RuleError;

pub type Result<T, E = ReserveError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// A value, a computation or an attestation that breaks a rule (`RuleError`'s messages).
    #[error(transparent)]
    Rule(#[from] RuleError),

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
        ReserveError::Rule(RuleError::invalid(what, value, reason))
    }

    /// A rule of the publication request ([`RuleError::Request`]).
    pub(crate) fn request(reason: impl Into<String>) -> ReserveError {
        ReserveError::Rule(RuleError::Request(reason.into()))
    }
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for ReserveError {
    fn from(e: ledger::DomainError) -> Self {
        ReserveError::Ledger(e.into())
    }
}
