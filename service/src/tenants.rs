//! Tenants: creating one (with its API token, shown once), changing its plan, limits, ceiling
//! or status, rotating its token, and its consent log.
//!
//! The rules, once, for `anchor tenants add|set|consent` and `POST /admin/tenants`,
//! `PATCH /admin/tenants/{tenant}`, `POST /tenants/{tenant}/consent`:
//!
//! - **defaults of a new tenant**: at most [`DEFAULT_MAX_ROOTS_PER_PERIOD`] roots per period
//!   and a ceiling of [`DEFAULT_COST_CEILING_MICRO_USD`] (US$50). Decision (issue 18): the
//!   CLI said 4 and $50, the API 1 and $100, for the same tenant; one service has one default,
//!   and the CLI's (pinned by its tests and shown by `anchor tenants add --help`) is it.
//! - **the token** is 32 random bytes as `la_` and 64 hex; only its SHA-256 is stored, so it
//!   is answered once, when the tenant is created or its token rotated.
//! - **consent** is appended, never rewritten: the signer and the reason must not be empty
//!   (the store bounds them); without a visibility the tenant keeps its current one. Opting
//!   out stops new anchors only.
//!
//! Messages name the fields the way the caller does ([`Fields`]).

use chrono::{DateTime, Utc};
use ledger::Plan;
use ledger::TenantId;
use ledger::sql::{
    ConsentAction, ConsentEntry, NewTenant, Store, Tenant, TenantPatch, TenantStatus, Visibility,
    hash_token, new_token,
};

use crate::error::{Result, ServiceError};

/// Roots a new tenant may anchor per period unless it is given another limit.
pub const DEFAULT_MAX_ROOTS_PER_PERIOD: u32 = 4;
/// A new tenant's spending ceiling unless it is given another one: US$50 in micro-USD.
pub const DEFAULT_COST_CEILING_MICRO_USD: u64 = 50_000_000;

/// How the caller names a tenant's fields in its messages.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub signer: &'static str,
    pub reason: &'static str,
}

impl Fields {
    /// `anchor tenants`' flags.
    pub const CLI: Fields = Fields {
        signer: "--signer",
        reason: "--reason",
    };
    /// The API's JSON members.
    pub const API: Fields = Fields {
        signer: "signer",
        reason: "reason",
    };
}

/// A tenant as asked for; the limits left out take the defaults.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub id: TenantId,
    pub plan: Plan,
    pub max_roots_per_period: Option<u32>,
    pub cost_ceiling_micro_usd: Option<u64>,
}

/// A tenant just made, or whose token was just rotated, with its token (shown this once).
#[derive(Debug)]
pub struct WithToken {
    pub tenant: Tenant,
    pub token: String,
}

/// Creates the tenant (opted out and private until its consent says otherwise) with a fresh
/// token.
pub async fn create(store: &Store, req: NewRequest, now: DateTime<Utc>) -> Result<WithToken> {
    let token = new_token();
    let new = NewTenant {
        id: req.id,
        plan: req.plan,
        token_hash: hash_token(&token),
        max_roots_per_period: req
            .max_roots_per_period
            .unwrap_or(DEFAULT_MAX_ROOTS_PER_PERIOD),
        cost_ceiling_micro_usd: req
            .cost_ceiling_micro_usd
            .unwrap_or(DEFAULT_COST_CEILING_MICRO_USD),
    };
    let tenant = store.create_tenant(&new, now).await?;
    Ok(WithToken { tenant, token })
}

/// What a change names; the fields left out stay as they are.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub plan: Option<Plan>,
    pub max_roots_per_period: Option<u32>,
    pub cost_ceiling_micro_usd: Option<u64>,
    pub status: Option<TenantStatus>,
    /// Replace the token (the new one is answered once).
    pub rotate_token: bool,
}

impl Change {
    /// Whether the change names nothing (the CLI refuses such a `tenants set`; the API's PATCH
    /// answers the tenant unchanged but for `updated_at`).
    pub fn is_empty(&self) -> bool {
        self.plan.is_none()
            && self.max_roots_per_period.is_none()
            && self.cost_ceiling_micro_usd.is_none()
            && self.status.is_none()
            && !self.rotate_token
    }
}

