//! The one error type of the `scheduler` crate.
//!
//! The crate is pure, so the only thing that can go wrong is a value from outside (an
//! environment variable, a plan spec, a stored bucket) that is not what it must be.

use thiserror::Error;

pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum SchedulerError {
    /// `what` names the field or configuration variable, so an operator can find the line to
    /// fix; `reason` says what is wrong with `value`.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
}

/// A domain error keeps its `what`, value and reason: `parse_duration` and the id parsers (in
/// `domain`) answer as this crate's own checks do. They only ever return `Invalid`; any other
/// domain error would still arrive whole, as the reason.
impl From<domain::DomainError> for SchedulerError {
    fn from(e: domain::DomainError) -> Self {
        match e {
            domain::DomainError::Invalid {
                what,
                value,
                reason,
            } => SchedulerError::Invalid {
                what,
                value,
                reason,
            },
            other => SchedulerError::Invalid {
                what: "value",
                value: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

impl SchedulerError {
    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> SchedulerError {
        SchedulerError::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
