//! `anchor demo` end to end on the embedded defaults (SQLite store, SQLite queue, local
//! directory), through the real scheduler and workers, with the dev TSA and dev calendars;
//! the dev calendars mine a local regtest chain, so every OTS anchor ends confirmed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{HeadersFile, Network};
use stamp::verify::{Finding, Verdict};

#[test]
fn demo_anchors_every_due_period_of_every_plan_and_verifies_each_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--manifests", "210", "--data"])
        .arg(&data)
        .env("LEDGER_LOG_FORMAT", "json")
        .env("RUST_LOG", "workers=info")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    every_log_line_is_json_and_each_job_names_its_run_and_duration(&stderr);
    // Starter: monthly TSA only; pro: weekly OTS + TSA; enterprise: daily OTS, weekly TSA.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|r| r.len() == 6)
        .collect();
    let of = |tenant: &str| rows.iter().filter(|r| r[0] == tenant).collect::<Vec<_>>();
    let starter = of("starter-co");
    assert!(!starter.is_empty(), "{stdout}");
    assert!(
        starter
            .iter()
            .all(|r| r[1].len() == 7 && r[4] == "tsa:confirmed" && r[2] == "complete")
    );
    // OTS anchors end confirmed on the dev calendars' regtest chain.
    let pro = of("pro-co");
    assert!(
        pro.iter().all(|r| r[1].contains("-W")
            && r[4] == "ots:confirmed,tsa:confirmed"
            && r[2] == "complete"),
        "{stdout}"
    );
    let enterprise = of("enterprise-co");
    let daily: Vec<_> = enterprise.iter().filter(|r| r[1].len() == 10).collect();
    assert!(!daily.is_empty(), "{stdout}");
    assert!(
        daily
            .iter()
            .all(|r| r[4] == "ots:confirmed" && r[2] == "complete"),
        "{stdout}"
    );
    assert!(stderr.contains("local regtest chain"), "{stderr}");
    assert!(
        enterprise
            .iter()
            .any(|r| r[1].contains("-W") && r[4] == "tsa:confirmed")
    );
    // Every manifest is in exactly one tree per cadence: the weekly trees of a tenant cover
    // all its manifests that fell in closed weeks, and no period appears twice.
    let mut periods: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    let n = periods.len();
    periods.sort_unstable();
    periods.dedup();
    assert_eq!(periods.len(), n, "a period was anchored twice:\n{stdout}");
    let verified = format!("{n} receipts verified");
    assert!(stdout.contains(&verified), "{stdout}");
    let heights = every_ots_anchor_is_confirmed_by_the_dev_headers(&data);
    assert_eq!(
        heights.len(),
        pro.len() + daily.len(),
        "one confirmed OTS anchor per OTS-anchored period"
    );
    proofs_are_served_from_the_stored_tree(&data, pro[0][1], dir.path());
    every_artifact_is_valid_against_its_json_schema(&data, &dir.path().join("schemas"));
    // A second demo into the same directory is refused, not merged.
    let again = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

