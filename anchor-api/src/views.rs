//! What the API sends and accepts, with their OpenAPI schemas. Money is decimal dollar text
//! (`"12.50"`, parsed exactly into micro-dollars: no float ever holds an amount); instants
//! are RFC 3339 UTC with milliseconds; enums are their lowercase names.

use ledger::ids::format_ts;
use ledger::sql::ConsentEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The tenant, run and backfill views are the service layer's, defined once there.
pub use service::views::{BackfillView, RunView, TenantView};

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

/// `POST /anchor/backfill/{id}/resume`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillResume {
    /// Raise the ceiling first (in dollars, e.g. `"75.00"`): a backfill stopped at its
    /// ceiling needs a higher one. Default: keep it.
    pub cost_ceiling_usd: Option<String>,
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
