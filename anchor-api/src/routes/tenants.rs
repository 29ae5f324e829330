//! `/tenants/{tenant}/…`: a tenant's own writes — manifests and consent — and its consent log.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;

use crate::Errors;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::input::{self, JsonBody, RawJson};
use crate::state::ApiState;
use crate::views::{ConsentRequest, ConsentView, SubmitResult, TenantView};

/// Bodies up to this size are parsed on the request's own thread (about 100 µs of work at most).
const INLINE_PARSE_BYTES: usize = 16 * 1024;

/// Submits manifests: a JSON array whose elements are manifest objects (canonicalised here
/// with RFC 8785, `SHA-256(JCS(manifest))`) or 64-hex digest strings. Idempotent: what is
/// already stored for today counts as `duplicate`. All or nothing: one bad element rejects
/// the batch (naming its index) and stores none of it. At most `LEDGER_API_MAX_BATCH`
/// elements.
#[utoipa::path(post, path = "/tenants/{tenant}/manifests", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body(content = Vec<String>, content_type = "application/json",
        description = "manifest objects and/or 64-hex digest strings"),
    security(("bearer" = [])),
    responses((status = 200, body = SubmitResult), Errors))]
pub async fn submit_manifests(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    RawJson(body): RawJson,
) -> Result<Json<SubmitResult>> {
    let tenant = input::tenant(&tenant)?;
    let t = caller.may_manage(&state, &tenant).await?;
    service::manifests::accepts(&t)?;
    // Parsing and canonicalising up to LEDGER_API_BODY_LIMIT of JSON is CPU work: a large
    // body is parsed on the blocking pool, not on the threads that serve every other request
    // (an 8 MiB body parsed inline held /healthz for 0.2 s). A small one (a few manifests,
    // microseconds of work) is parsed here: the trip to the pool and back cost more than the
    // parse (issue 25).
    let max = state.config.max_batch;
    let parsed = if body.len() <= INLINE_PARSE_BYTES {
        merkle::batch::array_digests_at_most(&body, max)
    } else {
        tokio::task::spawn_blocking(move || merkle::batch::array_digests_at_most(&body, max))
            .await
            .map_err(|e| ApiError::Internal(format!("the manifest parser: {e}")))?
    };
    let digests = parsed.map_err(|e| match e {
        merkle::MerkleError::Batch(m) if m.starts_with("not valid JSON") => ApiError::BadRequest(m),
        merkle::MerkleError::BatchTooLarge { max } => ApiError::PayloadTooLarge(format!(
            "more than {max} manifests in one batch (LEDGER_API_MAX_BATCH)"
        )),
        other => ApiError::Unprocessable(other.to_string()),
    })?;
    let now = Utc::now();
    let counts = service::manifests::submit(&state.parts.store, &t, &digests, now, now).await?;
    metrics::counter!("api_manifests_accepted_total").increment(counts.accepted);
    let periods = service::manifests::periods(&state.parts.policy.plans, &t, now)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(SubmitResult {
        accepted: counts.accepted,
        duplicate: counts.duplicate,
        received_at: ledger::ids::format_ts(now),
        periods,
    }))
}

/// Appends to the consent log: `opt_in` starts anchoring (with `public` visibility, receipts
/// and proofs become readable without a token), `opt_out` stops new anchors and keeps
/// history.
#[utoipa::path(post, path = "/tenants/{tenant}/consent", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = ConsentRequest,
    security(("bearer" = [])),
    responses((status = 200, body = TenantView), Errors))]
pub async fn record_consent(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<ConsentRequest>,
) -> Result<Json<TenantView>> {
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    let consent = service::tenants::Consent {
        action: req.action.parse()?,
        visibility: Some(req.visibility.parse()?),
        signer: req.signer,
        reason: req.reason,
    };
    let result = service::tenants::record_consent(
        &state.parts.store,
        &tenant,
        consent,
        service::tenants::Fields::API,
        Utc::now(),
    )
    .await;
    state.tenants.forget(&tenant);
    let t = result?;
    Ok(Json(TenantView::from(&t)))
}

/// The consent log, oldest first.
#[utoipa::path(get, path = "/tenants/{tenant}/consent", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ConsentView>), Errors))]
pub async fn consent_log(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<ConsentView>>> {
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    let log = state.parts.store.consent_log(&tenant).await?;
    Ok(Json(log.iter().map(ConsentView::from).collect()))
}

/// `POST /tenants/{tenant}/webhooks`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where to POST the tenant's events: `https://…` (or `http://…`) with a host.
    pub url: String,
}

/// Registers a webhook for the tenant's events from now on (`run.anchored`, `run.complete`,
/// `run.failed`, `run.held`, `ots.confirmed`, `incident.opened`, `tenant.paused`). Each event
/// is sent (`POST`) as JSON with `X-Ledger-Event`, `X-Ledger-Delivery` (the event id, the same on
/// every retry) and `X-Ledger-Signature: sha256=<hex HMAC-SHA256 of the body>` under the
/// `secret` in this answer, which is shown only here.
#[utoipa::path(post, path = "/tenants/{tenant}/webhooks", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = WebhookRequest,
    security(("bearer" = [])),
    responses((status = 201, body = service::webhooks::WebhookView), Errors))]
pub async fn add_webhook(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<WebhookRequest>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    let view =
        service::webhooks::register(&state.parts.store, &tenant, &req.url, Utc::now()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)).into_response())
}

/// The tenant's webhooks (without their secrets).
#[utoipa::path(get, path = "/tenants/{tenant}/webhooks", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<service::webhooks::WebhookView>), Errors))]
pub async fn list_webhooks(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<service::webhooks::WebhookView>>> {
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    Ok(Json(
        service::webhooks::list(&state.parts.store, &tenant).await?,
    ))
}

/// Deletes a webhook: nothing more is sent to it.
#[utoipa::path(delete, path = "/tenants/{tenant}/webhooks/{id}", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id"),
           ("id" = String, Path, description = "webhook id")),
    security(("bearer" = [])),
    responses((status = 204, description = "deleted"), Errors))]
pub async fn delete_webhook(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode> {
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    service::webhooks::delete(&state.parts.store, &tenant, &id, Utc::now()).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The newest 100 events since the webhook was registered, each with its delivery: `pending`
/// (not sent yet), `ok`, or `failed` with its attempts, last error and next attempt.
#[utoipa::path(get, path = "/tenants/{tenant}/webhooks/{id}/deliveries", tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id"),
           ("id" = String, Path, description = "webhook id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<service::webhooks::DeliveryView>), Errors))]
pub async fn webhook_deliveries(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Vec<service::webhooks::DeliveryView>>> {
    let tenant = input::tenant(&tenant)?;
    caller.may_manage(&state, &tenant).await?;
    Ok(Json(
        service::webhooks::deliveries(&state.parts.store, &tenant, &id, 100).await?,
    ))
}
