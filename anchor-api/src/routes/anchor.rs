//! `/anchor/…`: the plan, receipts (JSON and PDF), proofs, root artifacts and backfills.

// utoipa's `IntoParams` expansion re-qualifies the query types named in `Query<…>`.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use ledger::blob::{BlobKey, ReceiptFormat, RootArtifact};
use ledger::formats::Receipt;
use ledger::{Period, TenantId};
use merkle::tiles::TileId;
use proofs::PeriodProofs;
use proofs::tiles::TiledPeriod;
use scheduler::policy::parse_usd;
use serde::Deserialize;
use utoipa::IntoParams;

use service::backfills::{self, Fields};

use crate::Errors;
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, Result};
use crate::input::{self, JsonBody};
use crate::openapi::formats;
use crate::state::{ApiState, Cached, Loaded};
use crate::views::{BackfillRequest, BackfillResume, BackfillView, PlanView, ScheduleView};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// The tenant (admin only; a tenant's token names its own tenant).
    tenant: Option<String>,
}

/// The next anchor window per cadence of the tenant's plan, manifests waiting in it, the
/// estimated cost, and the kill switch in effect.
#[utoipa::path(get, path = "/anchor/plan", tag = "anchor", params(PlanQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PlanView), Errors))]
pub async fn plan(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Query<PlanQuery>,
) -> Result<Json<PlanView>> {
    let tenant = match (&caller, q.tenant) {
        (Caller::Anonymous, _) => {
            return Err(ApiError::Unauthorized("the plan needs a token".into()));
        }
        (Caller::Admin, Some(t)) => input::tenant(&t)?,
        (Caller::Admin, None) => {
            return Err(ApiError::BadRequest(
                "the admin token needs ?tenant= to say whose plan".into(),
            ));
        }
        (Caller::Tenant(me), None) => me.id.clone(),
        (Caller::Tenant(me), Some(t)) => {
            let t = input::tenant(&t)?;
            if t != me.id {
                return Err(crate::auth::hidden(&t));
            }
            t
        }
    };
    let t = caller.may_manage(&state, &tenant).await?;
    let store = &state.parts.store;
    let policy = &state.parts.policy;
    let kill = store.effective_kill_mode(&tenant).await?;
    let now = Utc::now();
    let mut schedules = Vec::new();
    for s in policy.plans.schedules(t.plan) {
        let current = Period::containing(s.cadence, now);
        schedules.push(ScheduleView {
            cadence: s.cadence.to_string(),
            anchors: s.anchors.to_string(),
            current_period: current.to_string(),
            closes_at: ledger::ids::format_ts(current.end()),
            anchors_at: ledger::ids::format_ts(current.end() + policy.grace),
            manifests_waiting: store.count_period_manifests(&tenant, current).await?,
            estimated_cost_usd: scheduler::policy::decimal_usd(policy.costs.estimate(s.anchors)),
        });
    }
    Ok(Json(PlanView {
        tenant: tenant.to_string(),
        plan: t.plan.to_string(),
        consent: t.consent.to_string(),
        status: t.status.to_string(),
        kill_switch: kill.to_string(),
        anchoring: t.anchoring_enabled() && kill != ledger::KillMode::Paused,
        schedules,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    /// An older version (1, 2, …); default the latest.
    version: Option<u32>,
}

pub(crate) fn bytes_response(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bytes,
    )
        .into_response()
}

fn wants_pdf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|m| {
                m.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/pdf"))
            })
        })
}

/// A receipt: the latest version, or `?version=N`; exactly the signed JSON stored, or (with
/// `Accept: application/pdf` or a `.pdf` suffix on the period) a one-page PDF of it.
#[utoipa::path(get, path = "/anchor/receipt/{tenant}/{period}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("period" = String, Path, description = "`2026-11-22`, `2026-W47` or `2026-11`, optionally with `.pdf`"),
           ReceiptQuery),
    responses((status = 200, description = "the receipt",
        content((formats::Receipt = "application/json"), (Vec<u8> = "application/pdf"))), Errors))]
