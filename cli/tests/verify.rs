//! `anchor verify receipt`, `anchor bundle` and `anchor verify bundle` on `anchor demo` data:
//! every latest receipt verifies from a fresh directory holding only what a tenant downloads
//! (from the files, and from a running `anchor api`); each tampered artifact fails the check
//! that covers it; a bundle verifies offline and the API serves the CLI's bytes; the commands
//! the API's PDF receipt prints run as printed.

// Scenario tests read top to bottom, one case after another.
#![allow(clippy::too_many_lines)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Children, anchor, py_tools, success, text};
use ledger::formats::Receipt;
use ledger::{AnchorKind, AnchorStatus};

/// A fresh demo in `dir/demo`.
fn demo(dir: &Path) -> PathBuf {
    let data = dir.join("demo");
    let out = anchor()
        .args(["demo", "--manifests", "60", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    success("anchor demo", &out);
    data
}

fn on(data: &Path, args: &[&str]) -> Output {
    anchor()
        .args(args)
        .env("LEDGER_DATA_DIR", data)
        .output()
        .unwrap()
}

/// Every latest receipt of the demo: (tenant, period, receipt).
fn latest_receipts(data: &Path) -> Vec<(String, String, Receipt)> {
    let mut out = Vec::new();
    for tenant in ["starter-co", "pro-co", "enterprise-co"] {
        let dir = data.join("blobs/receipts").join(tenant);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let receipt = Receipt::from_json(&std::fs::read(&path).unwrap()).unwrap();
                let period = path.file_stem().unwrap().to_str().unwrap().to_owned();
                out.push((tenant.to_owned(), period, receipt));
            }
        }
    }
    assert!(
        out.len() > 10,
        "the demo anchored only {} periods",
        out.len()
    );
    out
}

/// What a tenant downloads for one period, copied from the demo's published files into a new
/// directory: the receipt, root.bin, the root .ots the receipt names (as root.ots), root.tsr,
/// the published JWKS and the tenant's exported chain. Nothing else.
fn flat_dir(data: &Path, into: &Path, tenant: &str, period: &str) -> PathBuf {
    let dir = into.join(format!("{tenant}-{period}"));
    std::fs::create_dir_all(&dir).unwrap();
    let blobs = data.join("blobs");
    let receipt_path = blobs.join(format!("receipts/{tenant}/{period}.json"));
    std::fs::copy(&receipt_path, dir.join("receipt.json")).unwrap();
    let receipt = Receipt::from_json(&std::fs::read(&receipt_path).unwrap()).unwrap();
    std::fs::copy(
        blobs.join(format!("roots/{tenant}/{period}/root.bin")),
        dir.join("root.bin"),
    )
    .unwrap();
    for a in &receipt.anchors {
        if let Some(artifact) = &a.artifact {
            let name = match a.kind {
                AnchorKind::Ots => "root.ots",
                AnchorKind::Tsa => "root.tsr",
            };
            std::fs::copy(blobs.join(&artifact.key), dir.join(name)).unwrap();
        }
    }
    let jwks = on(data, &["keys", "jwks", "--all"]);
    std::fs::write(dir.join("jwks.json"), success("anchor keys jwks", &jwks)).unwrap();
    let chain = on(data, &["ledger", "export", "--tenant", tenant]);
    std::fs::write(dir.join("chain.jsonl"), &chain.stdout).unwrap();
    success("anchor ledger export", &chain);
    dir
}

/// The trust flags of the demo: its dev TSA CA and its regtest chain's headers
/// (`DATA/dev-headers.json`).
fn trust(data: &Path) -> Vec<String> {
    let mut args = vec![
        "--ca".to_owned(),
        data.join("dev-tsa-ca.pem").display().to_string(),
    ];
    let headers = data.join("dev-headers.json");
    assert!(headers.exists(), "anchor demo writes {}", headers.display());
    args.extend([
        "--headers".to_owned(),
        headers.display().to_string(),
        "--regtest".to_owned(),
    ]);
    args
}

fn verify_receipt(dir: &Path, data: &Path, extra: &[&str]) -> Output {
    anchor()
        .args(["verify", "receipt"])
        .arg(dir.join("receipt.json"))
        .args(trust(data))
        .args(extra)
        .output()
        .unwrap()
}

