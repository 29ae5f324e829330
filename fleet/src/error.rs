//! The fleet's one error type. Each variant keeps the error of the crate it came from, so the
//! binary can give it the exit code it always had (a backend that cannot be reached: 4; bad
//! configuration: 2; a check that failed: 1).

use std::path::PathBuf;

/// What stopped a role, a rollup or the demo.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Workers(#[from] workers::WorkerError),
    #[error(transparent)]
    Api(#[from] anchor_api::ApiError),
    #[error(transparent)]
    Reserves(#[from] reserves::ReserveError),
    #[error(transparent)]
    Proofs(#[from] proofs::ProofsError),
    /// A bad anchoring-policy variable (`LEDGER_TICK`, `LEDGER_RUN_LEASE`, …).
    #[error("configuration")]
    Policy(#[source] scheduler::SchedulerError),
    /// Reading a file, listening, a signal handler, a server task: `what` names it.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Bad input that names itself (a demo directory that is not new, a run's tenant).
    #[error("{0}")]
    Input(String),
    /// The demo's data directory exists and holds something.
    #[error("{} exists and is not empty: pass --data with a new directory", .0.display())]
    NotEmpty(PathBuf),
    /// A check ran and failed (the demo's verification, its fleet not going idle).
    #[error("{0}")]
    Check(String),
}

pub type Result<T, E = FleetError> = std::result::Result<T, E>;

impl From<ledger::DomainError> for FleetError {
    fn from(e: ledger::DomainError) -> Self {
        FleetError::Ledger(e.into())
    }
}

/// `what: source` as one I/O error.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FleetError {
    let what = what.into();
    move |source| FleetError::Io { what, source }
}
