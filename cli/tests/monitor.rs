//! `anchor monitor` against the demo's receipt logs: a clean log passes and moves the state
//! on; a rollback, a fork (same size or a larger size that does not extend), a missing or
//! changed receipt, a shown receipt the log does not hold, a cut chain and a damaged
//! checkpoint each exit 1 and leave the state as it was; two API instances showing two
//! histories are caught.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Children, anchor, start_api, success, text};
use ledger::TenantId;
use ledger::blob::{BlobStore, DirStore};
use ledger::keys::SigningKey;
use ledger::note::NoteVerifier;
use ledger::receipt_log::LogEntry;
use proofs::log::TiledLog;
use proofs::tiles::DirSource;

const TENANT: &str = "enterprise-co";

/// A fresh demo data set in `dir/demo`.
fn demo(dir: &Path) -> PathBuf {
    let data = dir.join("demo");
    let out = anchor()
        .args(["demo", "--manifests", "20", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    success("anchor demo", &out);
    data
}

/// `cp -a from to`.
fn copy(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

fn log_dir(blobs: &Path) -> PathBuf {
    blobs.join("log").join(TENANT)
}

fn monitor(state: &Path, source: &[&str], extra: &[&str]) -> Output {
    anchor()
        .args(["monitor", "--tenant", TENANT, "--state"])
        .arg(state)
        .args(source)
        .args(extra)
        .output()
        .unwrap()
}

fn exit(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The log's entries as the blobs under `blobs` hold them.
fn entries(blobs: &Path) -> Vec<LogEntry> {
    let t = TenantId::new(TENANT).unwrap();
    let source = DirSource(blobs.to_path_buf());
    let vkey = std::fs::read_to_string(log_dir(blobs).join("vkey")).unwrap();
    let verifier = NoteVerifier::parse(vkey.trim()).unwrap();
    let note = std::fs::read(log_dir(blobs).join("checkpoint")).unwrap();
    let cp = TiledLog::<DirSource>::open_note(&note, &verifier, &t).unwrap();
    runtime()
        .block_on(TiledLog::new(&source, &t, &cp).entries())
        .unwrap()
}

/// Replaces the log under `data/blobs` with a fork signed by the same key: the first entry's
/// hash changed, and `extra` more entries.
fn fork(data: &Path, extra: u32) {
    let blobs = data.join("blobs");
    let mut forked = entries(&blobs);
    forked[0].sha256[0] ^= 1;
    let last = *forked.last().unwrap();
    forked.extend((1..=extra).map(|k| LogEntry {
        version: last.version + 100 + k,
        ..last
    }));
    std::fs::remove_dir_all(log_dir(&blobs)).unwrap();
    let key = SigningKey::from_pem(&std::fs::read_to_string(data.join("signing-key.pem")).unwrap())
        .unwrap();
    let store = BlobStore::from(DirStore::new(blobs).unwrap());
    runtime()
        .block_on(proofs::log::publish(
            &store,
            &key,
            &TenantId::new(TENANT).unwrap(),
            &forked,
        ))
        .unwrap();
}

#[test]
fn a_monitor_pins_the_key_follows_the_log_as_it_grows_and_refuses_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let blobs = data.join("blobs");
    let from = ["--from", blobs.to_str().unwrap()];
    let state = dir.path().join("state.json");

    let first = monitor(&state, &from, &[]);
    assert_eq!(exit(&first), 0, "{}", text(&first.stderr));
    assert!(
        text(&first.stderr).contains("on first use"),
        "{}",
        text(&first.stderr)
    );
    let size = entries(&blobs).len() as u64;
    assert!(
        size > 28,
        "a daily tenant logs a receipt per day and upgrade"
    );
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept["size"], size);

    // The operator's key, given out of band, is the one the log signs with.
    let vkey = success(
        "anchor keys show --log-tenant",
        &anchor()
            .args(["keys", "show", "--key"])
            .arg(data.join("signing-key.pem"))
            .args(["--log-tenant", TENANT])
            .output()
            .unwrap(),
    );
    assert_eq!(kept["vkey"], vkey.trim());

    // A state five entries behind: the log extends it, proved from the tiles.
    let old = size - 5;
    let note = std::fs::read_to_string(log_dir(&blobs).join(format!("checkpoints/{old}"))).unwrap();
    let root = base64_root(&note);
    let mut behind = kept.clone();
    behind["size"] = old.into();
    behind["root"] = root.into();
    behind["checkpoint"] = note.into();
    std::fs::write(&state, behind.to_string()).unwrap();
    let grown = monitor(&state, &from, &["--vkey", vkey.trim()]);
    assert_eq!(exit(&grown), 0, "{}", text(&grown.stderr));
    assert!(
        text(&grown.stdout).contains("(5 new entries"),
        "{}",
        text(&grown.stdout)
    );
    let now: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(now["size"], size, "the state moved on");

    // Another tenant's key is not the pinned one: bad input, nothing checked.
    let other = success(
        "anchor keys show --log-tenant",
        &anchor()
            .args(["keys", "show", "--key"])
            .arg(data.join("signing-key.pem"))
            .args(["--log-tenant", "pro-co"])
            .output()
            .unwrap(),
    );
    let refused = monitor(&state, &from, &["--vkey", other.trim()]);
    assert_eq!(exit(&refused), 2, "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("--vkey is not the key"));
}

/// The root hex of a checkpoint note's third line.
fn base64_root(note: &str) -> String {
    let b64 = note.lines().nth(2).unwrap();
    let text = format!("o\n1\n{b64}\n");
    ledger::note::Checkpoint::parse(&text)
        .unwrap()
        .root
        .to_hex()
}

/// A case's mutation of a copy of the demo's data directory.
type Mutate<'a> = Box<dyn Fn(&Path) + 'a>;

/// The path of receipt version `e` under `blobs`.
fn receipt(blobs: &Path, e: &LogEntry) -> PathBuf {
    blobs.join(format!(
        "receipts/{TENANT}/{}/v{}.json",
        e.period, e.version
    ))
}

/// Files the cases pass in `dir`: the tenant's chain, the chain without its newest line, and a
/// receipt the operator signed and showed but never logged (`first` one second later).
fn evidence(dir: &Path, data: &Path, first: &LogEntry) -> (PathBuf, PathBuf, PathBuf) {
    let blobs = data.join("blobs");
    let chain = success(
        "anchor ledger export",
        &anchor()
            .args(["ledger", "export", "--tenant", TENANT])
            .env("LEDGER_DATA_DIR", data)
            .output()
            .unwrap(),
    );
    let cut_chain = dir.join("cut.jsonl");
    let mut lines: Vec<&str> = chain.lines().collect();
    lines.pop();
    std::fs::write(&cut_chain, lines.join("\n") + "\n").unwrap();
    let full_chain = dir.join("chain.jsonl");
    std::fs::write(&full_chain, &chain).unwrap();
    let unlogged = dir.join("unlogged.json");
    // A receipt the operator signed and showed, but never logged (one second later).
    let logged_one =
        ledger::formats::Receipt::from_json(&std::fs::read(receipt(&blobs, first)).unwrap())
            .unwrap();
    let key = SigningKey::from_pem(&std::fs::read_to_string(data.join("signing-key.pem")).unwrap())
        .unwrap();
    let r = logged_one;
    let resigned = ledger::formats::Receipt::sign(
        ledger::formats::ReceiptBody {
            tenant: r.tenant,
            period: r.period,
            anchored_at: r.anchored_at + chrono::Duration::seconds(1),
            backfilled: r.backfilled,
            root: r.root,
            tree_size: r.tree_size,
            anchors: r.anchors,
            run_id: r.run_id,
            summary_hash: r.summary_hash,
            version: r.version,
            supersedes: r.supersedes,
        },
        &key,
    )
    .unwrap();
    std::fs::write(&unlogged, resigned.to_json_pretty()).unwrap();

    (full_chain, cut_chain, unlogged)
}

/// The cases: a name, what is done to a copy of the demo, extra arguments, and what the
/// monitor must say.
type Case<'a> = (&'static str, Mutate<'a>, Vec<String>, &'static str);

fn cases<'a>(
    size: usize,
    first: LogEntry,
    unlogged: &'a Path,
    cut_chain: &'a Path,
) -> Vec<Case<'a>> {
    vec![
        (
            "rollback",
            Box::new(move |d: &Path| {
                let log = log_dir(&d.join("blobs"));
                std::fs::copy(
                    log.join(format!("checkpoints/{}", size - 3)),
                    log.join("checkpoint"),
                )
                .unwrap();
            }),
            vec![],
            "rollback: the log's checkpoint has size",
        ),
        (
            "fork at the same size",
            Box::new(|d: &Path| fork(d, 0)),
            vec![],
            "fork: two checkpoints of size",
        ),
        (
            "fork that grew",
            Box::new(|d: &Path| fork(d, 2)),
            vec![],
            "does not extend the one of size",
        ),
        (
            "missing receipt",
            Box::new(move |d: &Path| {
                std::fs::remove_file(receipt(&d.join("blobs"), &first)).unwrap();
            }),
            vec![],
            "missing receipt:",
        ),
        (
            "changed receipt",
            Box::new(move |d: &Path| {
                let path = receipt(&d.join("blobs"), &first);
                let mut b = std::fs::read(&path).unwrap();
                b.push(b'\n');
                std::fs::write(&path, b).unwrap();
            }),
            vec![],
            "changed receipt:",
        ),
        (
            "a shown receipt the log does not hold",
            Box::new(|_: &Path| {}),
            vec!["--receipt".into(), unlogged.display().to_string()],
            "receipt not in the log: shown receipt #1",
        ),
        (
            "cut chain",
            Box::new(|_: &Path| {}),
            vec!["--chain".into(), cut_chain.display().to_string()],
            "cut chain:",
        ),
        (
            "damaged checkpoint signature",
            Box::new(move |d: &Path| {
                let path = log_dir(&d.join("blobs")).join("checkpoint");
                let note = std::fs::read_to_string(&path).unwrap();
                // Past the key ID (the first 4 bytes, 6 base64 digits): the signature itself.
                let (text, sig) = note.rsplit_once(' ').unwrap();
                let flipped = if &sig[10..11] == "A" { "B" } else { "A" };
                let sig = format!("{}{flipped}{}", &sig[..10], &sig[11..]);
                std::fs::write(&path, format!("{text} {sig}")).unwrap();
            }),
            vec![],
            "does not verify",
        ),
    ]
}

