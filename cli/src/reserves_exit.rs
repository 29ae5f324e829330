//! The exit code of a reserves command's error: shared by `anchor reserves …`
//! ([`crate::reserves_cmd`]) and the publication workflow ([`crate::reserves_publish`]).

use reserves::ReserveError;
use reserves::error::RuleError;

use crate::Failure;

/// Exit 2 for the store's "your input" errors, 1 for a failing database.
pub fn classify(e: anyhow::Error) -> Failure {
    if crate::is_unavailable(&e) {
        return Failure::Unavailable(e);
    }
    let reserve = e.downcast_ref::<ReserveError>().or_else(|| match e
        .downcast_ref::<reserves::publish::PublishError>()
    {
        Some(reserves::publish::PublishError::Reserve(r)) => Some(r),
        _ => None,
    });
    match reserve {
        Some(
            ReserveError::Store(_)
            | ReserveError::Webhook { .. }
            | ReserveError::Rule(
                RuleError::I3Ratio { .. }
                | RuleError::I3MinRatio { .. }
                | RuleError::RatioMismatch { .. }
                | RuleError::StaleSummary { .. }
                | RuleError::Binding(_),
            ),
        ) => Failure::Check(e),
        _ => Failure::Input(e),
    }
}
