//! The API under hostile clients (issue 26): timing that would tell private tenants from
//! unknown names, made-up tokens and spoofed addresses against the rate limit, slow and
//! oversized requests over real TCP sockets, hyper's own errors, backfill ids, and a large
//! manifest body parsed off the async threads.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anchor_api::ApiState;
use anchor_api::limit::Rate;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Fixture, call, get};
use tower::ServiceExt as _;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn an_anonymous_404_costs_the_same_for_a_private_tenant_and_an_unknown_name() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.rate = Rate {
        per_second: 0,
        burst: 0,
    };
    let app = f.app_with(config);
    let private = format!("/anchor/receipt/priv-co/{}", f.period);
    let unknown = format!("/anchor/receipt/nobody-co/{}", f.period);
    // Same answer, modulo the name.
    let (hidden, unknown_reply) = (
        get(&app, &private, None).await,
        get(&app, &unknown, None).await,
    );
    assert_eq!(
        (hidden.status, unknown_reply.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(
        hidden.json()["error"]["message"]
            .as_str()
            .unwrap()
            .replace("priv-co", "X"),
        unknown_reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .replace("nobody-co", "X")
    );
    // Interleaved trials, as a prober would run them; the medians must not separate.
    let (mut private_times, mut unknown_times) = (Vec::new(), Vec::new());
    for i in 0..400 {
        let order = if i % 2 == 0 {
            [
                (&private, &mut private_times),
                (&unknown, &mut unknown_times),
            ]
        } else {
            [
                (&unknown, &mut unknown_times),
                (&private, &mut private_times),
            ]
        };
        for (uri, times) in order {
            let t = Instant::now();
            let r = common::get_unchecked(&app, uri).await;
            times.push(t.elapsed());
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
    }
    let (p, u) = (median(private_times), median(unknown_times));
    let ratio = u.as_secs_f64() / p.as_secs_f64();
    assert!(
        (1.0 / 1.3..1.3).contains(&ratio),
        "median anonymous 404: private tenant {p:?}, unknown name {u:?} (ratio {ratio:.2})"
    );
}

fn from(addr: [u8; 4]) -> ConnectInfo<SocketAddr> {
    ConnectInfo(SocketAddr::from((addr, 40_000)))
}

/// A GET from `peer` with a bearer token and extra headers.
async fn get_as(
    app: &Router,
    uri: &str,
    peer: ConnectInfo<SocketAddr>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> StatusCode {
    let mut req = Request::builder().uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(peer);
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn made_up_tokens_draw_on_the_client_address_bucket_and_known_tokens_on_their_own() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.rate = Rate {
        per_second: 1,
        burst: 3,
    };
    let app = f.app_with(config);
    let attacker = from([203, 0, 113, 7]);
    let mut statuses = Vec::new();
    for i in 0..30 {
        let forged = format!("la_{i:064x}");
        statuses.push(get_as(&app, "/anchor/plan", attacker, Some(&forged), &[]).await);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        limited >= 26,
        "30 made-up tokens, {limited} × 429: {statuses:?}"
    );
    // Another address is not affected.
    let other = from([198, 51, 100, 1]);
    assert_eq!(
        get_as(&app, "/anchor/plan", other, Some("la_not-a-token"), &[]).await,
        StatusCode::UNAUTHORIZED
    );
    // A real token, once it has succeeded, is counted in its own bucket, even from the
    // address the made-up tokens emptied.
    let t = Some(f.public_token.as_str());
    assert_eq!(
        get_as(&app, "/anchor/plan", other, t, &[]).await,
        StatusCode::OK
    );
    assert_eq!(
        get_as(&app, "/anchor/plan", attacker, Some("la_forged"), &[]).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        get_as(&app, "/anchor/plan", attacker, t, &[]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_client_address_comes_from_the_configured_trusted_header_only() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.rate = Rate {
        per_second: 1,
        burst: 2,
    };
    let proxy = from([10, 0, 0, 2]);
    // Not configured: the header is the client's to forge, so it is ignored.
    let app = f.app_with(config.clone());
    let mut statuses = Vec::new();
    for i in 0..10 {
        let xff = format!("192.0.2.{i}");
        statuses.push(get_as(&app, "/healthz", proxy, None, &[("x-forwarded-for", &xff)]).await);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        8,
        "{statuses:?}"
    );
    // Configured: the last address (the one the proxy appended) is the client's.
    config.client_ip_header = Some("x-forwarded-for".parse().unwrap());
    let app = f.app_with(config);
    for i in 0..10 {
        let xff = format!("198.51.100.9, 192.0.2.{i}");
        assert_eq!(
            get_as(&app, "/healthz", proxy, None, &[("x-forwarded-for", &xff)]).await,
            StatusCode::OK,
            "{xff}"
        );
    }
    // What a client writes before it cannot buy a fresh bucket.
    let mut statuses = Vec::new();
    for i in 0..10 {
        let xff = format!("198.51.100.{i}, 192.0.2.200");
        statuses.push(get_as(&app, "/healthz", proxy, None, &[("x-forwarded-for", &xff)]).await);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        8,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_anonymous_caller_gets_the_same_answer_for_a_backfill_that_exists_and_one_that_does_not()
{
    let f = Fixture::anchored().await;
    let app = f.app();
    let from = (chrono::Utc::now() - chrono::Duration::days(20)).date_naive();
    let to = (chrono::Utc::now() - chrono::Duration::days(19)).date_naive();
    let r = common::send_json(
        &app,
        "POST",
        "/anchor/backfill",
        Some(common::ADMIN),
        &serde_json::json!({"tenant":"priv-co","from":from,"to":to,"manifests_per_hour":10}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let existing = get(&app, &format!("/anchor/backfill/{id}"), None).await;
    let missing = get(&app, "/anchor/backfill/bf-000000000000", None).await;
    assert_eq!(existing.status, missing.status);
    assert_eq!(existing.body, missing.body);
    assert_eq!(existing.code(), "unauthorized");
}

/// The API on a real socket with a 1 s header timeout.
async fn listening(f: &Fixture) -> SocketAddr {
    let mut config = f.config();
    config.body_limit = 1 << 20;
    let app = anchor_api::app(ApiState::new(
        anchor_api::Parts {
            store: f.ctx.store.clone(),
            blobs: f.ctx.blobs.clone(),
            kv: f.ctx.kv.clone(),
            queue: std::sync::Arc::new(f.ctx.queue.clone()),
            policy: f.ctx.policy.clone(),
            reserves: f.reserves.clone(),
        },
        config,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(anchor_api::serve_with(
        listener,
        app,
        Duration::from_secs(1),
        std::future::pending(),
    ));
    addr
}

/// Sends `request` on a fresh connection and reads until the server closes it or `limit`
/// passes: what came back, and how long it took.
fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    let started = Instant::now();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                // A complete response with a body is enough.
                if let Some(text) = std::str::from_utf8(&got).ok()
                    && let Some((head, body)) = text.split_once("\r\n\r\n")
                    && let Some(len) = head.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    && body.len() >= len
                    && len > 0
                {
                    break;
                }
            }
            Err(e) => panic!(
                "no answer and not closed after {:?} ({e}); got {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// The status and the JSON body of a raw HTTP/1.1 response.
fn parse(response: &str) -> (u16, serde_json::Value) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    if status >= 400 {
        let label = head.lines().next().unwrap_or(head);
        testkit::schema::assert_valid(testkit::schema::API_ERROR, label, body.as_bytes());
    }
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let f = Fixture::anchored().await;
    let addr = listening(&f).await;
    tokio::task::spawn_blocking(move || {
        let limit = Duration::from_secs(8);
        for request in [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] {
            let (got, took) = exchange(addr, request, limit);
            assert!(got.is_empty(), "{got:?}");
            assert!(took >= Duration::from_millis(900), "closed after {took:?}");
        }
        // An idle keep-alive connection too: one request answered, then silence.
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(limit)).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!(
                    "idle connection still open after {:?}: {e}",
                    started.elapsed()
                ),
            }
        }
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversized_body_is_413_at_once_and_a_malformed_chunked_body_is_400() {
    let f = Fixture::anchored().await;
    let addr = listening(&f).await;
    let token = f.public_token.clone();
    tokio::task::spawn_blocking(move || {
        let limit = Duration::from_secs(8);
        // 100 MiB declared, nothing sent: the answer must not wait for the body (today: a 503
        // once LEDGER_API_TIMEOUT, 30 s, has passed).
        let request = format!(
            "POST /tenants/pub-co/manifests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n["
        );
        let (got, _) = exchange(addr, request.as_bytes(), limit);
        let (status, v) = parse(&got);
        assert_eq!(status, 413, "{v}");
        assert_eq!(v["error"]["code"], "payload_too_large");
        assert!(v["error"]["message"].as_str().unwrap().contains("104857600"), "{v}");

        let request = format!(
            "POST /tenants/pub-co/manifests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n"
        );
        let (got, _) = exchange(addr, request.as_bytes(), limit);
        let (status, v) = parse(&got);
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["code"], "bad_request");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_refuses_itself_get_the_json_error_body() {
    let f = Fixture::anchored().await;
    let addr = listening(&f).await;
    tokio::task::spawn_blocking(move || {
        let limit = Duration::from_secs(8);
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
        let (got, _) = exchange(addr, long.as_bytes(), limit);
        let (status, v) = parse(&got);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (414, Some("uri_too_long"))
        );
        let (got, _) = exchange(addr, b"GET /he\x01lthz HTTP/1.1\r\nHost: x\r\n\r\n", limit);
        let (status, v) = parse(&got);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("bad_request"))
        );
        assert!(v["error"]["message"].is_string());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_large_manifest_body_is_parsed_off_the_async_thread() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let body = common::big_manifest_batch(8 << 20);
    let token = f.public_token.clone();
    // A ticker on the one async thread: while the body is parsed on it, the ticker stops.
    let ticking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ticker = tokio::spawn({
        let ticking = ticking.clone();
        async move {
            let mut last = Instant::now();
            let mut longest = Duration::ZERO;
            while ticking.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                longest = longest.max(last.elapsed());
                last = Instant::now();
            }
            longest
        }
    });
    tokio::task::yield_now().await;
    let started = Instant::now();
    let r = call(
        &app,
        "POST",
        "/tenants/pub-co/manifests",
        Some(&token),
        Some(("application/json", body)),
    )
    .await;
    let took = started.elapsed();
    ticking.store(false, std::sync::atomic::Ordering::Relaxed);
    let longest = ticker.await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["accepted"], 1);
    assert!(
        longest < took / 3,
        "the async thread stalled {longest:?} of a {took:?} request"
    );
}
