//! Shared set-up of the scheduling-policy tests: a whole embedded fleet in one process.
//!
//! Real parts: the SQLite store, the local blob directory, the SQLite queue file, the signing
//! key and an RFC 3161 dev TSA served over loopback HTTP (the same CA and responder `anchor
//! up` starts). OTS calendars are dev calendars (`stamp::devcal`) or wiremock servers where a
//! test needs an outage or a Bitcoin attestation. Jobs are driven by calling the job
//! functions directly, so each test decides the order of events.

#![allow(dead_code)] // every test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use ledger::blob::{BlobKey, ReceiptFormat, RootArtifact};
use ledger::config::Config;
use ledger::formats::{Receipt, RunSummary};
use ledger::sql::{ConsentAction, ConsentEntry, NewTenant, Run, Visibility};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::ManifestDigest;
use scheduler_process::TickReport;
use sha2::{Digest as _, Sha256};
use stamp::tsp::devca;
use stamp::tsp::responder::{DEV_POLICY, Responder};
use workers::Ctx;
use workers::job::Job;

/// Serves `router` on a loopback port; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// A dev OpenTimestamps calendar on loopback (answers every submission, never upgrades).
pub async fn dev_calendar() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = stamp::devcal::router(&url);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// The dev TSA: a throwaway CA (its certificate written to `dir/dev-tsa-ca.pem`) and the
/// RFC 3161 responder. Returns the URL and the CA file.
pub async fn dev_tsa(dir: &Path) -> (String, PathBuf) {
    let ca = devca::make(Utc::now());
    let ca_file = dir.join("dev-tsa-ca.pem");
    std::fs::write(&ca_file, ca.ca_cert.to_pem()).unwrap();
    let key = devca::load_p256_key(&ca.tsa_key_pem).unwrap();
    let policy = stamp::tsp::parse_oid(DEV_POLICY).unwrap();
    let responder =
        Responder::new(key, ca.tsa_cert.clone(), vec![ca.ca_cert.clone()], policy).unwrap();
    let url = serve(stamp::tsp::responder::router(Arc::new(responder))).await;
    (url, ca_file)
}

