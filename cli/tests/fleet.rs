//! The fleet end to end, as separate processes on the fleet's backends: one `anchor
//! scheduler` and two `anchor worker --concurrency 2` sharing a fresh Postgres database, a
//! Redis database (the job queue and the KV, under their own prefix) and a fresh S3 bucket,
//! with the dev TSA and two dev calendars served by this test on loopback.
//!
//! What it proves:
//! - the scheduler finds every due (tenant, period) of three tenants on the three plans
//!   (starter monthly TSA; pro weekly OTS + TSA; enterprise daily OTS and weekly TSA), and the
//!   workers anchor each exactly once: one run per period, none failed, held or left running,
//!   no incident opened by the sample verification;
//! - two worker processes share the queue and a dead one's work is not lost: worker-1 takes a
//!   run and is killed (`SIGKILL`) inside it (after the run's summary was appended, before the
//!   receipt); worker-2, started after, finishes every run, that one included, once its lease
//!   expired and the scheduler's reaper re-enqueued it — with one summary per root, not two;
//! - what the workers wrote to S3 is what a tenant can check: each receipt verifies against the
//!   store's JWKS and against the key set `anchor keys generate` published, names its run, and
//!   its root is `root.bin` and the root the merkle crate computes from the period's digests;
//! - every tenant's run-summary chain, exported from Postgres by `anchor ledger export`,
//!   passes `anchor ledger verify`, with one summary carrying a root per run;
//! - the queue used the Redis database number of its URL (apalis honours `redis://…/N`);
//! - losing Redis loses nothing: with OTS proofs pending, the Redis database of the queue and
//!   the KV is flushed (jobs, delayed retries, leases, the workers' registrations); worker-2
//!   registers again instead of exiting (`workers::handler`, `REDIS_RESTARTS`), the
//!   scheduler's reconciliation gives every pending anchor its upgrade job back from Postgres,
//!   and every run completes with a version-2 receipt.
//!
//! Skipped (loudly) without an S3 server (`LEDGER_TEST_S3_ENDPOINT`, which `scripts/test.sh`
//! sets), Postgres or Redis — except under `CI=true`, where that is a failure.

mod common;

/// Where worker-1 stops dead: after the run's summary is in the chain, before its receipt.
const CRASH_STEP: &str = "summary-appended";

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Children, DevServices, PgDatabase, RedisDb, anchor, poll, success};
use ledger::blob::{BlobKey, BlobStore, ReceiptFormat, RootArtifact, S3Store};
use ledger::config::Config;
use ledger::formats::{Receipt, RunSummary};
use ledger::keys::Jwks;
use ledger::sql::{
    ConsentAction, ConsentEntry, NewTenant, Run, RunFilter, RunStatus, Store, Visibility,
    hash_token, new_token,
};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::{ManifestDigest, Root};

