//! What the API sends and accepts, with their OpenAPI schemas. Money is decimal dollar text
//! (`"12.50"`, parsed exactly into micro-dollars: no float ever holds an amount); instants
//! are RFC 3339 UTC with milliseconds; enums are their lowercase names.

use ledger::ids::format_ts;
use ledger::sql::{Backfill, ConsentEntry, Run, Tenant};
use scheduler::policy::decimal_usd as usd;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant as the API shows it (never its token or the token's hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    #[schema(example = "acme")]
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
    #[schema(example = "50.00")]
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

/// A tenant just created, or whose token was just rotated: the token is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantWithToken {
    pub tenant: TenantView,
    /// The API token (`la_` and 64 hex). Only its SHA-256 is stored: keep it now.
    pub token: String,
}

/// What `PATCH /admin/tenants/{tenant}` answers: the tenant, with its new token (shown this
/// once) when the patch rotated it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PatchedTenant {
    Rotated(TenantWithToken),
    Tenant(TenantView),
}

/// `POST /admin/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantRequest {
    #[schema(example = "acme")]
    pub tenant: String,
    /// `starter`, `pro` or `enterprise`.
    pub plan: String,
    /// Default 4 (`service::tenants::DEFAULT_MAX_ROOTS_PER_PERIOD`, as `anchor tenants add`).
    pub max_roots_per_period: Option<u32>,
    /// Default `"50.00"` (`service::tenants::DEFAULT_COST_CEILING_MICRO_USD`, as `anchor tenants add`).
    pub cost_ceiling_usd: Option<String>,
}

/// `PATCH /admin/tenants/{tenant}`: the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatchRequest {
    pub plan: Option<String>,
    pub max_roots_per_period: Option<u32>,
    pub cost_ceiling_usd: Option<String>,
    /// `active`, `paused` or `disabled`.
    pub status: Option<String>,
    /// Issue a new token (the old one stops working); the answer shows it once.
    #[serde(default)]
    pub rotate_token: bool,
}

/// `POST /tenants/{tenant}/consent`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// `opt_in` or `opt_out`.
    pub action: String,
    /// `public` or `private`.
    pub visibility: String,
    /// Who consents (a person or a system), recorded as evidence.
    pub signer: String,
    pub reason: String,
}

/// One consent log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub action: String,
    pub visibility: String,
    pub signer: String,
    pub reason: String,
    pub at: String,
}

impl From<&ConsentEntry> for ConsentView {
    fn from(e: &ConsentEntry) -> ConsentView {
        ConsentView {
            action: e.action.to_string(),
            visibility: e.visibility.to_string(),
            signer: e.signer.clone(),
            reason: e.reason.clone(),
            at: format_ts(e.at),
        }
    }
}

/// What `POST /tenants/{tenant}/manifests` stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitResult {
    /// New (tenant, day, digest) rows.
    pub accepted: u64,
    /// Already stored for that day, or repeated within the batch: counted, not errors.
    pub duplicate: u64,
    pub received_at: String,
    /// The periods (one per cadence of the tenant's plan) the manifests fall in.
    pub periods: Vec<String>,
}

/// One cadence of a tenant's plan and its next anchor.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// `daily`, `weekly` or `monthly`.
    pub cadence: String,
    /// `ots+tsa`, `ots` or `tsa`.
    pub anchors: String,
    /// The open period manifests go into now.
    pub current_period: String,
    /// When it closes.
    pub closes_at: String,
    /// When it is anchored: its close plus the grace for late manifests.
    pub anchors_at: String,
    /// Distinct manifests in the current period so far.
    pub manifests_waiting: u64,
    /// Estimated cost of that period's anchor.
    pub estimated_cost_usd: String,
}

/// `GET /anchor/plan`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub tenant: String,
    pub plan: String,
    pub consent: String,
    pub status: String,
    /// The kill switch in effect for this tenant (`normal`, `tsa-only` or `paused`).
    pub kill_switch: String,
    /// Whether the next windows will be anchored at all (opted in, active, not paused).
    pub anchoring: bool,
    pub schedules: Vec<ScheduleView>,
}

/// A run (`{tenant}:{period}`).
#[derive(Debug, Serialize, ToSchema)]
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

/// `POST /admin/runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub tenant: String,
    /// A period of one of the tenant's plan cadences.
    pub period: String,
}

/// `PUT /admin/kill-switch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchRequest {
    /// `global` or `tenant`.
    pub scope: String,
    /// Required when the scope is `tenant`.
    pub tenant: Option<String>,
    /// `normal`, `tsa-only` or `paused`.
    pub mode: String,
    pub reason: String,
    /// Who flips it (default `api`).
    pub actor: Option<String>,
}

pub use service::views::{IncidentView, KillView};

/// `POST /anchor/backfill`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    pub tenant: String,
    /// First UTC day, `YYYY-MM-DD`.
    pub from: String,
    /// Last UTC day (inclusive, not after today).
    pub to: String,
    pub manifests_per_hour: u64,
    /// Default: the tenant's ceiling.
    pub cost_ceiling_usd: Option<String>,
}

/// A backfill and its progress.
#[derive(Debug, Serialize, ToSchema)]
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

/// `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
    /// Per backend (`database`, `kv`, `blobs`, `queue`): `ok` or `unavailable`.
    #[schema(value_type = Object)]
    pub checks: std::collections::BTreeMap<String, String>,
}
