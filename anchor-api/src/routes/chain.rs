//! `GET /anchor/chain/{tenant}`: the tenant's hash-chained run-summary ledger as JSONL, the
//! same bytes `anchor ledger export` writes (each summary's exact bytes and `\n`), which
//! `anchor ledger verify` and `anchor verify receipt` check. Visible like receipts: the
//! tenant's token, the admin, or anybody while the tenant is opted in as public.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::Errors;
use crate::auth::Caller;
use crate::error::Result;
use crate::input;
use crate::routes::anchor::bytes_response;
use crate::state::ApiState;

/// The tenant's run-summary chain (`c2c.run-summary.v1`, one per line, oldest first; empty
/// before the first run).
#[utoipa::path(get, path = "/anchor/chain/{tenant}", tag = "anchor",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, description = "the chain as JSONL: one `c2c.run-summary.v1` a line \
        (`#/components/schemas/c2c.run-summary.v1`, `/schemas/c2c.run-summary.v1.json`)",
        content((String = "application/jsonl"))), Errors))]
pub async fn chain(
    State(state): State<ApiState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Response> {
    let tenant = input::tenant(&tenant)?;
    caller.may_read(&state, &tenant).await?;
    let jsonl = state.parts.store.export_jsonl(&tenant).await?;
    Ok(bytes_response("application/jsonl", jsonl))
}
