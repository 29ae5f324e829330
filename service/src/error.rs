//! The one error type of the service layer. Each variant says what an adapter answers: the
//! API maps `Unprocessable` to 422, `Forbidden` to 403 and `Conflict` to 409, the ledger's errors by the ledger's
//! rules, and `Queue` to a 500 whose detail is logged.

use ledger::LedgerError;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The request is well formed but cannot be done as asked (names why).
    #[error("{0}")]
    Unprocessable(String),
    /// The request is refused for who it is about (a disabled tenant's manifests).
    #[error("{0}")]
    Forbidden(String),
    /// The request contradicts the current state (a run exists).
    #[error("{0}")]
    Conflict(String),
    /// The job queue refused or failed (its own message).
    #[error("job queue: {0}")]
    Queue(String),
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for ServiceError {
    fn from(e: ledger::DomainError) -> Self {
        ServiceError::Ledger(e.into())
    }
}
