//! Validation of everything a request carries, before it reaches a query or a key: path
//! values (tenant slug, period, digest, backfill id) and JSON bodies (media type, size,
//! syntax, shape).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use http_body_util::LengthLimitError;
use ledger::{Period, TenantId};
use merkle::ManifestDigest;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Result};
use crate::state::ApiState;

/// A tenant id from a path: a DNS-label slug (`ledger::TenantId`), else 400 naming it.
pub fn tenant(s: &str) -> Result<TenantId> {
    TenantId::new(s).map_err(|e| ApiError::BadRequest(format!("tenant: {e}")))
}

/// A period from a path: `2026-11-22`, `2026-W47` or `2026-11`, else 400 naming it.
pub fn period(s: &str) -> Result<Period> {
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("period: {e}")))
}

/// A manifest digest from a path: 64 hex, else 400 naming it.
pub fn digest(s: &str) -> Result<ManifestDigest> {
    ManifestDigest::from_hex(s).map_err(|e| ApiError::BadRequest(format!("digest: {e}")))
}

/// A backfill id: `bf-` and 12 lowercase hex digits, else 400.
pub fn backfill_id(s: &str) -> Result<&str> {
    let ok = s.strip_prefix("bf-").is_some_and(|h| {
        h.len() == 12
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(s)
    } else {
        Err(ApiError::BadRequest(format!(
            "backfill id {s:?} is not bf- and 12 lowercase hex digits"
        )))
    }
}

/// Splits an optional `.ext` suffix off a path segment (`2026-W47.pdf`, `{digest}.ots`).
pub fn split_suffix<'a>(segment: &'a str, ext: &str) -> (&'a str, bool) {
    match segment.strip_suffix(ext) {
        Some(stem) if stem.ends_with('.') => (&stem[..stem.len() - 1], true),
        _ => (segment, false),
    }
}

/// A JSON request body: `Content-Type: application/json` (else 415), within the body limit
/// (else 413), syntactically JSON (else 400) and of the expected shape (else 422, naming the
/// field serde names).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// The raw bytes of a JSON request body, checked for media type and size only.
#[derive(Debug)]
pub struct RawJson(pub Bytes);

impl FromRequest<ApiState> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<RawJson> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON with Content-Type: application/json".into(),
            ));
        }
        let limit = state.config.body_limit;
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| body_error(e, limit))?;
        Ok(RawJson(body))
    }
}

/// A body that could not be read: 413 when it ran over `limit`, else 400 (a malformed chunked
/// encoding, a connection closed mid-body), naming the cause.
fn body_error(e: axum::Error, limit: usize) -> ApiError {
    let e = e.into_inner();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
    while let Some(c) = cause {
        if c.is::<LengthLimitError>() {
            return ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"));
        }
        cause = c.source();
    }
    ApiError::BadRequest(format!("the body could not be read: {e}"))
}

impl<T: DeserializeOwned> FromRequest<ApiState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<JsonBody<T>> {
        let RawJson(bytes) = RawJson::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Syntax errors are 400, shape errors 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable(format!("body: {e}")),
        _ => ApiError::BadRequest(format!("body is not valid JSON: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_split_only_after_a_dot() {
        assert_eq!(split_suffix("2026-W47.pdf", "pdf"), ("2026-W47", true));
        assert_eq!(split_suffix("2026-W47", "pdf"), ("2026-W47", false));
        assert_eq!(split_suffix("2026-W47pdf", "pdf"), ("2026-W47pdf", false));
    }

    #[test]
    fn path_values_that_could_escape_a_key_are_bad_requests() {
        for bad in ["..", "../etc", "a/b", "A", "", "x%2F..", "-a"] {
            assert!(matches!(tenant(bad), Err(ApiError::BadRequest(_))), "{bad}");
        }
        assert!(period("2026-W47/../x").is_err());
        assert!(digest(&"0".repeat(63)).is_err());
        assert!(backfill_id("bf-../../etc").is_err());
        assert_eq!(backfill_id("bf-0123456789ab").unwrap(), "bf-0123456789ab");
    }
}
