//! An anchored embedded fleet in one process, and the API over it.
//!
//! Real parts: the SQLite store, the blob directory, the SQLite queue, the signing key, the
//! dev RFC 3161 TSA and a dev OpenTimestamps calendar over loopback HTTP. One weekly period of
//! two tenants is rolled up by the real worker code before the API is built, so every read
//! route has a real receipt, tree and stamps behind it.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anchor_api::{ApiConfig, ApiState, Parts};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use ledger::config::Config;
use ledger::sql::{ConsentAction, ConsentEntry, NewTenant, Visibility, hash_token, new_token};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::ManifestDigest;
use stamp::dev::DevServices;
use tower::ServiceExt as _;
use workers::Ctx;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub ctx: Ctx,
    pub vars: BTreeMap<String, String>,
    /// Opted in, public.
    pub public_token: String,
    /// Opted in, private.
    pub private_token: String,
    pub period: Period,
    pub digests: Vec<ManifestDigest>,
    /// The reserves tables in the fixture's database.
    pub reserves: reserves::sql::ReserveStore,
    _dev: DevServices,
}

pub fn digest(i: u32) -> ManifestDigest {
    merkle::canon::manifest_digest(format!(r#"{{"artifact":"a-{i}"}}"#).as_bytes()).unwrap()
}

async fn add_tenant(ctx: &Ctx, name: &str, visibility: Visibility) -> String {
    let token = new_token();
    let id = TenantId::new(name).unwrap();
    let created = Utc::now() - Duration::days(30);
    ctx.store
        .create_tenant(
            &NewTenant {
                id: id.clone(),
                plan: Plan::Pro,
                token_hash: hash_token(&token),
                max_roots_per_period: 10,
                cost_ceiling_micro_usd: 50_000_000,
            },
            created,
        )
        .await
        .unwrap();
    ctx.store
        .record_consent(
            &id,
            &ConsentEntry {
                action: ConsentAction::OptIn,
                visibility,
                signer: "test".into(),
                reason: "router tests".into(),
                at: created,
            },
        )
        .await
        .unwrap();
    token
}

impl Fixture {
    /// Two pro tenants (`pub-co` public, `priv-co` private), 40 manifests each last week,
    /// that week rolled up.
    pub async fn anchored() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevServices::start(dir.path(), 1).await.unwrap();
        let mut vars: BTreeMap<String, String> = dev
            .vars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        vars.insert("LEDGER_DATA_DIR".into(), dir.path().display().to_string());
        vars.insert("LEDGER_ADMIN_TOKEN".into(), ADMIN.into());
        let config = Config::from_sources(None, &vars).unwrap();
        let ctx = Ctx::open(&config, true).await.unwrap();
        let public_token = add_tenant(&ctx, "pub-co", Visibility::Public).await;
        let private_token = add_tenant(&ctx, "priv-co", Visibility::Private).await;
        let at = Utc::now() - Duration::days(7);
        let period = Period::containing(Cadence::Weekly, at);
        let digests: Vec<ManifestDigest> = (0..40).map(digest).collect();
        for name in ["pub-co", "priv-co"] {
            let t = TenantId::new(name).unwrap();
            ctx.store.insert_manifests(&t, &digests, at).await.unwrap();
            let (run, _) = ctx
                .store
                .create_run(&t, period, ledger::sql::Trigger::Manual, Utc::now())
                .await
                .unwrap();
            workers::handler::rollup_leased(&ctx, &run.id)
                .await
                .result
                .unwrap();
        }
        let reserves = reserves::sql::ReserveStore::connect(&config.database_url)
            .await
            .unwrap();
        Fixture {
            dir,
            ctx,
            reserves,
            vars,
            public_token,
            private_token,
            period,
            digests,
            _dev: dev,
        }
    }

    pub fn config(&self) -> ApiConfig {
        ApiConfig::from_config(&Config::from_sources(None, &self.vars).unwrap()).unwrap()
    }

    /// The API's parts on the fixture's backends.
    pub fn parts(&self) -> Parts {
        Parts {
            store: self.ctx.store.clone(),
            blobs: self.ctx.blobs.clone(),
            kv: self.ctx.kv.clone(),
            queue: std::sync::Arc::new(self.ctx.queue.clone()),
            policy: self.ctx.policy.clone(),
            reserves: self.reserves.clone(),
        }
    }

    pub fn app_with(&self, config: ApiConfig) -> Router {
        anchor_api::app(ApiState::new(self.parts(), config))
    }

    pub fn app(&self) -> Router {
        self.app_with(self.config())
    }
}

/// A response's status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error.code` of an error reply (asserting the one error shape).
    pub fn code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "{v}");
        assert_eq!(self.content_type, "application/json", "{v}");
        v["error"]["code"].as_str().unwrap().to_owned()
    }
}

pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some((ct, bytes)) => req.header(header::CONTENT_TYPE, ct).body(Body::from(bytes)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    send(app, req).await
}

/// Sends `req` through the router and reads the whole reply; a reply of a format with a JSON
/// Schema in `schemas/` is checked against it ([`check_format`]).
async fn send(app: &Router, req: Request<Body>) -> Reply {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let reply = send_unchecked(app, req).await;
    check_format(&method, &path, &reply);
    reply
}

/// A GET whose reply is not checked against its schema: for timing, where the check (a round
/// trip to the validator process) would be most of what is measured.
pub async fn get_unchecked(app: &Router, uri: &str) -> Reply {
    send_unchecked(
        app,
        Request::builder().uri(uri).body(Body::empty()).unwrap(),
    )
    .await
}

async fn send_unchecked(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// The JSON Schema of `schemas/` a reply must be valid against, by route (`true`: one document
/// a line): every error, and the receipts, proofs, bundles, run-summary chains and reserve
/// attestations the API serves.
pub fn schema_of(method: &str, path: &str, reply: &Reply) -> Option<(&'static str, bool)> {
    use testkit::schema::{API_ERROR, BUNDLE, PROOF, RECEIPT, RESERVE_ATTESTATION, RUN_SUMMARY};
    // `/readyz` answers 503 with its health body, naming the backend that is down.
    let error = reply.status.is_client_error() || reply.status.is_server_error();
    if error && path != "/readyz" {
        return Some((API_ERROR, false));
    }
    let json = reply.content_type == "application/json";
    if method != "GET" || reply.status != StatusCode::OK {
        return None;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["anchor", "receipt", _, _] if json => Some((RECEIPT, false)),
        ["anchor", "proof", _, _, _] if json => Some((PROOF, false)),
        ["anchor", "bundle", _, _, _] => Some((BUNDLE, false)),
        ["anchor", "chain", _] => Some((RUN_SUMMARY, true)),
        ["reserve", "attestations", _] => Some((RESERVE_ATTESTATION, false)),
        _ => None,
    }
}

/// Checks `reply` against its schema ([`schema_of`]) with Python's `jsonschema`
/// (`testkit::schema`).
pub fn check_format(method: &str, path: &str, reply: &Reply) {
    let Some((schema, lines)) = schema_of(method, path, reply) else {
        return;
    };
    let label = format!("{method} {path} ({})", reply.status);
    if lines {
        testkit::schema::assert_valid_lines(schema, &label, &reply.body);
    } else {
        testkit::schema::assert_valid(schema, &label, &reply.body);
    }
}

pub async fn get(app: &Router, uri: &str, token: Option<&str>) -> Reply {
    call(app, "GET", uri, token, None).await
}

pub async fn send_json(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Reply {
    call(
        app,
        method,
        uri,
        token,
        Some(("application/json", serde_json::to_vec(body).unwrap())),
    )
    .await
}

/// A GET with extra headers.
pub async fn call_with_headers(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder().method("GET").uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

/// One manifest of about `bytes` bytes: many small file entries.
pub fn big_manifest_batch(bytes: usize) -> Vec<u8> {
    let mut out = String::from(r#"[{"artifact":"big","files":["#);
    let mut i = 0u64;
    while out.len() + 120 < bytes {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"path":"src/{i:08}.rs","sha256":"{:064x}","size":{i}}}"#,
            u128::from(i) * 0x9e37_79b9_7f4a_7c15
        );
        i += 1;
    }
    out.push_str("]}]");
    out.into_bytes()
}
