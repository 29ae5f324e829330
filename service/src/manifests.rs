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
//! - **never into a tree already built.** Manifests received at a time whose period already
//!   has a run past `queued` (running, held, anchored, complete or failed: its tree may exist)
//!   are refused, naming the run, because they would never be anchored and the period's
//!   sample verification would find the store and the tree disagree. Only a closed period can
//!   have a run, so manifests received now cost no query; a backdated import (`anchor
//!   manifests add --received-at`) is checked. Decision (issue 22): before, such manifests
//!   were stored and silently never anchored.

use chrono::{DateTime, Utc};
use ledger::sql::{IngestCounts, Run, RunStatus, Store, Tenant, TenantStatus};
use ledger::{Cadence, LedgerError, Period, TenantId};
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

/// Stores `digests` for `tenant` as received at `at` (no later than `now`), all or nothing.
pub async fn submit(
    store: &Store,
    tenant: &Tenant,
    digests: &[ManifestDigest],
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestCounts> {
    accepts(tenant)?;
    not_yet_built(store, &tenant.id, at, now).await?;
    Ok(store.insert_manifests(&tenant.id, digests, at).await?)
}

/// Refuses a time `at` whose period (of any cadence) already has a run past `queued`.
pub async fn not_yet_built(
    store: &Store,
    tenant: &TenantId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    for cadence in Cadence::ALL {
        let period = Period::containing(cadence, at);
        if period.end() > now {
            continue; // still open: no run can exist yet
        }
        match store.run(&Run::id_for(tenant, period)).await {
            Ok(run) if run.status == RunStatus::Queued => {}
            Ok(run) => {
                return Err(ServiceError::Conflict(format!(
                    "manifests received at {} fall into period {period}, whose run {} is {}: \
                     its tree may already be built, so they would never be anchored",
                    ledger::ids::format_ts(at),
                    run.id,
                    run.status
                )));
            }
            Err(LedgerError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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
