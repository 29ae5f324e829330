//! `/reserve/…`: reserve attestations (reserves/README.md).
//!
//! - The registry and its snapshots are the operator's: every route needs the admin token
//!   (403 when none is configured: fail closed; 401 for another token).
//! - Attestations are public: anybody may list them, read the latest, or read one by id. A
//!   single attestation is answered with exactly the served JSON that was signed and stored,
//!   byte for byte, so `anchor reserves verify` checks what was downloaded.
//! - Path values are checked before any query (`asset`: the registry's id form; `id`:
//!   `att_` and 32 lowercase hex digits), else 400. Bodies are the documents of
//!   `reserves::asset` (unknown members refused), else 422 naming what was wrong.
//! - The API never signs: attestations are published by `anchor reserves publish`.

// utoipa's `IntoParams` expansion re-qualifies the query types named in `Query<…>`.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use reserves::ReserveError;
use reserves::asset::{AssetPatch, NewAsset, NewSnapshot};
use reserves::error::RuleError;
use reserves::sql::{AssetFilter, AttestationFilter, PublicationStatus};
use reserves::types::{AssetId, AttestationId, Label};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Errors;
use crate::auth::Admin;
use crate::error::{ApiError, Result};
use crate::input::JsonBody;
use crate::openapi::formats;
use crate::routes::anchor::bytes_response;
use crate::state::ApiState;

impl From<ReserveError> for ApiError {
    fn from(e: ReserveError) -> ApiError {
        match e {
            ReserveError::Rule(
                RuleError::Invalid { .. }
                | RuleError::Request(_)
                | RuleError::Overflow(_)
                | RuleError::I3Ratio { .. }
                | RuleError::I3MinRatio { .. }
                | RuleError::RatioMismatch { .. },
            ) => ApiError::Unprocessable(e.to_string()),
            ReserveError::Rule(RuleError::Domain(e)) => ApiError::Ledger(e.into()),
            ReserveError::NotFound { .. } | ReserveError::AttestationNotFound(_) => {
                ApiError::NotFound(e.to_string())
            }
            ReserveError::Conflict { .. } | ReserveError::Rule(RuleError::Conflict { .. }) => {
                ApiError::Conflict(e.to_string())
            }
            ReserveError::Ledger(e) => ApiError::Ledger(e),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> ApiError {
        ReserveError::Rule(e).into()
    }
}

/// An asset id from a path, else 400.
fn asset_path(s: &str) -> Result<AssetId> {
    AssetId::new(s).map_err(|e| ApiError::BadRequest(format!("asset: {e}")))
}

/// An attestation id from a path, else 400.
fn attestation_path(s: &str) -> Result<AttestationId> {
    AttestationId::new(s).map_err(|e| ApiError::BadRequest(format!("id: {e}")))
}

fn query_label(what: &str, s: Option<&str>) -> Result<Option<Label>> {
    s.map(|v| Label::new(v).map_err(|e| ApiError::BadRequest(format!("{what}: {e}"))))
        .transpose()
}

fn query_ts(what: &str, s: Option<&str>) -> Result<Option<chrono::DateTime<Utc>>> {
    s.map(|v| ledger::ids::parse_ts(v).map_err(|e| ApiError::BadRequest(format!("{what}: {e}"))))
        .transpose()
}

fn json_of(v: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A registry asset (`reserves::asset::ReserveAsset`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct AssetView(serde_json::Value);

/// An asset and the history of its policy (eligibility, haircut, staleness window).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetDetail {
    #[schema(value_type = Object)]
    asset: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    policy_history: serde_json::Value,
}

/// One page of attestations (publication state, no payload), newest period end first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttestationPage {
    #[schema(value_type = Vec<Object>)]
    items: serde_json::Value,
    total: u64,
    limit: u32,
    offset: u32,
}

/// Registers an asset. New assets fail closed: `eligible` false and `haircut_bps` 10000
/// unless stated.
#[utoipa::path(post, path = "/reserve/assets", tag = "reserve", request_body = Object,
    security(("bearer" = [])),
    responses((status = 201, body = AssetView), Errors))]