#[test]
fn rollback_fork_missing_changed_or_unlogged_receipts_and_a_cut_chain_exit_1_and_keep_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let blobs = data.join("blobs");
    let state = dir.path().join("state.json");
    let clean = monitor(&state, &["--from", blobs.to_str().unwrap()], &[]);
    assert_eq!(exit(&clean), 0, "{}", text(&clean.stderr));
    let good_state = std::fs::read(&state).unwrap();
    let logged = entries(&blobs);
    let size = logged.len();
    let first = logged[0];
    let (full_chain, cut_chain, unlogged) = evidence(dir.path(), &data, &first);

    let cases = cases(size, first, &unlogged, &cut_chain);
    // The full chain passes: the cut is what fails.
    let with_chain = monitor(
        &state,
        &["--from", blobs.to_str().unwrap()],
        &["--chain", full_chain.to_str().unwrap()],
    );
    assert_eq!(exit(&with_chain), 0, "{}", text(&with_chain.stderr));
    for (i, (name, mutate, extra, expect)) in cases.iter().enumerate() {
        let case = dir.path().join(format!("case{i}"));
        std::fs::create_dir(&case).unwrap();
        let copy_of = case.join("demo");
        copy(&data, &copy_of);
        mutate(&copy_of);
        let case_state = case.join("state.json");
        std::fs::write(&case_state, &good_state).unwrap();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let from = copy_of.join("blobs");
        let out = monitor(&case_state, &["--from", from.to_str().unwrap()], &extra);
        assert_eq!(
            exit(&out),
            1,
            "{name}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expect),
            "{name}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&case_state).unwrap(),
            good_state,
            "{name}: the state keeps the last good checkpoint"
        );
    }
}

