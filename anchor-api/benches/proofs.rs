//! `cargo bench -p anchor-api --bench proofs`: proof retrieval through the API against nginx
//! serving the same proof JSON as a static file, both loaded with `wrk`, printed as a Markdown
//! table.
//!
//! 1. **Fixture**: in a temp dir, one public opted-in pro tenant with `BENCH_LEAVES` manifests
//!    in one closed week (inserted in batches of `BENCH_BATCH`), rolled up by the real worker
//!    code (tree, `levels.bin`, OTS at a dev calendar and RFC 3161 at the dev TSA over
//!    loopback HTTP, signed receipt). The API serves it on `127.0.0.1:0` from a multi-thread
//!    runtime with one worker thread per core, with the default settings except that rate
//!    limiting is off (nginx has no limit either).
//! 2. **Baseline**: one digest's proof is fetched from the API once and those exact bytes are
//!    written under a temp docroot that nginx (`/usr/sbin/nginx`, Debian `nginx-light`)
//!    serves from a generated configuration (sendfile, keep-alive, no access log).
//! 3. **Peak**: `wrk -t$BENCH_THREADS -c$BENCH_CONNS -d${BENCH_SECS}s --latency` against nginx
//!    (the one file every time), the API with that same digest every time, and the API with
//!    a random digest of the period per request (a generated Lua script holding every
//!    digest). As context, a one-route axum app returning the same bytes from memory, served
//!    by the same `anchor_api::serve` on the same runtime: what the HTTP stack alone (tokio,
//!    hyper, axum) reaches here with no work per request. Each is preceded by a short
//!    warm-up. The four take turns for `BENCH_ROUNDS` rounds and each keeps its best: on a
//!    shared machine other work only lowers a peak, and taking turns spreads it over all of
//!    them. Every round's figure is printed.
//! 4. **80 %**: the API with random digests paced to 80 % of its random-digest peak. `wrk`
//!    cannot fix a rate, so a Lua `delay()` makes each connection wait before each request:
//!    each wrk thread hands out send slots at its share of the target (a request every
//!    conns × 1000 / target ms per connection) and `delay()` waits for the next one, so the
//!    service time does not lower the rate as a fixed delay would. Two short calibration runs
//!    correct the schedule; the achieved rate is printed beside the target. As a control,
//!    nginx is then run under the same schedule: the p99 this machine gives a server that
//!    costs next to nothing at that rate.
//!
//! Targets: API / nginx throughput ≥ 0.50 (random digests; the same-digest ratio is shown
//! too) and p99 < 10 ms at 80 % of the API's peak.
//!
//! 5. **Cold** (`BENCH_ONLY=cold`, instead of 2-4): fresh API instances hit by
//!    `BENCH_COLD_CONC` (64) simultaneous requests for distinct digests, `BENCH_COLD_ROUNDS`
//!    (10) times, against the same requests warm; p50/p99 and the resident set's rise
//!    ([`cold_phase`]).
//!
//! Knobs: `BENCH_LEAVES` (100000), `BENCH_BATCH` (10000), `BENCH_SECS` (10), `BENCH_CONNS`
//! (32), `BENCH_THREADS` (2, wrk's threads), `BENCH_ROUNDS` (3), `BENCH_WARMUP_SECS` (2),
//! `BENCH_CALIBRATE_SECS` (3).
//!
//! Needs `wrk` and `nginx` (Debian `wrk`, `nginx-light`; `scripts/api-tools.sh` installs
//! them). A missing tool is an error, never a skip.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "counts, rates and durations are turned into each other for printing and pacing only"
)]

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anchor_api::limit::Rate;
use anchor_api::{ApiConfig, ApiState, Parts};
use chrono::Utc;
use ledger::sql::{ConsentAction, ConsentEntry, NewTenant, Trigger, Visibility};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::ManifestDigest;
use stamp::dev::DevServices;
use workers::Ctx;

/// The allocator the `anchor` binary serves the API with (cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const INSTALL_HINT: &str = "install with scripts/api-tools.sh";

