//! `anchor demo` end to end on the embedded defaults (SQLite store, SQLite queue, local
//! directory), through the real scheduler and workers, with the dev TSA and dev calendars.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn demo_anchors_every_due_period_of_every_plan_and_verifies_each_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--manifests", "210", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
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
    let pro = of("pro-co");
    assert!(
        pro.iter().all(|r| r[1].contains("-W")
            && r[4] == "ots:pending,tsa:confirmed"
            && r[2] == "anchored"),
        "{stdout}"
    );
    let enterprise = of("enterprise-co");
    assert!(
        enterprise
            .iter()
            .any(|r| r[1].len() == 10 && r[4] == "ots:pending")
    );
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
    proofs_are_served_from_the_stored_tree(&data, pro[0][1], dir.path());
    // A second demo into the same directory is refused, not merged.
    let again = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
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
    assert!(listing.contains("PendingAttestation"), "{listing}");
}
