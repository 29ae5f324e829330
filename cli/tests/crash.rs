//! The rollup survives a `SIGKILL` at every step: for each of `workers::rollup::CHECKPOINTS`,
//! an `anchor run` is stopped dead there (`ANCHOR_TEST_CRASH_AT`), killed, and a second
//! `anchor run` takes the run over once its lease (1 s) has expired. The end state must be the
//! one an uninterrupted run leaves: one root (the one the merkle crate computes independently
//! from the period's digests), receipt v1 and no v2, the latest receipt equal to v1, one
//! summary with a root in a chain that verifies, nothing half-written in the blob directory,
//! and every manifest still in the store.
//!
//! Embedded defaults (SQLite store, SQLite queue, a local blob directory), a tenant on the
//! `pro` plan (OTS + RFC 3161, so every step runs), the dev TSA and two dev calendars served
//! by this test on loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{DevServices, anchor, success, text};
use ledger::blob::{BlobKey, ReceiptFormat, RootArtifact};
use ledger::config::Config;
use ledger::formats::{Receipt, RootMetadata, RunSummary};
use ledger::sql::{
    ConsentAction, ConsentEntry, NewTenant, RunStatus, Store, Visibility, hash_token, new_token,
};
use ledger::{Cadence, Period, Plan, TenantId};
use merkle::{ManifestDigest, Root};

/// Distinct manifests in the period (some are submitted twice, on two days).
const MANIFESTS: u32 = 300;
/// How long a killed worker keeps the run: the rerun must wait this out.
const LEASE: &str = "1s";
/// How long a child may take to reach its crash point.
const CRASH_TIMEOUT: Duration = Duration::from_secs(30);

/// One checkpoint's world: a fresh data directory whose tenant has one closed week of
/// manifests.
struct World<'a> {
    dir: tempfile::TempDir,
    dev: &'a DevServices,
    tenant: TenantId,
    period: Period,
    /// The sorted distinct digests the period holds.
    digests: Vec<ManifestDigest>,
}