/// Losing Redis (issue 22): with runs anchored and their OTS proofs pending, the queue's and
/// the KV's Redis database is flushed, jobs (their delayed upgrade retries), leases and all,
/// just after a block is mined on the dev calendars: every run still completes, because the
/// scheduler's reconciliation gives each pending anchor its upgrade job back from the SQL
/// store.
fn every_pending_run_completes_after_redis_loses_everything(
    redis: &RedisDb,
    dev: &DevServices,
    store: &Store,
    all_runs: &dyn Fn(&Store) -> Vec<Run>,
    children: &mut Children,
    logs: &Path,
) {
    let pending: Vec<String> = all_runs(store)
        .into_iter()
        .filter(|r| r.status == RunStatus::Anchored)
        .map(|r| r.id)
        .collect();
    assert!(!pending.is_empty(), "the OTS plans leave runs pending");
    // The fleet keeps running through it, so keys reappear at once (leases, registrations):
    // what matters is that nothing from before survives, which FLUSHDB guarantees.
    redis.flush();
    let blocks = dev.services.mine();
    assert!(
        !blocks.is_empty(),
        "the dev calendars had commitments to mine"
    );
    poll(
        "every pending run to complete after Redis was flushed",
        Duration::from_mins(2),
        || {
            children.assert_running(|name| log(logs, name));
            let runs = all_runs(store);
            pending
                .iter()
                .all(|id| {
                    runs.iter()
                        .any(|r| &r.id == id && r.status == RunStatus::Complete)
                })
                .then_some(())
        },
        || {
            format!(
                "pending before the flush: {pending:?}\nruns:\n{}\n{}",
                status_table(&all_runs(store)),
                ["scheduler", "worker-2"]
                    .iter()
                    .map(|n| format!("--- {n} ---\n{}", log(logs, n)))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        },
    );
}

/// Manifests per tenant and day.
const PER_DAY: u32 = 10;
/// How long the fleet may take to drain every due run.
const DRAIN_TIMEOUT: Duration = Duration::from_mins(3);
/// The scheduler's default grace after a period closes (`LEDGER_GRACE` is not set).
const GRACE: chrono::Duration = chrono::Duration::hours(1);
/// What the workers' logs say when they finish a rollup (`workers::rollup`).
const ROLLUP_DONE: &str = "rollup done";

/// One tenant of the fleet: its plan's cadences, when it was created, the days it has
/// manifests on.
struct TenantSpec {
    id: TenantId,
    plan: Plan,
    created: DateTime<Utc>,
    days: Vec<DateTime<Utc>>,
}

impl TenantSpec {
    fn new(name: &str, plan: Plan, now: DateTime<Utc>, age_days: i64) -> TenantSpec {
        TenantSpec {
            id: TenantId::new(name).unwrap(),
            plan,
            created: now - chrono::Duration::days(age_days),
            days: (1..age_days)
                .map(|d| now - chrono::Duration::days(d))
                .collect(),
        }
    }

    /// The default plans (`scheduler::Plans`): starter monthly, pro weekly, enterprise daily
    /// and weekly.
    fn cadences(&self) -> &'static [Cadence] {
        match self.plan {
            Plan::Starter => &[Cadence::Monthly],
            Plan::Pro => &[Cadence::Weekly],
            Plan::Enterprise => &[Cadence::Daily, Cadence::Weekly],
        }
    }

    /// The scheduler's rule: a period with manifests is due once it closed plus the grace, if
    /// it ended after the tenant was created (earlier ones are a backfill's).
    fn due(&self, now: DateTime<Utc>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for &cadence in self.cadences() {
            for &day in &self.days {
                let p = Period::containing(cadence, day);
                if p.end() > self.created && now >= p.end() + GRACE {
                    out.insert(Run::id_for(&self.id, p));
                }
            }
        }
        out
    }

    fn digests(&self, day: usize) -> Vec<ManifestDigest> {
        (0..PER_DAY)
            .map(|i| {
                let json = format!(r#"{{"tenant":"{}","day":{day},"i":{i}}}"#, self.id);
                merkle::canon::manifest_digest(json.as_bytes()).unwrap()
            })
            .collect()
    }
}

async fn create(store: &Store, t: &TenantSpec) {
    store
        .create_tenant(
            &NewTenant {
                id: t.id.clone(),
                plan: t.plan,
                token_hash: hash_token(&new_token()),
                max_roots_per_period: 100,
                cost_ceiling_micro_usd: 50_000_000,
            },
            t.created,
        )
        .await
        .unwrap();
    store
        .record_consent(
            &t.id,
            &ConsentEntry {
                action: ConsentAction::OptIn,
                visibility: Visibility::Public,
                signer: "fleet test".into(),
                reason: "fleet test".into(),
                at: t.created,
            },
        )
        .await
        .unwrap();
    for (i, &day) in t.days.iter().enumerate() {
        store
            .insert_manifests(&t.id, &t.digests(i), day)
            .await
            .unwrap();
    }
}

/// A process's stderr file.
fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// The run ids of the `rollup done` lines of a worker's log.
fn rollups_done(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains(ROLLUP_DONE))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("run="))
                .map(str::to_owned)
        })
        .collect()
}

