//! `cargo bench -p anchor-cli --bench pipeline`: the anchoring pipeline's figures (issue 5),
//! printed as a Markdown table.
//!
//! 1. **One tenant × 1M manifests, ingest to receipt**: `Store::insert_manifests` in batches of
//!    50 000, then one rollup (tree, `levels.bin`, OTS at two dev calendars and RFC 3161 at the
//!    dev TSA over loopback HTTP, sample verification, signed summary, receipt) on the
//!    embedded defaults (SQLite, a local directory). Targets: < 10 s and peak RSS < 512 MiB.
//!    Baselines in the same run: the ingest alone, and the bare tree build (`Levels::build`)
//!    over the same digests, which the rollup's own time is reported against.
//! 2. **1000 tenants × 1000 manifests, one weekly cycle**: pro tenants (weekly OTS + TSA), one
//!    scheduler tick creates and enqueues the runs, a pool of 4 workers on the SQLite queue
//!    drains them; the time from the tick to no run queued or running. Target < 60 s.
//!    Baseline in the same run: the same rollups called one after another in-process with no
//!    scheduler and no queue, on a fresh store of `BENCH_BASELINE_TENANTS` tenants; the
//!    figure is the cycle's time per run against the baseline's.
//!
//! Knobs: `BENCH_MANIFESTS` (default 1000000), `BENCH_DAYS` (7: the days of the week the
//! manifests arrive on, 1 to 7), `BENCH_INGEST_BATCH` (50000, as `anchor manifests add`),
//! `BENCH_TENANTS` (1000), `BENCH_PER_TENANT` (1000), `BENCH_BASELINE_TENANTS` (200),
//! `BENCH_CONCURRENCY` (4), `BENCH_ONLY` (`one` or `cycle`).

#![allow(
    clippy::cast_precision_loss,
    reason = "counts and sizes are turned into rates for printing only"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ledger::sql::{ConsentAction, ConsentEntry, NewTenant, RunStatus, Trigger, Visibility};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::ManifestDigest;
use proofs::Levels;
use sha2::{Digest as _, Sha256};
use stamp::dev::DevServices;
use workers::Ctx;
use workers::service::{shutdown_pair, wait_until_idle, worker_pool};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set of this process since the last [`reset_peak_rss`], in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Linux: writing 5 to `clear_refs` resets the peak RSS to the current RSS.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn digests(tenant: usize, n: usize) -> Vec<ManifestDigest> {
    (0..n)
        .map(|i| ManifestDigest(Sha256::digest(format!("{tenant}/{i}")).into()))
        .collect()
}

/// A closed week safely past the default one-hour grace, and a creation time before it.
fn closed_week(now: DateTime<Utc>) -> (Period, DateTime<Utc>) {
    let week = Period::containing(Cadence::Weekly, now - chrono::Duration::hours(7 * 24 + 2));
    (week, week.start() - chrono::Duration::days(1))
}

async fn open(dir: &Path, dev: &DevServices) -> Arc<Ctx> {
    let mut env: BTreeMap<String, String> = dev
        .vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.insert("LEDGER_DATA_DIR".into(), dir.display().to_string());
    env.insert("LEDGER_TICK".into(), "1s".into());
    let config = ledger::config::Config::from_sources(None, &env).expect("configuration");
    Arc::new(
        Ctx::open(&config, true)
            .await
            .expect("opening the backends"),
    )
}

async fn add_tenant(ctx: &Ctx, name: &str, plan: Plan, created: DateTime<Utc>) -> TenantId {
    let id = TenantId::new(name).expect("slug");
    ctx.store
        .create_tenant(
            &NewTenant {
                id: id.clone(),
                plan,
                token_hash: ledger::sql::hash_token(&ledger::sql::new_token()),
                max_roots_per_period: 100,
                cost_ceiling_micro_usd: 1_000_000_000,
            },
            created,
        )
        .await
        .expect("tenant");
    ctx.store
        .record_consent(
            &id,
            &ConsentEntry {
                action: ConsentAction::OptIn,
                visibility: Visibility::Public,
                signer: "bench".into(),
                reason: "bench".into(),
                at: created,
            },
        )
        .await
        .expect("consent");
    id
}