fn env_num(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("proofs bench: {name}={v:?} is not a whole number");
            std::process::exit(2);
        }),
        Err(_) => default,
    }
}

/// `name` on `PATH`, else at one of `also`; a missing tool ends the run with status 2.
fn tool(name: &str, package: &str, also: &[&str]) -> PathBuf {
    let on_path: Vec<PathBuf> = std::env::var_os("PATH").map_or_else(Vec::new, |p| {
        std::env::split_paths(&p).map(|d| d.join(name)).collect()
    });
    on_path
        .into_iter()
        .chain(also.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            eprintln!(
                "proofs bench: `{name}` is missing (Debian package {package}): {INSTALL_HINT}"
            );
            std::process::exit(2);
        })
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

struct Fixture {
    ctx: Ctx,
    reserves: reserves::sql::ReserveStore,
    tenant: TenantId,
    period: Period,
    digests: Vec<ManifestDigest>,
    ingest: Duration,
    rollup: Duration,
    _dev: DevServices,
}

fn digest(i: usize) -> ManifestDigest {
    merkle::canon::manifest_digest(format!(r#"{{"artifact":"bench-{i}"}}"#).as_bytes())
        .expect("a canonical manifest")
}

async fn fixture(dir: &Path, leaves: usize, batch: usize) -> Fixture {
    let dev = DevServices::start(&dir.join("dev"), 1)
        .await
        .expect("dev TSA and calendar");
    let mut vars: std::collections::BTreeMap<String, String> = dev
        .vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    vars.insert(
        "LEDGER_DATA_DIR".into(),
        dir.join("data").display().to_string(),
    );
    let config = ledger::config::Config::from_sources(None, &vars).expect("configuration");
    let ctx = Ctx::open(&config, true)
        .await
        .expect("opening the backends");

    // A week closed well past the default one-hour grace; the tenant predates it.
    let period = Period::containing(
        Cadence::Weekly,
        Utc::now() - chrono::Duration::hours(7 * 24 + 2),
    );
    let created = period.start() - chrono::Duration::days(1);
    let tenant = TenantId::new("bench-co").expect("slug");
    ctx.store
        .create_tenant(
            &NewTenant {
                id: tenant.clone(),
                plan: Plan::Pro,
                token_hash: ledger::sql::hash_token(&ledger::sql::new_token()),
                max_roots_per_period: 10,
                cost_ceiling_micro_usd: 1_000_000_000,
            },
            created,
        )
        .await
        .expect("tenant");
    ctx.store
        .record_consent(
            &tenant,
            &ConsentEntry {
                action: ConsentAction::OptIn,
                visibility: Visibility::Public,
                signer: "bench".into(),
                reason: "proof retrieval benchmark".into(),
                at: created,
            },
        )
        .await
        .expect("consent");

    let digests: Vec<ManifestDigest> = (0..leaves).map(digest).collect();
    let at = period.start() + chrono::Duration::days(2);
    let t = Instant::now();
    for chunk in digests.chunks(batch.max(1)) {
        ctx.store
            .insert_manifests(&tenant, chunk, at)
            .await
            .expect("ingest");
    }
    let ingest = t.elapsed();
    let t = Instant::now();
    let (run, _) = ctx
        .store
        .create_run(&tenant, period, Trigger::Manual, Utc::now())
        .await
        .expect("run");
    let outcome = Box::pin(workers::handler::rollup_leased(&ctx, &run.id))
        .await
        .result
        .expect("rollup");
    let rollup = t.elapsed();
    match outcome {
        Some(workers::rollup::Rollup::Anchored { tree_size, .. }) => {
            assert_eq!(tree_size, leaves as u64, "every manifest is a leaf");
        }
        other => panic!("the rollup did not anchor: {other:?}"),
    }
    let reserves = reserves::sql::ReserveStore::connect(&config.database_url)
        .await
        .expect("the reserves store");
    Fixture {
        ctx,
        reserves,
        tenant,
        period,
        digests,
        ingest,
        rollup,
        _dev: dev,
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (one request, `Connection: close`)
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("non-UTF-8 headers"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut content_type = String::new();
    let mut length = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-type") {
            v.clone_into(&mut content_type);
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("a chunked reply (expected Content-Length)"));
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(n) = length {
        if body.len() < n {
            return Err(bad("a short body"));
        }
        body.truncate(n);
    }
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

/// Starts nginx (`testkit::nginx`) serving `docroot` and checks it answers `probe` with
/// `expected` as JSON.
fn start_nginx(
    bin: &Path,
    dir: &Path,
    docroot: &Path,
    probe: &str,
    expected: &[u8],
) -> testkit::nginx::Nginx {
    let nginx = testkit::nginx::start(bin, dir, docroot, "application/json", "");
    let r = http_get(nginx.addr, probe)
        .unwrap_or_else(|e| panic!("nginx did not answer {probe}: {e}\n{}", nginx.errors()));
    assert_eq!(r.status, 200, "nginx answered {probe} with {}", r.status);
    assert_eq!(r.body, expected, "nginx serves the API's bytes unchanged");
    assert!(
        r.content_type.starts_with("application/json"),
        "nginx's content type: {:?}",
        r.content_type
    );
    nginx
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Load {
    threads: usize,
    conns: usize,
    secs: usize,
}

#[derive(Clone, Debug)]
struct Figures {
    rps: f64,
    avg_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    /// wrk's `Socket errors:` line, when it printed one.
    socket_errors: Option<String>,
}

/// A wrk duration (`812.00us`, `1.23ms`, `2.01s`, `1.00m`) in milliseconds.
fn wrk_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(n * scale)
}

/// The figures of wrk's `--latency` report; a report with non-2xx replies is an error (the run
/// measured something other than proofs).
fn parse_wrk(out: &str) -> Result<Figures, String> {
    let mut rps = None;
    let mut avg = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut socket_errors = None;
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", r, ..] => rps = r.parse::<f64>().ok(),
            ["Latency", a, _, _, ..] => avg = wrk_ms(a),
            ["50%", v] => p50 = wrk_ms(v),
            ["99%", v] => p99 = wrk_ms(v),
            [n, "requests", "in", ..] => requests = n.parse::<u64>().ok(),
            ["Non-2xx", ..] => return Err(format!("wrk saw error replies: {line}")),
            ["Socket", "errors:", ..] => {
                socket_errors = Some(line.trim_start_matches("Socket errors:").trim().to_owned());
            }
            _ => {}
        }
    }
    match (rps, avg, p50, p99, requests) {
        (Some(rps), Some(avg_ms), Some(p50_ms), Some(p99_ms), Some(requests)) => Ok(Figures {
            rps,
            avg_ms,
            p50_ms,
            p99_ms,
            requests,
            socket_errors,
        }),
        _ => Err("could not read requests/s and the latency distribution".into()),
    }
}

fn run_wrk(bin: &Path, url: &str, script: Option<&Path>, load: Load, secs: usize) -> Figures {
    let mut cmd = Command::new(bin);
    cmd.arg(format!("-t{}", load.threads.min(load.conns)))
        .arg(format!("-c{}", load.conns))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("--latency");
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&stdout).unwrap_or_else(|e| panic!("{e} ({url}):\n{stdout}"))
}

/// The run with the most requests per second.
fn best(runs: &[Figures]) -> Figures {
    runs.iter()
        .max_by(|a, b| a.rps.total_cmp(&b.rps))
        .expect("at least one round")
        .clone()
}

/// A warm-up (discarded), then the measured run.
fn measure(bin: &Path, url: &str, script: Option<&Path>, load: Load, warmup: usize) -> Figures {
    if warmup > 0 {
        run_wrk(bin, url, script, load, warmup);
    }
    run_wrk(bin, url, script, load, load.secs)
}

/// What a generated wrk script asks for.
#[derive(Clone, Copy, Debug)]
enum Requests<'a> {
    /// The same path every time.
    Fixed(&'a str),
    /// `prefix` and a random one of `digests` per request.
    Random {
        prefix: &'a str,
        digests: &'a [ManifestDigest],
    },
}

/// A wrk script for `requests`; with `pace`, paced to that many requests per second per wrk
/// thread.
///
/// Pacing: `delay()` runs before each request of each connection and returns how many
/// milliseconds that connection waits first. A fixed delay gives conns × 1000 / (delay +
/// service time) requests per second, which drifts with the latency being measured; so each
/// thread instead hands out send slots `1000 / pace` ms apart (its connections together, a
/// cycle of conns × 1000 / target ms per connection), and `delay()` returns the wait until
/// the next free slot, read from `CLOCK_MONOTONIC` through `LuaJIT`'s FFI. A thread that falls
/// behind does not catch up in a burst. wrk's timers take whole milliseconds; the calibration
/// runs correct what that costs.
fn wrk_script(requests: Requests<'_>, pace: Option<f64>) -> String {
    let mut s = String::from("-- generated by anchor-api/benches/proofs.rs\n");
    match requests {
        Requests::Fixed(path) => write!(
            s,
            "local path = \"{path}\"\n\
             local req = nil\n\
             function init(args)\n\
             \x20 req = wrk.format(\"GET\", path)\n\
             end\n\
             function request()\n\
             \x20 return req\n\
             end\n"
        ),
        Requests::Random { prefix, digests } => {
            // One string constant, not a table of them: LuaJIT caps a function's constants
            // at 65536.
            let mut all = String::with_capacity(64 * digests.len());
            for d in digests {
                write!(all, "{d}").expect("writing to a String");
            }
            write!(
                s,
                "local prefix = \"{prefix}\"\n\
                 local digests = \"{all}\"\n\
                 local n = #digests / 64\n\
                 local requests = {{}}\n\
                 local threads = 0\n\
                 function setup(thread)\n\
                 \x20 threads = threads + 1\n\
                 \x20 thread:set(\"id\", threads)\n\
                 end\n\
                 function init(args)\n\
                 \x20 math.randomseed(os.time() * 1000 + (id or 0))\n\
                 \x20 for i = 1, n do\n\
                 \x20   local at = (i - 1) * 64 + 1\n\
                 \x20   requests[i] = wrk.format(\"GET\", prefix .. digests:sub(at, at + 63))\n\
                 \x20 end\n\
                 end\n\
                 function request()\n\
                 \x20 return requests[math.random(n)]\n\
                 end\n"
            )
        }
    }
    .expect("writing to a String");
    if let Some(per_thread) = pace {
        let interval_ms = 1000.0 / per_thread;
        write!(
            s,
            "local ffi = require(\"ffi\")\n\
             ffi.cdef[[\n\
             typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;\n\
             int clock_gettime(int clock, bench_timespec *ts);\n\
             ]]\n\
             local clock = ffi.new(\"bench_timespec\")\n\
             local function now_ms()\n\
             \x20 ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC\n\
             \x20 return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6\n\
             end\n\
             local interval = {interval_ms:.6}\n\
             local due = nil\n\
             function delay()\n\
             \x20 local now = now_ms()\n\
             \x20 if due == nil or due < now then due = now end\n\
             \x20 local wait = due - now\n\
             \x20 due = due + interval\n\
             \x20 return math.floor(wait + 0.5)\n\
             end\n"
        )
        .expect("writing to a String");
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/// The 1, 5 and 15 minute load averages: other work on the machine skews every figure.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn met(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

/// The API's settings in this bench: the defaults, with rate limiting off (nginx has none).
fn bench_config() -> ApiConfig {
    ApiConfig {
        rate: Rate {
            per_second: 0,
            burst: 0,
        },
        ..ApiConfig::default()
    }
}

/// A fresh API instance (empty caches) over the fixture's stores on `127.0.0.1:0`: its
/// address and its server task.
fn serve_api(
    rt: &tokio::runtime::Runtime,
    fx: &Fixture,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let app = anchor_api::app(ApiState::new(
        Parts {
            store: fx.ctx.store.clone(),
            blobs: fx.ctx.blobs.clone(),
            kv: fx.ctx.kv.clone(),
            queue: std::sync::Arc::new(fx.ctx.queue.clone()),
            policy: fx.ctx.policy.clone(),
            reserves: fx.reserves.clone(),
        },
        bench_config(),
    ));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding the API");
    let api = listener.local_addr().expect("the API's address");
    (
        api,
        rt.spawn(anchor_api::serve(listener, app, std::future::pending())),
    )
}

#[allow(
    clippy::too_many_lines,
    reason = "one benchmark, read top to bottom as its steps"
)]
fn main() {
    // Fail before spending minutes on the fixture.
    let wrk = tool("wrk", "wrk", &["/usr/bin/wrk"]);
    let nginx_bin = tool("nginx", "nginx-light", &["/usr/sbin/nginx"]);

    let leaves = env_num("BENCH_LEAVES", 100_000).max(1);
    let batch = env_num("BENCH_BATCH", 10_000).max(1);
    let load = Load {
        threads: env_num("BENCH_THREADS", 2).max(1),
        conns: env_num("BENCH_CONNS", 32).max(1),
        secs: env_num("BENCH_SECS", 10).max(1),
    };
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let warmup = env_num("BENCH_WARMUP_SECS", 2);
    let calibrate = env_num("BENCH_CALIBRATE_SECS", 3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let load_before = loadavg();
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("tokio runtime");

    eprintln!("proofs bench: building the fixture ({leaves} leaves)…");
    let fx = rt.block_on(fixture(dir.path(), leaves, batch));
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cold") {
        let conc = env_num("BENCH_COLD_CONC", 64).max(1);
        cold_phase(&rt, &fx, conc, env_num("BENCH_COLD_ROUNDS", 10).max(1));
        return;
    }
    let cache_ttl = bench_config().cache_ttl;
    let (api, server) = serve_api(&rt, &fx);

    // One digest, its proof fetched once; nginx serves exactly those bytes.
    let prefix = format!("/anchor/proof/{}/{}/", fx.tenant.as_str(), fx.period);
    let chosen = fx.digests[fx.digests.len() / 2];
    let proof_path = format!("{prefix}{chosen}");
    let reply = http_get(api, &proof_path).expect("fetching the proof from the API");
    assert_eq!(
        reply.status,
        200,
        "{proof_path}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type, "application/json");
    // Context: the same bytes from a one-route axum app served the same way, the ceiling of
    // the HTTP stack (tokio, hyper, axum) under this load with no work per request at all.
    let ceiling_body = axum::body::Bytes::from(reply.body.clone());
    let ceiling_app = axum::Router::new().route(
        "/proof",
        axum::routing::get(move || {
            let body = ceiling_body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let ceiling_listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding the ceiling app");
    let ceiling = ceiling_listener.local_addr().expect("its address");
    let ceiling_server = rt.spawn(anchor_api::serve(
        ceiling_listener,
        ceiling_app,
        std::future::pending(),
    ));
    let docroot = dir.path().join("www");
    let file_path = format!("/proof/{chosen}.json");
    std::fs::create_dir_all(docroot.join("proof")).expect("docroot");
    std::fs::write(docroot.join(&file_path[1..]), &reply.body).expect("writing the proof");
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    let nginx = start_nginx(&nginx_bin, &nginx_dir, &docroot, &file_path, &reply.body);

    let script_dir = dir.path().join("wrk");
    std::fs::create_dir_all(&script_dir).expect("script dir");
    let random = script_dir.join("random.lua");
    let random_digests = Requests::Random {
        prefix: &prefix,
        digests: &fx.digests,
    };
    std::fs::write(&random, wrk_script(random_digests, None)).expect("writing the wrk script");

    // Peaks: the three targets in turn, `rounds` times, each target's best round kept (other
    // work on the machine only ever lowers a peak; interleaving spreads it over all three).
    let nginx_url = format!("http://{}{file_path}", nginx.addr);
    let api_same_url = format!("http://{api}{proof_path}");
    let api_url = format!("http://{api}/");
    let ceiling_url = format!("http://{ceiling}/proof");
    let (mut static_runs, mut same_runs, mut random_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut ceiling_runs = Vec::new();
    for round in 1..=rounds {
        eprintln!("proofs bench: round {round}/{rounds}: nginx static peak…");
        static_runs.push(measure(&wrk, &nginx_url, None, load, warmup));
        eprintln!("proofs bench: round {round}/{rounds}: one-route axum (same bytes) peak…");
        ceiling_runs.push(measure(&wrk, &ceiling_url, None, load, warmup));
        eprintln!("proofs bench: round {round}/{rounds}: API same-digest peak…");
        same_runs.push(measure(&wrk, &api_same_url, None, load, warmup));
        eprintln!("proofs bench: round {round}/{rounds}: API random-digest peak…");
        random_runs.push(measure(&wrk, &api_url, Some(&random), load, warmup));
    }
    let (static_peak, same_peak, random_peak) =
        (best(&static_runs), best(&same_runs), best(&random_runs));
    let ceiling_peak = best(&ceiling_runs);

    // 80 % of the random-digest peak, paced by delay(), the schedule corrected by short runs.
    let threads = load.threads.min(load.conns);
    let target = 0.8 * random_peak.rps;
    let paced = script_dir.join("paced.lua");
    let write_paced = |requests: Requests<'_>, pace: f64| {
        std::fs::write(&paced, wrk_script(requests, Some(pace / threads as f64)))
            .expect("writing the wrk script");
    };
    let mut pace = target;
    for round in 0..2 {
        write_paced(random_digests, pace);
        let f = run_wrk(&wrk, &api_url, Some(&paced), load, calibrate);
        eprintln!(
            "proofs bench: calibration {round}: schedule {pace:.0} req/s → {:.0} req/s (target {target:.0})",
            f.rps
        );
        pace = (pace * target / f.rps).clamp(0.5 * target, 1.5 * target);
    }
    write_paced(random_digests, pace);
    eprintln!("proofs bench: API at 80 % of peak…");
    let at80 = run_wrk(&wrk, &api_url, Some(&paced), load, load.secs);
    let cycle_ms = load.conns as f64 * 1000.0 / target;
    // Control: nginx under the same schedule, for what this machine does to a p99 at that
    // rate when the server costs next to nothing.
    write_paced(Requests::Fixed(&file_path), pace);
    eprintln!("proofs bench: nginx under the same schedule…");
    let nginx_paced = run_wrk(&wrk, &nginx_url, Some(&paced), load, load.secs);

    drop(nginx);
    server.abort();
    ceiling_server.abort();
    rt.shutdown_timeout(Duration::from_secs(2));

    // The table.
    let ratio = random_peak.rps / static_peak.rps;
    let ratio_same = same_peak.rps / static_peak.rps;
    let row = |what: &str, f: &Figures, runs: &[Figures]| {
        let rounds = if runs.is_empty() {
            "—".to_owned()
        } else {
            runs.iter()
                .map(|r| format!("{:.0}", r.rps))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "| {what} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {rounds} |",
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.avg_ms,
            f.requests,
            f.socket_errors.as_deref().unwrap_or("none")
        );
    };
    println!();
    println!("### Proof retrieval: anchor-api vs nginx static file (wrk)");
    println!();
    println!("- machine: {}", testkit::machine());
    println!(
        "- load average (1/5/15 min) before: {load_before}, after: {}",
        loadavg()
    );
    println!(
        "- knobs: BENCH_LEAVES={leaves} BENCH_BATCH={batch} BENCH_SECS={} BENCH_CONNS={} \
         BENCH_THREADS={} BENCH_ROUNDS={rounds} BENCH_WARMUP_SECS={warmup} \
         BENCH_CALIBRATE_SECS={calibrate}",
        load.secs, load.conns, load.threads
    );
    println!(
        "- wrk -t{} -c{} -d{}s --latency; wrk, nginx (worker_processes auto) and the API \
         (tokio, {cores} worker threads) share the {cores} cores",
        load.threads.min(load.conns),
        load.conns,
        load.secs
    );
    println!(
        "- API: rate limiting OFF (ApiConfig.rate.per_second = 0; nginx has no limit either); \
         other settings default (proof cache TTL {} s); SQLite + local blob directory",
        cache_ttl.as_secs()
    );
    println!(
        "- fixture: 1 public opted-in tenant, {} {}, ingest {:.2} s, rollup {:.2} s; \
         proof body {} bytes",
        leaves,
        fx.period,
        fx.ingest.as_secs_f64(),
        fx.rollup.as_secs_f64(),
        reply.body.len()
    );
    println!(
        "- asymmetry (favours nginx): nginx serves one file every time and wrk sends a fixed \
         request; the random-digest API rows ask for a random digest of all {leaves} per request \
         through a Lua script (which also costs wrk CPU on the shared cores)"
    );
    println!();
    println!(
        "| target | req/s | p50 ms | p99 ms | avg ms | requests | socket errors | req/s by round |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    let peak = format!("peak (best of {rounds} interleaved rounds)");
    row(
        &format!("nginx static file, {peak}"),
        &static_peak,
        &static_runs,
    );
    row(
        &format!("context: one-route axum app returning the same bytes, {peak}"),
        &ceiling_peak,
        &ceiling_runs,
    );
    row(&format!("API, same digest, {peak}"), &same_peak, &same_runs);
    row(
        &format!("API, random digest, {peak}"),
        &random_peak,
        &random_runs,
    );
    println!(
        "| API, random digest, 80 % of peak: target {target:.0} req/s, achieved {:.0} req/s \
         (a request per {cycle_ms:.2} ms per connection; schedule {pace:.0} req/s after calibration) | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | — |",
        at80.rps,
        at80.rps,
        at80.p50_ms,
        at80.p99_ms,
        at80.avg_ms,
        at80.requests,
        at80.socket_errors.as_deref().unwrap_or("none")
    );
    row(
        "control: nginx static file under the same schedule",
        &nginx_paced,
        &[],
    );
    println!();
    println!("| ratio | figure | target | |");
    println!("|---|---:|---|---|");
    println!(
        "| API (random digest) / nginx throughput | {ratio:.3} | ≥ 0.50 | {} |",
        met(ratio >= 0.5)
    );
    println!(
        "| API (same digest) / nginx throughput | {ratio_same:.3} | ≥ 0.50 | {} |",
        met(ratio_same >= 0.5)
    );
    let ceiling_ratio = ceiling_peak.rps / static_peak.rps;
    println!(
        "| context: one-route axum app (no work) / nginx throughput | {ceiling_ratio:.3} | — | — |"
    );
    println!(
        "| API (random digest) / one-route axum app throughput | {:.3} | — | — |",
        random_peak.rps / ceiling_peak.rps
    );
    println!(
        "| API p99 at 80 % of peak ({:.0} of {target:.0} req/s) | {:.2} ms | < 10 ms | {} |",
        at80.rps,
        at80.p99_ms,
        met(at80.p99_ms < 10.0)
    );
}

// ---------------------------------------------------------------------------------------------
// Cold proofs (`BENCH_ONLY=cold`)
// ---------------------------------------------------------------------------------------------

/// The resident set of this process, KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `conc` requests for `paths` at once (one thread each, released together); each one's
/// latency in ms.
fn burst(api: SocketAddr, paths: &[String]) -> Vec<f64> {
    let gate = std::sync::Arc::new(std::sync::Barrier::new(paths.len()));
    let threads: Vec<_> = paths
        .iter()
        .cloned()
        .map(|path| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait();
                let t = Instant::now();
                let reply = http_get(api, &path).expect("a cold proof request");
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(
                    reply.status,
                    200,
                    "{path}: {}",
                    String::from_utf8_lossy(&reply.body)
                );
                ms
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a request thread"))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Cold proof retrieval: `rounds` fresh API instances over the same stores (empty period,
/// proof and tile caches: what a restart, a scale-out or an evicted period sees), each hit by
/// `conc` simultaneous requests for distinct random digests, then by the same requests again
/// (warm: the baseline in the same run). The process's resident set is sampled every 2 ms
/// during each cold burst: its rise over the burst, divided by `conc`, bounds the extra memory
/// per concurrent cold request; its level after every round shows whether anything grows.
fn cold_phase(rt: &tokio::runtime::Runtime, fx: &Fixture, conc: usize, rounds: usize) {
    let n = fx.digests.len();
    let prefix = format!("/anchor/proof/{}/{}/", fx.tenant.as_str(), fx.period);
    let (mut cold, mut warm, mut rises, mut after) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let start_rss = rss_kib();
    for round in 0..rounds {
        let (api, server) = serve_api(rt, fx);
        let paths: Vec<String> = (0..conc)
            .map(|k| {
                let i = ((round * conc + k) as u64 * 2_654_435_761) % n as u64;
                format!("{prefix}{}", fx.digests[i as usize])
            })
            .collect();
        let before = rss_kib();
        let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let sampling = sampling.clone();
            std::thread::spawn(move || {
                let mut peak = 0;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_kib());
                    std::thread::sleep(Duration::from_millis(2));
                }
                peak
            })
        };
        cold.extend(burst(api, &paths));
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().expect("the sampler");
        rises.push(peak.saturating_sub(before));
        warm.extend(burst(api, &paths));
        server.abort();
        after.push(rss_kib());
        eprintln!(
            "proofs bench: cold round {}/{rounds}: RSS {before} → peak {peak} KiB",
            round + 1
        );
    }
    print_cold(&ColdFigures {
        leaves: n,
        backend: fx.ctx.blobs.describe(),
        conc,
        rounds,
        cold,
        warm,
        rises,
        after,
        start_rss,
    });
}

/// What [`cold_phase`] measured.
struct ColdFigures {
    leaves: usize,
    backend: String,
    conc: usize,
    rounds: usize,
    cold: Vec<f64>,
    warm: Vec<f64>,
    /// The resident set's rise over each cold burst, KiB.
    rises: Vec<u64>,
    /// The resident set after each round, KiB.
    after: Vec<u64>,
    start_rss: u64,
}

fn print_cold(c: &ColdFigures) {
    let (mut cold, mut warm) = (c.cold.clone(), c.warm.clone());
    let (conc, rounds, n, start_rss) = (c.conc, c.rounds, c.leaves, c.start_rss);
    let (rises, after) = (&c.rises, &c.after);
    cold.sort_by(f64::total_cmp);
    warm.sort_by(f64::total_cmp);
    let max_rise = rises.iter().copied().max().unwrap_or(0);
    let per_request_kib = max_rise as f64 / conc as f64;
    println!();
    println!(
        "### Cold proofs: {conc} concurrent requests on a fresh API instance ({rounds} rounds)"
    );
    println!();
    println!("- machine: {}", testkit::machine());
    println!(
        "- tree: {n} leaves, tiles on the {} backend",
        c.backend.split(' ').next().unwrap_or("?")
    );
    println!();
    println!("| requests | p50 | p99 | max |");
    println!("|---|---:|---:|---:|");
    for (what, v) in [
        ("cold (fresh caches)", &cold),
        ("warm (same requests again, baseline)", &warm),
    ] {
        println!(
            "| {what} | {:.2} ms | {:.2} ms | {:.2} ms |",
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(0.0)
        );
    }
    println!();
    println!("| figure | value | target | |");
    println!("|---|---:|---|---|");
    let p99 = percentile(&cold, 0.99);
    println!(
        "| cold p99 | {p99:.2} ms | < 5 ms (directory) | {} |",
        met(p99 < 5.0)
    );
    println!(
        "| cold p99 / warm p99 | {:.2} | — | — |",
        p99 / percentile(&warm, 0.99)
    );
    println!(
        "| RSS rise over a burst / {conc} (worst round) | {per_request_kib:.0} KiB | < 8 MiB | {} |",
        met(per_request_kib < 8.0 * 1024.0)
    );
    println!(
        "| RSS after round 1 → after round {rounds} | {} → {} KiB (start {start_rss}) | no growth past the caches' bound | — |",
        after.first().copied().unwrap_or(0),
        after.last().copied().unwrap_or(0)
    );
}
