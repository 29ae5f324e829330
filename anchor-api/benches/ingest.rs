//! `cargo bench -p anchor-api --bench ingest`: manifest ingest through `POST
//! /tenants/{t}/manifests` against the direct path, printed as a Markdown table (issue 25).
//!
//! For each store (SQLite on the embedded defaults in a temp dir; Postgres in a database made
//! for the run on `LEDGER_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`,
//! dropped at the end), each input kind (64-hex digest strings; JSON manifest objects) and each
//! batch size (1, 100, 10 000 elements per request):
//!
//! - **API**: the real router served by `anchor_api::serve` on `127.0.0.1:0` (a multi-thread
//!   runtime with one worker thread per core, default settings except that rate limiting is
//!   off), loaded by keep-alive HTTP/1.1 connections from client threads in this process, each
//!   sending its share of the prepared request bodies one after another. Batches of 1 and 100
//!   use `BENCH_CONNS` connections (default 16), batches of 10 000 one connection (as the
//!   direct path is one stream). Each request's latency is recorded; p50 and p99 are printed.
//! - **Direct** (the baseline, same run, same store, the same digests under another tenant):
//!   what `anchor manifests add FILE` does with the same input: parse the file (digests one
//!   per line; manifests as one JSON array through `merkle::batch::array_digests`), then
//!   `service::manifests::submit` per 50 000 digests.
//!
//! - **Context**: the same store calls with one request's batch each, one after another (at
//!   most 1000 calls): what the API's store work costs without concurrency.
//!
//! The figure is manifests/s through the API and its ratio to the direct path. Targets: batches
//! of 10 000 at least 0.8 of the direct path; single-manifest requests at least 5 000/s on
//! SQLite.
//!
//! Knobs: `BENCH_SINGLE` (4000 requests of 1), `BENCH_HUNDREDS` (200 requests of 100),
//! `BENCH_BIG` (10 requests of 10 000), `BENCH_CONNS` (16), `BENCH_ONLY` (`sqlite` or
//! `postgres`), `BENCH_KINDS` (`digests,manifests`).
//!
//! Postgres unreachable is an error, never a skip.

#![allow(
    clippy::cast_precision_loss,
    reason = "counts and durations are turned into rates for printing only"
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchor_api::limit::Rate;
use anchor_api::{ApiConfig, ApiState, Parts};
use chrono::Utc;
use ledger::config::Config;
use ledger::sql::Schema;
use ledger::sql::{NewTenant, Store, hash_token, new_token};
use ledger::{Plan, TenantId};
use merkle::ManifestDigest;
use sha2::{Digest as _, Sha256};

/// The allocator the `anchor` binary serves the API with (cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Digests per `submit` call on the direct path (`anchor manifests add`'s batch).
const DIRECT_BATCH: usize = 50_000;

fn env_num(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("ingest bench: {name}={v:?} is not a whole number");
            std::process::exit(2);
        }),
        Err(_) => default,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Digests,
    Manifests,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Digests => "digests",
            Kind::Manifests => "JSON manifests",
        }
    }

    /// The `i`th element of a batch of this kind (its JSON text).
    fn element(self, salt: &str, i: usize) -> String {
        match self {
            Kind::Digests => format!("\"{}\"", digest(salt, i).to_hex()),
            Kind::Manifests => format!(
                r#"{{"artifact":"{salt}/app-{i}.tar.gz","sha256":"{}","size":{i},"labels":{{"env":"prod","team":"t{}"}}}}"#,
                digest(salt, i).to_hex(),
                i % 7
            ),
        }
    }

    /// The same elements as the file `anchor manifests add` would read.
    fn file(self, salt: &str, n: usize) -> Vec<u8> {
        match self {
            Kind::Digests => (0..n)
                .flat_map(|i| {
                    let mut line = digest(salt, i).to_hex().into_bytes();
                    line.push(b'\n');
                    line
                })
                .collect(),
            Kind::Manifests => array(&(0..n).map(|i| self.element(salt, i)).collect::<Vec<_>>()),
        }
    }
}

fn digest(salt: &str, i: usize) -> ManifestDigest {
    ManifestDigest(Sha256::digest(format!("{salt}/{i}")).into())
}

