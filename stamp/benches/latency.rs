//! `cargo bench -p stamp --bench latency`: what stamping and verifying cost, against local
//! servers started in this process on 127.0.0.1 (the dev RFC 3161 responder under a throwaway
//! CA, one and two dev OpenTimestamps calendars), printed as a Markdown table. Every figure is
//! also a ratio against a baseline measured in the same run: a bare HTTP `POST` round trip to
//! an axum handler that echoes the body, through the same client as the calendar client.
//!
//! The network operations are measured interleaved (one of each per round, the baseline
//! included), so a load change on the machine moves the baseline and the operations alike and
//! the ratios stay comparable; the in-process operations are measured on their own afterwards.
//! `ops/s` is one caller, one request at a time (1 / mean), not a saturation throughput.
//!
//! Environment knobs: `BENCH_ITERS` (network operations, default 300), `BENCH_CPU_ITERS`
//! (in-process operations: signing, parsing, verifying; default 2000).

#![allow(
    clippy::cast_precision_loss,
    reason = "durations and counts are turned into rates for printing only"
)]

use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest as _, Sha256};
use stamp::DetachedTimestamp;
use stamp::bitcoin::{BlockHeader, HeadersFile};
use stamp::calendar::{CalendarConfig, http_client};
use stamp::tsp::client::TsaClient;
use stamp::tsp::devca;
use stamp::tsp::responder::{DEV_POLICY, Responder};
use stamp::tsp::{
    HashAlg, MessageImprint, TimeStampRequest, TimeStampResponse, VerifyOptions, parse_oid,
    verify_token,
};
use stamp::verify::{Verdict, verify_file};

/// The client timeout everywhere: far above any local round trip, so it never fires.
const TIMEOUT: Duration = Duration::from_secs(10);

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Latency samples of one operation.
struct Samples {
    name: String,
    times: Vec<Duration>,
}

impl Samples {
    fn new(name: &str, capacity: usize) -> Samples {
        Samples {
            name: name.into(),
            times: Vec::with_capacity(capacity),
        }
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut t = self.times.clone();
        t.sort_unstable();
        t
    }

    /// Nearest-rank percentile (`p` in percent).
    fn pct(&self, p: usize) -> Duration {
        let t = self.sorted();
        let rank = (p * t.len()).div_ceil(100);
        t[rank.clamp(1, t.len()) - 1]
    }

