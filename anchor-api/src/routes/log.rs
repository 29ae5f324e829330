//! `/anchor/log/{tenant}/…`: the tenant's receipt log (`proofs::log`): its newest signed
//! checkpoint, its verifier key, its tiles and consistency proofs. Visible like receipts: the
//! tenant's token, the admin, or anybody while the tenant is public.
//!
//! Every path below the prefix is the object layout's below `log/{tenant}/`, so a monitor
//! reads the API and a static copy of the bucket the same way (`anchor monitor`).

// utoipa's `IntoParams` expansion re-qualifies the query types named in `Query<…>`.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ledger::TenantId;
use ledger::blob::BlobKey;
use ledger::note::{Checkpoint, unverified_text};
use merkle::tiles::TileId;
use proofs::log::TiledLog;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Errors;
use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::input;
use crate::routes::anchor::immutable_response;
use crate::state::ApiState;

/// A replaceable text object (checkpoint, key), never cached without revalidation.
async fn text_object(state: &ApiState, key: &BlobKey, what: String) -> Result<Response> {
    let bytes = state
        .parts
        .blobs
        .get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        bytes,
    )
        .into_response())
}

async fn readable(state: &ApiState, caller: &Caller, tenant: &str) -> Result<TenantId> {
    let tenant = input::tenant(tenant)?;
    caller.may_read(state, &tenant).await?;
    Ok(tenant)
}

/// The newest signed checkpoint of the tenant's receipt log (C2SP tlog-checkpoint: origin
/// `c2c.receipt-log/{tenant}`, size, base64 root, then the Ed25519 signature line).
#[utoipa::path(get, path = "/anchor/log/{tenant}/checkpoint", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, description = "the signed checkpoint (a C2SP signed note)",
        content((String = "text/plain"))), Errors))]
pub async fn checkpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response> {
    let tenant = readable(&state, &caller, &tenant).await?;
    let what = format!("the receipt log of {tenant} (no receipt yet)");
    text_object(&state, &BlobKey::log_checkpoint(&tenant), what).await
}

/// The verifier key of the log's checkpoints (`name+keyid+base64(0x01||Ed25519 key)`, as Go's
/// `golang.org/x/mod/sumdb/note` reads it). A monitor pins it on its first run; pass it out of
/// band (`anchor keys show` prints it) rather than trusting this route alone.
#[utoipa::path(get, path = "/anchor/log/{tenant}/vkey", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, description = "the verifier key, one line",
        content((String = "text/plain"))), Errors))]
pub async fn vkey(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response> {
    let tenant = readable(&state, &caller, &tenant).await?;
    let what = format!("the receipt log key of {tenant} (no receipt yet)");
    text_object(&state, &BlobKey::log_vkey(&tenant), what).await
}

/// One tile of the receipt log (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, C2SP
/// tlog-tiles). Create-only, partial ones included (the log grows by new widths), so
/// cached like the trees' tiles: `immutable`, strong `ETag`, `304` on a match.
#[utoipa::path(get, path = "/anchor/log/{tenant}/tile/{*path}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("path" = String, Path, description = "below `tile/`: `0/000.p/3`, `entries/000.p/3`")),
    responses((status = 200, description = "the tile's bytes",
        content((Vec<u8> = "application/octet-stream"))),
        (status = 304, description = "the tile the If-None-Match names"), Errors))]
pub async fn tile(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let id =
        TileId::parse(&format!("tile/{path}")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let tenant = readable(&state, &caller, &tenant).await?;
    let bytes = state
        .parts
        .blobs
        .get(&BlobKey::log_tile(&tenant, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{id} of {tenant}'s receipt log")))?;
    immutable_response(&caller, &headers, bytes)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The smaller size (≥ 1), e.g. the size of the checkpoint a monitor kept.
    from: u64,
    /// The larger size: a size the log published a checkpoint of (default the newest).
    to: Option<u64>,
}

/// An RFC 9162 consistency proof between two sizes of the receipt log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyView {
    pub tenant: String,
    pub from: u64,
    pub to: u64,
    /// The root at `to`, hex.
    pub root: String,
    /// The proof's hashes, hex, in RFC 9162 §2.1.4 order.
    pub proof: Vec<String>,
}

/// The consistency proof from size `from` to size `to` (default: the newest checkpoint's),
/// computed from the log's tiles; a client verifies it against the two checkpoints' roots.
#[utoipa::path(get, path = "/anchor/log/{tenant}/consistency", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"), ConsistencyQuery),
    responses((status = 200, description = "the proof", body = ConsistencyView), Errors))]
pub async fn consistency(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>> {
    let tenant = readable(&state, &caller, &tenant).await?;
    let key = match q.to {
        Some(size) => BlobKey::log_checkpoint_at(&tenant, size),
        None => BlobKey::log_checkpoint(&tenant),
    };
    let note = state.parts.blobs.get(&key).await?.ok_or_else(|| {
        ApiError::not_found(match q.to {
            Some(size) => format!("a checkpoint of size {size} of {tenant}'s receipt log"),
            None => format!("the receipt log of {tenant} (no receipt yet)"),
        })
    })?;
    let cp = unverified_text(&note)
        .and_then(Checkpoint::parse)
        .map_err(|e| ApiError::Internal(format!("{key}: {e}")))?;
    if q.from == 0 || q.from > cp.size {
        return Err(ApiError::BadRequest(format!(
            "from: {} is not a size from 1 to {}",
            q.from, cp.size
        )));
    }
    let proof = TiledLog::new(&state.parts.blobs, &tenant, &cp)
        .consistency(q.from)
        .await?;
    Ok(Json(ConsistencyView {
        tenant: tenant.to_string(),
        from: q.from,
        to: cp.size,
        root: cp.root.to_hex(),
        proof: proof.iter().map(merkle::Hash::to_hex).collect(),
    }))
}
