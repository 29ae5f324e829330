//! `/admin/…`: the operator's routes, behind the admin token (403 when none is configured).

// utoipa's `IntoParams` expansion re-qualifies the query types named in `Query<…>`.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use ledger::TenantId;
use ledger::sql::RunFilter;
use scheduler::policy::parse_usd;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::Errors;
use crate::auth::Admin;
use crate::error::{ApiError, Result};
use crate::input::{self, JsonBody};
use crate::state::ApiState;
use crate::views::{
    IncidentView, KillSwitchRequest, KillView, NewTenantRequest, PatchedTenant, RunRequest,
    RunView, TenantPatchRequest, TenantView, TenantWithToken,
};

/// A body field that must name a tenant: 422 (not 400) when it does not.
fn body_tenant(s: &str) -> Result<TenantId> {
    TenantId::new(s).map_err(|e| ApiError::Unprocessable(format!("tenant: {e}")))
}

fn usd(field: &'static str, s: &str) -> Result<u64> {
    parse_usd(field, s).map_err(|e| ApiError::Unprocessable(e.to_string()))
}

/// A tenant's `cost_ceiling_usd` member, when given.
fn ceiling(s: Option<&str>) -> Result<Option<u64>> {
    s.map(|c| usd("cost_ceiling_usd", c)).transpose()
}

/// Creates a tenant (opted out and private until its consent says otherwise) and returns its
/// API token, this once.
#[utoipa::path(post, path = "/admin/tenants", tag = "admin", request_body = NewTenantRequest,
    security(("bearer" = [])),
    responses((status = 201, body = TenantWithToken), Errors))]
pub async fn create_tenant(
    State(state): State<ApiState>,
    _: Admin,
    JsonBody(req): JsonBody<NewTenantRequest>,
) -> Result<Response> {
    let id = body_tenant(&req.tenant)?;
    let request = service::tenants::NewRequest {
        id: id.clone(),
        plan: req.plan.parse()?,
        max_roots_per_period: req.max_roots_per_period,
        cost_ceiling_micro_usd: ceiling(req.cost_ceiling_usd.as_deref())?,
    };
    let result = service::tenants::create(&state.parts.store, request, Utc::now()).await;
    // The name may be cached as unknown (`TenantCache` keeps unknown names too).
    state.tenants.forget(&id);
    let created = result?;
    Ok((
        StatusCode::CREATED,
        Json(TenantWithToken {
            tenant: TenantView::from(&created.tenant),
            token: created.token,
        }),
    )
        .into_response())
}

/// Changes a tenant's plan, limits, ceiling or status, or rotates its token (the answer then
/// shows the new token, once).
#[utoipa::path(patch, path = "/admin/tenants/{tenant}", tag = "admin",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = TenantPatchRequest,
    security(("bearer" = [])),
    responses((status = 200, body = PatchedTenant,
        description = "the tenant; with `rotate_token`, the tenant and its new token"), Errors))]
pub async fn patch_tenant(
    State(state): State<ApiState>,
    _: Admin,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<TenantPatchRequest>,
) -> Result<Json<PatchedTenant>> {
    let tenant = input::tenant(&tenant)?;
    let change = service::tenants::Change {
        plan: req.plan.as_deref().map(str::parse).transpose()?,
        max_roots_per_period: req.max_roots_per_period,
        cost_ceiling_micro_usd: ceiling(req.cost_ceiling_usd.as_deref())?,
        status: req.status.as_deref().map(str::parse).transpose()?,
        rotate_token: req.rotate_token,
    };
    let result = service::tenants::update(&state.parts.store, &tenant, change, Utc::now()).await;
    state.tenants.forget(&tenant);
    let (t, token) = result?;
    let view = TenantView::from(&t);
    Ok(Json(match token {
        Some(token) => PatchedTenant::Rotated(TenantWithToken {
            tenant: view,
            token,
        }),
        None => PatchedTenant::Tenant(view),
    }))
}

/// Sets the kill switch, globally or for one tenant: `normal`, `tsa-only` (no OTS stamping)
/// or `paused` (no anchoring). Every change is kept in the history.
#[utoipa::path(put, path = "/admin/kill-switch", tag = "admin", request_body = KillSwitchRequest,
    security(("bearer" = [])),
    responses((status = 200, body = KillView), Errors))]
pub async fn kill_switch(
    State(state): State<ApiState>,
    _: Admin,
    JsonBody(req): JsonBody<KillSwitchRequest>,
) -> Result<Json<KillView>> {
    let change = service::kill_switch::Change {
        scope: service::kill_switch::scope(&req.scope, req.tenant.as_deref())?,
        mode: &req.mode,
        reason: req.reason,
        actor: req
            .actor
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "api".into()),
    };
    let set = service::kill_switch::set(
        &state.parts.store,
        change,
        service::kill_switch::Fields::API,
        Utc::now(),
    )
    .await?;
    Ok(Json(KillView::from(&set)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    tenant: Option<String>,
    /// `queued`, `running`, `held`, `anchored`, `complete` or `failed`.
    status: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// Runs, newest first, filtered by tenant and status.
#[utoipa::path(get, path = "/admin/runs", tag = "admin", params(RunsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<RunView>), Errors))]
pub async fn runs(
    State(state): State<ApiState>,
    _: Admin,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<RunView>>> {
    let filter = RunFilter {
        tenant: q.tenant.as_deref().map(input::tenant).transpose()?,
        status: q
            .status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: ledger::DomainError| ApiError::BadRequest(e.to_string()))?,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
    };
    let runs = state.parts.store.runs(&filter).await?;
    Ok(Json(runs.iter().map(RunView::from).collect()))
}

/// Triggers a rollup of one period now (trigger `manual`). A period that already has a run
/// is a 409 naming its status: runs are once per period, and a held or failed one is re-run
/// by the scheduler's reaper and catch-up, not by a second run.
#[utoipa::path(post, path = "/admin/runs", tag = "admin", request_body = RunRequest,
    security(("bearer" = [])),
    responses((status = 202, body = RunView), Errors))]
pub async fn trigger_run(
    State(state): State<ApiState>,
    _: Admin,
    JsonBody(req): JsonBody<RunRequest>,
) -> Result<Response> {
    let tenant = body_tenant(&req.tenant)?;
    let period: ledger::Period = req
        .period
        .parse()
        .map_err(|e: ledger::DomainError| ApiError::Unprocessable(format!("period: {e}")))?;
    let parts = &state.parts;
    let run = service::runs::start_manual(
        &parts.store,
        &parts.policy,
        parts.queue.as_ref(),
        &tenant,
        period,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(RunView::from(&run))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IncidentsQuery {
    /// Include resolved incidents (default: open only).
    all: Option<bool>,
}

/// Incidents: failed sample verifications, upgrades past their horizon, and the like.
#[utoipa::path(get, path = "/admin/incidents", tag = "admin", params(IncidentsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<IncidentView>), Errors))]
pub async fn incidents(
    State(state): State<ApiState>,
    _: Admin,
    Query(q): Query<IncidentsQuery>,
) -> Result<Json<Vec<IncidentView>>> {
    let list = service::incidents::list(&state.parts.store, q.all.unwrap_or(false)).await?;
    Ok(Json(list.iter().map(IncidentView::from).collect()))
}
