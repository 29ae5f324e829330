//! `GET /schemas/{name}.json`: the JSON Schemas (draft 2020-12) of the public formats, the
//! files of the repository's `schemas/` byte for byte (built into the binary). `/openapi.json`
//! embeds the same schemas as components (`crate::openapi`).

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::Errors;
use crate::error::{ApiError, Result};

/// Every schema, by name: `schemas/{name}.json`.
pub const SCHEMAS: [(&str, &str); 7] = [
    (
        "c2c.receipt.v1",
        include_str!("../../../schemas/c2c.receipt.v1.json"),
    ),
    (
        "c2c.proof.v1",
        include_str!("../../../schemas/c2c.proof.v1.json"),
    ),
    (
        "c2c.run-summary.v1",
        include_str!("../../../schemas/c2c.run-summary.v1.json"),
    ),
    (
        "c2c.root.v1",
        include_str!("../../../schemas/c2c.root.v1.json"),
    ),
    (
        "c2c.bundle.v1",
        include_str!("../../../schemas/c2c.bundle.v1.json"),
    ),
    (
        "ledger-anchors.reserve-attestation.v1",
        include_str!("../../../schemas/ledger-anchors.reserve-attestation.v1.json"),
    ),
    (
        "ledger-anchors.error.v1",
        include_str!("../../../schemas/ledger-anchors.error.v1.json"),
    ),
];

/// The media type of a JSON Schema document.
pub const MEDIA_TYPE: &str = "application/schema+json";

/// One format's JSON Schema (draft 2020-12), as in the repository's `schemas/`. The schemas
/// refer to each other by file name (`c2c.proof.v1.json`), so a client that fetched one from
/// here resolves the others beside it.
#[utoipa::path(get, path = "/schemas/{name}", tag = "meta",
    params(("name" = String, Path,
        description = "a format's name and `.json`: `c2c.receipt.v1.json`, `c2c.proof.v1.json`, \
            `c2c.run-summary.v1.json`, `c2c.root.v1.json`, `c2c.bundle.v1.json`, \
            `ledger-anchors.reserve-attestation.v1.json`, `ledger-anchors.error.v1.json`")),
    responses((status = 200, description = "the JSON Schema (draft 2020-12)",
        content((Object = "application/schema+json"))), Errors))]
pub async fn schema(Path(name): Path<String>) -> Result<Response> {
    let text = name
        .strip_suffix(".json")
        .and_then(|n| SCHEMAS.iter().find(|(s, _)| *s == n))
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            let known: Vec<String> = SCHEMAS.iter().map(|(n, _)| format!("{n}.json")).collect();
            ApiError::not_found(format!(
                "no such schema; the schemas are {}",
                known.join(", ")
            ))
        })?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        text,
    )
        .into_response())
}