/// Applies `change` to `tenant`; answers the tenant and, when it was rotated, the new token.
pub async fn update(
    store: &Store,
    tenant: &TenantId,
    change: Change,
    now: DateTime<Utc>,
) -> Result<(Tenant, Option<String>)> {
    let token = change.rotate_token.then(new_token);
    let patch = TenantPatch {
        plan: change.plan,
        max_roots_per_period: change.max_roots_per_period,
        cost_ceiling_micro_usd: change.cost_ceiling_micro_usd,
        status: change.status,
        token_hash: token.as_deref().map(hash_token),
    };
    let t = store.update_tenant(tenant, &patch, now).await?;
    Ok((t, token))
}

/// A consent entry as asked for.
#[derive(Clone, Debug)]
pub struct Consent {
    pub action: ConsentAction,
    /// `None`: the tenant's current visibility.
    pub visibility: Option<Visibility>,
    pub signer: String,
    pub reason: String,
}

/// The signer and the reason of `consent` are not empty.
pub fn check_consent(consent: &Consent, fields: Fields) -> Result<()> {
    for (field, value) in [
        (fields.signer, &consent.signer),
        (fields.reason, &consent.reason),
    ] {
        if value.trim().is_empty() {
            return Err(ServiceError::Unprocessable(format!(
                "{field} must not be empty"
            )));
        }
    }
    Ok(())
}

/// Appends `consent` to `tenant`'s log; answers the tenant as it now is.
pub async fn record_consent(
    store: &Store,
    tenant: &TenantId,
    consent: Consent,
    fields: Fields,
    now: DateTime<Utc>,
) -> Result<Tenant> {
    check_consent(&consent, fields)?;
    let visibility = match consent.visibility {
        Some(v) => v,
        None => store.tenant(tenant).await?.visibility,
    };
    let entry = ConsentEntry {
        action: consent.action,
        visibility,
        signer: consent.signer,
        reason: consent.reason,
        at: now,
    };
    Ok(store.record_consent(tenant, &entry).await?)
}

/// Sets (or with `None` clears) a tenant's own time-stamping authority: URLs `http(s)://host…`
/// (comma-separated, tried in order), a policy OID in dotted form, a PEM CA bundle. The
/// bundle's certificates are parsed where it is used (the worker, and `anchor tenants tsa`
/// before it stores them).
pub async fn set_tsa(
    store: &Store,
    tenant: &TenantId,
    tsa: Option<ledger::sql::TenantTsa>,
    now: DateTime<Utc>,
) -> Result<Tenant> {
    if let Some(t) = &tsa {
        let bad_url = t
            .url
            .split(',')
            .map(str::trim)
            .find(|u| !ledger::ids::is_http_url(u));
        if let Some(u) = bad_url {
            return Err(ServiceError::Unprocessable(format!(
                "tsa url: {u:?} is not an http:// or https:// URL with a host"
            )));
        }
        if let Some(p) = &t.policy {
            let arcs: Vec<&str> = p.split('.').collect();
            let ok = arcs.len() >= 2
                && arcs
                    .iter()
                    .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(ServiceError::Unprocessable(format!(
                    "tsa policy: {p:?} is not a dotted object identifier like 1.2.3.4"
                )));
            }
        }
        if let Some(pem) = &t.ca_pem
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            return Err(ServiceError::Unprocessable(
                "tsa CA: not a PEM certificate bundle".into(),
            ));
        }
    }
    Ok(store.set_tenant_tsa(tenant, tsa.as_ref(), now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(signer: &str, reason: &str) -> Consent {
        Consent {
            action: ConsentAction::OptIn,
            visibility: None,
            signer: signer.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn consent_needs_a_signer_and_a_reason_named_the_callers_way() {
        check_consent(&consent("ops", "contract"), Fields::CLI).unwrap();
        let msg = |c: &Consent, f: Fields| check_consent(c, f).unwrap_err().to_string();
        assert_eq!(
            msg(&consent(" ", "x"), Fields::CLI),
            "--signer must not be empty"
        );
        assert_eq!(
            msg(&consent("ops", ""), Fields::API),
            "reason must not be empty"
        );
    }

    #[test]
    fn a_change_naming_nothing_is_empty_and_a_rotation_alone_is_not() {
        assert!(Change::default().is_empty());
        let rotate = Change {
            rotate_token: true,
            ..Change::default()
        };
        assert!(!rotate.is_empty());
        let status = Change {
            status: Some(TenantStatus::Paused),
            ..Change::default()
        };
        assert!(!status.is_empty());
    }

    #[test]
    fn the_default_ceiling_is_fifty_dollars() {
        assert_eq!(
            scheduler::policy::decimal_usd(DEFAULT_COST_CEILING_MICRO_USD),
            "50.00"
        );
    }
}