pub async fn create_asset(
    State(state): State<ApiState>,
    _: Admin,
    JsonBody(new): JsonBody<NewAsset>,
) -> Result<Response> {
    let a = state.parts.reserves.create_asset(new, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(json_of(&a)?)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssetsQuery {
    provider: Option<String>,
    asset_type: Option<String>,
    eligible: Option<bool>,
    /// Include soft-deleted assets.
    include_deleted: Option<bool>,
}

/// The registry, ordered by id.
#[utoipa::path(get, path = "/reserve/assets", tag = "reserve", params(AssetsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<AssetView>), Errors))]
pub async fn list_assets(
    State(state): State<ApiState>,
    _: Admin,
    Query(q): Query<AssetsQuery>,
) -> Result<Json<serde_json::Value>> {
    let filter = AssetFilter {
        provider: query_label("provider", q.provider.as_deref())?,
        asset_type: query_label("asset_type", q.asset_type.as_deref())?,
        eligible: q.eligible,
        include_deleted: q.include_deleted.unwrap_or(false),
    };
    Ok(Json(json_of(&state.parts.reserves.assets(&filter).await?)?))
}

/// One asset (deleted or not) and its policy history.
#[utoipa::path(get, path = "/reserve/assets/{asset}", tag = "reserve",
    params(("asset" = String, Path, description = "asset id")),
    security(("bearer" = [])),
    responses((status = 200, body = AssetDetail), Errors))]
pub async fn get_asset(
    State(state): State<ApiState>,
    _: Admin,
    Path(asset): Path<String>,
) -> Result<Json<AssetDetail>> {
    let id = asset_path(&asset)?;
    let a = state.parts.reserves.asset(&id).await?;
    let history = state.parts.reserves.policy_history(&id).await?;
    Ok(Json(AssetDetail {
        asset: json_of(&a)?,
        policy_history: json_of(&history)?,
    }))
}

/// Changes a live asset's name, eligibility, haircut, staleness window or provider metadata
/// (a policy change is added to its history).
#[utoipa::path(patch, path = "/reserve/assets/{asset}", tag = "reserve",
    params(("asset" = String, Path, description = "asset id")), request_body = Object,
    security(("bearer" = [])),
    responses((status = 200, body = AssetView), Errors))]
pub async fn update_asset(
    State(state): State<ApiState>,
    _: Admin,
    Path(asset): Path<String>,
    JsonBody(patch): JsonBody<AssetPatch>,
) -> Result<Json<serde_json::Value>> {
    let id = asset_path(&asset)?;
    if patch.is_empty() {
        return Err(ApiError::Unprocessable(
            "the patch changes nothing: give at least one of name, eligible, haircut_bps, \
             max_age_seconds, provider_metadata"
                .into(),
        ));
    }
    let a = state
        .parts
        .reserves
        .update_asset(&id, &patch, Utc::now())
        .await?;
    Ok(Json(json_of(&a)?))
}

/// Soft-deletes an asset: it leaves the registry listing and future computations; its
/// snapshots and history stay.
#[utoipa::path(delete, path = "/reserve/assets/{asset}", tag = "reserve",
    params(("asset" = String, Path, description = "asset id")),
    security(("bearer" = [])),
    responses((status = 200, body = AssetView), Errors))]
pub async fn delete_asset(
    State(state): State<ApiState>,
    _: Admin,
    Path(asset): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let id = asset_path(&asset)?;
    let a = state.parts.reserves.delete_asset(&id, Utc::now()).await?;
    Ok(Json(json_of(&a)?))
}

/// Records an observation of a live asset (`amount_unit: "pack"` is normalised with the
/// asset's `provider_metadata.credits_per_unit`). Snapshots are append-only.
#[utoipa::path(post, path = "/reserve/assets/{asset}/snapshots", tag = "reserve",
    params(("asset" = String, Path, description = "asset id")), request_body = Object,
    security(("bearer" = [])),
    responses((status = 201, body = Object), Errors))]
