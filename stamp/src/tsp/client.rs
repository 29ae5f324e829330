//! Asking a TSA over HTTP (RFC 3161 §3.4): `POST` the DER request as
//! `application/timestamp-query`, read an `application/timestamp-reply`, and check it at once
//! against the request (status, imprint, nonce, policy, signature, and the chain when CA
//! certificates are pinned).

use std::time::{Duration, Instant};

use super::request::TimeStampRequest;
use super::token::TimeStampResponse;
use super::verify::{Verified, VerifyOptions, verify_response};
use crate::error::{Result, StampError, TsaCheck};

/// Replies larger than this are refused: a token with a three-certificate RSA chain is under
/// 10 KiB.
pub const MAX_REPLY: usize = 256 * 1024;

/// A TSA endpoint and the HTTP client that talks to it. The client is built once: building
/// one costs milliseconds (TLS set-up), more than a whole local stamp.
#[derive(Clone, Debug)]
pub struct TsaClient {
    pub url: String,
    http: reqwest::Client,
    pub max_reply: usize,
}

/// A granted, checked reply.
#[derive(Clone, Debug)]
pub struct Stamped {
    /// The `TimeStampResp` exactly as received (what `openssl ts -verify -in` reads).
    pub reply: Vec<u8>,
    pub verified: Verified,
}

impl TsaClient {
    /// A client whose requests time out after `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<TsaClient> {
        Ok(TsaClient {
            url: url.into(),
            http: crate::calendar::http_client(timeout)?,
            max_reply: MAX_REPLY,
        })
    }

    /// Sends `request`, then verifies the reply against it with `opts`.
    pub async fn stamp(&self, request: &TimeStampRequest, opts: &VerifyOptions) -> Result<Stamped> {
        let transport = |d: String| {
            StampError::tsa(
                TsaCheck::Transport,
                crate::error::redact_userinfo(&format!("{}: {d}", self.url)),
            )
        };
        let started = Instant::now();
        let sent = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .header(reqwest::header::ACCEPT, "application/timestamp-reply")
            .body(request.to_der());
        let result = crate::calendar::fetch(sent, self.max_reply).await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok((s, _)) if s.is_success() => "ok",
            _ => "failed",
        };
        metrics::histogram!("tsa_request_seconds", "tsa" => self.url.clone(), "outcome" => outcome)
            .record(took.as_secs_f64());
        let (status, body) = result.map_err(&transport)?;
        tracing::info!(tsa = %self.url, status = status.as_u16(), bytes = body.len(), ms = took.as_millis() as u64, "rfc3161 request");
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(transport(format!("HTTP {status}: {}", text.trim())));
        }
        let resp = TimeStampResponse::from_der(&body)?;
        let verified = verify_response(&resp, request, opts)?;
        Ok(Stamped {
            reply: body,
            verified,
        })
    }
}
