//! `anchor reserves liabilities`: the Merkle-sum tree of customers' balances checked by an
//! implementation we did not share code with — Python's `hashlib` and `hmac` rebuilding the
//! root and total from the format in `domain::reserve::liabilities` — and each customer's
//! proof: it verifies, a lowered sibling sum fails, bad lines and unknown accounts are bad
//! input.

mod common;

use std::fmt::Write as _;
use std::process::Command;

use common::{anchor, success, text};

/// The root and total of a balances file, computed from the documented format alone.
const PYTHON_ROOT: &str = r##"
import hashlib, hmac, json, sys
secret = open(sys.argv[1], "rb").read()
rows = [l.strip().rsplit(",", 1) for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
def account(a):
    salt = hmac.new(secret, a.encode(), hashlib.sha256).digest()
    return hashlib.sha256(b"c2c.liability.account.v1|" + salt + b"|" + a.encode()).digest()
def leaf(h, b):
    return (hashlib.sha256(b"\x00c2c.liability.v1|" + h + b.to_bytes(8, "big")).digest(), b)
def parent(l, r):
    data = b"\x01" + l[0] + l[1].to_bytes(8, "big") + r[0] + r[1].to_bytes(8, "big")
    return (hashlib.sha256(data).digest(), l[1] + r[1])
def mth(xs):
    if len(xs) == 1:
        return leaf(*xs[0])
    k = 1
    while k * 2 < len(xs):
        k *= 2
    return parent(mth(xs[:k]), mth(xs[k:]))
leaves = sorted((account(a.strip()), int(b)) for a, b in rows)
h, t = mth(leaves)
print(json.dumps({"root": h.hex(), "total": t}))
"##;

/// 77 customers' balances and a secret in `dir`: (balances, secret, the CSV text, the total).
fn fixture(dir: &std::path::Path) -> (String, String, String, u64) {
    let balances = dir.join("balances.csv");
    let mut csv = String::from("# account,balance (micro-units)\n");
    let mut sum = 0u64;
    for i in 0..77u64 {
        let b = 1_000_000 + i * 12_345;
        sum += b;
        writeln!(csv, "customer-{i}@example.com,{b}").unwrap();
    }
    std::fs::write(&balances, &csv).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, b"attestation-2026-12 secret bytes").unwrap();

    (
        balances.display().to_string(),
        secret.display().to_string(),
        csv,
        sum,
    )
}

/// `anchor reserves liabilities ARGS…`.
fn liabilities(args: &[&str]) -> std::process::Output {
    anchor()
        .args(["reserves", "liabilities"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn pythons_hashlib_rebuilds_the_root_and_every_proof_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let (b, s, _, sum) = fixture(dir.path());
    let (b, s) = (b.as_str(), s.as_str());
    let root: serde_json::Value = serde_json::from_str(&success(
        "liabilities root",
        &liabilities(&["root", "--balances", b, "--secret-file", s]),
    ))
    .unwrap();
    assert_eq!(root["total"], sum);
    assert_eq!(root["tree_size"], 77);
    match Command::new("python3")
        .args(["-c", PYTHON_ROOT, s, b])
        .output()
    {
        Ok(out) if out.status.success() => {
            let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(theirs["root"], root["root"], "Python's root");
            assert_eq!(theirs["total"], root["total"], "Python's total");
        }
        other => {
            assert!(
                std::env::var("CI").is_err(),
                "python3 is needed in CI: {other:?}"
            );
            eprintln!("SKIPPED: the Python cross-check (no python3)");
        }
    }
    let (root_hex, total) = (root["root"].as_str().unwrap(), sum.to_string());

    for account in [
        "customer-0@example.com",
        "customer-41@example.com",
        "customer-76@example.com",
    ] {
        let proof = success(
            "liabilities prove",
            &liabilities(&[
                "prove",
                "--balances",
                b,
                "--secret-file",
                s,
                "--account",
                account,
            ]),
        );
        assert!(
            !proof.contains("customer-"),
            "a proof names no account: {proof}"
        );
        let file = dir.path().join("proof.json");
        std::fs::write(&file, &proof).unwrap();
        let verify = |account: &str, total: &str| {
            anchor()
                .args(["reserves", "liabilities", "verify"])
                .arg(&file)
                .args(["--account", account, "--root", root_hex, "--total", total])
                .output()
                .unwrap()
        };
        let ok = verify(account, &total);
        assert!(success("liabilities verify", &ok).starts_with("counted: "));
        assert_eq!(
            verify("customer-1@example.com", &total).status.code(),
            Some(1)
        );
        assert_eq!(
            verify(account, &(sum - 1).to_string()).status.code(),
            Some(1)
        );
        // A sibling's sum lowered in the proof: fails.
        let mut v: serde_json::Value = serde_json::from_str(&proof).unwrap();
        let s0 = v["path"][0]["sum"].as_u64().unwrap();
        v["path"][0]["sum"] = (s0 - 1).into();
        std::fs::write(&file, v.to_string()).unwrap();
        let lowered = verify(account, &total);
        assert_eq!(lowered.status.code(), Some(1), "{}", text(&lowered.stderr));
    }
}

#[test]
fn a_negative_balance_names_its_line_and_an_unknown_account_has_no_proof() {
    let dir = tempfile::tempdir().unwrap();
    let (b, s, csv, _) = fixture(dir.path());
    let balances = std::path::PathBuf::from(&b);
    let (b, s) = (b.as_str(), s.as_str());
    std::fs::write(&balances, format!("{csv}mallory,-5\n")).unwrap();
    let neg = liabilities(&["root", "--balances", b, "--secret-file", s]);
    assert_eq!(neg.status.code(), Some(2));
    assert!(
        text(&neg.stderr).contains("79: mallory,-5"),
        "{}",
        text(&neg.stderr)
    );
    std::fs::write(&balances, &csv).unwrap();
    let unknown = liabilities(&[
        "prove",
        "--balances",
        b,
        "--secret-file",
        s,
        "--account",
        "nobody",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
}