/// What the report says a receipt's checks come to: 0 when every anchor is final, 3 when an
/// OTS anchor still waits at calendars.
fn expected_code(r: &Receipt) -> i32 {
    if r.anchors.iter().any(|a| a.status == AnchorStatus::Pending) {
        3
    } else {
        0
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn report(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[test]
fn every_latest_demo_receipt_verifies_from_a_directory_of_downloaded_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let mut tsa_only = 0;
    for (tenant, period, receipt) in latest_receipts(&data) {
        let dir = flat_dir(&data, &tmp.path().join("downloads"), &tenant, &period);
        let out = verify_receipt(&dir, &data, &[]);
        let stdout = text(&out.stdout);
        // The demo mines its regtest chain and upgrades its receipts: none is pending any
        // more, so every one must exit 0.
        assert_eq!(code(&out), 0, "{tenant} {period}: {}", report(&out));
        assert_eq!(
            code(&out),
            expected_code(&receipt),
            "{tenant} {period}: {}",
            report(&out)
        );
        for line in ["✓ signature: ", "✓ root.bin: ", "✓ chain: ", "✓ summary: "] {
            assert!(stdout.contains(line), "{tenant} {period}: {stdout}");
        }
        assert!(!stdout.contains('✗'), "{tenant} {period}: {stdout}");
        // Every ✓ says what it rests on; the version checked is noted; the closing line names
        // the strongest evidence: the dev TSA's genTime where there is a TSA anchor, else
        // the operator's signature (regtest work proves nothing about time).
        for line in stdout.lines().filter(|l| l.starts_with('✓')) {
            assert!(line.contains(" [rests on "), "{line}");
        }
        assert!(
            stdout.contains(&format!(
                "note version: checked receipt version {}",
                receipt.version
            )),
            "{stdout}"
        );
        let strongest = stdout.lines().last().unwrap_or_default();
        let want = if receipt.anchors.iter().any(|a| a.kind == AnchorKind::Tsa) {
            "strongest evidence: the TSA's signature: the root existed no later than "
        } else {
            "strongest evidence: the operator's signature"
        };
        assert!(strongest.starts_with(want), "{tenant} {period}: {stdout}");
        if receipt.anchors.iter().any(|a| a.kind == AnchorKind::Ots) {
            assert!(
                stdout.contains("[rests on regtest work, which proves nothing about time]"),
                "{stdout}"
            );
        }
        for a in &receipt.anchors {
            let ok = format!("✓ {}: ", a.kind);
            let pending = format!("pending {}: ", a.kind);
            match a.status {
                AnchorStatus::Confirmed => assert!(stdout.contains(&ok), "{stdout}"),
                _ => assert!(stdout.contains(&pending), "{stdout}"),
            }
        }
        if receipt.anchors.iter().all(|a| a.kind == AnchorKind::Tsa) {
            tsa_only += 1;
            assert_eq!(code(&out), 0, "{tenant} {period}: {}", report(&out));
        }
    }
    assert!(tsa_only > 0, "the demo has TSA-only receipts (starter-co)");
}

/// `anchor api` on port 0 over `data`; its base URL.
fn api(children: &mut Children, data: &Path) -> String {
    let mut child = anchor()
        .args(["api", "--addr", "127.0.0.1:0"])
        .env("LEDGER_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    children.push("api", child);
    let line = lines
        .find_map(|l| l.ok().filter(|l| l.contains("listening on http://")))
        .expect("the API announces its address");
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned()
}

/// `GET path` over HTTP/1.0: status and body.
fn get(base: &str, path: &str) -> (u16, Vec<u8>) {
    let host = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = text(&raw[..end])
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, raw[end + 4..].to_vec())
}

#[test]
fn files_downloaded_from_the_running_api_verify_in_a_fresh_directory_and_through_api() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let mut children = Children::default();
    let base = api(&mut children, &data);
    let receipts = latest_receipts(&data);
    let pick = |tenant: &str| {
        receipts
            .iter()
            .find(|(t, _, _)| t == tenant)
            .unwrap()
            .clone()
    };
    for (tenant, period, receipt) in [pick("starter-co"), pick("pro-co")] {
        // A fresh directory with only the downloads: the receipt and what the API serves.
        let dir = tmp.path().join(format!("fresh-{tenant}"));
        std::fs::create_dir(&dir).unwrap();
        let fetch = |path: String, name: &str| {
            let (status, body) = get(&base, &path);
            assert_eq!(status, 200, "{path}: {}", text(&body));
            std::fs::write(dir.join(name), body).unwrap();
        };
        fetch(format!("/anchor/receipt/{tenant}/{period}"), "receipt.json");
        fetch(
            format!("/anchor/artifact/{tenant}/{period}/root.bin"),
            "root.bin",
        );
        for a in receipt.anchors.iter().filter(|a| a.artifact.is_some()) {
            let name = match a.kind {
                AnchorKind::Ots => "root.ots",
                AnchorKind::Tsa => "root.tsr",
            };
            fetch(format!("/anchor/artifact/{tenant}/{period}/{name}"), name);
        }
        fetch("/.well-known/jwks.json".to_owned(), "jwks.json");
        fetch(format!("/anchor/chain/{tenant}"), "chain.jsonl");
        let out = anchor()
            .args(["verify", "receipt", "receipt.json", "--artifacts", "."])
            .args(trust(&data))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(code(&out), expected_code(&receipt), "{}", report(&out));
        assert!(text(&out.stdout).contains("✓ chain: "), "{}", report(&out));

        // The same through --api, with only the receipt on disk.
        let alone = tmp.path().join(format!("alone-{tenant}"));
        std::fs::create_dir(&alone).unwrap();
        std::fs::copy(dir.join("receipt.json"), alone.join("receipt.json")).unwrap();
        let out = verify_receipt(&alone, &data, &["--api", &base]);
        assert_eq!(code(&out), expected_code(&receipt), "{}", report(&out));
        assert!(
            text(&out.stdout).contains("✓ summary: "),
            "{}",
            report(&out)
        );
        assert!(
            text(&out.stdout).contains(&format!(
                "note version: checked receipt version {}, the latest at the API",
                receipt.version
            )),
            "{}",
            report(&out)
        );
        // An older version, checked through --api, is named as superseded.
        if receipt.version >= 2 {
            let old = tmp.path().join(format!("old-{tenant}"));
            std::fs::create_dir(&old).unwrap();
            std::fs::copy(
                data.join(format!("blobs/receipts/{tenant}/{period}/v1.json")),
                old.join("receipt.json"),
            )
            .unwrap();
            let out = verify_receipt(&old, &data, &["--api", &base]);
            assert!(
                text(&out.stdout).contains(&format!(
                    "note version: checked receipt version 1, which version {} at the API \
                     supersedes",
                    receipt.version
                )),
                "{}",
                report(&out)
            );
        }

        // The API's bundle is byte for byte the CLI's.
        let digest = common::demo_digest(&data, &tenant, &period);
        let file = tmp.path().join(format!("{tenant}.bundle.json"));
        let out = on(
            &data,
            &[
                "bundle",
                "--tenant",
                &tenant,
                "--period",
                &period,
                "--digest",
                &digest,
                "--out",
                file.to_str().unwrap(),
            ],
        );
        success("anchor bundle", &out);
        let (status, served) = get(&base, &format!("/anchor/bundle/{tenant}/{period}/{digest}"));
        assert_eq!(status, 200, "{}", text(&served));
        assert_eq!(served, std::fs::read(&file).unwrap());
    }
}

/// Replaces the byte at `at` with another character of the same alphabet (hex and base64url
/// alike): the document still parses, and says something else.
fn other_char(bytes: &mut [u8], at: usize) {
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
}

/// The offset of the `n`th character of the string value of `"member": "` in `bytes`.
fn inside(bytes: &[u8], member: &str, n: usize) -> usize {
    let pat = format!("\"{member}\":");
    let at = bytes
        .windows(pat.len())
        .position(|w| w == pat.as_bytes())
        .unwrap_or_else(|| panic!("no {member}"));
    let quote = at
        + pat.len()
        + bytes[at + pat.len()..]
            .iter()
            .position(|&b| b == b'"')
            .unwrap();
    quote + 1 + n
}

/// [`other_char`] at the `n`th character of `member`'s string value.
fn change_in(bytes: &mut [u8], member: &str, n: usize) {
    let at = inside(bytes, member, n);
    other_char(bytes, at);
}

fn tampered(base: &Path, name: &str, file: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let dir = base.parent().unwrap().join(name);
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(base).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let mut bytes = std::fs::read(dir.join(file)).unwrap();
    edit(&mut bytes);
    std::fs::write(dir.join(file), bytes).unwrap();
    dir
}

/// An edit of one downloaded file.
type Edit = Box<dyn FnOnce(&mut Vec<u8>)>;

#[test]
fn one_changed_byte_in_any_artifact_fails_the_check_that_covers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let (tenant, period, receipt) = latest_receipts(&data)
        .into_iter()
        .find(|(t, _, _)| t == "pro-co")
        .unwrap();
    let base = flat_dir(&data, &tmp.path().join("downloads"), &tenant, &period);
    let good = verify_receipt(&base, &data, &[]);
    assert_eq!(code(&good), expected_code(&receipt), "{}", report(&good));

    let summary_hash = receipt.summary_hash.clone();
    // (case, file, edit, exit code, lines the report must have)
    let cases: Vec<(&str, &str, Edit, i32, &[&str])> = vec![
        (
            "receipt-sig",
            "receipt.json",
            Box::new(|b| change_in(b, "sig", 40)),
            1,
            &["✗ signature: "],
        ),
        (
            "receipt-summary-hash",
            "receipt.json",
            Box::new(|b| change_in(b, "summary_hash", 5)),
            1,
            &["✗ signature: ", "✗ summary: "],
        ),
        (
            "root-bin",
            "root.bin",
            Box::new(|b| b[0] ^= 1),
            1,
            &["✗ root.bin: ", "✗ ots: ", "✗ tsa: "],
        ),
        // Inside the stamped digest (after the 31-byte magic, version and hash op): still a
        // well-formed .ots, of other data.
        (
            "ots-digest",
            "root.ots",
            Box::new(|b| b[40] ^= 1),
            1,
            &["✗ artifact root.ots: ", "✗ ots: "],
        ),
        // The magic: the file no longer parses, which is bad input (exit 2).
        (
            "ots-magic",
            "root.ots",
            Box::new(|b| b[0] ^= 1),
            2,
            &["✗ ots: malformed: "],
        ),
        // The last byte is in the CMS signature: still DER, no longer a valid signature.
        (
            "tsr-signature",
            "root.tsr",
            Box::new(|b| *b.last_mut().unwrap() ^= 1),
            1,
            &["✗ artifact root.tsr: ", "✗ tsa: "],
        ),
        // Any line of the chain: the chain check fails, the receipt's summary is still found.
        (
            "chain-first-line",
            "chain.jsonl",
            Box::new(|b| change_in(b, "sig", 40)),
            1,
            &["✗ chain: line 1: signature"],
        ),
        // The line the receipt names: it is no longer there at all.
        (
            "chain-named-summary",
            "chain.jsonl",
            Box::new(move |b| {
                let start: usize = b
                    .split(|&c| c == b'\n')
                    .take_while(|line| ledger::formats::sha256_hex(line) != summary_hash)
                    .map(|line| line.len() + 1)
                    .sum();
                let at = inside(&b[start..], "sig", 40);
                other_char(b, start + at);
            }),
            1,
            &["✗ chain: ", "✗ summary: no line of the chain"],
        ),
    ];
    for (name, file, edit, want, lines) in cases {
        let dir = tampered(&base, name, file, edit);
        let out = verify_receipt(&dir, &data, &[]);
        assert_eq!(code(&out), want, "{name}: {}", report(&out));
        for line in lines {
            assert!(
                text(&out.stdout).contains(line),
                "{name}: {line}\n{}",
                report(&out)
            );
        }
    }

    // Another operator's keys: the signatures do not verify (exit 1).
    let keys = tmp.path().join("other-keys");
    success(
        "anchor keys generate",
        &anchor()
            .args(["keys", "generate", "--out"])
            .arg(&keys)
            .output()
            .unwrap(),
    );
    let out = verify_receipt(
        &base,
        &data,
        &["--jwks", keys.join("jwks.json").to_str().unwrap()],
    );
    assert_eq!(code(&out), 1, "{}", report(&out));
    assert!(
        text(&out.stdout).contains("✗ signature: "),
        "{}",
        report(&out)
    );
    assert!(text(&out.stdout).contains("✗ chain: "), "{}", report(&out));

    // A missing artifact is bad input, named.
    let missing = tampered(&base, "missing-tsr", "root.bin", |_| {});
    std::fs::remove_file(missing.join("root.tsr")).unwrap();
    let out = verify_receipt(&missing, &data, &[]);
    assert_eq!(code(&out), 2, "{}", report(&out));
    assert!(text(&out.stderr).contains("root.tsr"), "{}", report(&out));

    // A receipt that says confirmed (signed with the operator's own key, so only the claim
    // differs) fails without a header source, and says why.
    let key = ledger::keys::SigningKey::from_pem(
        &std::fs::read_to_string(data.join("signing-key.pem")).unwrap(),
    )
    .unwrap();
    let mut body = receipt.clone();
    for a in body
        .anchors
        .iter_mut()
        .filter(|a| a.kind == AnchorKind::Ots)
    {
        a.status = AnchorStatus::Confirmed;
        a.bitcoin = Some(ledger::formats::Bitcoin {
            height: 100,
            block_hash: "00".repeat(32),
            time: receipt.anchored_at,
            txid: None,
            network: Some(ledger::formats::BitcoinNetwork::Bitcoin),
        });
    }
    body.sig = key.sign(&body.signing_input().unwrap());
    let claims = tampered(&base, "claims-confirmed", "receipt.json", |b| {
        *b = body.to_json_pretty().into_bytes();
    });
    let out = anchor()
        .args(["verify", "receipt"])
        .arg(claims.join("receipt.json"))
        .args(["--ca", data.join("dev-tsa-ca.pem").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", report(&out));
    assert!(
        text(&out.stdout).contains("✓ signature: ")
            && text(&out.stdout).contains("no header source was given"),
        "{}",
        report(&out)
    );
    a_receipt_binds_its_network_and_transaction(&data, &base, &receipt, &key);
}

/// The demo's confirmed receipt names the regtest network and a txid: without `--regtest`
/// it fails on its network; re-signed to claim mainnet, or another transaction, it fails
/// naming that.
fn a_receipt_binds_its_network_and_transaction(
    data: &Path,
    base: &Path,
    receipt: &Receipt,
    key: &ledger::keys::SigningKey,
) {
    assert!(
        receipt
            .anchors
            .iter()
            .any(|a| a.bitcoin.as_ref().is_some_and(|b| b.txid.is_some())),
        "the demo receipt names its transaction: {receipt:?}"
    );
    let mainnet_verifier = anchor()
        .args(["verify", "receipt"])
        .arg(base.join("receipt.json"))
        .args(["--ca", data.join("dev-tsa-ca.pem").to_str().unwrap()])
        .arg("--headers")
        .arg(data.join("dev-headers.json"))
        .output()
        .unwrap();
    assert_eq!(code(&mainnet_verifier), 1, "{}", report(&mainnet_verifier));
    assert!(
        text(&mainnet_verifier.stdout)
            .contains("names a block on the regtest network, and this verifier checks bitcoin"),
        "{}",
        report(&mainnet_verifier)
    );
    let resigned = |name: &str, edit: fn(&mut ledger::formats::Bitcoin)| {
        let mut body = receipt.clone();
        for b in body.anchors.iter_mut().filter_map(|a| a.bitcoin.as_mut()) {
            edit(b);
        }
        body.sig = key.sign(&body.signing_input().unwrap());
        let dir = tampered(base, name, "receipt.json", |b| {
            *b = body.to_json_pretty().into_bytes();
        });
        verify_receipt(&dir, data, &[])
    };
    let out = resigned("claims-mainnet", |b| {
        b.network = Some(ledger::formats::BitcoinNetwork::Bitcoin);
    });
    assert_eq!(code(&out), 1, "{}", report(&out));
    assert!(
        text(&out.stdout).contains("✗ ots: the receipt names a block on the bitcoin network"),
        "{}",
        report(&out)
    );
    let out = resigned("other-txid", |b| b.txid = Some("ab".repeat(32)));
    assert_eq!(code(&out), 1, "{}", report(&out));
    assert!(
        text(&out.stdout).contains("through transaction")
            && text(&out.stdout).contains(&format!("the receipt says {}", "ab".repeat(32))),
        "{}",
        report(&out)
    );
}

#[test]
fn a_bundle_verifies_offline_and_a_changed_proof_or_manifest_ots_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let receipts = latest_receipts(&data);
    for tenant in ["pro-co", "starter-co"] {
        let (_, period, receipt) = receipts.iter().find(|(t, _, _)| t == tenant).unwrap();
        let digest = common::demo_digest(&data, tenant, period);
        let file = tmp.path().join(format!("{tenant}.bundle.json"));
        let args = [
            "bundle",
            "--tenant",
            tenant,
            "--period",
            period,
            "--digest",
            &digest,
            "--out",
            file.to_str().unwrap(),
        ];
        success("anchor bundle", &on(&data, &args));
        // Create-only.
        assert_eq!(code(&on(&data, &args)), 2);
        let verify = |path: &Path| {
            anchor()
                .args(["verify", "bundle"])
                .arg(path)
                .args(trust(&data))
                .output()
                .unwrap()
        };
        let out = verify(&file);
        assert_eq!(code(&out), expected_code(receipt), "{}", report(&out));
        assert_eq!(
            code(&out),
            0,
            "the demo's anchors are confirmed: {}",
            report(&out)
        );
        for line in ["✓ proof: ", "✓ signature: ", "✓ summary: ", "✓ tsa: "] {
            assert!(text(&out.stdout).contains(line), "{line}\n{}", report(&out));
        }
        // A bundle knows its receipt was the latest when it was made, not since.
        assert!(
            text(&out.stdout).contains(&format!(
                "note version: checked receipt version {}, the latest when the bundle was made",
                receipt.version
            )),
            "{}",
            report(&out)
        );
        if tenant == "pro-co" {
            assert!(
                text(&out.stdout).contains("✓ manifest.ots: "),
                "{}",
                report(&out)
            );
        }

        let bundle = proofs::Bundle::from_json(&std::fs::read(&file).unwrap()).unwrap();
        let write = |name: &str, b: &proofs::Bundle| {
            let path = tmp.path().join(format!("{tenant}-{name}.json"));
            std::fs::write(&path, b.to_json()).unwrap();
            path
        };
        let mut proof = bundle.clone();
        // A one-leaf tree has an empty audit path: then the proof's root is what changes
        // (`inside` finds the member's first string, which would be the next member's).
        let doc: serde_json::Value = serde_json::from_slice(&proof.proof).unwrap();
        let one_leaf = doc["audit_path"].as_array().is_some_and(Vec::is_empty);
        change_in(
            &mut proof.proof,
            if one_leaf { "root" } else { "audit_path" },
            if one_leaf { 40 } else { 5 },
        );
        let out = verify(&write("proof", &proof));
        assert_eq!(code(&out), 1, "{}", report(&out));
        assert!(text(&out.stdout).contains("✗ proof: "), "{}", report(&out));
        let mut summary = bundle.clone();
        change_in(&mut summary.summary, "sig", 40);
        let out = verify(&write("summary", &summary));
        assert_eq!(code(&out), 1, "{}", report(&out));
        assert!(
            text(&out.stdout).contains("✗ summary: "),
            "{}",
            report(&out)
        );
        if let Some(ots) = &bundle.manifest_ots {
            // Inside the stamped digest: the file is of another manifest.
            let mut changed = bundle.clone();
            let mut bytes = ots.clone();
            bytes[40] ^= 1;
            changed.manifest_ots = Some(bytes);
            let out = verify(&write("manifest-ots", &changed));
            assert_eq!(code(&out), 1, "{}", report(&out));
            assert!(
                text(&out.stdout).contains("✗ manifest.ots: "),
                "{}",
                report(&out)
            );
        }
    }
    // An unreadable bundle is bad input.
    let out = anchor()
        .args(["verify", "bundle"])
        .arg(tmp.path().join("absent.json"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", report(&out));
}

/// The commands of a PDF receipt's "Verify it yourself" box, as `pdftotext -layout` gives its
/// text: from the first `#` line after that heading to the `Signature` heading, comment
/// lines left out, a line ending in `\` joined to the next as a shell joins them.
fn printed_commands(text: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "Verify it yourself")
        .skip_while(|l| !l.starts_with('#'))
        .take_while(|l| *l != "Signature")
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let mut out = Vec::new();
    while let Some(first) = lines.next() {
        let mut cmd = first.to_owned();
        while let Some(head) = cmd.strip_suffix('\\') {
            cmd = format!("{head}{}", lines.next().unwrap_or_default());
        }
        out.push(cmd);
    }
    out
}

#[test]
fn printed_commands_are_read_from_the_verify_box_with_continuations_joined() {
    let text = "Verify it yourself\n  In an empty folder, run:\n\n  # Download\n  curl -o a \
                $API/x\n  anchor verify receipt \\\n  receipt.json --ca\\\n  .pem\n  # end\n\n\
                Signature\n  Signature   abc\n";
    assert_eq!(
        printed_commands(text),
        [
            "curl -o a $API/x",
            "anchor verify receipt receipt.json --ca.pem"
        ]
    );
}

#[test]
fn the_commands_a_pdf_receipt_prints_succeed_as_printed_in_a_folder_of_its_downloads() {
    let Some(py) = py_tools() else { return };
    for tool in ["pdftotext", "curl", "openssl"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            testkit::skip(&format!("{tool} not installed"), "run scripts/api-tools.sh");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let mut children = Children::default();
    let base = api(&mut children, &data);
    let anchor_dir = Path::new(env!("CARGO_BIN_EXE_anchor")).parent().unwrap();
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        py.display(),
        anchor_dir.display()
    );
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let receipts = latest_receipts(&data);
    let mut regtest_ots = 0;
    for tenant in ["starter-co", "pro-co", "enterprise-co"] {
        let (_, period, receipt) = receipts.iter().find(|(t, _, _)| t == tenant).unwrap();
        let (status, pdf) = get(&base, &format!("/anchor/receipt/{tenant}/{period}.pdf"));
        assert_eq!(status, 200, "{}", text(&pdf));
        let file = tmp.path().join(format!("{tenant}.pdf"));
        std::fs::write(&file, &pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        let page = success("pdftotext", &out);
        let commands = printed_commands(&page);
        assert!(
            commands.iter().any(|c| c.starts_with("curl "))
                && commands
                    .iter()
                    .any(|c| c.starts_with("anchor verify receipt ")),
            "{tenant} {period}: no downloads or no receipt check in:\n{page}"
        );

        // The folder: what the printed commands download, and the trust anchors the page
        // says come from elsewhere (the TSA's CA, the regtest chain's headers).
        let dir = tmp.path().join(format!("pdf-{tenant}"));
        std::fs::create_dir(&dir).unwrap();
        if page.contains("tsa-ca.pem") {
            std::fs::copy(data.join("dev-tsa-ca.pem"), dir.join("tsa-ca.pem")).unwrap();
        }
        if page.contains("headers.json") {
            std::fs::copy(data.join("dev-headers.json"), dir.join("headers.json")).unwrap();
            regtest_ots += 1;
        }
        for cmd in &commands {
            let out = std::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", cmd])
                .env_clear()
                .env("PATH", &path)
                .env("HOME", &home)
                .env("LANG", "C.UTF-8")
                .env("API", &base)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{tenant} {period}: `{cmd}` as printed: {}\n--- page\n{page}",
                report(&out)
            );
            eprintln!("{tenant} {period}: ok: {cmd}");
        }
        for a in receipt.anchors.iter().filter(|a| a.artifact.is_some()) {
            let name = match a.kind {
                AnchorKind::Ots => "root.ots",
                AnchorKind::Tsa => "root.tsr",
            };
            assert!(
                dir.join(name).exists(),
                "{tenant} {period}: the page never downloads {name}:\n{page}"
            );
        }
    }
    assert!(
        regtest_ots > 0,
        "a demo tenant has a confirmed regtest OpenTimestamps anchor"
    );
}
