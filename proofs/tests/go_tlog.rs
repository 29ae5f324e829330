//! Our tiles read by an implementation nobody here wrote: golang.org/x/mod/sumdb/tlog (Debian's
//! golang-golang-x-mod-dev), through `proofs/tests/tlogcheck` (built by
//! `scripts/go-tools.sh`). For every tree size from 1 to 1000 and for 1,000,000 leaves, tlog's
//! tile reader checks each tile it reads against the tree, its `TreeHash` must be our root, and
//! its inclusion proofs (checked by its own `CheckRecord` against the entry it read from our
//! entry bundles) must equal ours hash for hash.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use merkle::tiles::tree_tiles;
use merkle::{Hash, ManifestDigest, TreeSize};
use proofs::Levels;
use proofs::tiles::tile_bytes;

fn digests(n: u64, seed: u8) -> Vec<ManifestDigest> {
    let mut v: Vec<ManifestDigest> = (0..n)
        .map(|i| {
            let mut input = i.to_be_bytes().to_vec();
            input.push(seed);
            ManifestDigest(Hash::sha256(&input).0)
        })
        .collect();
    merkle::leaf::sort_and_dedup(&mut v);
    v
}

/// Writes the tree's tiles under `dir/tile/…` (plain files: this is a fixture, not the store).
fn write_tiles(levels: &Levels, dir: &Path) {
    for id in tree_tiles(TreeSize(levels.size())) {
        let path = dir.join(id.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, tile_bytes(levels, id).unwrap()).unwrap();
    }
}

fn indexes(n: u64) -> Vec<u64> {
    let mut v = if n <= 64 {
        (0..n).collect()
    } else {
        let mut v: Vec<u64> = [
            0,
            1,
            255,
            256,
            257,
            n / 2,
            n.saturating_sub(257),
            n.saturating_sub(256),
            n - 2,
            n - 1,
        ]
        .into_iter()
        .filter(|&i| i < n)
        .collect();
        v.extend((0..40).map(|k| (k * 7919 * 104_729) % n));
        v
    };
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn golangs_tlog_reads_our_tiles_and_proves_every_leaf_as_we_do() {
    let Some(go) = testkit::go_tools() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut trees: HashMap<String, (Levels, Vec<u64>)> = HashMap::new();
    let mut input = String::new();
    let sizes = (1..=1000u64).chain([1_000_000]);
    for n in sizes {
        let levels = Levels::build(digests(n, (n % 251) as u8)).unwrap();
        assert_eq!(levels.size(), n, "sha256 outputs are distinct");
        let dir = tmp.path().join(n.to_string());
        write_tiles(&levels, &dir);
        let idx = indexes(n);
        writeln!(
            input,
            "{} {n} {} {}",
            dir.display(),
            levels.root().0.to_hex(),
            idx.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        )
        .unwrap();
        trees.insert(dir.display().to_string(), (levels, idx));
    }
    let (ok, stdout, stderr) = tlogcheck(&go, input);
    assert!(ok, "tlogcheck: {stderr}");
    let mut proved = 0usize;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (levels, _) = &trees[v["dir"].as_str().unwrap()];
        let i = v["index"].as_u64().unwrap();
        let entry = v["entry"].as_str().unwrap();
        let digest = levels.digests()[i as usize];
        assert_eq!(entry.as_bytes(), digest.leaf_input(), "entry {i}");
        let theirs: Vec<String> = v["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        let ours: Vec<String> = levels
            .audit_path(i)
            .unwrap()
            .iter()
            .map(Hash::to_hex)
            .collect();
        assert_eq!(theirs, ours, "leaf {i} of a tree of {}", levels.size());
        proved += 1;
    }
    let expected: usize = trees.values().map(|(_, idx)| idx.len()).sum();
    assert_eq!(proved, expected, "tlog proved every leaf asked for");
}

#[test]
fn golangs_tlog_refuses_a_tile_we_damaged() {
    let Some(go) = testkit::go_tools() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let levels = Levels::build(digests(70_000, 7)).unwrap();
    write_tiles(&levels, tmp.path());
    let tile = tmp.path().join("tile/1/000");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&tile, bytes).unwrap();
    let (ok, _, err) = tlogcheck(
        &go,
        format!(
            "{} 70000 {} 5\n",
            tmp.path().display(),
            levels.root().0.to_hex()
        ),
    );
    assert!(!ok);
    assert!(err.contains("tlogcheck:"), "{err}");
}

