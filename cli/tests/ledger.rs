//! `anchor ledger verify` as a real process, on the ledger crate's golden chain
//! (`ledger/tests/golden/chain.jsonl`, three summaries of tenant `acme`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn anchor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .output()
        .expect("run anchor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ledger/tests/golden")
        .join(name)
}

fn verify(chain: &Path, jwks: &Path) -> Output {
    anchor(&["ledger", "verify", s(chain), "--jwks", s(jwks)])
}

#[test]
fn verify_of_a_valid_chain_exits_0_with_tenant_count_and_head_hash() {
    let chain = golden("chain.jsonl");
    let out = verify(&chain, &golden("jwks.json"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last = std::fs::read(&chain).unwrap();
    let last = last.strip_suffix(b"\n").unwrap();
    let last = last.rsplit(|&b| b == b'\n').next().unwrap();
    let head = ledger::formats::sha256_hex(last);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("valid: tenant acme, 3 summaries ("),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with(&format!("head {head}")),
        "{stdout}"
    );
}

#[test]
fn verify_of_a_tampered_line_exits_1_naming_the_line_and_the_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let original = String::from_utf8(std::fs::read(golden("chain.jsonl")).unwrap()).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    // Point line 3's prev somewhere else; the line stays canonical JSON.
    let v: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    let prev = v["prev"].as_str().unwrap().to_owned();
    lines[2] = lines[2].replace(&prev, &"0".repeat(64));
    let tampered = tmp.path().join("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n") + "\n").unwrap();

    let out = verify(&tampered, &golden("jwks.json"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 3: prev: "), "{stderr}");
    assert!(stderr.contains("NOT a valid chain"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn verify_against_a_jwks_without_the_signing_key_exits_1_with_rule_key() {
    let tmp = tempfile::tempdir().unwrap();
    let made = anchor(&["keys", "generate", "--out", s(tmp.path())]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let out = verify(&golden("chain.jsonl"), &tmp.path().join("jwks.json"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 1: key: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn verify_exits_2_on_a_malformed_jwks_or_an_unreadable_file() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = golden("chain.jsonl");
    for (name, contents) in [
        ("garbage.json", "not json"),
        ("empty-set.json", r#"{"keys":[]}"#),
        (
            "off-curve.json",
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
        ),
    ] {
        let jwks = tmp.path().join(name);
        std::fs::write(&jwks, contents).unwrap();
        let out = verify(&chain, &jwks);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("not a usable JWKS"), "{name}");
    }
    let missing = tmp.path().join("missing.json");
    assert_eq!(verify(&chain, &missing).status.code(), Some(2));
    assert_eq!(
        verify(&tmp.path().join("missing.jsonl"), &golden("jwks.json"))
            .status
            .code(),
        Some(2)
    );
}