/// Every latest receipt with an OTS anchor (`receipts/{tenant}/{period}.json`) is a later
/// version naming a confirmed Bitcoin block, and the root `.ots` it names verifies against
/// `DATA/dev-headers.json` as that block on regtest, and not on Bitcoin's main network.
/// Returns the height of each.
fn every_ots_anchor_is_confirmed_by_the_dev_headers(data: &Path) -> Vec<u64> {
    let blobs = data.join("blobs");
    let json = std::fs::read(data.join("dev-headers.json")).unwrap();
    let headers = HeadersFile::from_json(&json).unwrap();
    let mut heights = Vec::new();
    for tenant in std::fs::read_dir(blobs.join("receipts")).unwrap() {
        for entry in std::fs::read_dir(tenant.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue; // the v{n} directories
            }
            let receipt: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let anchors = receipt["anchors"].as_array().unwrap();
            let Some(ots) = anchors.iter().find(|a| a["type"] == "ots") else {
                continue;
            };
            let at = path.display();
            assert_eq!(ots["status"], "confirmed", "{at}");
            let version = receipt["version"].as_u64().unwrap();
            assert!(version >= 2, "{at}: an upgrade writes a new version");
            assert_eq!(receipt["supersedes"].as_u64(), Some(version - 1), "{at}");
            let height = ots["bitcoin"]["height"].as_u64().unwrap();
            let hash = ots["bitcoin"]["block_hash"].as_str().unwrap();
            let key = ots["artifact"]["key"].as_str().unwrap();
            let file =
                stamp::DetachedTimestamp::from_bytes(&std::fs::read(blobs.join(key)).unwrap())
                    .unwrap();
            let root_bin = std::fs::read(blobs.join(key).with_file_name("root.bin")).unwrap();
            let digest = Sha256::digest(&root_bin);
            let on = |network| {
                let h = headers.clone().on_network(network);
                stamp::verify::verify_file(&file, &digest, &h).unwrap()
            };
            let (verdict, findings) = on(Network::Regtest);
            assert_eq!(verdict, Verdict::Verified, "{at}: {findings:?}");
            // The receipt names the chain and the transaction the proof commits through.
            assert_eq!(ots["bitcoin"]["network"], "regtest", "{at}");
            let txid = ots["bitcoin"]["txid"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}"));
            assert!(
                findings.iter().any(|f| matches!(f,
                    Finding::Bitcoin { height: h, block_hash, txid: Some(t), .. }
                        if *h == height && block_hash == hash && t == txid)),
                "{at}: {findings:?}"
            );
            the_reference_client_names_the_same_transaction(&blobs.join(key), txid);
            assert_eq!(on(Network::Bitcoin).0, Verdict::NotVerified, "{at}");
            heights.push(height);
        }
    }
    heights
}

/// `ots info` of the reference client (which we did not write) prints "Transaction id
/// {txid}" for the message that is the dev block's transaction (one per calendar branch; the
/// receipt names the earliest block's).
fn the_reference_client_names_the_same_transaction(ots_file: &Path, txid: &str) {
    let Some(py) = testkit::python_tools() else {
        return;
    };
    let out = Command::new(py.join("ots"))
        .arg("info")
        .arg(ots_file)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{info}");
    let named: Vec<&str> = info
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# Transaction id "))
        .collect();
    assert!(named.contains(&txid), "{}:\n{info}", ots_file.display());
}

fn anchor_on(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .env("LEDGER_DATA_DIR", data)
        .output()
        .unwrap()
}

/// `anchor proof` derives a manifest's proof and `.ots` from the period's `levels.bin`: the
/// proof verifies against the receipt's root, and the `.ots` is one the Python
/// OpenTimestamps client (which we did not write) reads as a timestamp of that manifest.
fn proofs_are_served_from_the_stored_tree(data: &Path, week: &str, scratch: &Path) {
    let digest = common::demo_digest(data, "pro-co", week);
    let receipt: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join(format!("blobs/receipts/pro-co/{week}.json"))).unwrap(),
    )
    .unwrap();
    let root = receipt["root"].as_str().unwrap();

    // `anchor proof` with the demo's data directory; exit 0 expected unless `code` says.
    let proof = |extra: &[&str], code: i32| {
        let mut args = vec!["proof", "--tenant", "pro-co", "--period", week];
        args.extend_from_slice(extra);
        let out = anchor_on(data, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        stderr
    };
    let proof_file = scratch.join("proof.json");
    let ots_file = scratch.join("manifest.ots");
    let (proof_path, ots_path) = (proof_file.to_str().unwrap(), ots_file.to_str().unwrap());
    proof(&["--digest", &digest, "--out", proof_path], 0);
    let out = anchor_on(data, &["verify", "proof", "--root", root, proof_path]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A digest that is not in the tree is bad input, named.
    let absent = "ab".repeat(32);
    assert!(proof(&["--digest", &absent], 2).contains(&absent));
    proof(&["--ots", "--digest", &digest, "--out", ots_path], 0);
    proofs_come_from_the_tiles_of_a_static_copy(data, week, &digest, scratch);
    let Some(tools) = testkit::python_tools() else {
        return;
    };
    let info = Command::new(tools.join("ots"))
        .arg("info")
        .arg(&ots_file)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{listing}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(
        listing.contains(&format!("File sha256 hash: {digest}")),
        "{listing}"
    );
    // Upgraded: the calendars' pending attestations are kept, and the Bitcoin attestation
    // of the block the receipt names ends at that block's merkle root (which the Python
    // client prints in display, byte-reversed, order).
    assert!(listing.contains("PendingAttestation"), "{listing}");
    let ots = receipt["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "ots")
        .unwrap();
    let height = ots["bitcoin"]["height"].as_u64().unwrap();
    assert!(
        listing.contains(&format!("verify BitcoinBlockHeaderAttestation({height})")),
        "{listing}"
    );
    let headers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("dev-headers.json")).unwrap()).unwrap();
    let header = headers[height.to_string()].as_str().unwrap();
    let mut merkle_root = merkle::hash::decode_hex("header", &header[72..136]).unwrap();
    merkle_root.reverse();
    assert!(
        listing.contains(&format!(
            "# Bitcoin block merkle root {}",
            merkle::hash::encode_hex(&merkle_root)
        )),
        "{listing}"
    );
}

