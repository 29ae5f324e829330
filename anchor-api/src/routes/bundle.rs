//! `GET /anchor/bundle/{tenant}/{period}/{digest}`: the `c2c.bundle.v1` of one manifest
//! (format in `proofs::bundle` and docs/bundle.md), byte for byte what `anchor bundle`
//! writes for the same data. Same validation, visibility and 404 rules as the proof route.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::Errors;
use crate::auth::Caller;
use crate::error::Result;
use crate::input;
use crate::openapi::formats;
use crate::routes::anchor::{bytes_response, period_proofs, proof_of};
use crate::state::ApiState;

/// One manifest's verification bundle: its inclusion proof and per-manifest `.ots`, the
/// root's `root.bin`, `.ots` and `.tsr`, the receipt and the run summary it names (exact
/// bytes) and the public keys — everything `anchor verify bundle` needs offline.
#[utoipa::path(get, path = "/anchor/bundle/{tenant}/{period}/{digest}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id"),
           ("period" = String, Path, description = "the anchored period"),
           ("digest" = String, Path, description = "64-hex manifest digest")),
    responses((status = 200, description = "the c2c.bundle.v1 document",
        content((formats::Bundle = "application/json"))), Errors))]
pub async fn bundle(
    State(state): State<ApiState>,
    caller: Caller,
    Path((tenant, period, digest)): Path<(String, String, String)>,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    let period = input::period(&period)?;
    let digest = input::digest(&digest)?;
    caller.may_read(&state, &tenant).await?;
    let proof = proof_of(
        &state,
        period_proofs(&state, &tenant, period).await?,
        &digest,
    )
    .await?;
    let bundle = proofs::assemble(
        &state.parts.blobs,
        &state.parts.store,
        proof,
        &tenant,
        period,
        &digest,
    )
    .await?;
    Ok(bytes_response("application/json", bundle.to_json()))
}
