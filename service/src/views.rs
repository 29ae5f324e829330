//! The JSON views the CLI and the API share, defined once: `anchor kill-switch … --json`,
//! `anchor incidents list --json` and `resolve` print them; `PUT /admin/kill-switch` and
//! `GET /admin/incidents` answer them. Instants are RFC 3339 UTC with milliseconds, enums their
//! lowercase names. With the `openapi` feature (the API's) each view is also an OpenAPI schema.
//!
//! Tenant, backfill and run views are still two shapes (the CLI's `"id"` and micro-USD members,
//! the API's `"tenant"` and dollar strings), each pinned by its adapter's tests: unifying them
//! is a visible change to one side and waits for a versioned output (README, issue 18).

use ledger::ids::format_ts;
use ledger::sql::{Incident, KillState};
use serde::Serialize;

/// A kill-switch setting.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KillView {
    /// `global` or `tenant:{id}`.
    pub scope: String,
    pub mode: String,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

impl From<&KillState> for KillView {
    fn from(k: &KillState) -> KillView {
        KillView {
            scope: k.scope.key(),
            mode: k.mode.to_string(),
            reason: k.reason.clone(),
            actor: k.actor.clone(),
            at: format_ts(k.at),
        }
    }
}

/// An incident.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentView {
    pub id: u64,
    pub tenant: Option<String>,
    pub run_id: Option<String>,
    pub kind: String,
    pub detail: String,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
}

impl From<&Incident> for IncidentView {
    fn from(i: &Incident) -> IncidentView {
        IncidentView {
            id: i.id,
            tenant: i.tenant.as_ref().map(ToString::to_string),
            run_id: i.run_id.clone(),
            kind: i.kind.clone(),
            detail: i.detail.clone(),
            opened_at: format_ts(i.opened_at),
            resolved_at: i.resolved_at.map(format_ts),
            resolution: i.resolution.clone(),
        }
    }
}
