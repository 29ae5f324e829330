//! The blob store's contract: one set of tests, each run against the directory backend and
//! against an S3 server (DESIGN.md: "Both columns pass the same contract tests").
//!
//! The S3 half needs `LEDGER_TEST_S3_ENDPOINT` (`scripts/test.sh` starts a local server with
//! `scripts/s3-server.sh` and sets it). Without it each test runs its directory half and prints
//! a `SKIPPED` line for the S3 half — except under `CI=true`, where that is a failure. Each
//! test writes to its own fresh bucket.
//!
//! The crash test re-runs this binary as a child that writes multi-MB blobs and is killed (`SIGKILL`)
//! mid-write, then checks that every object visible at a key is complete.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ledger::blob::{
    BlobKey, BlobStore, DirStore, PutOutcome, ReceiptFormat, RootArtifact, S3Config, S3Store,
};
use ledger::{LedgerError, Period, TenantId};
use merkle::ManifestDigest;
use tempfile::TempDir;

/// One backend under test, and the directory it lives in (removed on drop).
struct Backend {
    name: &'static str,
    store: BlobStore,
    _dir: Option<TempDir>,
}

/// The directory backend on a fresh directory and, when a server is configured, the S3
/// backend on a fresh bucket.
async fn backends(test: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![Backend {
        name: "dir",
        store: DirStore::new(dir.path().to_path_buf()).unwrap().into(),
        _dir: Some(dir),
    }];
    if let Some(endpoint) =
        testkit::s3_endpoint(&format!("the S3 half of {test} needs an S3 server"))
    {
        all.push(Backend {
            name: "s3",
            store: s3_store(&endpoint).await.into(),
            _dir: None,
        });
    }
    all
}

