//! A local OpenTimestamps calendar for demos and tests (`anchor ots calendar --listen ADDR`).
//!
//! It speaks the calendar protocol: `POST /digest` answers a timestamp of the submitted digest
//! (a per-server random salt appended, `sha256`, then a pending attestation naming this
//! server's public URL), and `GET /timestamp/{hex}` answers `404` for ever, because it never
//! anchors anything: it never claims a Bitcoin attestation. Unlike a public calendar it does not
//! batch digests into a tree; each one gets its own commitment. Proofs it issues say where they
//! are pending, so a receipt that used it shows the local URL.

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore as _;

use crate::ots::{Attestation, Entry, Op, Timestamp};

/// The longest digest the reference calendar server accepts.
pub const MAX_DIGEST: usize = 64;

/// The calendar's routes; `public_url` is what its pending attestations name.
pub fn router(public_url: &str) -> Router {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let uri = public_url.trim_end_matches('/').to_owned();
    Router::new()
        .route(
            "/digest",
            post(move |body: Bytes| async move { submit(&body, &salt, &uri) }),
        )
        .route(
            "/timestamp/{commitment}",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    "Pending confirmation in Bitcoin blockchain",
                )
            }),
        )
}

fn submit(body: &[u8], salt: &[u8; 16], uri: &str) -> Response {
    if body.is_empty() || body.len() > MAX_DIGEST {
        return (
            StatusCode::BAD_REQUEST,
            format!("digest must be 1 to {MAX_DIGEST} bytes"),
        )
            .into_response();
    }
    let mut t = Timestamp::new(body.to_vec());
    t.push_op(Op::Append(salt.to_vec()))
        .push_op(Op::Sha256)
        .entries
        .push(Entry::Attestation(Attestation::Pending {
            uri: uri.to_owned(),
        }));
    match t.to_bytes() {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