#[test]
fn two_api_instances_that_show_two_histories_are_caught_as_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let other = dir.path().join("other");
    copy(&data, &other);
    fork(&other, 0);
    let mut children = Children::default();
    let a = start_api(&mut children, &data, &dir.path().join("a.log"));
    let b = start_api(&mut children, &other, &dir.path().join("b.log"));
    let state = dir.path().join("state.json");

    let first = monitor(&state, &["--api", &a], &[]);
    assert_eq!(exit(&first), 0, "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("chain checked, signatures checked"),
        "with --api the chain and the JWKS come from the API: {}",
        text(&first.stdout)
    );
    let again = monitor(&state, &["--api", &a], &[]);
    assert_eq!(exit(&again), 0, "{}", text(&again.stderr));
    let kept = std::fs::read(&state).unwrap();

    let equivocated = monitor(&state, &["--api", &b], &[]);
    assert_eq!(exit(&equivocated), 1, "{}", text(&equivocated.stdout));
    assert!(
        text(&equivocated.stderr).contains("fork: two checkpoints of size"),
        "{}",
        text(&equivocated.stderr)
    );
    assert_eq!(std::fs::read(&state).unwrap(), kept);

    // The API's consistency proof from an older size checks against the two roots.
    let size = entries(&data.join("blobs")).len() as u64;
    let old = size - 4;
    let note =
        std::fs::read_to_string(log_dir(&data.join("blobs")).join(format!("checkpoints/{old}")))
            .unwrap();
    let old_root = merkle::Hash::from_hex("old root", &base64_root(&note)).unwrap();
    let body = http_get(&format!("{a}/anchor/log/{TENANT}/consistency?from={old}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["to"], size);
    let proof: Vec<merkle::Hash> = v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::Hash::from_hex("proof", h.as_str().unwrap()).unwrap())
        .collect();
    let new_root = merkle::Hash::from_hex("root", v["root"].as_str().unwrap()).unwrap();
    merkle::proof::verify_consistency(
        merkle::TreeSize(old),
        merkle::TreeSize(size),
        &old_root,
        &new_root,
        &proof,
    )
    .unwrap();
    let bad = http_get_status(&format!("{a}/anchor/log/{TENANT}/consistency?from=0"));
    assert_eq!(bad, 400, "size 0 has no consistency proof");
}

/// The body of a `GET` that must answer 200 (HTTP/1.0 over a plain socket).
fn http_get(url: &str) -> String {
    let (status, body) = http(url);
    assert_eq!(status, 200, "{url}: {body}");
    body
}

fn http_get_status(url: &str) -> u16 {
    http(url).0
}

fn http(url: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}