/// One embedded fleet: its data directory, its configuration and a worker context on it.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub vars: BTreeMap<String, String>,
    pub ctx: Ctx,
    pub tsa_url: String,
    /// Offsets the tick instants so every tick gets its own tick number (and lease).
    ticks: AtomicI64,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet on a new temporary directory with the dev TSA, `calendars` (OTS m = 1) and the
    /// variables `extra` (which win over the defaults here).
    pub async fn start(calendars: &[String], extra: &[(&str, &str)]) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let (tsa_url, ca_file) = dev_tsa(dir.path()).await;
        let mut vars: BTreeMap<String, String> = [
            (
                "LEDGER_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
            ("LEDGER_TSA_URL", tsa_url.clone()),
            ("LEDGER_TSA_CA_FILE", ca_file.display().to_string()),
            ("LEDGER_TSA_POLICY", DEV_POLICY.to_owned()),
            ("LEDGER_OTS_CALENDARS", calendars.join(",")),
            ("LEDGER_OTS_MIN", "1".to_owned()),
            ("LEDGER_TICK", "1s".to_owned()),
            ("LEDGER_GRACE", "1h".to_owned()),
            ("LEDGER_SAMPLE_SIZE", "5".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let ctx = open(&vars).await;
        Fleet {
            dir,
            vars,
            ctx,
            tsa_url,
            ticks: AtomicI64::new(0),
        }
    }

    /// Another worker context on the same backends, with `extra` variables changed (a worker
    /// restarted with a new configuration).
    pub async fn reopen(&self, extra: &[(&str, &str)]) -> Ctx {
        let mut vars = self.vars.clone();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        open(&vars).await
    }

    /// One scheduler tick now (each call a distinct tick number, so the tick lease of an
    /// earlier call never makes it skip).
    pub async fn tick(&self) -> TickReport {
        let n = self.ticks.fetch_add(1, Ordering::SeqCst);
        let report =
            scheduler_process::tick::tick(&self.ctx, Utc::now() + Duration::seconds(2 * n))
                .await
                .unwrap();
        assert!(report.ran, "the tick lease was free");
        report
    }

    pub fn queue_path(&self) -> PathBuf {
        PathBuf::from(&self.vars["LEDGER_DATA_DIR"]).join("queue.sqlite")
    }

    /// Takes `job` off the queue as a worker's delivery would (its row goes, and with it the
    /// job's key, so the same job can be queued again).
    pub async fn consume(&self, job: &Job) {
        let url = format!("sqlite://{}", self.queue_path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM Jobs WHERE idempotency_key = ?1")
            .bind(job.key())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    /// Every job in the queue with the Unix second it may run at, in insertion order.
    pub async fn queued_jobs(&self) -> Vec<(Job, i64)> {
        let url = format!("sqlite://{}", self.queue_path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows: Vec<(Vec<u8>, i64)> =
            sqlx::query_as("SELECT job, run_at FROM Jobs ORDER BY rowid")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows.into_iter()
            .map(|(job, at)| {
                let job: Job = serde_json::from_slice(&job).unwrap_or_else(|e| {
                    panic!("queued job {:?}: {e}", String::from_utf8_lossy(&job))
                });
                (job, at)
            })
            .collect()
    }
}

/// A worker context on `vars` (the embedded defaults: generated signing key allowed).
pub async fn open(vars: &BTreeMap<String, String>) -> Ctx {
    let config = Config::from_sources(None, vars).unwrap();
    if !config.is_embedded() {
        // Outside the embedded defaults only a migration (`anchor migrate`) makes the schema.
        std::fs::create_dir_all(&config.data_dir).unwrap();
        ledger::sql::Store::connect(&config.database_url)
            .await
            .unwrap()
            .close()
            .await;
    }
    Ctx::open(&config, true).await.unwrap()
}

pub fn tenant_id(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// Creates `name` on `plan` at `created_at` and opts it in at that instant.
pub async fn tenant(
    ctx: &Ctx,
    name: &str,
    plan: Plan,
    created_at: DateTime<Utc>,
    ceiling_micro_usd: u64,
    max_roots_per_period: u32,
) -> TenantId {
    let id = tenant_id(name);
    ctx.store
        .create_tenant(
            &NewTenant {
                id: id.clone(),
                plan,
                token_hash: ledger::sql::hash_token(&ledger::sql::new_token()),
                max_roots_per_period,
                cost_ceiling_micro_usd: ceiling_micro_usd,
            },
            created_at,
        )
        .await
        .unwrap();
    consent(ctx, &id, ConsentAction::OptIn, created_at).await;
    id
}

pub async fn consent(ctx: &Ctx, id: &TenantId, action: ConsentAction, at: DateTime<Utc>) {
    ctx.store
        .record_consent(
            id,
            &ConsentEntry {
                action,
                visibility: Visibility::Public,
                signer: "tests@ledger-anchors".into(),
                reason: format!("policy test: {action}"),
                at,
            },
        )
        .await
        .unwrap();
}

/// `n` distinct digests, different for every `(tenant, label)`.
pub fn digests(tenant: &TenantId, label: &str, n: u32) -> Vec<ManifestDigest> {
    (0..n)
        .map(|i| ManifestDigest(Sha256::digest(format!("{tenant}/{label}/{i}")).into()))
        .collect()
}

/// Files `n` manifests of `tenant` as received an hour into `period`.
pub async fn manifests(ctx: &Ctx, tenant: &TenantId, period: Period, n: u32) {
    let got = ctx
        .store
        .insert_manifests(
            tenant,
            &digests(tenant, &period.to_string(), n),
            period.start() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(got.accepted, u64::from(n));
}

/// The ISO week `k` weeks before the current one.
pub fn week_ago(k: i64) -> Period {
    Period::containing(Cadence::Weekly, Utc::now() - Duration::weeks(k))
}

/// The UTC day `k` days before today.
pub fn day_ago(k: i64) -> Period {
    Period::containing(Cadence::Daily, Utc::now() - Duration::days(k))
}

pub fn run_id(t: &TenantId, p: Period) -> String {
    Run::id_for(t, p)
}

pub async fn blob(ctx: &Ctx, key: &BlobKey) -> Option<Vec<u8>> {
    ctx.blobs.get(key).await.unwrap()
}

pub async fn receipt_version_bytes(ctx: &Ctx, t: &TenantId, p: Period, n: u32) -> Option<Vec<u8>> {
    blob(
        ctx,
        &BlobKey::receipt_version(t, &p, n, ReceiptFormat::Json).unwrap(),
    )
    .await
}

pub async fn latest_receipt_bytes(ctx: &Ctx, t: &TenantId, p: Period) -> Option<Vec<u8>> {
    blob(ctx, &BlobKey::receipt_latest(t, &p, ReceiptFormat::Json)).await
}

/// Receipt version `n`, checked (format rules and signature against the store's JWKS).
pub async fn receipt(ctx: &Ctx, t: &TenantId, p: Period, n: u32) -> Receipt {
    let bytes = receipt_version_bytes(ctx, t, p, n)
        .await
        .unwrap_or_else(|| panic!("receipt v{n} of {t}:{p} is missing"));
    let r = Receipt::from_json(&bytes).unwrap();
    r.verify_signature(&ctx.store.jwks(true).await.unwrap())
        .unwrap();
    assert_eq!(r.version, n);
    r
}

pub async fn root_artifact(ctx: &Ctx, t: &TenantId, p: Period, a: RootArtifact) -> Option<Vec<u8>> {
    blob(ctx, &BlobKey::root_artifact(t, &p, a)).await
}

/// Nothing of the period's tree, stamps or receipts is stored.
pub async fn assert_nothing_written(ctx: &Ctx, t: &TenantId, p: Period) {
    for a in [
        RootArtifact::Levels,
        RootArtifact::Bin,
        RootArtifact::Ots,
        RootArtifact::Tsr,
    ] {
        assert!(
            root_artifact(ctx, t, p, a).await.is_none(),
            "{a:?} of {t}:{p} was written"
        );
    }
    assert!(blob(ctx, &BlobKey::root_meta(t, &p)).await.is_none());
    assert!(latest_receipt_bytes(ctx, t, p).await.is_none());
    assert!(receipt_version_bytes(ctx, t, p, 1).await.is_none());
}

/// The run summaries a run appended, oldest first.
pub async fn summaries_of(ctx: &Ctx, t: &TenantId, run: &str) -> Vec<RunSummary> {
    ctx.store
        .run_summaries(t, run)
        .await
        .unwrap()
        .iter()
        .map(|row| RunSummary::from_bytes(&row.bytes).unwrap())
        .collect()
}

/// Verifies the tenant's whole chain (seq, prev links, ts order, signatures); returns its
/// length.
pub async fn assert_chain_verifies(ctx: &Ctx, t: &TenantId) -> usize {
    let jsonl = ctx.store.export_jsonl(t).await.unwrap();
    let jwks = ctx.store.jwks(true).await.unwrap();
    ledger::chain::verify_jsonl(&jsonl, &jwks).unwrap().lines
}

/// A calendar's answer to a submission: the commitment is pending at `uri`.
pub fn pending_answer(uri: &str) -> Vec<u8> {
    stamp::Timestamp {
        msg: Vec::new(),
        entries: vec![stamp::Entry::Attestation(stamp::Attestation::Pending {
            uri: uri.to_owned(),
        })],
    }
    .to_bytes()
    .unwrap()
}

/// Makes the wiremock calendar `server` fail every submission with HTTP 500.
pub async fn calendar_down(server: &wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    server.reset().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/digest"))
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_string("calendar is down"))
        .mount(server)
        .await;
}

/// Makes the wiremock calendar `server` accept every submission (pending at itself).
pub async fn calendar_up(server: &wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    server.reset().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/digest"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_bytes(pending_answer(&server.uri())),
        )
        .mount(server)
        .await;
}

/// How many submissions (`POST /digest`) the wiremock calendar received since its last reset.
pub async fn submissions(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method == wiremock::http::Method::POST && r.url.path() == "/digest")
        .count()
}

/// Runs the rollup job of a run once (boxed: the rollup's future is large).
pub async fn rollup(ctx: &Ctx, run_id: &str) -> workers::rollup::Rollup {
    Box::pin(workers::rollup::rollup(ctx, run_id))
        .await
        .unwrap()
}