fn array(elements: &[String]) -> Vec<u8> {
    format!("[{}]", elements.join(",")).into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The stores
// ---------------------------------------------------------------------------------------------

struct Backend {
    store: Store,
    state: ApiState,
    _dir: tempfile::TempDir,
    _pg: Option<testkit::pg::PgDatabase>,
}

async fn backend(name: &'static str) -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = BTreeMap::new();
    vars.insert(
        "LEDGER_DATA_DIR".to_owned(),
        dir.path().join("data").display().to_string(),
    );
    let pg = if name == "Postgres" {
        let db = testkit::pg::PgDatabase::create("bench_ingest")
            .await
            .unwrap_or_else(|| {
                eprintln!(
                    "ingest bench: Postgres is not reachable ({})",
                    testkit::pg::server()
                );
                std::process::exit(2);
            });
        vars.insert("LEDGER_DATABASE_URL".to_owned(), db.url.clone());
        Some(db)
    } else {
        None
    };
    let config = Config::from_sources(None, &vars).expect("configuration");
    let backends = config
        .open_with(Schema::Migrate)
        .await
        .expect("opening the backends");
    let store = backends.store.clone();
    let queue = workers::ctx::open_queue(&config, &store)
        .await
        .expect("the queue");
    let policy =
        scheduler::Policy::from_vars(|n| config.var(n).map(str::to_owned)).expect("the policy");
    let parts = Parts::new(&config, policy, backends, Arc::new(queue))
        .await
        .expect("the API's parts");
    let mut api = ApiConfig::from_config(&config).expect("API settings");
    api.rate = Rate {
        per_second: 0,
        burst: 0,
    };
    Backend {
        store,
        state: ApiState::new(parts, api),
        _dir: dir,
        _pg: pg,
    }
}

/// A new tenant and its token.
async fn tenant(store: &Store, id: &str) -> (TenantId, String) {
    let token = new_token();
    let t = TenantId::new(id).expect("slug");
    store
        .create_tenant(
            &NewTenant {
                id: t.clone(),
                plan: Plan::Pro,
                token_hash: hash_token(&token),
                max_roots_per_period: 10,
                cost_ceiling_micro_usd: 1_000_000_000,
            },
            Utc::now() - chrono::Duration::days(1),
        )
        .await
        .expect("tenant");
    (t, token)
}

// ---------------------------------------------------------------------------------------------
// The direct path
// ---------------------------------------------------------------------------------------------

/// `anchor manifests add FILE` without the process: parse `file` as the CLI does, then submit
/// per `per_call` (the CLI: 50 000). Returns the elapsed time and how many were accepted.
async fn direct(
    store: &Store,
    tenant: &TenantId,
    kind: Kind,
    file: &[u8],
    per_call: usize,
) -> (Duration, u64) {
    let started = Instant::now();
    let digests: Vec<ManifestDigest> = match kind {
        Kind::Digests => file
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .filter(|l| !l.is_empty())
            .map(|l| ManifestDigest::from_hex_bytes(l).expect("a digest line"))
            .collect(),
        Kind::Manifests => merkle::batch::array_digests(file).expect("a JSON array"),
    };
    let t = store.tenant(tenant).await.expect("tenant");
    let mut accepted = 0;
    for batch in digests.chunks(per_call) {
        let now = Utc::now();
        accepted += service::manifests::submit(store, &t, batch, now, now)
            .await
            .expect("submit")
            .accepted;
    }
    (started.elapsed(), accepted)
}

// ---------------------------------------------------------------------------------------------
// The HTTP load
// ---------------------------------------------------------------------------------------------

/// One keep-alive connection's requests; each request's latency, and what was accepted.
fn post_all(
    addr: SocketAddr,
    path: &str,
    token: &str,
    bodies: &[Vec<u8>],
) -> std::io::Result<(Vec<Duration>, u64)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::with_capacity(bodies.len());
    let mut accepted = 0u64;
    let mut head = Vec::with_capacity(512);
    for body in bodies {
        head.clear();
        write!(
            head,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        let started = Instant::now();
        writer.write_all(&head)?;
        writer.write_all(body)?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut reply = vec![0u8; length];
        reader.read_exact(&mut reply)?;
        latencies.push(started.elapsed());
        if !status.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!(
                "{}: {}",
                status.trim(),
                String::from_utf8_lossy(&reply)
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&reply).map_err(std::io::Error::other)?;
        accepted += v["accepted"].as_u64().unwrap_or(0);
    }
    Ok((latencies, accepted))
}

struct Load {
    elapsed: Duration,
    accepted: u64,
    p50: Duration,
    p99: Duration,
}

/// Sends `bodies` over `conns` connections at once (round-robin shares).
fn load(addr: SocketAddr, path: &str, token: &str, bodies: Vec<Vec<u8>>, conns: usize) -> Load {
    let conns = conns.clamp(1, bodies.len().max(1));
    let mut shares: Vec<Vec<Vec<u8>>> = vec![Vec::new(); conns];
    for (i, b) in bodies.into_iter().enumerate() {
        shares[i % conns].push(b);
    }
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| s.spawn(move || post_all(addr, path, token, share)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("client thread")
                    .unwrap_or_else(|e| panic!("a request failed: {e}"))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut all: Vec<Duration> = results.iter().flat_map(|(l, _)| l.clone()).collect();
    all.sort_unstable();
    // The nearest-rank percentile: the smallest latency at or above `per_mille` of them.
    let pct =
        |per_mille: usize| all[(all.len() * per_mille).div_ceil(1000).clamp(1, all.len()) - 1];
    Load {
        elapsed,
        accepted: results.iter().map(|(_, a)| a).sum(),
        p50: pct(500),
        p99: pct(990),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

#[allow(
    clippy::too_many_lines,
    reason = "one table: set-up, then one row per store, input and batch size"
)]
fn main() {
    let single = env_num("BENCH_SINGLE", 4000);
    let hundreds = env_num("BENCH_HUNDREDS", 200);
    let big = env_num("BENCH_BIG", 10);
    let conns = env_num("BENCH_CONNS", 16);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let kinds: Vec<Kind> = std::env::var("BENCH_KINDS")
        .unwrap_or_else(|_| "digests,manifests".into())
        .split(',')
        .map(|k| match k.trim() {
            "digests" => Kind::Digests,
            "manifests" => Kind::Manifests,
            other => {
                eprintln!("ingest bench: BENCH_KINDS: unknown kind {other:?}");
                std::process::exit(2);
            }
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "ingest bench: {cores} cores, load average at start {}; batches of 1: {single} requests \
         over {conns} connections; of 100: {hundreds} requests over {conns} connections; of \
         10000: {big} requests over 1 connection\n",
        loadavg()
    );
    println!(
        "| store | input | batch | API manifests/s | API p50 / p99 per request | direct manifests/s \
         (`anchor manifests add` path) | API ÷ direct | target | met | context: store calls of one batch each, in turn (manifests/s) |"
    );
    println!("|---|---|---:|---:|---|---:|---:|---|---|---:|");
    let names: Vec<&'static str> = ["SQLite", "Postgres"]
        .into_iter()
        .filter(|n| only.is_empty() || n.eq_ignore_ascii_case(&only))
        .collect();
    let mut seq = 0usize;
    for name in names {
        let b = rt.block_on(backend(name));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = anchor_api::app(b.state.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(anchor_api::serve(listener, app, async {
            let _ = stop_rx.await;
        }));
        for &kind in &kinds {
            for (batch, requests, c) in [
                (1usize, single, conns),
                (100, hundreds, conns),
                (10_000, big, 1),
            ] {
                seq += 1;
                let salt = format!("{name}-{seq}");
                let n = batch * requests;
                let (api_t, token) = rt.block_on(tenant(&b.store, &format!("api-{seq}")));
                let (direct_t, _) = rt.block_on(tenant(&b.store, &format!("direct-{seq}")));
                let bodies: Vec<Vec<u8>> = (0..requests)
                    .map(|r| {
                        array(
                            &(r * batch..(r + 1) * batch)
                                .map(|i| kind.element(&salt, i))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                let file = kind.file(&salt, n);
                let (direct_elapsed, direct_accepted) =
                    rt.block_on(direct(&b.store, &direct_t, kind, &file, DIRECT_BATCH));
                // Context: the same store calls one request's batch at a time, one after
                // another (what the API's store work would be without concurrency), over at
                // most 1000 calls.
                let calls = requests.min(1000);
                let (per_t, _) = rt.block_on(tenant(&b.store, &format!("percall-{seq}")));
                let (per_elapsed, per_accepted) = rt.block_on(direct(
                    &b.store,
                    &per_t,
                    kind,
                    &kind.file(&salt, batch * calls),
                    batch,
                ));
                let per_call_rate = rate(per_accepted, per_elapsed);
                assert_eq!(direct_accepted, n as u64, "direct: every digest is new");
                let path = format!("/tenants/{api_t}/manifests");
                let l = load(addr, &path, &token, bodies, c);
                assert_eq!(l.accepted, n as u64, "API: every digest is new");
                let api_rate = rate(l.accepted, l.elapsed);
                let direct_rate = rate(direct_accepted, direct_elapsed);
                let ratio = api_rate / direct_rate;
                let (target, met) = match (batch, name) {
                    (10_000, _) => ("≥ 0.8 of direct", if ratio >= 0.8 { "yes" } else { "no" }),
                    (1, "SQLite") => ("≥ 5000/s", if api_rate >= 5000.0 { "yes" } else { "no" }),
                    _ => ("—", ""),
                };
                println!(
                    "| {name} | {} | {batch} | {api_rate:.0} ({n} in {}) | {} / {} | {direct_rate:.0} \
                     ({n} in {}) | {ratio:.3} | {target} | {met} | {per_call_rate:.0} |",
                    kind.name(),
                    ms(l.elapsed),
                    ms(l.p50),
                    ms(l.p99),
                    ms(direct_elapsed),
                );
            }
        }
        let _ = stop_tx.send(());
        let _ = rt.block_on(server);
    }
    println!("\nload average at the end: {}", loadavg());
}