/// Feeds `input` to tlogcheck from another thread (it answers while it reads, and a full
/// stdout pipe would otherwise block both sides): whether it succeeded, its stdout, its
/// stderr.
fn tlogcheck(go: &Path, input: String) -> (bool, String, String) {
    let mut child = Command::new(go.join("tlogcheck"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A receipt log published at several sizes into a directory store, as the workers publish
/// it: (the log directory, the entries, the key).
fn published_log(
    dir: &Path,
    sizes: &[u64],
) -> (
    std::path::PathBuf,
    Vec<domain::receipt_log::LogEntry>,
    domain::keys::SigningKey,
) {
    use domain::receipt_log::LogEntry;
    let key = domain::keys::SigningKey::generate();
    let tenant = ledger::TenantId::new("acme").unwrap();
    let blobs =
        ledger::blob::BlobStore::from(ledger::blob::DirStore::new(dir.to_path_buf()).unwrap());
    let max = *sizes.iter().max().unwrap();
    let entries: Vec<LogEntry> = (0..max)
        .map(|i| LogEntry {
            period: "2026-11-01".parse().unwrap(),
            version: u32::try_from(i + 1).unwrap(),
            sha256: Hash::sha256(&i.to_be_bytes()).0,
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for &n in sizes {
        let n = usize::try_from(n).unwrap();
        rt.block_on(proofs::log::publish(&blobs, &key, &tenant, &entries[..n]))
            .unwrap();
    }
    (dir.join("log/acme"), entries, key)
}

#[test]
fn golangs_note_and_tlog_open_our_checkpoints_and_prove_them_consistent_as_we_do() {
    let Some(go) = testkit::go_tools() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [1u64, 2, 3, 7, 8, 255, 256, 257, 511, 600];
    let (log, entries, _) = published_log(tmp.path(), &sizes);
    let root_at = |n: u64| {
        proofs::log::LogTree::new(
            entries[..usize::try_from(n).unwrap()]
                .iter()
                .map(domain::receipt_log::LogEntry::to_bytes)
                .collect(),
        )
    };
    let mut input = String::new();
    let mut pairs = Vec::new();
    for &new in &sizes {
        for &old in sizes.iter().filter(|&&o| o <= new) {
            writeln!(
                input,
                "checkpoint {} {} {} {old} {}",
                log.display(),
                log.join("vkey").display(),
                log.join(format!("checkpoints/{new}")).display(),
                root_at(old).root().to_hex()
            )
            .unwrap();
            pairs.push((old, new));
        }
    }
    let (ok, stdout, stderr) = tlogcheck(&go, input);
    assert!(ok, "tlogcheck: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), pairs.len(), "one answer per pair");
    for (line, (old, new)) in lines.iter().zip(pairs) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let tree = root_at(new);
        assert_eq!(v["origin"], "c2c.receipt-log/acme");
        assert_eq!(v["size"], new);
        assert_eq!(v["root"], tree.root().to_hex(), "root at {new}");
        let theirs: Vec<String> = v["consistency"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        let ours: Vec<String> = tree
            .consistency(old)
            .unwrap()
            .iter()
            .map(Hash::to_hex)
            .collect();
        assert_eq!(theirs, ours, "consistency {old} -> {new}");
    }
}

#[test]
fn golangs_note_refuses_a_checkpoint_changed_or_signed_by_another_key() {
    let Some(go) = testkit::go_tools() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (log, entries, _) = published_log(tmp.path(), &[5, 9]);
    let first = proofs::log::LogTree::new(
        entries[..5]
            .iter()
            .map(domain::receipt_log::LogEntry::to_bytes)
            .collect(),
    );
    let line = |note: &Path, vkey: &Path| {
        format!(
            "checkpoint {} {} {} 5 {}\n",
            log.display(),
            vkey.display(),
            note.display(),
            first.root().to_hex()
        )
    };
    let good = log.join("checkpoints/9");
    assert!(
        tlogcheck(&go, line(&good, &log.join("vkey"))).0,
        "the good note opens"
    );

    let changed = tmp.path().join("changed");
    let text = std::fs::read_to_string(&good).unwrap();
    std::fs::write(&changed, text.replacen("\n9\n", "\n8\n", 1)).unwrap();
    let (ok, _, err) = tlogcheck(&go, line(&changed, &log.join("vkey")));
    assert!(!ok && err.contains("note.Open"), "a changed size: {err}");

    let other = tmp.path().join("other");
    let (other_log, _, _) = published_log(&other, &[9]);
    let (ok, _, err) = tlogcheck(&go, line(&good, &other_log.join("vkey")));
    assert!(!ok && err.contains("note.Open"), "another key: {err}");
}