/// An S3 store on a new bucket of the server at `endpoint` (moto takes any credentials).
async fn s3_store(endpoint: &str) -> S3Store {
    let bucket = format!("ledger-test-{:016x}", rand::random::<u64>());
    let mut config = S3Config::new(bucket, "test-access-key", "test-secret-key");
    config.endpoint = Some(endpoint.to_owned());
    let store = S3Store::new(&config).unwrap();
    store
        .create_bucket_if_missing()
        .await
        .unwrap_or_else(|e| panic!("cannot create a bucket on {endpoint}: {e}"));
    store
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn period() -> Period {
    "2026-11-22".parse().unwrap()
}

/// The digest `i` (bytes of `i`, big-endian, in the last 8 bytes).
fn digest(i: u64) -> ManifestDigest {
    let mut d = [0u8; 32];
    d[24..].copy_from_slice(&i.to_be_bytes());
    ManifestDigest(d)
}

fn proof_key(i: u64) -> BlobKey {
    BlobKey::proof(&tenant(), &period(), &digest(i))
}

#[tokio::test]
async fn created_object_reads_back_and_exists_on_both_backends() {
    for b in backends("created_object_reads_back_and_exists").await {
        let key = proof_key(1);
        let bytes = br#"{"format":"c2c.proof.v1"}"#;
        assert!(!b.store.exists(&key).await.unwrap(), "{}", b.name);
        assert_eq!(
            b.store.put_new(&key, bytes).await.unwrap(),
            PutOutcome::Created,
            "{}",
            b.name
        );
        assert_eq!(
            b.store.get(&key).await.unwrap().as_deref(),
            Some(&bytes[..]),
            "{}",
            b.name
        );
        assert!(b.store.exists(&key).await.unwrap(), "{}", b.name);
    }
}

#[tokio::test]
async fn identical_second_write_is_a_no_op_on_both_backends() {
    for b in backends("identical_second_write_is_a_no_op").await {
        let key = BlobKey::root_meta(&tenant(), &period());
        let bytes = br#"{"root":"c2c.merkle.v1:sha256:0x00"}"#;
        assert_eq!(
            b.store.put_new(&key, bytes).await.unwrap(),
            PutOutcome::Created
        );
        for _ in 0..2 {
            assert_eq!(
                b.store.put_new(&key, bytes).await.unwrap(),
                PutOutcome::AlreadyIdentical,
                "{}",
                b.name
            );
        }
        assert_eq!(
            b.store.get(&key).await.unwrap().as_deref(),
            Some(&bytes[..])
        );
    }
}

#[tokio::test]
async fn second_different_write_to_a_key_is_a_conflict_and_the_first_bytes_stay_on_both_backends() {
    for b in backends("second_different_write_to_a_key_is_a_conflict").await {
        let key = BlobKey::root_artifact(&tenant(), &period(), RootArtifact::Bin);
        let first = [0x11u8; 32];
        let second = [0x22u8; 32];
        b.store.put_new(&key, &first).await.unwrap();
        let err = b.store.put_new(&key, &second).await.unwrap_err();
        match &err {
            LedgerError::Conflict { key: k, reason, .. } => {
                assert_eq!(k, key.as_str(), "{}", b.name);
                assert!(reason.contains("32 bytes"), "{}: {reason}", b.name);
            }
            other => panic!("{}: expected a conflict, got {other:?}", b.name),
        }
        assert_eq!(
            b.store.get(&key).await.unwrap().as_deref(),
            Some(&first[..]),
            "{}: the first object changed",
            b.name
        );
        assert_eq!(
            b.store.put_new(&key, &first).await.unwrap(),
            PutOutcome::AlreadyIdentical,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn latest_pointer_is_replaced_and_every_version_stays_on_both_backends() {
    for b in backends("latest_pointer_is_replaced_and_every_version_stays").await {
        for format in ReceiptFormat::ALL {
            let latest = BlobKey::receipt_latest(&tenant(), &period(), format);
            for n in 1..=3u32 {
                let doc = format!("receipt v{n} ({})", format.extension()).into_bytes();
                let version = BlobKey::receipt_version(&tenant(), &period(), n, format).unwrap();
                assert_eq!(
                    b.store.put_new(&version, &doc).await.unwrap(),
                    PutOutcome::Created
                );
                b.store.put_latest(&latest, &doc).await.unwrap();
                assert_eq!(
                    b.store.get(&latest).await.unwrap(),
                    Some(doc),
                    "{}: latest after v{n}",
                    b.name
                );
            }
            for n in 1..=3u32 {
                let version = BlobKey::receipt_version(&tenant(), &period(), n, format).unwrap();
                assert_eq!(
                    b.store.get(&version).await.unwrap(),
                    Some(format!("receipt v{n} ({})", format.extension()).into_bytes()),
                    "{}: v{n} changed",
                    b.name
                );
            }
        }
    }
}

#[tokio::test]
async fn put_new_refuses_latest_pointers_and_put_latest_refuses_every_other_key_on_both_backends() {
    for b in backends("put_new_refuses_latest_pointers").await {
        let latest = BlobKey::receipt_latest(&tenant(), &period(), ReceiptFormat::Json);
        let err = b.store.put_new(&latest, b"{}").await.unwrap_err();
        assert!(
            matches!(err, LedgerError::Invalid { .. }),
            "{}: {err}",
            b.name
        );
        assert_eq!(b.store.get(&latest).await.unwrap(), None, "{}", b.name);

        let version =
            BlobKey::receipt_version(&tenant(), &period(), 1, ReceiptFormat::Json).unwrap();
        for key in [
            version,
            BlobKey::root_meta(&tenant(), &period()),
            BlobKey::proof_ots(&tenant(), &period(), &digest(7)),
        ] {
            let err = b.store.put_latest(&key, b"{}").await.unwrap_err();
            assert!(
                matches!(err, LedgerError::Invalid { .. }),
                "{}: {err}",
                b.name
            );
            assert_eq!(b.store.get(&key).await.unwrap(), None, "{}: {key}", b.name);
        }
    }
}

#[tokio::test]
async fn missing_key_reads_as_none_and_does_not_exist_on_both_backends() {
    for b in backends("missing_key_reads_as_none").await {
        // One key whose directory exists and one whose does not.
        b.store.put_new(&proof_key(1), b"{}").await.unwrap();
        for key in [
            proof_key(2),
            BlobKey::root_artifact(&tenant(), &period(), RootArtifact::Tsr),
        ] {
            assert_eq!(b.store.get(&key).await.unwrap(), None, "{}: {key}", b.name);
            assert!(!b.store.exists(&key).await.unwrap(), "{}: {key}", b.name);
        }
    }
}

#[tokio::test]
async fn binary_bytes_round_trip_exactly_on_both_backends() {
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(256 * 17).collect();
    let empty: Vec<u8> = Vec::new();
    let big = derived_bytes("big", 0, 3 << 20);
    for b in backends("binary_bytes_round_trip_exactly").await {
        let cases = [
            (RootArtifact::Bin, &every_byte),
            (RootArtifact::Ots, &empty),
            (RootArtifact::Tsr, &big),
        ];
        for (artifact, bytes) in cases {
            let key = BlobKey::root_artifact(&tenant(), &period(), artifact);
            b.store.put_new(&key, bytes).await.unwrap();
            let back = b.store.get(&key).await.unwrap().expect("stored");
            assert!(
                back == *bytes,
                "{}: {key}: {} bytes written, {} read back, first difference at {:?}",
                b.name,
                bytes.len(),
                back.len(),
                back.iter().zip(bytes.iter()).position(|(x, y)| x != y)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_different_writes_to_one_key_have_exactly_one_winner_on_both_backends() {
    const WRITERS: usize = 8;
    for b in backends("concurrent_different_writes_to_one_key_have_exactly_one_winner").await {
        for round in 0..10u64 {
            let key = proof_key(1000 + round);
            let tasks: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (store, key) = (b.store.clone(), key.clone());
                    let bytes = format!("writer {w} of round {round}").into_bytes();
                    tokio::spawn(async move { (store.put_new(&key, &bytes).await, bytes) })
                })
                .collect();
            let mut winners = Vec::new();
            for task in tasks {
                match task.await.unwrap() {
                    (Ok(PutOutcome::Created), bytes) => winners.push(bytes),
                    (Err(LedgerError::Conflict { .. }), _) => {}
                    (other, _) => panic!("{}: round {round}: {other:?}", b.name),
                }
            }
            assert_eq!(
                winners.len(),
                1,
                "{}: round {round}: {} writers created the key",
                b.name,
                winners.len()
            );
            assert_eq!(
                b.store.get(&key).await.unwrap().as_ref(),
                Some(&winners[0]),
                "{}: round {round}: the key holds another writer's bytes",
                b.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_writes_create_once_and_find_the_rest_identical_on_both_backends() {
    const WRITERS: usize = 8;
    for b in backends("concurrent_identical_writes_create_once").await {
        for round in 0..5u64 {
            let key = proof_key(2000 + round);
            let tasks: Vec<_> = (0..WRITERS)
                .map(|_| {
                    let (store, key) = (b.store.clone(), key.clone());
                    tokio::spawn(async move { store.put_new(&key, b"same bytes").await })
                })
                .collect();
            let mut created = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(PutOutcome::Created) => created += 1,
                    Ok(PutOutcome::AlreadyIdentical) => {}
                    Err(e) => panic!("{}: round {round}: {e}", b.name),
                }
            }
            assert_eq!(created, 1, "{}: round {round}", b.name);
        }
    }
}

// ---- crash safety of the directory backend -------------------------------------------------

const CRASH_CHILD_ENV: &str = "LEDGER_BLOB_CRASH_CHILD";
const CRASH_ROOT_ENV: &str = "LEDGER_BLOB_CRASH_ROOT";
const CRASH_ROUND_ENV: &str = "LEDGER_BLOB_CRASH_ROUND";
/// Keys written per child; each round starts half-way through the previous round's keys, so
/// children also meet complete objects (`AlreadyIdentical`) and keys a killed child never
/// linked.
const CRASH_KEYS_PER_ROUND: u64 = 40;

/// `len` bytes that are a function of `(label, version)` only: a header naming both, then
/// xorshift64 output seeded from them. A reader can recompute them from the header alone.
fn derived_bytes(label: &str, version: u64, len: usize) -> Vec<u8> {
    let mut out = format!("{label} v{version}\n").into_bytes();
    // FNV-1a of the header as the seed (never 0: xorshift would stay at 0).
    let mut x = out.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    out.reserve(len.saturating_sub(out.len()));
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The size of a crash-test blob: 1 to 4 MiB, from the key.
fn crash_len(key: &str) -> usize {
    let h = key
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31) + usize::from(b));
    (1 << 20) + h % (3 << 20)
}

/// Whether `bytes` are exactly what [`derived_bytes`] makes for the header they start with.
fn is_complete_derived(key: &str, bytes: &[u8]) -> Result<(), String> {
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..header_end]).map_err(|e| e.to_string())?;
    let (label, version) = header.rsplit_once(" v").ok_or("malformed header")?;
    if label != key {
        return Err(format!("header names {label:?}, stored at {key:?}"));
    }
    let version: u64 = version.parse().map_err(|_| "malformed version")?;
    let want = derived_bytes(key, version, crash_len(key));
    if bytes == want {
        Ok(())
    } else {
        Err(format!(
            "{} bytes stored, {} expected for v{version}",
            bytes.len(),
            want.len()
        ))
    }
}

/// The child of [`every_object_visible_after_sigkill_mid_write_is_complete_on_the_directory`]:
/// does nothing unless `LEDGER_BLOB_CRASH_CHILD=dir`.
#[tokio::test]
async fn crash_child_writes_blobs_until_killed() {
    if std::env::var(CRASH_CHILD_ENV).as_deref() != Ok("dir") {
        return;
    }
    let root = std::env::var(CRASH_ROOT_ENV).expect("crash root");
    let round: u64 = std::env::var(CRASH_ROUND_ENV)
        .expect("crash round")
        .parse()
        .unwrap();
    let store = DirStore::new(root.into()).unwrap();
    let latest = BlobKey::receipt_latest(&tenant(), &period(), ReceiptFormat::Pdf);
    let start = round * CRASH_KEYS_PER_ROUND / 2;
    for i in start..start + CRASH_KEYS_PER_ROUND {
        let key = proof_key(i);
        let bytes = derived_bytes(key.as_str(), 0, crash_len(key.as_str()));
        store.put_new(&key, &bytes).await.unwrap();
        if i % 4 == 0 {
            let bytes = derived_bytes(latest.as_str(), i, crash_len(latest.as_str()));
            store.put_latest(&latest, &bytes).await.unwrap();
        }
    }
}

#[test]
fn every_object_visible_after_sigkill_mid_write_is_complete_on_the_directory() {
    const ROUNDS: u64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut killed_mid_run = 0;
    for round in 0..ROUNDS {
        let log = dir.path().join(format!("child-{round}.log"));
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writes_blobs_until_killed",
                "--nocapture",
            ])
            .env(CRASH_CHILD_ENV, "dir")
            .env(CRASH_ROOT_ENV, dir.path().join("store"))
            .env(CRASH_ROUND_ENV, round.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rand::random_range(100..1500)));
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "round {round}: the child failed before it was killed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        } else {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed_mid_run += 1;
        }
    }

    let store = dir.path().join("store");
    let (visible, leftovers) = check_store(&store);
    eprintln!(
        "crash test: {ROUNDS} rounds, {killed_mid_run} killed mid-run; {visible} complete \
         objects at keys, {leftovers} temporary files left in .tmp/"
    );
    assert!(killed_mid_run > 0, "no child was killed mid-run");
    assert!(visible > 0, "no child wrote anything");
}

/// Walks the store: every file outside `.tmp/` must be a complete derived object at its key.
/// Returns (objects at keys, files in `.tmp/`).
fn check_store(root: &Path) -> (usize, usize) {
    let mut visible = 0;
    let mut leftovers = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            if entry.file_type().unwrap().is_dir() {
                if rel == ".tmp" {
                    leftovers += std::fs::read_dir(&path).unwrap().count();
                } else {
                    stack.push(path);
                }
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            if let Err(why) = is_complete_derived(&rel, &bytes) {
                panic!("{rel}: an incomplete or wrong object is visible at a key: {why}");
            }
            visible += 1;
        }
    }
    (visible, leftovers)
}

