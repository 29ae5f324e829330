//! The one error type of the workers crate.
//!
//! Every error is either **transient** (a calendar, TSA, S3 or database hiccup, a timeout, a
//! run leased by another worker: the job is re-enqueued with backoff) or **permanent** (bad
//! configuration, a verification that failed, an artifact that contradicts another: the run
//! fails with the reason in its summary). [`WorkerError::is_transient`] decides.

use ledger::LedgerError;
use stamp::StampError;

pub type Result<T, E = WorkerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Stamp(#[from] StampError),
    #[error(transparent)]
    Merkle(#[from] merkle::MerkleError),
    #[error(transparent)]
    Policy(#[from] scheduler::SchedulerError),
    /// Configuration that cannot work (names the variable).
    #[error("configuration: {0}")]
    Config(String),
    /// The job queue refused or failed an operation.
    #[error("job queue: {0}")]
    Queue(String),
    /// Worth retrying: the cause is outside us and may pass.
    #[error("{0}")]
    Transient(String),
    /// Not worth retrying: the run fails with this reason.
    #[error("{0}")]
    Permanent(String),
    /// A job names a run this database does not hold (a worker on the wrong database, or a
    /// queue that outlived its database): the job goes to the dead-letter set, never "done".
    #[error("run {0:?} does not exist in this database")]
    RunMissing(String),
    /// What was asked for does not exist (a digest not in a period's tree).
    #[error("not found: {0}")]
    NotFound(String),
}

/// The read side's errors keep their meaning: a malformed or missing artifact is permanent,
/// a missing digest is not found, the ledger's and stamp's errors stay what they were.
impl From<proofs::ProofsError> for WorkerError {
    fn from(e: proofs::ProofsError) -> WorkerError {
        match e {
            proofs::ProofsError::Ledger(e) => WorkerError::Ledger(e),
            proofs::ProofsError::Stamp(e) => WorkerError::Stamp(e),
            proofs::ProofsError::Merkle(e) => WorkerError::Merkle(e),
            proofs::ProofsError::Invalid(m) => WorkerError::Permanent(m),
            proofs::ProofsError::NotFound(m) => WorkerError::NotFound(m),
        }
    }
}

/// The service layer's errors: the ledger's keep their nature, a queue failure is a queue
/// failure (transient), a refused request is permanent.
impl From<service::ServiceError> for WorkerError {
    fn from(e: service::ServiceError) -> WorkerError {
        match e {
            service::ServiceError::Ledger(e) => WorkerError::Ledger(e),
            service::ServiceError::Queue(m) => WorkerError::Queue(m),
            service::ServiceError::Unprocessable(m)
            | service::ServiceError::Forbidden(m)
            | service::ServiceError::Conflict(m) => WorkerError::Permanent(m),
        }
    }
}

impl WorkerError {
    /// Whether retrying the same job later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Transient(_) | WorkerError::Queue(_) => true,
            WorkerError::Ledger(e) => matches!(
                e,
                LedgerError::Sql(_) | LedgerError::Redis(_) | LedgerError::Blob { .. }
            ),
            WorkerError::Stamp(e) => stamp_is_transient(e),
            WorkerError::Merkle(_)
            | WorkerError::Policy(_)
            | WorkerError::Config(_)
            | WorkerError::Permanent(_)
            | WorkerError::RunMissing(_)
            | WorkerError::NotFound(_) => false,
        }
    }
}

/// Transport failures (refused connections, timeouts, 5xx, a calendar quorum not reached)
/// may pass; a reply that does not verify will not.
fn stamp_is_transient(e: &StampError) -> bool {
    match e {
        StampError::Calendar(_) | StampError::HeaderSource(_) => true,
        StampError::Tsa { check, .. } => matches!(check, stamp::TsaCheck::Transport),
        _ => false,
    }
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for WorkerError {
    fn from(e: ledger::DomainError) -> Self {
        WorkerError::Ledger(e.into())
    }
}
