//! The one error type of the read side.
//!
//! A worker maps it onto its own (`workers::WorkerError`: `Invalid` is permanent, `NotFound`
//! is not found, and the ledger's and stamp's errors keep their transient or permanent
//! nature); the API maps `NotFound` to 404 and the rest by the ledger's rules or to 500.

use ledger::LedgerError;
use stamp::StampError;

pub type Result<T, E = ProofsError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ProofsError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Stamp(#[from] StampError),
    #[error(transparent)]
    Merkle(#[from] merkle::MerkleError),
    /// A stored artifact that is missing, malformed or contradicts another (names it).
    #[error("{0}")]
    Invalid(String),
    /// What was asked for does not exist (a digest not in a period's tree, a period not
    /// anchored).
    #[error("not found: {0}")]
    NotFound(String),
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for ProofsError {
    fn from(e: ledger::DomainError) -> Self {
        ProofsError::Ledger(e.into())
    }
}
