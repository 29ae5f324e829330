//! The HTTP API of Ledger Anchors (axum): what tenants and operators call. See README.md.
//!
//! [`app`] builds the whole router from an [`ApiState`], testable without a socket
//! (`tower::ServiceExt::oneshot`); [`serve`] runs it on a listener until a shutdown signal,
//! finishing requests in flight. `anchor api` serves it alone, `anchor up` beside the
//! scheduler and workers.
//!
//! One middleware ([`edge`]) does, outermost first: request metrics (`api_requests_total{method,route,status}`,
//! `api_request_duration_seconds{route}`), the per-caller rate limit (429 with
//! `Retry-After`), the request timeout (503), and the error normaliser that gives every
//! error — ours and axum's own rejections alike — the one JSON shape
//! `{"error":{"code","message"}}`. They were four `from_fn` layers; each boxes the inner
//! service and its future on every request, and folding them into one was part of what took
//! the proof-retrieval bench from ~50k to ~70k requests/s (anchor-api/README.md).

pub mod auth;
pub mod error;
pub mod input;
pub mod limit;
pub mod openapi;
pub mod pdf;
pub mod routes;
pub mod server;
pub mod state;
pub mod views;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ledger::sql::hash_token;
use subtle::ConstantTimeEq as _;

pub use error::{ApiError, Result};
pub use openapi::Errors;
pub use server::{serve, serve_with};
pub use state::{ApiConfig, ApiState, Parts};

/// The whole API: every route of the OpenAPI document, `/openapi.json`, Swagger UI at
/// `/docs`, and the layers of the module documentation.
pub fn app(state: ApiState) -> Router {
    let (router, api) = openapi::router().split_for_parts();
    let body_limit = state.config.body_limit;
    router
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .external_url_unchecked("/openapi.json", openapi::document(&api)),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this route does not take that method".into())
        })
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Metrics around the per-caller rate limit, the time limit and the error normaliser, in
/// that order (the module documentation), as one middleware.
async fn edge(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = match state.limiter.check(caller_key(&state, &req), started) {
        Ok(()) => match declared_too_large(&req, state.config.body_limit) {
            Some(refused) => refused.into_response(),
            None => normalise_errors(within(state.config.timeout, next.run(req)).await).await,
        },
        Err(wait) => ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
        .into_response(),
    };
    let status = response.status().as_u16().to_string();
    metrics::histogram!("api_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("api_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// The bucket a request is counted in: its token's hash when the token is the admin's or one
/// this process has seen succeed ([`state::KnownTokens`]), else its client's address, so a
/// made-up token per request draws on the address's bucket instead of a fresh one (and is
/// refused with 429 before its database lookup once that is empty).
fn caller_key(state: &ApiState, req: &Request) -> [u8; 16] {
    if let Ok(Some(token)) = auth::bearer_token(req.headers()) {
        let hash = hash_token(token);
        let admin = state
            .config
            .admin_token_hash
            .is_some_and(|a| bool::from(hash.ct_eq(&a)));
        if admin || state.known_tokens.contains(&hash) {
            let mut key = [0u8; 16];
            key.copy_from_slice(&hash[..16]);
            key[0] &= 0x7f;
            return key;
        }
    }
    address_key(client_ip(req, state.config.client_ip_header.as_ref()))
}

/// The client's address: from the configured trusted header when there is one and it parses
/// (the last address in it: the one the proxy appended), else the socket's peer.
fn client_ip(req: &Request, trusted: Option<&header::HeaderName>) -> Option<IpAddr> {
    let from_header = trusted.and_then(|name| {
        let last = req.headers().get_all(name).iter().next_back()?;
        let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
        entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
    });
    from_header.or_else(|| {
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip())
    })
}

/// An address's bucket: IPv4 per address, IPv6 per /64 (one host is commonly given a whole
/// /64, so per-address buckets would be free for the asking). The top bit is set, a token's
/// key has it clear.
fn address_key(ip: Option<IpAddr>) -> [u8; 16] {
    let mut key = [0u8; 16];
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(ip)) => {
            key[0] = 0x84;
            key[1..5].copy_from_slice(&ip.octets());
        }
        Some(IpAddr::V6(ip)) => {
            key[0] = 0x86;
            key[1..9].copy_from_slice(&ip.octets()[..8]);
        }
        None => key[0] = 0x80,
    }
    key
}

/// A 413 for a request whose `Content-Length` already says its body is over the limit: answered
/// before the body is read (it used to wait for the body, a 503 after `LEDGER_API_TIMEOUT`).
fn declared_too_large(req: &Request, limit: usize) -> Option<ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (declared > limit as u64).then(|| {
        ApiError::PayloadTooLarge(format!(
            "Content-Length {declared} is over the body limit of {limit} bytes"
        ))
    })
}

/// `response`, or a 503 in the error shape once `limit` has passed.
async fn within(limit: Duration, response: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, response).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!("the request ran past {} s", limit.as_secs()))
            .into_response(),
    }
}

/// Rewrites an error response that is not already our JSON (axum's own rejections: a bad
/// query string, an undecodable path) into `{"error":{"code","message"}}`, keeping its status.
async fn normalise_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    let error = match status {
        StatusCode::BAD_REQUEST => ApiError::BadRequest(message),
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(message),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(message),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(message),
        s if s.is_server_error() => ApiError::Internal(message),
        _ => ApiError::BadRequest(message),
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_time_limit_gets_503_in_the_error_shape() {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_mins(1)).await }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(middleware::from_fn(|req: Request, next: Next| {
                within(Duration::from_secs(5), next.run(req))
            }));
        let call = |uri: &'static str| {
            app.clone().oneshot(
                Request::builder()
                    .uri(uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
        };
        let slow = call("/slow").await.unwrap();
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(slow.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "unavailable");
        assert_eq!(call("/fast").await.unwrap().status(), StatusCode::OK);
    }
}