/// `anchor proof --from DIR|URL` derives the same proof and `.ots` bytes from the bucket's
/// tiles alone (a copy in a directory, and the same directory served by nginx, which knows
/// nothing of the project), and a damaged tile is exit 1 naming the root, never a proof.
fn proofs_come_from_the_tiles_of_a_static_copy(
    data: &Path,
    week: &str,
    digest: &str,
    scratch: &Path,
) {
    let blobs = data.join("blobs");
    let get = |from: &str, extra: &[&str]| {
        let mut args = vec![
            "proof", "--tenant", "pro-co", "--period", week, "--digest", digest, "--from", from,
        ];
        args.extend_from_slice(extra);
        let out = anchor_on(&scratch.join("no-such-data"), &args);
        (
            out.status.code(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let local = |extra: &[&str]| {
        let mut args = vec![
            "proof", "--tenant", "pro-co", "--period", week, "--digest", digest,
        ];
        args.extend_from_slice(extra);
        anchor_on(data, &args).stdout
    };
    let (want_json, want_ots) = (local(&[]), local(&["--ots"]));
    let dir = blobs.to_str().unwrap();
    assert_eq!(get(dir, &[]), (Some(0), want_json.clone(), String::new()));
    assert_eq!(get(dir, &["--ots"]).1, want_ots);
    if let Some(bin) = testkit::nginx::binary() {
        let nginx = testkit::nginx::start(
            &bin,
            &scratch.join("nginx"),
            &blobs,
            "application/octet-stream",
            "",
        );
        let (code, body, err) = get(&nginx.url(), &[]);
        assert_eq!(code, Some(0), "{err}\n{}", nginx.errors());
        assert_eq!(body, want_json);
        assert_eq!(get(&nginx.url(), &["--ots"]).1, want_ots);
    }
    // A copy whose bottom tile is damaged: every hash zeroed, then one byte short.
    let copy = scratch.join("damaged");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&blobs)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let mut bottom = copy.join(format!("roots/pro-co/{week}/tile/0"));
    while bottom.is_dir() {
        bottom = std::fs::read_dir(&bottom)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
    }
    let len = std::fs::read(&bottom).unwrap().len();
    std::fs::write(&bottom, vec![0u8; len]).unwrap();
    let damaged = copy.to_str().unwrap();
    let (code, _, err) = get(damaged, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("do not lead to its root"), "{err}");
    std::fs::write(&bottom, vec![0u8; len - 1]).unwrap();
    let (code, _, err) = get(damaged, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("holds {} bytes", len - 1)), "{err}");
}

/// The demo's documents against the JSON Schemas of `schemas/`, by the command-line validator
/// (`scripts/validate-json.py`, Python's `jsonschema`): every stored receipt (latest and each
/// version), every root metadata file, each tenant's exported run-summary chain (a document a
/// line), and a proof and a bundle per tenant from `anchor proof` and `anchor bundle`. A
/// receipt with bad hex is refused, naming the file and the JSON pointer.
fn every_artifact_is_valid_against_its_json_schema(data: &Path, scratch: &Path) {
    use testkit::schema::{BUNDLE, PROOF, RECEIPT, ROOT, RUN_SUMMARY};
    std::fs::create_dir_all(scratch).unwrap();
    let blobs = data.join("blobs");
    let receipts = json_files(&blobs.join("receipts"));
    // roots/{tenant}/{period}.json; below roots/{tenant}/{period}/ are the root's artifacts.
    let roots: Vec<PathBuf> = json_files(&blobs.join("roots"))
        .into_iter()
        .filter(|p| p.parent().and_then(Path::parent) == Some(&blobs.join("roots")))
        .collect();
    let (mut chains, mut proofs, mut bundles) = (Vec::new(), Vec::new(), Vec::new());
    for tenant in ["starter-co", "pro-co", "enterprise-co"] {
        let chain = scratch.join(format!("{tenant}.jsonl"));
        let path = chain.to_str().unwrap();
        let out = anchor_on(
            data,
            &["ledger", "export", "--tenant", tenant, "--out", path],
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        chains.push(chain);
        // The tenant's first anchored period, and a manifest of it.
        let period = std::fs::read_dir(blobs.join("roots").join(tenant))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
            .min()
            .unwrap();
        let digest = common::demo_digest(data, tenant, &period);
        for (what, list) in [("proof", &mut proofs), ("bundle", &mut bundles)] {
            let file = scratch.join(format!("{tenant}.{what}.json"));
            let mut args = vec![
                what, "--tenant", tenant, "--period", &period, "--digest", &digest,
            ];
            args.extend(["--out", file.to_str().unwrap()]);
            let out = anchor_on(data, &args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
            list.push(file);
        }
    }
    // Each period has its latest receipt and every version under its own key.
    assert!(
        !roots.is_empty() && receipts.len() >= 2 * roots.len(),
        "{} receipts, {} roots",
        receipts.len(),
        roots.len()
    );
    for (schema, jsonl, files, least) in [
        (RECEIPT, false, &receipts, receipts.len()),
        (ROOT, false, &roots, roots.len()),
        (PROOF, false, &proofs, 3),
        (BUNDLE, false, &bundles, 3),
        (RUN_SUMMARY, true, &chains, roots.len()),
    ] {
        let Some((code, report)) = validate(schema, jsonl, files) else {
            return;
        };
        assert_eq!(code, Some(0), "{schema}:\n{report}");
        let valid = report
            .lines()
            .filter(|l| l.ends_with(&format!(": valid {schema}")))
            .count();
        assert!(
            valid >= least,
            "{valid} valid {schema} of {least}:\n{report}"
        );
    }
    a_receipt_with_bad_hex_is_refused_naming_file_and_pointer(&receipts[0], scratch);
}

/// Every `*.json` file under `dir`.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out
}

/// `scripts/validate-json.py [--jsonl] SCHEMA FILE...`: its exit code and report; `None` when
/// the validator is skipped (never under `CI=true`).
fn validate(schema: &str, jsonl: bool, files: &[PathBuf]) -> Option<(Option<i32>, String)> {
    let mut cmd = testkit::schema::command()?;
    if jsonl {
        cmd.arg("--jsonl");
    }
    let out = cmd.arg(schema).args(files).output().unwrap();
    Some((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// A copy of `receipt` whose summary hash is not lowercase hex is refused by the validator,
/// naming the file and the JSON pointer.
fn a_receipt_with_bad_hex_is_refused_naming_file_and_pointer(receipt: &Path, scratch: &Path) {
    use testkit::schema::RECEIPT;
    let bad = scratch.join("bad-receipt.json");
    let text = std::fs::read_to_string(receipt).unwrap();
    let receipt: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hash = receipt["summary_hash"].as_str().unwrap();
    std::fs::write(&bad, text.replace(hash, &hash.to_uppercase())).unwrap();
    let Some((code, report)) = validate(RECEIPT, false, std::slice::from_ref(&bad)) else {
        return;
    };
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains(&format!(
            "{}: invalid {RECEIPT} at JSON pointer \"/summary_hash\":",
            bad.display()
        )),
        "{report}"
    );
}

/// `LEDGER_LOG_FORMAT=json`: every log line is one JSON object, and each job's `job finished`
/// line carries its kind, run, tenant and period (the span) and its duration and outcome.
fn every_log_line_is_json_and_each_job_names_its_run_and_duration(stderr: &str) {
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // The demo's own announcements are plain text for a person; logs are JSON.
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with('{') || l.starts_with("demo")),
        "{stderr}"
    );
    let finished: Vec<&serde_json::Value> = logs
        .iter()
        .filter(|l| l["message"] == "job finished" && l["span"]["kind"] == "rollup")
        .collect();
    assert!(!finished.is_empty(), "no rollup job finished in\n{stderr}");
    for line in finished {
        let span = &line["span"];
        let run = span["run"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert_eq!(
            run,
            format!(
                "{}:{}",
                span["tenant"].as_str().unwrap(),
                span["period"].as_str().unwrap()
            ),
            "{line}"
        );
        assert!(line["duration_ms"].is_u64(), "{line}");
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
    }
}