struct Row {
    what: String,
    figure: String,
    target: String,
    met: Option<bool>,
}

async fn one_tenant(dev: &DevServices, rows: &mut Vec<Row>) {
    let n = env_num("BENCH_MANIFESTS", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let ctx = open(dir.path(), dev).await;
    let (week, created) = closed_week(Utc::now());
    let tenant = add_tenant(&ctx, "big-co", Plan::Pro, created).await;
    let all = digests(0, n);
    let days = env_num("BENCH_DAYS", 7).clamp(1, 7);
    let batch = env_num("BENCH_INGEST_BATCH", 50_000).max(1);

    // Baseline: the bare tree over the same digests, sorted as the store returns them.
    let mut sorted = all.clone();
    sorted.sort_unstable();
    let t = Instant::now();
    let tree = Levels::build(sorted).expect("tree");
    let tree_time = t.elapsed();
    let expected_root = tree.root();
    drop(tree);

    reset_peak_rss();
    let rss_before = peak_rss_mib();
    let start = Instant::now();
    // The week's manifests arrive day after day, in batches (one transaction each).
    for (day, part) in all.chunks(n.div_ceil(days)).enumerate() {
        let at = week.start()
            + chrono::Duration::days(i64::try_from(day).expect("at most 7 days"))
            + chrono::Duration::hours(12);
        for chunk in part.chunks(batch) {
            ctx.store
                .insert_manifests(&tenant, chunk, at)
                .await
                .expect("ingest");
        }
    }
    let ingested = start.elapsed();
    let (run, _) = ctx
        .store
        .create_run(&tenant, week, Trigger::Manual, Utc::now())
        .await
        .expect("run");
    let outcome = Box::pin(workers::rollup::rollup(&ctx, &run.id))
        .await
        .expect("rollup");
    let total = start.elapsed();
    let rollup_time = total.saturating_sub(ingested);
    let peak = peak_rss_mib();
    let workers::rollup::Rollup::Anchored { root, .. } = outcome else {
        panic!("the rollup did not anchor: {outcome:?}");
    };
    assert_eq!(
        root, expected_root,
        "the pipeline's root is the bare tree's"
    );
    let receipt = dir.path().join(format!(
        "blobs/receipts/{tenant}/{week}/v1.json",
        tenant = tenant.as_str()
    ));
    assert!(receipt.exists(), "{} is missing", receipt.display());
    drop(all);

    rows.push(Row {
        what: format!(
            "1 tenant × {n} manifests over {days} day(s) of a week, ingest (batches of {batch}) → signed receipt (OTS + TSA)"
        ),
        figure: format!(
            "{:.2} s = ingest {:.2} s ({:.0} digests/s) + rollup {:.2} s",
            total.as_secs_f64(),
            ingested.as_secs_f64(),
            n as f64 / ingested.as_secs_f64(),
            rollup_time.as_secs_f64()
        ),
        target: "< 10 s".into(),
        met: Some(total < Duration::from_secs(10)),
    });
    rows.push(Row {
        what: "  rollup vs the bare tree build over the same digests (baseline)".into(),
        figure: format!(
            "{:.2} s vs {:.3} s = {:.1}×",
            rollup_time.as_secs_f64(),
            tree_time.as_secs_f64(),
            rollup_time.as_secs_f64() / tree_time.as_secs_f64()
        ),
        target: "—".into(),
        met: None,
    });
    rows.push(Row {
        what: "  peak RSS during ingest + rollup (whole process, dev services included)".into(),
        figure: format!("{peak:.0} MiB (before: {rss_before:.0} MiB)"),
        target: "< 512 MiB".into(),
        met: Some(peak < 512.0),
    });
}

/// Creates `tenants` pro tenants with `per` manifests each in `week`.
async fn populate(ctx: &Ctx, tenants: usize, per: usize, week: Period, created: DateTime<Utc>) {
    let at = week.start() + chrono::Duration::days(2);
    for t in 0..tenants {
        let id = add_tenant(ctx, &format!("tenant-{t:05}"), Plan::Pro, created).await;
        ctx.store
            .insert_manifests(&id, &digests(t + 1, per), at)
            .await
            .expect("ingest");
    }
}

async fn weekly_cycle(dev: &DevServices, rows: &mut Vec<Row>) {
    let tenants = env_num("BENCH_TENANTS", 1000);
    let per = env_num("BENCH_PER_TENANT", 1000);
    let base_tenants = env_num("BENCH_BASELINE_TENANTS", 200);
    let concurrency = env_num("BENCH_CONCURRENCY", 4);
    let (week, created) = closed_week(Utc::now());

    // Baseline: the rollups alone, one after another, no scheduler and no queue.
    let dir = tempfile::tempdir().expect("temp dir");
    let ctx = open(dir.path(), dev).await;
    populate(&ctx, base_tenants, per, week, created).await;
    let mut runs = Vec::new();
    for t in 0..base_tenants {
        let id = TenantId::new(&format!("tenant-{t:05}")).expect("slug");
        let (run, _) = ctx
            .store
            .create_run(&id, week, Trigger::Scheduled, Utc::now())
            .await
            .expect("run");
        runs.push(run.id);
    }
    let t = Instant::now();
    for run in &runs {
        Box::pin(workers::rollup::rollup(&ctx, run))
            .await
            .expect("rollup");
    }
    let direct = t.elapsed() / u32::try_from(base_tenants.max(1)).unwrap_or(u32::MAX);
    drop(ctx);

    let dir = tempfile::tempdir().expect("temp dir");
    let ctx = open(dir.path(), dev).await;
    let setup = Instant::now();
    populate(&ctx, tenants, per, week, created).await;
    eprintln!(
        "weekly cycle: {tenants} tenants × {per} manifests stored in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let report = scheduler_process::tick::tick(&ctx, Utc::now())
        .await
        .expect("tick");
    let (trigger, shutdown) = shutdown_pair();
    let pool = worker_pool(ctx.clone(), concurrency, shutdown);
    let drive = async {
        let idle = wait_until_idle(&ctx, Duration::from_mins(10)).await;
        let elapsed = start.elapsed();
        trigger.fire();
        (idle, elapsed)
    };
    let (pooled, (idle, cycle)) = tokio::join!(pool, drive);
    pooled.expect("worker pool");
    assert!(idle.expect("store"), "runs still busy after 10 minutes");
    let counts = workers::service::runs_by_status(&ctx)
        .await
        .expect("counts");
    let anchored: usize = counts
        .iter()
        .filter(|(s, _)| matches!(s, RunStatus::Anchored | RunStatus::Complete))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        anchored, tenants,
        "every tenant's week anchored: {counts:?} ({report:?})"
    );
    let per_run = cycle / u32::try_from(tenants.max(1)).unwrap_or(u32::MAX);
    rows.push(Row {
        what: format!(
            "{tenants} tenants × {per} manifests, one weekly cycle (tick → all receipts, {concurrency} workers)"
        ),
        figure: format!(
            "{:.1} s ({:.0} runs/s)",
            cycle.as_secs_f64(),
            tenants as f64 / cycle.as_secs_f64()
        ),
        target: "< 60 s".into(),
        met: Some(cycle < Duration::from_mins(1)),
    });
    rows.push(Row {
        what: format!(
            "  per run: cycle vs {base_tenants} rollups called in a loop, no scheduler or queue (baseline)"
        ),
        figure: format!(
            "{:.1} ms vs {:.1} ms = {:.2}×",
            per_run.as_secs_f64() * 1e3,
            direct.as_secs_f64() * 1e3,
            per_run.as_secs_f64() / direct.as_secs_f64()
        ),
        target: "—".into(),
        met: None,
    });
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows = runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let dev = DevServices::start(dir.path(), 2)
            .await
            .expect("dev services");
        let mut rows = Vec::new();
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        if only != "cycle" {
            one_tenant(&dev, &mut rows).await;
        }
        if only != "one" {
            weekly_cycle(&dev, &mut rows).await;
        }
        rows
    });
    println!("| measurement | figure | target | met |");
    println!("|---|---|---|---|");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!("| {} | {} | {} | {met} |", r.what, r.figure, r.target);
    }
}