fn status_table(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| format!("{} {} {:?}", r.id, r.status, r.errors))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[allow(clippy::too_many_lines)] // set-up, drive, and each check in turn
fn a_scheduler_and_two_workers_on_postgres_redis_and_s3_anchor_every_due_period_exactly_once() {
    let Some(endpoint) = testkit::s3_endpoint("the fleet test needs an S3 server") else {
        return;
    };
    let Some(pg) = PgDatabase::create_blocking("anchor_cli_fleet") else {
        return;
    };
    let kv_prefix = format!("anchor-cli-fleet-{}:", std::process::id());
    // apalis keeps its queues under the queue's name, and their list under `core:apalis:`.
    let Some(redis) = RedisDb::claim(&[
        &format!("{}*", workers::queue::QUEUE),
        "core:apalis:*",
        &format!("{kv_prefix}*"),
    ]) else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let dev = DevServices::start(&dir.path().join("services"));
    let keys = dir.path().join("keys");
    success(
        "anchor keys generate",
        &anchor()
            .args(["keys", "generate", "--out"])
            .arg(&keys)
            .output()
            .unwrap(),
    );
    let bucket = format!(
        "anchor-fleet-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let mut env: BTreeMap<String, String> = dev.env().into_iter().collect();
    for (k, v) in [
        (
            "LEDGER_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("LEDGER_DATABASE_URL", pg.url.clone()),
        ("LEDGER_QUEUE", redis.url.clone()),
        ("LEDGER_KV", redis.url.clone()),
        ("LEDGER_KV_PREFIX", kv_prefix.clone()),
        ("LEDGER_BLOBS", format!("s3://{bucket}")),
        ("LEDGER_S3_ENDPOINT", endpoint.clone()),
        ("LEDGER_S3_ACCESS_KEY_ID", "test-access-key".into()),
        ("LEDGER_S3_SECRET_ACCESS_KEY", "test-secret-key".into()),
        ("LEDGER_S3_PATH_STYLE", "true".into()),
        (
            "LEDGER_SIGNING_KEY_FILE",
            keys.join("signing-key.pem").display().to_string(),
        ),
        ("LEDGER_TICK", "1s".into()),
        // A dead worker's run is taken over after this long.
        ("LEDGER_RUN_LEASE", "3s".into()),
    ] {
        env.insert(k.into(), v);
    }
    let config = Config::from_sources(None, &env).unwrap();

    // Three tenants. A monthly period is only due when a month ended after the tenant was
    // created, so the starter tenant is 40 days old (a month end always lies in the last 31
    // days); the others are 20 days old.
    let now = Utc::now();
    let tenants = [
        TenantSpec::new("starter-co", Plan::Starter, now, 40),
        TenantSpec::new("pro-co", Plan::Pro, now, 20),
        TenantSpec::new("enterprise-co", Plan::Enterprise, now, 20),
    ];
    let due_at_start: BTreeSet<String> = tenants.iter().flat_map(|t| t.due(now)).collect();
    // Only `anchor migrate` creates a fleet's schema.
    success(
        "anchor migrate",
        &anchor().arg("migrate").envs(&env).output().unwrap(),
    );
    let (store, blobs) = dev.block_on(async {
        S3Store::new(&config.s3_config().unwrap().unwrap())
            .unwrap()
            .create_bucket_if_missing()
            .await
            .unwrap_or_else(|e| panic!("cannot create a bucket on {endpoint}: {e}"));
        let backends = config.open().await.unwrap();
        for t in &tenants {
            create(&backends.store, t).await;
        }
        (backends.store, backends.blobs)
    });
    assert!(matches!(blobs, BlobStore::S3(_)), "{}", blobs.describe());

    // The fleet, in an order that makes the hand-over certain: worker-1 and the scheduler
    // first; worker-1 stops dead inside its first rollup, after the run's summary was
    // appended (ANCHOR_TEST_CRASH_AT); then worker-2 joins and worker-1 is SIGKILLed. Worker-2
    // must finish every run, the ones worker-1 died in included (their leases expire, the
    // scheduler's reaper re-enqueues them), without a second summary or receipt.
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let all_logs = || {
        ["scheduler", "worker-1", "worker-2"]
            .iter()
            .map(|n| format!("--- {n} ---\n{}", log(&logs, n)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let spawn = |name: &str, args: &[&str], crash_at: Option<&str>| {
        let stderr = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
        let mut cmd = anchor();
        cmd.args(args)
            .envs(&env)
            .env("RUST_LOG", "warn,workers=info")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(step) = crash_at {
            cmd.env("ANCHOR_TEST_CRASH_AT", step);
        }
        cmd.spawn().unwrap()
    };
    let mut children = Children::default();
    children.push(
        "worker-1",
        spawn(
            "worker-1",
            &["worker", "--concurrency", "2"],
            Some(CRASH_STEP),
        ),
    );
    children.push("scheduler", spawn("scheduler", &["scheduler"], None));
    poll(
        "worker-1 to stop inside a rollup",
        Duration::from_mins(1),
        || {
            children.assert_running(|name| log(&logs, name));
            log(&logs, "worker-1")
                .contains(&format!("CRASHPOINT {CRASH_STEP}"))
                .then_some(())
        },
        all_logs,
    );
    children.push(
        "worker-2",
        spawn("worker-2", &["worker", "--concurrency", "2"], None),
    );
    children.kill("worker-1");
    let all_runs = |store: &Store| {
        dev.block_on(store.runs(&RunFilter {
            tenant: None,
            status: None,
            limit: Some(100_000),
        }))
        .unwrap()
    };

    // Until every run due at the start exists and none is queued or running.
    let runs = poll(
        "every due run to be created and finished",
        DRAIN_TIMEOUT,
        || {
            children.assert_running(|name| log(&logs, name));
            let runs = all_runs(&store);
            let ids: BTreeSet<String> = runs.iter().map(|r| r.id.clone()).collect();
            let busy = runs
                .iter()
                .any(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running));
            (due_at_start.is_subset(&ids) && !busy).then_some(runs)
        },
        || {
            format!(
                "due: {due_at_start:?}\nruns:\n{}\n{}",
                status_table(&all_runs(&store)),
                all_logs()
            )
        },
    );
    let drained = started.elapsed();
    // A worker records the run in the store before it logs `rollup done`: wait for the line
    // of every run before stopping the fleet.
    let ids: BTreeSet<String> = runs.iter().map(|r| r.id.clone()).collect();
    let (by_1, by_2) = poll(
        "the workers' logs to name every run",
        Duration::from_secs(30),
        || {
            let by_1 = rollups_done(&log(&logs, "worker-1"));
            let by_2 = rollups_done(&log(&logs, "worker-2"));
            ids.iter()
                .all(|id| by_1.contains(id) || by_2.contains(id))
                .then_some((by_1, by_2))
        },
        || format!("runs: {ids:?}\n{}", all_logs()),
    );
    every_pending_run_completes_after_redis_loses_everything(
        &redis,
        &dev,
        &store,
        &all_runs,
        &mut children,
        &logs,
    );
    children.kill_all();

    // One anchored or complete run per due period (run ids are `{tenant}:{period}`), and
    // nothing else.
    let due_at_end: BTreeSet<String> = tenants.iter().flat_map(|t| t.due(Utc::now())).collect();
    assert!(
        ids.is_subset(&due_at_end),
        "runs for periods that are not due: {:?}",
        ids.difference(&due_at_end).collect::<Vec<_>>()
    );
    let unfinished: Vec<&Run> = runs
        .iter()
        .filter(|r| !matches!(r.status, RunStatus::Anchored | RunStatus::Complete))
        .collect();
    assert!(
        unfinished.is_empty(),
        "runs not anchored:\n{}\n{}",
        unfinished
            .iter()
            .map(|r| format!("{} {} {:?}", r.id, r.status, r.errors))
            .collect::<Vec<_>>()
            .join("\n"),
        all_logs()
    );
    for t in &tenants {
        assert!(
            runs.iter().any(|r| r.tenant == t.id),
            "{} ({:?}) got no run; due: {due_at_start:?}",
            t.id,
            t.plan
        );
    }

    // Worker-1 took work and died in it; worker-2 finished everything, those runs included.
    assert!(
        by_1.is_empty(),
        "worker-1 was stopped in its first rollup, yet finished {by_1:?}"
    );
    assert_eq!(by_2, ids, "worker-2 finished every run\n{}", all_logs());
    assert!(
        by_1.is_disjoint(&by_2),
        "runs finished by both workers: {:?}",
        by_1.intersection(&by_2).collect::<Vec<_>>()
    );
    let finished: BTreeSet<String> = by_1.union(&by_2).cloned().collect();
    assert_eq!(finished, ids, "the workers' logs do not name every run");

    // Each receipt in S3, against the store's keys and the published key set.
    let published = Jwks::from_json(&std::fs::read(keys.join("jwks.json")).unwrap()).unwrap();
    dev.block_on(async {
        let jwks = store.jwks(true).await.unwrap();
        for run in &runs {
            let (t, p) = (&run.tenant, &run.period);
            let get = async |key: &BlobKey| {
                blobs
                    .get(key)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{key} is not in the bucket"))
            };
            let latest = get(&BlobKey::receipt_latest(t, p, ReceiptFormat::Json)).await;
            let v1 = get(&BlobKey::receipt_version(t, p, 1, ReceiptFormat::Json).unwrap()).await;
            // Version 2 when the OTS proof was confirmed after the flush, else version 1.
            let v2 = blobs
                .get(&BlobKey::receipt_version(t, p, 2, ReceiptFormat::Json).unwrap())
                .await
                .unwrap();
            let newest = v2.unwrap_or(v1);
            assert!(
                latest == newest,
                "{}: the latest receipt is not its newest version",
                run.id
            );
            let receipt = Receipt::from_json(&latest).unwrap();
            for keys in [&jwks, &published] {
                receipt
                    .verify_signature(keys)
                    .unwrap_or_else(|e| panic!("{}: receipt signature: {e}", run.id));
            }
            assert_eq!(receipt.run_id, run.id);
            let root_bin = get(&BlobKey::root_artifact(t, p, RootArtifact::Bin)).await;
            assert_eq!(root_bin, receipt.root.0.0.to_vec(), "{}: root.bin", run.id);
            let digests = store.period_digests(t, *p).await.unwrap();
            let leaves: Vec<merkle::Hash> = digests.iter().map(ManifestDigest::leaf_hash).collect();
            let reference = Root(merkle::tree::root_of_leaf_hashes(&leaves));
            assert_eq!(
                (receipt.root, receipt.tree_size),
                (reference, digests.len() as u64),
                "{}: the receipt's root is not the period's tree",
                run.id
            );
            assert_eq!(run.root, Some(reference), "{}: the run row's root", run.id);
            let with_root = store
                .run_summaries(t, &run.id)
                .await
                .unwrap()
                .iter()
                .filter(|row| RunSummary::from_bytes(&row.bytes).unwrap().root.is_some())
                .count();
            assert_eq!(with_root, 1, "{}: summaries with a root", run.id);
        }
        let incidents = store.incidents(true).await.unwrap();
        assert!(incidents.is_empty(), "open incidents: {incidents:#?}");
        store.close().await;
    });

    // Every tenant's chain, exported and verified by the CLI.
    for t in &tenants {
        let chain: PathBuf = dir.path().join(format!("{}.jsonl", t.id));
        success(
            &format!("ledger export {}", t.id),
            &anchor()
                .args(["ledger", "export", "--tenant", t.id.as_str(), "--out"])
                .arg(&chain)
                .envs(&env)
                .output()
                .unwrap(),
        );
        success(
            &format!("ledger verify {}", t.id),
            &anchor()
                .args(["ledger", "verify"])
                .arg(&chain)
                .arg("--jwks")
                .arg(keys.join("jwks.json"))
                .output()
                .unwrap(),
        );
    }

    // The queue lived in the claimed database (the Redis URL's /N was honoured).
    assert!(
        !redis
            .keys(&format!("{}*", workers::queue::QUEUE))
            .is_empty(),
        "no queue keys in {}",
        redis.url
    );
    eprintln!(
        "fleet: {} runs ({} by worker-1, {} by worker-2) drained in {:.1} s, checked in {:.1} s",
        runs.len(),
        by_1.len(),
        by_2.len(),
        drained.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Issue 26: a worker started against an existing empty database used to create its tables
/// there, take the shared queue's jobs and acknowledge them as done ("run … not found").
#[test]
fn a_worker_on_an_unmigrated_or_foreign_database_refuses_to_start_and_creates_nothing() {
    let Some(pg) = PgDatabase::create_blocking("anchor_cli_wrong_db") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [
        (
            "LEDGER_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("LEDGER_DATABASE_URL", pg.url.clone()),
    ];
    for role in [&["worker"][..], &["scheduler"], &["api"]] {
        let out = anchor()
            .args(role)
            .envs(env.clone())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{role:?}: {stderr}");
        assert!(
            stderr.contains("no Ledger Anchors schema") && stderr.contains("anchor migrate"),
            "{role:?}: {stderr}"
        );
    }
    // Nothing was created: the database still has no schema.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let empty = rt.block_on(Store::open(&pg.url, ledger::sql::Schema::Require));
    assert!(
        matches!(empty, Err(ledger::LedgerError::Schema(ref m)) if m.contains("no Ledger Anchors schema")),
        "{empty:?}"
    );

    // Migrated, it belongs to a fleet; a worker pinned to another fleet refuses too.
    let migrated = anchor().arg("migrate").envs(env.clone()).output().unwrap();
    success("anchor migrate", &migrated);
    let fleet: serde_json::Value = serde_json::from_slice(&migrated.stdout).unwrap();
    let fleet = fleet["fleet"].as_str().unwrap().to_owned();
    // The operator sees the fleet's queue, named after it, empty.
    let status = anchor()
        .args(["queue", "status"])
        .envs(env.clone())
        .output()
        .unwrap();
    success("anchor queue status", &status);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["queue"], format!("ledger-anchors-jobs:{fleet}"));
    assert_eq!(
        (&status["stored"], &status["dead_letters"]),
        (&0.into(), &0.into())
    );
    let letters = anchor()
        .args(["queue", "dead-letters"])
        .envs(env.clone())
        .output()
        .unwrap();
    assert_eq!(success("anchor queue dead-letters", &letters), "");
    let other = "0".repeat(32);
    let out = anchor()
        .arg("worker")
        .envs(env.clone())
        .env("LEDGER_FLEET", &other)
        .env("LEDGER_SIGNING_KEY_FILE", dir.path().join("absent.pem"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("belongs to fleet {fleet}")) && stderr.contains(&other),
        "{stderr}"
    );
}