pub async fn add_snapshot(
    State(state): State<ApiState>,
    _: Admin,
    Path(asset): Path<String>,
    JsonBody(new): JsonBody<NewSnapshot>,
) -> Result<Response> {
    let id = asset_path(&asset)?;
    let s = state
        .parts
        .reserves
        .add_snapshot(&id, new, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(json_of(&s)?)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SnapshotsQuery {
    /// At most this many, newest observation first (1 to 1000, default 20).
    limit: Option<u32>,
}

/// An asset's snapshots, newest observation first.
#[utoipa::path(get, path = "/reserve/assets/{asset}/snapshots", tag = "reserve",
    params(("asset" = String, Path, description = "asset id"), SnapshotsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), Errors))]
pub async fn list_snapshots(
    State(state): State<ApiState>,
    _: Admin,
    Path(asset): Path<String>,
    Query(q): Query<SnapshotsQuery>,
) -> Result<Json<serde_json::Value>> {
    let id = asset_path(&asset)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit: must be 1 to 1000".into()));
    }
    state.parts.reserves.asset(&id).await?;
    Ok(Json(json_of(
        &state.parts.reserves.snapshots(&id, limit).await?,
    )?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttestationsQuery {
    /// `pending`, `ok` or `failed`.
    status: Option<String>,
    /// Period end at or after this instant (RFC 3339).
    period_end_min: Option<String>,
    /// Period end at or before this instant (RFC 3339).
    period_end_max: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// Attestations to skip (default 0).
    offset: Option<u32>,
}

/// Attestations with their publication state (no payload), newest period end first.
#[utoipa::path(get, path = "/reserve/attestations", tag = "reserve", params(AttestationsQuery),
    responses((status = 200, body = AttestationPage), Errors))]
pub async fn list_attestations(
    State(state): State<ApiState>,
    Query(q): Query<AttestationsQuery>,
) -> Result<Json<AttestationPage>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: must be 1 to 100".into()));
    }
    let offset = q.offset.unwrap_or(0);
    let filter = AttestationFilter {
        status: q
            .status
            .as_deref()
            .map(str::parse::<PublicationStatus>)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?,
        period_end_min: query_ts("period_end_min", q.period_end_min.as_deref())?,
        period_end_max: query_ts("period_end_max", q.period_end_max.as_deref())?,
        limit: Some(limit),
        offset: Some(offset),
    };
    let (items, total) = state.parts.reserves.attestations(&filter).await?;
    Ok(Json(AttestationPage {
        items: json_of(&items)?,
        total,
        limit,
        offset,
    }))
}

/// The latest attestation (newest period end, pending or ok): the served JSON as signed.
#[utoipa::path(get, path = "/reserve/attestations/latest", tag = "reserve",
    responses((status = 200, description = "the served attestation, byte for byte as signed",
        content((formats::ReserveAttestation = "application/json"))), Errors))]
pub async fn latest_attestation(State(state): State<ApiState>) -> Result<Response> {
    let a = state.parts.reserves.latest_attestation().await?;
    Ok(bytes_response(
        "application/json",
        a.served_json.into_bytes(),
    ))
}

/// One attestation: the served JSON, byte for byte as signed and stored.
#[utoipa::path(get, path = "/reserve/attestations/{id}", tag = "reserve",
    params(("id" = String, Path, description = "`att_` and 32 lowercase hex digits")),
    responses((status = 200, description = "the served attestation, byte for byte as signed",
        content((formats::ReserveAttestation = "application/json"))), Errors))]
pub async fn get_attestation(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = attestation_path(&id)?;
    let a = state.parts.reserves.attestation(&id).await?;
    Ok(bytes_response(
        "application/json",
        a.served_json.into_bytes(),
    ))
}