pub async fn receipt(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, period)): Path<(String, String)>,
    Query(q): Query<ReceiptQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    let (period, pdf_suffix) = input::split_suffix(&period, "pdf");
    let period = input::period(period)?;
    caller.may_read(&state, &tenant).await?;
    let key = match q.version {
        Some(0) => return Err(ApiError::BadRequest("version: receipts start at 1".into())),
        Some(n) => BlobKey::receipt_version(&tenant, &period, n, ReceiptFormat::Json)
            .map_err(|e| ApiError::BadRequest(format!("version: {e}")))?,
        None => BlobKey::receipt_latest(&tenant, &period, ReceiptFormat::Json),
    };
    let bytes = state.parts.blobs.get(&key).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no receipt for {tenant} {period}{}",
            q.version.map_or(String::new(), |v| format!(" version {v}"))
        ))
    })?;
    if pdf_suffix || wants_pdf(&headers) {
        let receipt = Receipt::from_json(&bytes)?;
        return Ok(bytes_response(
            "application/pdf",
            crate::pdf::receipt_pdf(&receipt),
        ));
    }
    Ok(bytes_response("application/json", bytes))
}

/// The period's proofs (cached for `LEDGER_API_CACHE_TTL`, reloaded in the background once
/// half that old), once it has a receipt.
pub(crate) async fn period_proofs(
    state: &ApiState,
    tenant: &TenantId,
    period: Period,
) -> Result<Loaded> {
    let key = (tenant.clone(), period);
    match state.proofs.lookup(&key, state.config.cache_ttl) {
        Cached::Hit(p) => return Ok(p),
        Cached::Refresh(p) => {
            let state = state.clone();
            tokio::spawn(async move {
                match load_period_proofs(&state, &key.0, key.1).await {
                    Ok(fresh) => state.proofs.put(key, fresh),
                    Err(e) => {
                        tracing::warn!(tenant = %key.0, period = %key.1, error = %e,
                            "reloading a period's proofs failed; the cached ones stay until they expire");
                        state.proofs.refresh_failed(&key);
                    }
                }
            });
            return Ok(p);
        }
        Cached::Miss => {}
    }
    let _loading = state.proofs.load_lock(&key).lock().await;
    if let Some(p) = state.proofs.get(&key, state.config.cache_ttl) {
        // Loaded by the request this one waited for.
        return Ok(p);
    }
    let proofs = load_period_proofs(state, tenant, period).await?;
    if !state.config.cache_ttl.is_zero() {
        state.proofs.put(key, proofs.clone());
    }
    Ok(proofs)
}

async fn load_period_proofs(state: &ApiState, tenant: &TenantId, period: Period) -> Result<Loaded> {
    state.proofs.loaded_one();
    let receipt = BlobKey::receipt_latest(tenant, &period, ReceiptFormat::Json);
    if !state.parts.blobs.exists(&receipt).await? {
        return Err(ApiError::not_found(format!(
            "{tenant} {period} is not anchored"
        )));
    }
    if let Some(tiled) = TiledPeriod::load(&state.parts.blobs, tenant, period).await? {
        return Ok(Loaded::Tiled(Arc::new(tiled)));
    }
    Ok(Loaded::Whole(Arc::new(
        PeriodProofs::load(&state.parts.blobs, tenant, period).await?,
    )))
}

/// A manifest's `c2c.proof.v1` from a loaded period (its tiles, or its whole stored tree).
pub(crate) async fn proof_of(
    state: &ApiState,
    loaded: Loaded,
    digest: &merkle::ManifestDigest,
) -> Result<merkle::ProofV1> {
    Ok(match loaded {
        Loaded::Tiled(tiled) => {
            tiled
                .cached_tree(&state.parts.blobs, &state.tiles)
                .proof(digest)
                .await?
        }
        Loaded::Whole(proofs) => proofs.proof(digest)?,
    })
}

