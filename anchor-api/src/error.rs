//! The one error type of the API, and its one wire shape.
//!
//! Every error answers `{"error":{"code":"…","message":"…"}}` with the status its kind
//! implies. Messages name what was wrong with the request; an internal cause (a database or
//! blob store failure) is logged once, here, and the client only learns that it happened.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::LedgerError;
use proofs::ProofsError;
use serde::Serialize;
use service::ServiceError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a path, query or body value that is malformed (names it).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token, or a token that is not one of ours.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: an admin route with no admin token configured, or a token without the right.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing here, or nothing this caller may see (the same answer for both).
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request contradicts the current state (a run exists, a backfill is final).
    #[error("{0}")]
    Conflict(String),
    /// 413: body or batch larger than the configured bound.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a body that is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed JSON whose values cannot be accepted.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over this token's (or address's) request rate; retry after the given seconds.
    #[error("rate limit exceeded: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: a backend is unreachable, or the request ran past its time limit.
    #[error("{0}")]
    Unavailable(String),
    /// Configuration that cannot work (start-up only; names the variable).
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Proofs(#[from] ProofsError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// 500: a fault of ours; the detail is logged, never returned.
    #[error("internal: {0}")]
    Internal(String),
}

/// The body of every error response (`schemas/ledger-anchors.error.v1.json`).
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `unprocessable`, `rate_limited`, `unavailable`, `internal`.
    pub code: String,
    /// For people; names the offending value where there is one.
    pub message: String,
}

impl ApiError {
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::NotFound(what.into())
    }

    /// The status and the message a client may see.
    fn public(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        let internal = || {
            (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".to_owned(),
            )
        };
        match self {
            ApiError::BadRequest(m) => (S::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::Unauthorized(m) => (S::UNAUTHORIZED, "unauthorized", m.clone()),
            ApiError::Forbidden(m) | ApiError::Service(ServiceError::Forbidden(m)) => {
                (S::FORBIDDEN, "forbidden", m.clone())
            }
            ApiError::NotFound(m) | ApiError::Proofs(ProofsError::NotFound(m)) => {
                (S::NOT_FOUND, "not_found", m.clone())
            }
            ApiError::MethodNotAllowed(m) => {
                (S::METHOD_NOT_ALLOWED, "method_not_allowed", m.clone())
            }
            ApiError::Conflict(m) | ApiError::Service(ServiceError::Conflict(m)) => {
                (S::CONFLICT, "conflict", m.clone())
            }
            ApiError::PayloadTooLarge(m) => (S::PAYLOAD_TOO_LARGE, "payload_too_large", m.clone()),
            ApiError::UnsupportedMediaType(m) => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m.clone(),
            ),
            ApiError::Unprocessable(m) | ApiError::Service(ServiceError::Unprocessable(m)) => {
                (S::UNPROCESSABLE_ENTITY, "unprocessable", m.clone())
            }
            ApiError::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, "rate_limited", self.to_string())
            }
            ApiError::Unavailable(m) => (S::SERVICE_UNAVAILABLE, "unavailable", m.clone()),
            ApiError::Ledger(e)
            | ApiError::Proofs(ProofsError::Ledger(e))
            | ApiError::Service(ServiceError::Ledger(e)) => match e {
                LedgerError::Invalid { .. } => {
                    (S::UNPROCESSABLE_ENTITY, "unprocessable", e.to_string())
                }
                LedgerError::NotFound { .. } => (S::NOT_FOUND, "not_found", e.to_string()),
                LedgerError::Conflict { .. } => (S::CONFLICT, "conflict", e.to_string()),
                _ => internal(),
            },
            ApiError::Proofs(_)
            | ApiError::Service(ServiceError::Queue(_))
            | ApiError::Config(_)
            | ApiError::Internal(_) => internal(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.public().0
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.public();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "request not served");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(&1).to_owned()),
                );
            }
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"ledger-anchors\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A domain value or document error reaches callers as the ledger error it was before the
/// `domain` crate existed (same variant, same message).
impl From<ledger::DomainError> for ApiError {
    fn from(e: ledger::DomainError) -> Self {
        ApiError::Ledger(e.into())
    }
}