impl World<'_> {
    fn new(dev: &DevServices) -> World<'_> {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let tenant = TenantId::new("crash-co").unwrap();
        // A closed ISO week two weeks back, well after the tenant was created.
        let period = Period::containing(Cadence::Weekly, now - chrono::Duration::days(14));
        let all: Vec<ManifestDigest> = (0..MANIFESTS)
            .map(|i| {
                let json = format!(r#"{{"tenant":"crash-co","artifact":"build-{i}.tar.gz"}}"#);
                merkle::canon::manifest_digest(json.as_bytes()).unwrap()
            })
            .collect();
        let mut digests = all.clone();
        merkle::leaf::sort_and_dedup(&mut digests);
        let world = World {
            dir,
            dev,
            tenant,
            period,
            digests,
        };
        dev.block_on(async {
            let store = world.store().await;
            let created = now - chrono::Duration::days(30);
            store
                .create_tenant(
                    &NewTenant {
                        id: world.tenant.clone(),
                        plan: Plan::Pro,
                        token_hash: hash_token(&new_token()),
                        max_roots_per_period: 100,
                        cost_ceiling_micro_usd: 50_000_000,
                    },
                    created,
                )
                .await
                .unwrap();
            store
                .record_consent(
                    &world.tenant,
                    &ConsentEntry {
                        action: ConsentAction::OptIn,
                        visibility: Visibility::Public,
                        signer: "crash test".into(),
                        reason: "crash test".into(),
                        at: created,
                    },
                )
                .await
                .unwrap();
            // Three days of the week, in submission (not leaf) order; the third day repeats
            // 40 digests of the first, which the tree must count once.
            let start = period.start();
            let third = all.len() / 3;
            for (day, batch) in [
                (1, &all[..third]),
                (3, &all[third..2 * third]),
                (5, &all[2 * third..]),
                (5, &all[..40]),
            ] {
                store
                    .insert_manifests(&world.tenant, batch, start + chrono::Duration::days(day))
                    .await
                    .unwrap();
            }
            store.close().await;
        });
        world
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn blobs(&self) -> PathBuf {
        self.data().join("blobs")
    }

    /// The child's configuration: the embedded defaults under `data`, the dev services, a
    /// short lease.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.dev.env();
        env.push(("LEDGER_DATA_DIR".into(), self.data().display().to_string()));
        env.push(("LEDGER_RUN_LEASE".into(), LEASE.into()));
        env
    }

    /// The store the children use (created and migrated on first use).
    async fn store(&self) -> Store {
        let env: BTreeMap<String, String> = self.env().into_iter().collect();
        let config = Config::from_sources(None, &env).unwrap();
        config.open().await.unwrap().store
    }

    fn run_cmd(&self) -> std::process::Command {
        let mut cmd = anchor();
        cmd.args([
            "run",
            "--tenant",
            self.tenant.as_str(),
            "--period",
            &self.period.to_string(),
        ])
        .envs(self.env());
        cmd
    }

    /// `anchor run` with `ANCHOR_TEST_CRASH_AT=step`, killed (`SIGKILL`) once it announces
    /// that it stopped there.
    fn crash_at(&self, step: &str) {
        let mut child = self
            .run_cmd()
            .env("ANCHOR_TEST_CRASH_AT", step)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let want = format!("CRASHPOINT {step}");
        let deadline = Instant::now() + CRASH_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.trim() == want => break,
                Ok(line) => seen.push(line),
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    panic!(
                        "`anchor run` never printed {want:?} ({e}; it ended with {status}); its stderr:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{step}: the killed run exited successfully"
        );
    }

    /// `anchor run` without a crash point, again while the killed worker's lease still holds
    /// (it then exits 3, `"result":"lease-held"`, without working), until the run is
    /// anchored (exit 0). Returns its stdout line.
    fn rerun(&self, step: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.run_cmd().output().unwrap();
            let stdout = text(&out.stdout);
            let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
                panic!(
                    "{step}: the rerun printed {stdout:?}: {e}\nstderr: {}",
                    text(&out.stderr)
                )
            });
            if line["status"] == "anchored" {
                success(&format!("{step}: the rerun"), &out);
                return line;
            }
            assert!(
                out.status.code() == Some(3)
                    && line["result"] == "lease-held"
                    && Instant::now() < deadline,
                "{step}: the rerun did not anchor the run: {line}\nstderr: {}",
                text(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The root an uninterrupted computation gives: RFC 9162 over the sorted distinct digests.
fn reference_root(digests: &[ManifestDigest]) -> Root {
    let leaves: Vec<merkle::Hash> = digests.iter().map(ManifestDigest::leaf_hash).collect();
    Root(merkle::tree::root_of_leaf_hashes(&leaves))
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.insert(rel.to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    out
}

/// What the killed run left: the run not finished, and what the steps before `step` store
/// already stored (so the rerun had to resume from it rather than start afresh).
fn check_crash_state(world: &World<'_>, step: &str) {
    let (t, p) = (&world.tenant, &world.period);
    let after = |earlier: &str| {
        let at = |s: &str| workers::rollup::CHECKPOINTS.iter().position(|c| *c == s);
        at(step).zip(at(earlier)).is_some_and(|(a, b)| a >= b)
    };
    let stored = |key: &BlobKey| world.blobs().join(key.as_str()).exists();
    if after("tree-stored") {
        assert!(
            stored(&BlobKey::root_artifact(t, p, RootArtifact::Levels)),
            "{step}: levels.bin not stored before the crash"
        );
    }
    if after("stamped") {
        assert!(
            stored(&BlobKey::root_artifact(t, p, RootArtifact::Tsr)),
            "{step}: root.tsr not stored before the crash"
        );
    }
    if after("receipt-version-written") {
        assert!(
            stored(&BlobKey::receipt_version(t, p, 1, ReceiptFormat::Json).unwrap()),
            "{step}: receipt v1 not stored before the crash"
        );
    }
    world.dev.block_on(async {
        let store = world.store().await;
        let logged = store.receipt_log(t, None).await.unwrap().len();
        assert_eq!(
            logged,
            usize::from(after("receipt-logged")),
            "{step}: receipt log entries before the rerun"
        );
        let run = store.run(&format!("{t}:{p}")).await.unwrap();
        assert_eq!(run.status, RunStatus::Running, "{step}: after the kill");
        let summaries = store.run_summaries(t, &run.id).await.unwrap().len();
        assert_eq!(
            summaries,
            usize::from(after("summary-appended")),
            "{step}: summaries before the rerun"
        );
        store.close().await;
    });
}

/// Checks the end state of `world` after the crash at `step` and the rerun.
#[allow(clippy::too_many_lines)] // one check after the other, each with its own message
fn check_end_state(world: &World<'_>, step: &str, rerun: &serde_json::Value) {
    let (t, p) = (&world.tenant, &world.period);
    let expected = reference_root(&world.digests);
    let size = world.digests.len() as u64;
    let run_id = format!("{t}:{p}");
    assert_eq!(rerun["root"], expected.to_string(), "{step}: `anchor run`");

    // Exactly the final keys of one run, nothing temporary or partial. Proof keys are allowed
    // (not required): the rollup is moving to proofs derived on demand.
    let blobs = world.blobs();
    let required: BTreeSet<String> = [
        BlobKey::root_meta(t, p),
        BlobKey::root_artifact(t, p, RootArtifact::Bin),
        BlobKey::root_artifact(t, p, RootArtifact::Levels),
        BlobKey::root_artifact(t, p, RootArtifact::Ots),
        BlobKey::root_artifact(t, p, RootArtifact::Tsr),
        BlobKey::receipt_version(t, p, 1, ReceiptFormat::Json).unwrap(),
        BlobKey::receipt_latest(t, p, ReceiptFormat::Json),
    ]
    .iter()
    .cloned()
    // Every tile of the period's tree (C2SP tlog-tiles), each exactly once.
    .chain(
        merkle::tiles::tree_tiles(merkle::TreeSize(size))
            .into_iter()
            .map(|id| BlobKey::root_tile(t, p, id)),
    )
    // The tenant's receipt log holding the one receipt: its tiles, its one checkpoint (and
    // the pointer to it) and its key; never a second entry for the retried receipt.
    .chain(
        merkle::tiles::tree_tiles(merkle::TreeSize(1))
            .into_iter()
            .map(|id| BlobKey::log_tile(t, id)),
    )
    .chain([
        BlobKey::log_checkpoint_at(t, 1),
        BlobKey::log_checkpoint(t),
        BlobKey::log_vkey(t),
    ])
    .map(|k| k.as_str().to_owned())
    .collect();
    let proofs: BTreeSet<String> = world
        .digests
        .iter()
        .flat_map(|d| [BlobKey::proof(t, p, d), BlobKey::proof_ots(t, p, d)])
        .map(|k| k.as_str().to_owned())
        .collect();
    let found = files(&blobs);
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|f| !required.contains(*f) && !proofs.contains(*f))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{step}: files under {} that are no final key of this run (temporary, partial or a second version): {unexpected:#?}",
        blobs.display()
    );
    let missing: Vec<&String> = required.difference(&found).collect();
    assert!(missing.is_empty(), "{step}: missing {missing:#?}");

    let read = |key: &BlobKey| std::fs::read(blobs.join(key.as_str())).unwrap();
    let root_bin = read(&BlobKey::root_artifact(t, p, RootArtifact::Bin));
    assert_eq!(
        root_bin,
        expected.0.0.to_vec(),
        "{step}: root.bin is not the reference root"
    );
    let meta = RootMetadata::from_json(&read(&BlobKey::root_meta(t, p))).unwrap();
    assert_eq!(
        (meta.root, meta.tree_size),
        (expected, size),
        "{step}: root metadata"
    );
    let v1 = read(&BlobKey::receipt_version(t, p, 1, ReceiptFormat::Json).unwrap());
    let latest = read(&BlobKey::receipt_latest(t, p, ReceiptFormat::Json));
    assert!(
        latest == v1,
        "{step}: the latest receipt is not v1 byte for byte:\nv1: {}\nlatest: {}",
        text(&v1),
        text(&latest)
    );
    let receipt = Receipt::from_json(&v1).unwrap();

    world.dev.block_on(async {
        let store = world.store().await;
        let jwks = store.jwks(true).await.unwrap();
        receipt
            .verify_signature(&jwks)
            .unwrap_or_else(|e| panic!("{step}: receipt signature: {e}"));
        assert_eq!(
            (receipt.root, receipt.tree_size, receipt.version),
            (expected, size, 1),
            "{step}: receipt"
        );
        assert_eq!(receipt.run_id, run_id, "{step}: receipt run id");

        let logged = store.receipt_log(t, None).await.unwrap();
        let v1_hash: [u8; 32] = merkle::Hash::sha256(&v1).0;
        assert_eq!(
            logged
                .iter()
                .map(|e| (e.period, e.version, e.sha256))
                .collect::<Vec<_>>(),
            vec![(*p, 1, v1_hash)],
            "{step}: the receipt log holds receipt v1 exactly once"
        );

        let run = store.run(&run_id).await.unwrap();
        assert_eq!(run.status, RunStatus::Anchored, "{step}: {run:?}");
        assert_eq!(
            (run.root, run.tree_size),
            (Some(expected), Some(size)),
            "{step}"
        );

        let with_root: Vec<(RunSummary, [u8; 32])> = store
            .run_summaries(t, &run_id)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (RunSummary::from_bytes(&row.bytes).unwrap(), row.hash))
            .filter(|(s, _)| s.root.is_some())
            .collect();
        assert_eq!(
            with_root.len(),
            1,
            "{step}: summaries with a root for {run_id}: {with_root:#?}"
        );
        let (summary, hash) = &with_root[0];
        assert_eq!(summary.root, Some(expected), "{step}: summary root");
        assert_eq!(
            receipt.summary_hash,
            merkle::Hash(*hash).to_hex(),
            "{step}: the receipt names another summary"
        );

        assert_eq!(
            store.period_digests(t, *p).await.unwrap(),
            world.digests,
            "{step}: the period's manifests changed"
        );
        assert_eq!(
            store.count_period_manifests(t, *p).await.unwrap(),
            size,
            "{step}"
        );
        store.close().await;
    });

    // The chain, exported and verified by the CLI against the store's published keys.
    let chain = world.dir.path().join("chain.jsonl");
    let jwks = world.dir.path().join("jwks.json");
    let _ = std::fs::remove_file(&chain);
    success(
        &format!("{step}: ledger export"),
        &anchor()
            .args(["ledger", "export", "--tenant", t.as_str(), "--out"])
            .arg(&chain)
            .envs(world.env())
            .output()
            .unwrap(),
    );
    let keys = success(
        &format!("{step}: keys jwks"),
        &anchor()
            .args(["keys", "jwks", "--all"])
            .envs(world.env())
            .output()
            .unwrap(),
    );
    std::fs::write(&jwks, keys).unwrap();
    let verified = success(
        &format!("{step}: ledger verify"),
        &anchor()
            .args(["ledger", "verify"])
            .arg(&chain)
            .arg("--jwks")
            .arg(&jwks)
            .output()
            .unwrap(),
    );
    assert!(!verified.is_empty(), "{step}: ledger verify said nothing");
}

#[test]
fn a_worker_killed_at_any_checkpoint_and_rerun_leaves_one_root_one_receipt_and_a_valid_chain() {
    let services = tempfile::tempdir().unwrap();
    let dev = DevServices::start(services.path());
    assert!(
        !workers::rollup::CHECKPOINTS.is_empty(),
        "the rollup names no checkpoints"
    );
    for step in workers::rollup::CHECKPOINTS {
        let started = Instant::now();
        let world = World::new(&dev);
        world.crash_at(step);
        check_crash_state(&world, step);
        let rerun = world.rerun(step);
        check_end_state(&world, step, &rerun);
        eprintln!(
            "checkpoint {step}: killed, rerun, end state checked in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}
