//! Manifests: a tenant's digests, stored for the day they arrive.
//!
//! The rules, once, for `anchor manifests add` and `POST /tenants/{tenant}/manifests`:
//!
//! - **the tenant exists and is not disabled.** A disabled tenant is anchored no more, so a
//!   manifest it was given would wait for an anchor that never comes: it is refused, naming
//!   the tenant (the API's 403, the CLI's exit 2). Decision (issue 18): before, only the API
//!   refused; `anchor manifests add` stored them.
//! - **one call, one transaction**: all of `digests` or none; a digest already stored for the
//!   day counts as a duplicate, not an error. An adapter that reads more than it wants in one
//!   transaction (a file of millions) calls [`submit`] once per batch.
//! - **the periods they fall into** are the tenant's plan's cadences' periods containing the
//!   time they arrived ([`periods`]).

use chrono::{DateTime, Utc};
use ledger::Period;
use ledger::sql::{IngestCounts, Store, Tenant, TenantStatus};
use merkle::ManifestDigest;
use scheduler::policy::Plans;

use crate::error::{Result, ServiceError};

/// Whether `tenant` takes manifests at all; an adapter asks before it reads a large body.
pub fn accepts(tenant: &Tenant) -> Result<()> {
    if tenant.status == TenantStatus::Disabled {
        return Err(ServiceError::Forbidden(format!(
            "tenant {} is disabled",
            tenant.id
        )));
    }
    Ok(())
}

/// Stores `digests` for `tenant` as received at `at`, all or nothing.
pub async fn submit(
    store: &Store,
    tenant: &Tenant,
    digests: &[ManifestDigest],
    at: DateTime<Utc>,
) -> Result<IngestCounts> {
    accepts(tenant)?;
    Ok(store.insert_manifests(&tenant.id, digests, at).await?)
}

/// The periods a manifest of `tenant` received at `at` will be anchored in: one per cadence of
/// its plan.
pub fn periods(plans: &Plans, tenant: &Tenant, at: DateTime<Utc>) -> Vec<Period> {
    plans
        .schedules(tenant.plan)
        .iter()
        .map(|s| Period::containing(s.cadence, at))
        .collect()
}
