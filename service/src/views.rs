//! The JSON views the CLI and the API share, defined once: `anchor kill-switch … --json`,
//! `anchor incidents list --json` and `resolve` print them; `PUT /admin/kill-switch` and
//! `GET /admin/incidents` answer them. Instants are RFC 3339 UTC with milliseconds, enums their
//! lowercase names. With the `openapi` feature (the API's) each view is also an OpenAPI schema.
//!
//! Tenants and backfills have two views, both defined here and nowhere else: the API's
//! ([`TenantView`], [`BackfillView`]: `"tenant"`, dollar strings) and the operator's record
//! ([`TenantRecord`], [`BackfillRecord`]: every stored member, `"id"`, micro-dollars and
//! dollars), which `anchor tenants show|list --json` and `anchor backfill … --json` print.
//! Decision: both stay, because each is a published output that tools already parse and
//! tests pin; merging them would break one side silently. A next version of either output is
//! a new view here, chosen by its adapter. The CLI prints its records through
//! `serde_json::Value` (members in name order, as it always has); the API sends its views in
//! the order of their fields.

use ledger::ids::format_ts;
use ledger::sql::{Backfill, Incident, KillState, Run, Tenant};
use scheduler::policy::decimal_usd as usd;
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

/// A tenant as the API shows it (never its token or the token's hash).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantView {
    #[cfg_attr(feature = "openapi", schema(example = "acme"))]
    pub tenant: String,
    /// `starter`, `pro` or `enterprise`.
    pub plan: String,
    /// `opted_in` or `opted_out`.
    pub consent: String,
    /// `public` or `private`.
    pub visibility: String,
    /// `active`, `paused` or `disabled`.
    pub status: String,
    pub max_roots_per_period: u32,
    #[cfg_attr(feature = "openapi", schema(example = "50.00"))]
    pub cost_ceiling_usd: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> TenantView {
        TenantView {
            tenant: t.id.to_string(),
            plan: t.plan.to_string(),
            consent: t.consent.to_string(),
            visibility: t.visibility.to_string(),
            status: t.status.to_string(),
            max_roots_per_period: t.max_roots_per_period,
            cost_ceiling_usd: usd(t.cost_ceiling_micro_usd),
            created_at: format_ts(t.created_at),
            updated_at: format_ts(t.updated_at),
        }
    }
}

/// A tenant as the operator's commands print it (never its token hash).
#[derive(Debug, Serialize)]
pub struct TenantRecord {
    pub id: String,
    pub plan: String,
    pub consent: String,
    pub visibility: String,
    pub status: String,
    pub max_roots_per_period: u32,
    pub cost_ceiling_micro_usd: u64,
    pub cost_ceiling_usd: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Tenant> for TenantRecord {
    fn from(t: &Tenant) -> TenantRecord {
        TenantRecord {
            id: t.id.to_string(),
            plan: t.plan.to_string(),
            consent: t.consent.to_string(),
            visibility: t.visibility.to_string(),
            status: t.status.to_string(),
            max_roots_per_period: t.max_roots_per_period,
            cost_ceiling_micro_usd: t.cost_ceiling_micro_usd,
            cost_ceiling_usd: usd(t.cost_ceiling_micro_usd),
            created_at: format_ts(t.created_at),
            updated_at: format_ts(t.updated_at),
        }
    }
}

/// A run (`{tenant}:{period}`), as the API shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    pub id: String,
    pub tenant: String,
    pub period: String,
    pub trigger: String,
    pub status: String,
    pub root: Option<String>,
    pub tree_size: Option<u64>,
    pub estimated_cost_usd: String,
    pub errors: Vec<String>,
    pub attempt: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<&Run> for RunView {
    fn from(r: &Run) -> RunView {
        RunView {
            id: r.id.clone(),
            tenant: r.tenant.to_string(),
            period: r.period.to_string(),
            trigger: r.trigger.to_string(),
            status: r.status.to_string(),
            root: r.root.as_ref().map(ToString::to_string),
            tree_size: r.tree_size,
            estimated_cost_usd: usd(r.estimated_cost_micro_usd),
            errors: r.errors.clone(),
            attempt: r.attempt,
            created_at: format_ts(r.created_at),
            started_at: r.started_at.map(format_ts),
            finished_at: r.finished_at.map(format_ts),
        }
    }
}

/// A backfill and its progress, as the API shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackfillView {
    pub id: String,
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub manifests_per_hour: u64,
    pub cost_ceiling_usd: String,
    /// `queued`, `running`, `stopped`, `cancelled` or `done`.
    pub status: String,
    pub periods_total: u64,
    pub periods_done: u64,
    pub manifests_done: u64,
    pub cost_spent_usd: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Backfill> for BackfillView {
    fn from(b: &Backfill) -> BackfillView {
        BackfillView {
            id: b.id.clone(),
            tenant: b.tenant.to_string(),
            from: b.from.to_string(),
            to: b.to.to_string(),
            manifests_per_hour: b.manifests_per_hour,
            cost_ceiling_usd: usd(b.cost_ceiling_micro_usd),
            status: b.status.to_string(),
            periods_total: b.periods_total,
            periods_done: b.periods_done,
            manifests_done: b.manifests_done,
            cost_spent_usd: usd(b.cost_spent_micro_usd),
            reason: b.reason.clone(),
            created_at: format_ts(b.created_at),
            updated_at: format_ts(b.updated_at),
        }
    }
}

/// A backfill as the operator's commands print it: every stored member, in micro-dollars
/// (and the ceiling also in dollars).
#[derive(Debug, Serialize)]
pub struct BackfillRecord {
    pub id: String,
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub manifests_per_hour: u64,
    pub cost_ceiling_micro_usd: u64,
    pub cost_ceiling_usd: String,
    pub status: String,
    pub periods_total: u64,
    pub periods_done: u64,
    pub manifests_done: u64,
    pub cost_spent_micro_usd: u64,
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Backfill> for BackfillRecord {
    fn from(b: &Backfill) -> BackfillRecord {
        BackfillRecord {
            id: b.id.clone(),
            tenant: b.tenant.to_string(),
            from: b.from.to_string(),
            to: b.to.to_string(),
            manifests_per_hour: b.manifests_per_hour,
            cost_ceiling_micro_usd: b.cost_ceiling_micro_usd,
            cost_ceiling_usd: usd(b.cost_ceiling_micro_usd),
            status: b.status.to_string(),
            periods_total: b.periods_total,
            periods_done: b.periods_done,
            manifests_done: b.manifests_done,
            cost_spent_micro_usd: b.cost_spent_micro_usd,
            reason: b.reason.clone(),
            created_at: format_ts(b.created_at),
            updated_at: format_ts(b.updated_at),
        }
    }
}