/// One manifest's `c2c.proof.v1` inclusion proof (RFC 9162) against the period's root; with
/// a `.ots` suffix on the digest, its per-manifest OpenTimestamps proof, which `ots verify`
/// checks against the canonical manifest file.
#[utoipa::path(get, path = "/anchor/proof/{tenant}/{period}/{digest}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("period" = String, Path, description = "the anchored period"),
           ("digest" = String, Path, description = "64-hex manifest digest, optionally with `.ots`")),
    responses((status = 200, description = "the proof",
        content((formats::Proof = "application/json"), (Vec<u8> = "application/vnd.opentimestamps.v1"))), Errors))]
pub async fn proof(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, period, digest)): Path<(String, String, String)>,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    let period = input::period(&period)?;
    let (digest, ots) = input::split_suffix(&digest, "ots");
    let digest = input::digest(digest)?;
    caller.may_read(&state, &tenant).await?;
    match period_proofs(&state, &tenant, period).await? {
        Loaded::Tiled(tiled) => {
            let tree = tiled.cached_tree(&state.parts.blobs, &state.tiles);
            if ots {
                let ts = tiled.manifest_ots(&tree, &digest).await?;
                return ots_response(&tenant, period, ts);
            }
            // The same bytes as serde_json::to_vec(&proof), from the period's template
            // (proofs::tiles tests pin the equality).
            let mut body = tiled.proof_json(&tree, &digest).await?;
            body.push(b'\n');
            Ok(bytes_response("application/json", body))
        }
        Loaded::Whole(proofs) => {
            if ots {
                return ots_response(&tenant, period, proofs.manifest_ots(&digest)?);
            }
            // The same bytes as serde_json::to_vec(&proofs.proof(&digest)?), from the
            // period's template (proofs::period tests pin the equality).
            let mut body = proofs.proof_json(&digest)?;
            body.push(b'\n');
            Ok(bytes_response("application/json", body))
        }
    }
}

fn ots_response(
    tenant: &TenantId,
    period: Period,
    ts: Option<stamp::DetachedTimestamp>,
) -> Result<Response> {
    let ts = ts.ok_or_else(|| {
        ApiError::not_found(format!("{tenant} {period} has no OpenTimestamps anchor"))
    })?;
    let bytes = ts
        .to_bytes()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(bytes_response("application/vnd.opentimestamps.v1", bytes))
}

/// A root artifact: `root.bin` (the 32 root bytes both anchors commit to), `root.ots` (the
/// version the latest receipt names) or `root.tsr` (the RFC 3161 response).
#[utoipa::path(get, path = "/anchor/artifact/{tenant}/{period}/{name}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("period" = String, Path, description = "the anchored period"),
           ("name" = String, Path, description = "`root.bin`, `root.ots` or `root.tsr`")),
    responses((status = 200, description = "the artifact's bytes",
        content((Vec<u8> = "application/octet-stream"), (Vec<u8> = "application/timestamp-reply"))), Errors))]
pub async fn artifact(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, period, name)): Path<(String, String, String)>,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    let period = input::period(&period)?;
    let which = match name.as_str() {
        "root.bin" => RootArtifact::Bin,
        "root.ots" => RootArtifact::Ots,
        "root.tsr" => RootArtifact::Tsr,
        other => {
            return Err(ApiError::BadRequest(format!(
                "artifact {other:?} is not root.bin, root.ots or root.tsr"
            )));
        }
    };
    caller.may_read(&state, &tenant).await?;
    let blobs = &state.parts.blobs;
    let latest = BlobKey::receipt_latest(&tenant, &period, ReceiptFormat::Json);
    let receipt = blobs
        .get(&latest)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{tenant} {period} is not anchored")))?;
    let receipt = Receipt::from_json(&receipt)?;
    let key = match which {
        // The one the latest receipt names (root.v{n}.ots after an upgrade).
        RootArtifact::Ots => proofs::named_root_ots(&receipt)?.ok_or_else(|| {
            ApiError::not_found(format!("{tenant} {period} has no OpenTimestamps anchor"))
        })?,
        other => BlobKey::root_artifact(&tenant, &period, other),
    };
    let bytes = blobs
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{name} of {tenant} {period}")))?;
    let ct = if which == RootArtifact::Tsr {
        "application/timestamp-reply"
    } else {
        "application/octet-stream"
    };
    Ok(bytes_response(ct, bytes))
}

