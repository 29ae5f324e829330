//! Rows and their enums. Every enum is stored as its `as_str` text and parsed back strictly: a
//! value the code does not know is an error, not a default.

use chrono::{DateTime, NaiveDate, Utc};
use merkle::Root;
use serde::Serialize;

use crate::error::{LedgerError, Result};
use crate::ids::{Cadence, CalendarUrl, Period, Plan, TenantId};
pub use domain::kinds::*;

/// A tenant as stored. `token_hash` is SHA-256 of the API token; the token itself is never
/// stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub plan: Plan,
    pub consent: Consent,
    pub visibility: Visibility,
    pub token_hash: [u8; 32],
    pub max_roots_per_period: u32,
    pub cost_ceiling_micro_usd: u64,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The tenant's own time-stamping authority; `None`: the fleet's.
    pub tsa: Option<TenantTsa>,
}

/// A tenant's own RFC 3161 authority (seed 002: "tenant-specific TSA URL and policy OID").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantTsa {
    /// One URL, or several comma-separated, tried in order.
    pub url: String,
    /// The policy OID to request, and to require of every token.
    pub policy: Option<String>,
    /// PEM CA bundle its tokens must chain to; `None`: the fleet's `LEDGER_TSA_CA_FILE`.
    pub ca_pem: Option<String>,
}

impl Tenant {
    /// Anchored only when opted in and active.
    pub fn anchoring_enabled(&self) -> bool {
        self.consent == Consent::OptedIn && self.status == TenantStatus::Active
    }
}

/// What creating a tenant needs. New tenants start opted out and private: anchoring begins
/// with an explicit opt-in in the consent log.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub id: TenantId,
    pub plan: Plan,
    pub token_hash: [u8; 32],
    pub max_roots_per_period: u32,
    pub cost_ceiling_micro_usd: u64,
}

/// A partial update of a tenant's operator-set fields (`None` keeps the value).
#[derive(Clone, Debug, Default)]
pub struct TenantPatch {
    pub plan: Option<Plan>,
    pub max_roots_per_period: Option<u32>,
    pub cost_ceiling_micro_usd: Option<u64>,
    pub status: Option<TenantStatus>,
    pub token_hash: Option<[u8; 32]>,
}

/// One consent log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentEntry {
    pub action: ConsentAction,
    pub visibility: Visibility,
    pub signer: String,
    pub reason: String,
    #[serde(with = "ts_serde")]
    pub at: DateTime<Utc>,
}

/// A run: one tree and its anchors for (tenant, period). Its id is deterministic,
/// `{tenant}:{period}`, so enqueueing it twice finds the same row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub tenant: TenantId,
    pub period: Period,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub root: Option<Root>,
    pub tree_size: Option<u64>,
    pub estimated_cost_micro_usd: u64,
    pub errors: Vec<String>,
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// A deferred run may not run before this (set by [`Store::defer_run`](crate::sql::Store::defer_run)).
    pub not_before: Option<DateTime<Utc>>,
}

impl Run {
    pub fn cadence(&self) -> Cadence {
        self.period.cadence()
    }

    /// The deterministic run id of (tenant, period).
    pub fn id_for(tenant: &TenantId, period: Period) -> String {
        format!("{tenant}:{period}")
    }
}

/// How a run ended (or was held).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub root: Option<Root>,
    pub tree_size: Option<u64>,
    pub estimated_cost_micro_usd: u64,
    pub errors: Vec<String>,
}

/// Filters for listing runs (all `None`: every run, newest first).
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub tenant: Option<TenantId>,
    pub status: Option<RunStatus>,
    pub limit: Option<u32>,
}

/// One anchor of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorRow {
    pub run_id: String,
    pub kind: AnchorKind,
    pub status: AnchorStatus,
    pub details: serde_json::Value,
    pub artifact_key: Option<String>,
    pub artifact_sha256: Option<[u8; 32]>,
    pub updated_at: DateTime<Utc>,
}

/// A stored run summary: its exact bytes and where it sits in the tenant's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    pub tenant: TenantId,
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub hash: [u8; 32],
    pub prev: String,
    pub ts: DateTime<Utc>,
    pub key_id: String,
    pub run_id: String,
}

/// A backfill request and its progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backfill {
    pub id: String,
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub manifests_per_hour: u64,
    pub cost_ceiling_micro_usd: u64,
    pub status: BackfillStatus,
    pub periods_total: u64,
    pub periods_done: u64,
    pub manifests_done: u64,
    pub cost_spent_micro_usd: u64,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a new backfill needs (`from..=to` are UTC days).
#[derive(Clone, Debug)]
pub struct NewBackfill {
    pub id: String,
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub manifests_per_hour: u64,
    pub cost_ceiling_micro_usd: u64,
}

/// A kill-switch setting (current or historical).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillState {
    pub scope: KillScope,
    pub mode: KillMode,
    pub reason: String,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// An incident: a failed sample verification, an upgrade past its horizon, and the like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub id: u64,
    pub tenant: Option<TenantId>,
    pub run_id: Option<String>,
    pub kind: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

/// A signing key's public half as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub jwk: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

pub(crate) mod ts_serde {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::ids::format_ts(*t))
    }
}

/// Reads a 32-byte column.
pub(crate) fn bytes32(what: &'static str, v: &[u8]) -> Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| LedgerError::Format(format!("{what} column holds {} bytes, not 32", v.len())))
}

/// A canary digest stamped through one calendar, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canary {
    pub id: u64,
    pub calendar: CalendarUrl,
    /// What was stamped: never a tenant's root (workers/src/canary.rs derives it).
    pub digest: [u8; 32],
    /// The detached timestamp (`.ots` bytes) as last stored: the calendar's answer, merged
    /// with every upgrade since.
    pub ots: Vec<u8>,
    pub status: CanaryStatus,
    pub submitted_at: DateTime<Utc>,
    /// When the calendar was last asked for an upgrade.
    pub checked_at: Option<DateTime<Utc>>,
    /// When the status left `pending`.
    pub settled_at: Option<DateTime<Utc>>,
    /// The last finding (a block, why it is not verified, the last upgrade outcome).
    pub detail: Option<String>,
}