#[tokio::test]
async fn s3_errors_name_the_status_the_code_and_a_remedy() {
    // Nothing listens on a port that was just closed: no HTTP answer at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = S3Config::new("anchors", "id", "secret");
    config.endpoint = Some(endpoint.clone());
    let store = S3Store::new(&config).unwrap();
    let err = store.get(&proof_key(1)).await.unwrap_err();
    eprintln!("unreachable endpoint: {err}");
    match &err {
        LedgerError::Blob { key, detail } => {
            assert_eq!(key, proof_key(1).as_str());
            assert!(detail.contains(&endpoint), "{detail}");
            assert!(detail.contains("reachable"), "{detail}");
        }
        other => panic!("expected a blob error, got {other:?}"),
    }

    let Some(endpoint) = testkit::s3_endpoint(
        "the S3 half of s3_errors_name_the_status_the_code_and_a_remedy needs an S3 server",
    ) else {
        return;
    };
    let mut config = S3Config::new(
        format!("ledger-test-missing-{:016x}", rand::random::<u64>()),
        "id",
        "secret",
    );
    config.endpoint = Some(endpoint);
    let store = S3Store::new(&config).unwrap();
    let err = store.put_new(&proof_key(1), b"{}").await.unwrap_err();
    eprintln!("missing bucket: {err}");
    match &err {
        LedgerError::Blob { detail, .. } => {
            assert!(detail.contains("HTTP 404 NoSuchBucket"), "{detail}");
            assert!(detail.contains("create the bucket"), "{detail}");
        }
        other => panic!("expected a blob error, got {other:?}"),
    }
}