/// One tile of a period's tree, or one bundle of its sorted digests, in the C2SP tlog-tiles
/// layout below the prefix `/anchor/tree/{tenant}/{period}/` (`tile/<L>/<N>[.p/<W>]`,
/// `tile/entries/<N>[.p/<W>]`): what a client that trusts only the signed root needs to
/// compute any proof itself, and the public tenants' digests for recomputing the root.
/// Private tenants' tiles need the owner's (or the admin) token, as their receipts do.
///
/// A period's tiles never change, partial ones included (its tree never grows), so every
/// answer is `Cache-Control: …, max-age=31536000, immutable` with a strong `ETag` (the tile's
/// SHA-256), `public` to anonymous callers and `private` to authenticated ones; a matching
/// `If-None-Match` is `304 Not Modified`.
#[utoipa::path(get, path = "/anchor/tree/{tenant}/{period}/{*path}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("period" = String, Path, description = "the anchored period"),
           ("path" = String, Path, description = "a tile path: `tile/0/x001/234`, `tile/1/000.p/7`, `tile/entries/000`")),
    responses((status = 200, description = "the tile's bytes",
        content((Vec<u8> = "application/octet-stream"))),
        (status = 304, description = "the tile the If-None-Match names"), Errors))]
pub async fn tile(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, period, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    let period = input::period(&period)?;
    let id = TileId::parse(&path).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    caller.may_read(&state, &tenant).await?;
    let key = BlobKey::root_tile(&tenant, &period, id);
    let bytes = state
        .parts
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{path} of {tenant} {period}")))?;
    immutable_response(&caller, &headers, bytes)
}

/// An object that never changes (a tile), with a strong `ETag` (its SHA-256) and
/// `Cache-Control: …, max-age=31536000, immutable`, `public` to anonymous callers and
/// `private` to authenticated ones; a matching `If-None-Match` is `304 Not Modified`.
pub(crate) fn immutable_response(
    caller: &Caller,
    headers: &HeaderMap,
    bytes: Vec<u8>,
) -> Result<Response> {
    let etag = format!("\"{}\"", merkle::Hash::sha256(&bytes).to_hex());
    let cache = if matches!(caller, Caller::Anonymous) {
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=31536000, immutable"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag = HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ];
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let mut response = bytes_response("application/octet-stream", bytes);
    response.headers_mut().extend(common);
    Ok(response)
}

fn day(field: &str, s: &str) -> Result<NaiveDate> {
    s.parse().map_err(|_| {
        ApiError::Unprocessable(format!("{field}: {s:?} is not a day like 2026-11-01"))
    })
}

/// Starts a backfill of past days, paced at `manifests_per_hour` and stopped before its cost
/// ceiling; the scheduler runs it. Backfilled receipts say they were anchored after the
/// period.
#[utoipa::path(post, path = "/anchor/backfill", tag = "admin", request_body = BackfillRequest,
    security(("bearer" = [])),
    responses((status = 202, body = BackfillView), Errors))]
pub async fn backfill_create(
    State(state): State<ApiState>,
    _: Admin,
    JsonBody(req): JsonBody<BackfillRequest>,
) -> Result<Response> {
    let tenant = input::tenant(&req.tenant).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let (from, to) = (day("from", &req.from)?, day("to", &req.to)?);
    let mut request = backfills::NewRequest {
        tenant,
        from,
        to,
        manifests_per_hour: req.manifests_per_hour,
        cost_ceiling_micro_usd: None,
    };
    // The range and pace are judged before the ceiling is read, as they always were.
    backfills::check_request(&request, Utc::now().date_naive(), Fields::API)?;
    request.cost_ceiling_micro_usd = req
        .cost_ceiling_usd
        .as_deref()
        .map(|c| parse_usd("cost_ceiling_usd", c))
        .transpose()
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let b = backfills::create(&state.parts.store, request, Fields::API, Utc::now()).await?;
    let location = format!("/anchor/backfill/{}", b.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(BackfillView::from(&b)),
    )
        .into_response())
}