    fn mean(&self) -> Duration {
        self.times.iter().sum::<Duration>() / u32::try_from(self.times.len()).expect("iterations")
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

async fn timed<F: Future>(samples: &mut Samples, record: bool, f: F) -> F::Output {
    let t = Instant::now();
    let out = f.await;
    if record {
        samples.times.push(t.elapsed());
    }
    out
}

/// Runs `f` `warmup` times unrecorded, then `iters` times, each timed.
fn measure_sync<T>(name: &str, warmup: usize, iters: usize, mut f: impl FnMut() -> T) -> Samples {
    for _ in 0..warmup {
        black_box(f());
    }
    let mut s = Samples::new(name, iters);
    for _ in 0..iters {
        let t = Instant::now();
        black_box(f());
        s.times.push(t.elapsed());
    }
    eprintln!("  {name}: p50 {}", fmt(s.pct(50)));
    s
}

/// Serves `app` on an ephemeral 127.0.0.1 port; returns `http://127.0.0.1:PORT`.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

/// One dev calendar, naming itself in its pending attestations.
async fn dev_calendar() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let app = stamp::devcal::router(&url);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    url
}

async fn echo(client: &reqwest::Client, url: &str, body: &[u8]) {
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(body.to_vec())
        .send()
        .await
        .expect("echo request");
    assert!(resp.status().is_success());
    let got = resp.bytes().await.expect("echo body");
    assert_eq!(got.len(), body.len());
}

struct Tsa {
    responder: Arc<Responder>,
    url: String,
    opts: VerifyOptions,
}

fn dev_tsa() -> (Arc<Responder>, VerifyOptions) {
    let ca = devca::make(Utc::now());
    let responder = Responder::new(
        devca::load_p256_key(&ca.tsa_key_pem).expect("dev TSA key"),
        ca.tsa_cert.clone(),
        vec![],
        parse_oid(DEV_POLICY).expect("dev policy"),
    )
    .expect("dev responder");
    let opts = VerifyOptions {
        trusted: vec![ca.ca_cert],
        ..VerifyOptions::default()
    };
    (Arc::new(responder), opts)
}

/// The network rows, interleaved: per round one bare POST (kept-alive client), one bare POST on
/// a fresh client, one RFC 3161 stamp, one 1-of-1 and one 2-of-2 calendar stamp.
async fn network(iters: usize, tsa: &Tsa, calendars: &[String; 2]) -> (Vec<Samples>, Vec<u8>) {
    let echo_url = serve(axum::Router::new().route(
        "/",
        axum::routing::post(|body: axum::body::Bytes| async move { body }),
    ))
    .await;
    let client = http_client(TIMEOUT).expect("HTTP client");
    let tsa_client = TsaClient::new(format!("{}/", tsa.url), TIMEOUT).expect("TSA client");
    let one = CalendarConfig::new(vec![calendars[0].clone()]);
    let two = CalendarConfig::new(calendars.to_vec());
    assert_eq!((one.min_ok, two.min_ok), (1, 2));
    let imprint = MessageImprint::of_data(HashAlg::Sha256, b"ledger anchors bench");
    // The baseline carries a body the size of a time-stamp request.
    let body = TimeStampRequest::new(imprint.clone(), None).to_der();
    let digest: [u8; 32] = Sha256::digest(b"ledger anchors bench").into();

    let mut base = Samples::new("bare HTTP POST round trip (baseline)", iters);
    let mut fresh = Samples::new(
        "bare HTTP POST round trip, new client per request (what `TsaClient` avoids)",
        iters,
    );
    let mut rfc = Samples::new(
        "RFC 3161 `TsaClient::stamp`: request + sign + full verify (chain to dev CA)",
        iters,
    );
    let mut ots1 = Samples::new("OTS `calendar::stamp`, 1-of-1 local dev calendar", iters);
    let mut ots2 = Samples::new("OTS `calendar::stamp`, 2-of-2 local dev calendars", iters);
    let warmup = (iters / 10).max(10);
    let mut reply = Vec::new();
    for i in 0..warmup + iters {
        let rec = i >= warmup;
        timed(&mut base, rec, echo(&client, &echo_url, &body)).await;
        timed(&mut fresh, rec, async {
            let c = http_client(TIMEOUT).expect("HTTP client");
            echo(&c, &echo_url, &body).await;
        })
        .await;
        let req = TimeStampRequest::new(imprint.clone(), None);
        let stamped = timed(&mut rfc, rec, tsa_client.stamp(&req, &tsa.opts))
            .await
            .expect("RFC 3161 stamp");
        assert!(stamped.verified.trusted);
        reply = stamped.reply;
        let (file, report) = timed(
            &mut ots1,
            rec,
            stamp::calendar::stamp(&client, &one, digest),
        )
        .await
        .expect("1-of-1 stamp");
        assert_eq!((report.ok_count(), file.timestamp.pending().len()), (1, 1));
        let (file, report) = timed(
            &mut ots2,
            rec,
            stamp::calendar::stamp(&client, &two, digest),
        )
        .await
        .expect("2-of-2 stamp");
        assert_eq!((report.ok_count(), file.timestamp.pending().len()), (2, 2));
    }
    for s in [&base, &fresh, &rfc, &ots1, &ots2] {
        eprintln!("  {}: p50 {}", s.name, fmt(s.pct(50)));
    }
    (vec![base, fresh, rfc, ots1, ots2], reply)
}

/// The vectors' blocks.json as a header source.
fn headers(dir: &Path) -> HeadersFile {
    let blocks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blocks.json")).expect("blocks.json"))
            .expect("blocks.json is JSON");
    let mut h = HeadersFile::default();
    for (height, b) in blocks["blocks"].as_object().expect("a blocks object") {
        if let Some(hex) = b["header_hex"].as_str() {
            h.insert(
                height.parse().expect("a height"),
                BlockHeader::from_hex(hex).expect("a header"),
            );
        }
    }
    h
}

fn ots_verify(iters: usize) -> Option<Samples> {
    let dir = testkit::vectors()?.join("ots");
    let file = DetachedTimestamp::from_bytes(
        &std::fs::read(dir.join("hello-world.txt.ots")).expect("hello-world.txt.ots"),
    )
    .expect("a valid proof");
    let digest = Sha256::digest(std::fs::read(dir.join("hello-world.txt")).expect("data"));
    let headers = headers(&dir);
    let (verdict, _) = verify_file(&file, &digest, &headers).expect("verifies");
    assert_eq!(verdict, Verdict::Verified);
    Some(measure_sync(
        "OTS `verify_file`: hello-world.txt.ots against blocks.json",
        iters / 10,
        iters,
        || verify_file(&file, &digest, &headers).expect("verifies"),
    ))
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let started = Instant::now();
    let iters = env_num("BENCH_ITERS", 300);
    let cpu_iters = env_num("BENCH_CPU_ITERS", 2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (responder, opts) = dev_tsa();
    let (tsa, calendars) = rt.block_on(async {
        let url = serve(stamp::tsp::responder::router(Arc::clone(&responder))).await;
        let calendars = [dev_calendar().await, dev_calendar().await];
        (
            Tsa {
                responder: Arc::clone(&responder),
                url,
                opts,
            },
            calendars,
        )
    });
    eprintln!("network operations, {iters} interleaved rounds…");
    let (mut rows, reply) = rt.block_on(network(iters, &tsa, &calendars));

    eprintln!("in-process operations, {cpu_iters} iterations each…");
    let imprint = MessageImprint::of_data(HashAlg::Sha256, b"ledger anchors bench");
    let req = TimeStampRequest::new(imprint.clone(), None);
    let req_der = req.to_der();
    let serial = [7u8; 16];
    let warmup = cpu_iters / 10;
    rows.push(measure_sync(
        "RFC 3161 responder `respond()` alone (parse request + sign)",
        warmup,
        cpu_iters,
        || tsa.responder.respond(&req_der, Utc::now(), &serial),
    ));
    // What `TsaClient::stamp` pays before it sends anything: a new HTTP client (TLS roots
    // included) per call.
    rows.push(measure_sync(
        "`calendar::http_client` alone (building the HTTP client)",
        warmup / 10,
        cpu_iters / 10,
        || http_client(TIMEOUT).expect("HTTP client"),
    ));
    // The last token the client received, checked as an auditor would (no nonce to compare).
    let resp = TimeStampResponse::from_der(&reply).expect("a parsed reply");
    let token = resp.token.as_ref().expect("a token");
    let last_imprint = MessageImprint::new(
        token.info().imprint_alg.expect("SHA-256"),
        token.info().imprint,
    )
    .expect("imprint");
    assert_eq!(last_imprint, imprint);
    rows.push(measure_sync(
        "RFC 3161 `TimeStampResponse::from_der` alone (parse the reply)",
        warmup,
        cpu_iters,
        || TimeStampResponse::from_der(&reply).expect("parses"),
    ));
    rows.push(measure_sync(
        "RFC 3161 `verify_token` alone (pinned dev CA)",
        warmup,
        cpu_iters,
        || verify_token(token, &imprint, None, &tsa.opts).expect("verifies"),
    ));
    if let Some(s) = ots_verify(cpu_iters * 5) {
        rows.push(s);
    }
    print_table(&rows, started.elapsed());
}

fn print_table(rows: &[Samples], took: Duration) {
    let base = rows[0].pct(50).as_secs_f64();
    println!();
    println!(
        "Machine: {}; servers and client in one process on 127.0.0.1",
        testkit::machine()
    );
    println!();
    println!("| operation | n | p50 | p90 | p99 | mean | ops/s | × bare HTTP round trip (p50) |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let mean = r.mean();
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2}× |",
            r.name,
            r.times.len(),
            fmt(r.pct(50)),
            fmt(r.pct(90)),
            fmt(r.pct(99)),
            fmt(mean),
            1.0 / mean.as_secs_f64(),
            r.pct(50).as_secs_f64() / base
        );
    }
    let p50 = |prefix: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(prefix))
            .map(|r| r.pct(50))
    };
    let ratio = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() / base);
    let rfc = p50("RFC 3161 `TsaClient");
    let ots2 = p50("OTS `calendar::stamp`, 2-of-2");
    let verify = p50("RFC 3161 `verify_token`");
    let ots_verify = p50("OTS `verify_file`");
    println!();
    println!(
        "Summary: against a bare HTTP round trip of {} (p50), an RFC 3161 stamp with full \
         verification is {:.1}× ({}), a 2-of-2 OTS calendar stamp {:.1}× ({}); verifying a \
         token alone takes {}, an .ots proof {}; whole run {:.1} s.",
        fmt(rows[0].pct(50)),
        ratio(rfc),
        rfc.map_or_else(|| "n/a".into(), fmt),
        ratio(ots2),
        ots2.map_or_else(|| "n/a".into(), fmt),
        verify.map_or_else(|| "n/a".into(), fmt),
        ots_verify.map_or_else(|| "skipped (no vectors)".into(), fmt),
        took.as_secs_f64()
    );
}
