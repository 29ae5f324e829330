//! Blob writes per second: the store's create-only `put_new` against the plainest write of the
//! same bytes on the same backend, in the same run.
//!
//! - directory: `DirStore::put_new` (temp file, fsync, link, fsync of the directory) against
//!   `std::fs::write` of the same bytes to a new file (no fsync), and against the same write
//!   followed by an fsync of the file (what durability alone costs);
//! - S3: `S3Store::put_new` (`If-None-Match: *`) against an unconditional `PutObject` through
//!   the same client, to the server at `LEDGER_TEST_S3_ENDPOINT`, or else one started with
//!   `scripts/s3-server.sh` (and stopped at the end); without either the S3 rows are skipped.
//!
//! One write in flight at a time, each to a new key, for about two seconds per cell.
//! `cargo bench -p ledger --bench blobs`; prints a markdown table.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ledger::blob::{BlobKey, DirStore, PutOutcome, S3Config, S3Store};
use ledger::{Period, TenantId};
use merkle::ManifestDigest;

const SIZES: [(usize, &str); 2] = [(1024, "1 KiB"), (64 * 1024, "64 KiB")];
const CELL_TIME: Duration = Duration::from_secs(2);

struct Row {
    backend: String,
    size: &'static str,
    ours: f64,
    baseline_name: &'static str,
    baseline: f64,
}

/// Runs `write(i)` for i = 0, 1, … until [`CELL_TIME`] has passed; returns writes per second.
async fn rate<F, Fut>(mut write: F) -> f64
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < CELL_TIME || n < 20 {
        write(u64::from(n)).await;
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn proof_key(run: u64, i: u64) -> BlobKey {
    let tenant = TenantId::new("bench").unwrap();
    let period: Period = "2026-11".parse().unwrap();
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&run.to_be_bytes());
    d[24..].copy_from_slice(&i.to_be_bytes());
    BlobKey::proof(&tenant, &period, &ManifestDigest(d))
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

async fn bench_dir(rows: &mut Vec<Row>) {
    for (run, (len, size)) in (0u64..).zip(SIZES) {
        let bytes = payload(len);
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("store")).unwrap();
        let ours = rate(|i| {
            let (store, bytes) = (&store, &bytes);
            async move {
                let outcome = store.put_new(&proof_key(run, i), bytes).await.unwrap();
                assert_eq!(outcome, PutOutcome::Created);
            }
        })
        .await;
        let plain = dir.path().join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        let baseline = rate(|i| {
            let (plain, bytes) = (&plain, &bytes);
            async move {
                std::fs::write(plain.join(format!("{i}.json")), bytes).unwrap();
            }
        })
        .await;
        // What durability alone costs: the same write, then an fsync of the file.
        let synced = dir.path().join("synced");
        std::fs::create_dir_all(&synced).unwrap();
        let baseline_synced = rate(|i| {
            let (synced, bytes) = (&synced, &bytes);
            async move {
                let mut file = std::fs::File::create(synced.join(format!("{i}.json"))).unwrap();
                file.write_all(bytes).unwrap();
                file.sync_all().unwrap();
            }
        })
        .await;
        rows.push(Row {
            backend: "directory".to_owned(),
            size,
            ours,
            baseline_name: "`std::fs::write`",
            baseline,
        });
        rows.push(Row {
            backend: "directory".to_owned(),
            size,
            ours,
            baseline_name: "`std::fs::write` + `sync_all`",
            baseline: baseline_synced,
        });
    }
}

async fn bench_s3(endpoint: &str, rows: &mut Vec<Row>) {
    let mut config = S3Config::new(
        format!("ledger-bench-{:016x}", rand::random::<u64>()),
        "bench",
        "bench",
    );
    config.endpoint = Some(endpoint.to_owned());
    let store = S3Store::new(&config).unwrap();
    store.create_bucket_if_missing().await.unwrap();
    for (run, (len, size)) in (100u64..).zip(SIZES) {
        let bytes = payload(len);
        // Warm the connection pool, so neither side pays for the first connect.
        for i in 0..5 {
            store
                .put_new(&proof_key(run + 50, i), &bytes)
                .await
                .unwrap();
        }
        let ours = rate(|i| {
            let (store, bytes) = (&store, &bytes);
            async move {
                let outcome = store.put_new(&proof_key(run, i), bytes).await.unwrap();
                assert_eq!(outcome, PutOutcome::Created);
            }
        })
        .await;
        let baseline = rate(|i| {
            let (store, bytes) = (&store, &bytes);
            async move {
                store
                    .client()
                    .put_object()
                    .bucket(store.bucket())
                    .key(format!("baseline/{run}/{i}.json"))
                    .content_type("application/json")
                    .body(bytes.clone().into())
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;
        rows.push(Row {
            backend: "S3 (moto, local)".to_owned(),
            size,
            ours,
            baseline_name: "unconditional `PutObject`",
            baseline,
        });
    }
}

/// `(endpoint, started here)`: `LEDGER_TEST_S3_ENDPOINT`, or a server from the script.
fn s3_endpoint(workspace: &Path) -> Option<(String, bool)> {
    if let Ok(url) = std::env::var("LEDGER_TEST_S3_ENDPOINT")
        && !url.is_empty()
    {
        return Some((url, false));
    }
    let script = workspace.join("scripts/s3-server.sh");
    let running = Command::new(&script).arg("status").output().ok()?;
    if running.status.success() {
        return Some((
            String::from_utf8(running.stdout).ok()?.trim().to_owned(),
            false,
        ));
    }
    let started = Command::new(&script).arg("start").output().ok()?;
    if !started.status.success() {
        eprintln!(
            "scripts/s3-server.sh failed: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        return None;
    }
    Some((
        String::from_utf8(started.stdout).ok()?.trim().to_owned(),
        true,
    ))
}

fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rows = Vec::new();
    rt.block_on(bench_dir(&mut rows));
    let s3 = s3_endpoint(&workspace);
    match &s3 {
        Some((endpoint, _)) => rt.block_on(bench_s3(endpoint, &mut rows)),
        None => println!(
            "S3 SKIPPED: no LEDGER_TEST_S3_ENDPOINT and scripts/s3-server.sh could not start one"
        ),
    }
    if let Some((_, true)) = s3 {
        let _ = Command::new(workspace.join("scripts/s3-server.sh"))
            .arg("stop")
            .status();
    }

    println!(
        "\nBlob writes per second, one in flight, each to a new key ({})\n",
        testkit::machine()
    );
    println!("| backend | object | `put_new`/s | baseline | baseline/s | `put_new` ÷ baseline |");
    println!("|---|---|---:|---|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {:.0} | {:.2} |",
            r.backend,
            r.size,
            r.ours,
            r.baseline_name,
            r.baseline,
            r.ours / r.baseline
        );
    }
}
