//! Keys, health, readiness and metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::blob::{BlobKey, ReceiptFormat};
use ledger::{Period, TenantId};

use crate::Errors;
use crate::error::Result;
use crate::state::ApiState;
use crate::views::Health;

/// The public keys that sign receipts and run summaries, retired ones included (old
/// receipts stay verifiable), as a JWK Set (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "JWK Set", body = Object), Errors))]
pub async fn jwks(State(state): State<ApiState>) -> Result<Response> {
    let jwks = state.parts.store.jwks(true).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        jwks.to_json_pretty(),
    )
        .into_response())
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = Health), Errors))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        checks: BTreeMap::new(),
    })
}

/// Readiness: the database, the KV, the blob store and the job queue each answer (503 naming the ones that
/// do not; causes go to the log).
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Health), Errors))]
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let p = &state.parts;
    let probe = BlobKey::receipt_latest(
        &TenantId::new("readyz-probe").expect("a valid slug"),
        &"1970-01-01".parse::<Period>().expect("a valid day"),
        ReceiptFormat::Json,
    );
    let (db, kv, blobs, queue) = tokio::join!(
        p.store.ping(),
        p.kv.ping(),
        p.blobs.exists(&probe),
        p.queue.ping()
    );
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for (name, outcome) in [
        ("database", db.err().map(|e| e.to_string())),
        ("kv", kv.err().map(|e| e.to_string())),
        ("blobs", blobs.err().map(|e| e.to_string())),
        ("queue", queue.err()),
    ] {
        let status = match outcome {
            None => "ok",
            Some(e) => {
                tracing::warn!(backend = name, error = %e, "readiness check failed");
                ready = false;
                "unavailable"
            }
        };
        checks.insert(name.to_owned(), status.to_owned());
    }
    let (code, status) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        code,
        Json(Health {
            status: status.into(),
            checks,
        }),
    )
        .into_response()
}

/// Prometheus text exposition: API requests and latencies, and what the scheduler and
/// workers in this process record (runs by status, stamping outcomes, …).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format 0.0.4",
        content((String = "text/plain"))), Errors))]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
