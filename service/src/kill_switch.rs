//! The kill switch: `normal`, `tsa-only` (no OpenTimestamps stamping) or `paused` (no
//! anchoring at all), globally or for one tenant; every change is kept in the history.
//!
//! The rules, once, for `anchor kill-switch set|show|history` and `PUT /admin/kill-switch`:
//!
//! - **scope**: `global` takes no tenant, `tenant` needs one, and the tenant must exist
//!   (checked before anything else about the change, so an unknown tenant is a 404 whatever
//!   else is wrong).
//! - **reason**: must not be empty (the history is evidence); the store bounds its length.
//! - **in effect**: the stricter of the global switch and the tenant's.
//!
//! Messages name the fields the way the caller does ([`Fields`]).

use chrono::{DateTime, Utc};
use ledger::TenantId;
use ledger::sql::{KillMode, KillScope, KillState, Store};
use serde::Serialize;

use crate::error::{Result, ServiceError};
use crate::views::KillView;

/// How the caller names the change's fields in its messages.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub reason: &'static str,
}

impl Fields {
    /// `anchor kill-switch set`'s flags.
    pub const CLI: Fields = Fields { reason: "--reason" };
    /// The API's JSON members.
    pub const API: Fields = Fields { reason: "reason" };
}

/// The scope a request names as text (`global`, or `tenant` with a tenant id); the tenant id
/// is read only when the scope is `tenant`.
pub fn scope(scope: &str, tenant: Option<&str>) -> Result<KillScope> {
    match (scope, tenant) {
        ("global", None) => Ok(KillScope::Global),
        ("tenant", Some(t)) => TenantId::new(t)
            .map(KillScope::Tenant)
            .map_err(|e| ServiceError::Unprocessable(format!("tenant: {e}"))),
        ("global", Some(_)) => Err(ServiceError::Unprocessable(
            "scope global takes no tenant".into(),
        )),
        ("tenant", None) => Err(ServiceError::Unprocessable(
            "scope tenant needs a tenant".into(),
        )),
        (other, _) => Err(ServiceError::Unprocessable(format!(
            "scope {other:?} is not global or tenant"
        ))),
    }
}

/// A change as asked for. `mode` is the text (`normal`, `tsa-only`, `paused`), read by [`set`]
/// after the scope and the reason, so a request wrong in several ways is answered about its
/// scope first, as `PUT /admin/kill-switch` always answered.
#[derive(Debug)]
pub struct Change<'a> {
    pub scope: KillScope,
    pub mode: &'a str,
    pub reason: String,
    pub actor: String,
}

/// Sets the switch and records the change in the history; answers the new setting.
pub async fn set(
    store: &Store,
    change: Change<'_>,
    fields: Fields,
    now: DateTime<Utc>,
) -> Result<KillState> {
    if let KillScope::Tenant(t) = &change.scope {
        store.tenant(t).await?;
    }
    if change.reason.trim().is_empty() {
        return Err(ServiceError::Unprocessable(format!(
            "{} must not be empty",
            fields.reason
        )));
    }
    let state = KillState {
        scope: change.scope,
        mode: change.mode.parse::<KillMode>()?,
        reason: change.reason,
        actor: change.actor,
        at: now,
    };
    store.set_kill_switch(&state).await?;
    Ok(state)
}

/// The global switch, a tenant's (with `tenant`), and the mode in effect.
#[derive(Debug, Serialize)]
pub struct Status {
    pub global: Option<KillView>,
    /// Present (possibly `null`) only when a tenant was asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Option<KillView>>,
    pub effective: KillMode,
}

/// What is set, globally and for `tenant` (which must exist), and what is in effect.
pub async fn status(store: &Store, tenant: Option<&TenantId>) -> Result<Status> {
    let global = store.kill_switch(&KillScope::Global).await?;
    let (own, effective) = match tenant {
        Some(t) => {
            store.tenant(t).await?;
            let own = store.kill_switch(&KillScope::Tenant(t.clone())).await?;
            (
                Some(own.as_ref().map(KillView::from)),
                store.effective_kill_mode(t).await?,
            )
        }
        None => (None, global.as_ref().map_or(KillMode::Normal, |g| g.mode)),
    };
    Ok(Status {
        global: global.as_ref().map(KillView::from),
        tenant: own,
        effective,
    })
}

/// Every change, oldest first; of `tenant`'s switch only when given (it must exist).
pub async fn history(store: &Store, tenant: Option<TenantId>) -> Result<Vec<KillState>> {
    let scope = match tenant {
        Some(t) => {
            store.tenant(&t).await?;
            Some(KillScope::Tenant(t))
        }
        None => None,
    };
    Ok(store.kill_switch_history(scope.as_ref()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(scope_text: &str, tenant: Option<&str>) -> String {
        match scope(scope_text, tenant) {
            Err(ServiceError::Unprocessable(m)) => m,
            other => panic!("{scope_text} {tenant:?}: {other:?}"),
        }
    }

    #[test]
    fn a_scope_is_global_without_a_tenant_or_tenant_with_a_valid_one() {
        assert_eq!(scope("global", None).unwrap(), KillScope::Global);
        assert_eq!(
            scope("tenant", Some("acme")).unwrap(),
            KillScope::Tenant(TenantId::new("acme").unwrap())
        );
        assert_eq!(
            refusal("global", Some("acme")),
            "scope global takes no tenant"
        );
        assert_eq!(refusal("tenant", None), "scope tenant needs a tenant");
        assert_eq!(
            refusal("everyone", None),
            "scope \"everyone\" is not global or tenant"
        );
        assert!(refusal("tenant", Some("Not A Slug")).starts_with("tenant: invalid tenant"));
    }
}