/// A backfill's progress (the admin, or the tenant it belongs to).
#[utoipa::path(get, path = "/anchor/backfill/{id}", tag = "anchor",
    params(("id" = String, Path, description = "`bf-` and 12 hex digits")),
    security(("bearer" = [])),
    responses((status = 200, body = BackfillView), Errors))]
pub async fn backfill_get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BackfillView>> {
    let id = input::backfill_id(&id)?;
    // Anonymous callers are turned away before the store is asked, so the answer (and its
    // cost) is the same whether or not the backfill exists.
    if caller == Caller::Anonymous {
        return Err(ApiError::Unauthorized("a backfill needs a token".into()));
    }
    let hidden = || ApiError::not_found(format!("no backfill {id} visible to this caller"));
    let b = match state.parts.store.backfill(id).await {
        Err(ledger::LedgerError::NotFound { .. }) => return Err(hidden()),
        other => other?,
    };
    match caller {
        Caller::Admin => {}
        Caller::Tenant(me) if me.id == b.tenant => {}
        Caller::Anonymous | Caller::Tenant(_) => return Err(hidden()),
    }
    Ok(Json(BackfillView::from(&b)))
}

/// Cancels a backfill (final: periods already enqueued still run; nothing new is).
#[utoipa::path(delete, path = "/anchor/backfill/{id}", tag = "admin",
    params(("id" = String, Path, description = "`bf-` and 12 hex digits")),
    security(("bearer" = [])),
    responses((status = 200, body = BackfillView), Errors))]
pub async fn backfill_cancel(
    State(state): State<ApiState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<BackfillView>> {
    let id = input::backfill_id(&id)?;
    let b = backfills::cancel(
        &state.parts.store,
        id,
        "cancelled through the API",
        Utc::now(),
    )
    .await?;
    Ok(Json(BackfillView::from(&b)))
}

/// Pauses a queued or running backfill: nothing new is enqueued until it is resumed (periods
/// already enqueued still run).
#[utoipa::path(post, path = "/anchor/backfill/{id}/pause", tag = "admin",
    params(("id" = String, Path, description = "`bf-` and 12 hex digits")),
    security(("bearer" = [])),
    responses((status = 200, body = BackfillView), Errors))]
pub async fn backfill_pause(
    State(state): State<ApiState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<BackfillView>> {
    let id = input::backfill_id(&id)?;
    let b = backfills::pause(&state.parts.store, id, "through the API", Utc::now()).await?;
    Ok(Json(BackfillView::from(&b)))
}

/// Resumes a paused or stopped backfill. A backfill stopped at its cost ceiling needs a
/// higher one: give `cost_ceiling_usd` in the body (`{}` otherwise).
#[utoipa::path(post, path = "/anchor/backfill/{id}/resume", tag = "admin",
    params(("id" = String, Path, description = "`bf-` and 12 hex digits")),
    request_body = BackfillResume,
    security(("bearer" = [])),
    responses((status = 200, body = BackfillView), Errors))]
pub async fn backfill_resume(
    State(state): State<ApiState>,
    _: Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BackfillResume>,
) -> Result<Json<BackfillView>> {
    let id = input::backfill_id(&id)?;
    let ceiling = body
        .cost_ceiling_usd
        .as_deref()
        .map(|c| parse_usd("cost_ceiling_usd", c))
        .transpose()
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let b = backfills::resume(&state.parts.store, id, ceiling, Fields::API, Utc::now()).await?;
    Ok(Json(BackfillView::from(&b)))
}
