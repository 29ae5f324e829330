//! Incidents: failed sample verifications, upgrades past their horizon, calendar canaries, and
//! the like. Opened by the workers and the scheduler; listed and resolved by an operator.
//!
//! The rule, once, for `anchor incidents resolve` (and any adapter that resolves one): the
//! resolution must not be empty (it is what was done, kept as evidence); the store bounds it
//! and refuses an unknown or already resolved incident (a conflict).

use chrono::{DateTime, Utc};
use ledger::LedgerError;
use ledger::sql::{Incident, Store};

use crate::error::{Result, ServiceError};

/// Open incidents newest first, or all of them.
pub async fn list(store: &Store, all: bool) -> Result<Vec<Incident>> {
    Ok(store.incidents(!all).await?)
}

/// Closes incident `id` with `resolution`; answers it as now stored. `field` names the
/// resolution the caller's way (`--resolution`, `resolution`).
pub async fn resolve(
    store: &Store,
    id: u64,
    resolution: &str,
    field: &str,
    now: DateTime<Utc>,
) -> Result<Incident> {
    if resolution.trim().is_empty() {
        return Err(ServiceError::Unprocessable(format!(
            "{field} must not be empty"
        )));
    }
    store.resolve_incident(id, resolution, now).await?;
    store
        .incidents(false)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| {
            ServiceError::Ledger(LedgerError::NotFound {
                what: "incident",
                key: id.to_string(),
            })
        })
}
