//! `anchor ledger verify` as a real process, on the ledger crate's golden chain
//! (`domain/tests/golden/chain.jsonl`, three summaries of tenant `acme`).

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
        .join("../domain/tests/golden")
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

/// A store under `dir` (the embedded default layout) holding tenant `acme` with three run
/// summaries signed by a fresh key.
fn populated_store(dir: &Path) {
    use ledger::formats::{AnchorOutcome, Counts, Coverage, SummaryBody, Toggles};
    use ledger::{AnchorKind, AnchorStatus, KillMode, Period, Plan, TenantId, Trigger};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", dir.join("ledger.sqlite").display());
        let store = ledger::sql::Store::connect(&url).await.unwrap();
        let acme = TenantId::new("acme").unwrap();
        let now = chrono::Utc::now();
        store
            .create_tenant(
                &ledger::sql::NewTenant {
                    id: acme.clone(),
                    plan: Plan::Pro,
                    token_hash: ledger::sql::hash_token("t"),
                    max_roots_per_period: 1,
                    cost_ceiling_micro_usd: 0,
                },
                now,
            )
            .await
            .unwrap();
        let key = ledger::keys::SigningKey::generate();
        for p in ["2026-W45", "2026-W46", "2026-W47"] {
            let period: Period = p.parse().unwrap();
            let body = SummaryBody {
                tenant: acme.clone(),
                period,
                cadence: period.cadence(),
                run_id: format!("acme:{p}"),
                trigger: Trigger::Scheduled,
                root: None,
                tree_size: 0,
                anchors: vec![AnchorOutcome {
                    kind: AnchorKind::Tsa,
                    status: AnchorStatus::Skipped,
                }],
                counts: Counts {
                    manifests: 0,
                    proofs: 0,
                },
                coverage: Coverage {
                    sampled: 0,
                    verified: 0,
                },
                estimated_cost_micro_usd: 0,
                errors: vec![],
                toggles: Toggles {
                    plan: Plan::Pro,
                    kill_switch: KillMode::Normal,
                },
            };
            store
                .append_summary(body, &key, chrono::Utc::now())
                .await
                .unwrap();
        }
        store.close().await;
    });
}

fn anchor_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .env("LEDGER_DATA_DIR", data)
        .env_remove("LEDGER_DATABASE_URL")
        .output()
        .expect("run anchor")
}

#[test]
fn an_exported_chain_verifies_against_the_stores_published_jwks() {
    let dir = tempfile::tempdir().unwrap();
    populated_store(dir.path());
    let chain = dir.path().join("acme.jsonl");
    let out = anchor_in(
        dir.path(),
        &["ledger", "export", "--tenant", "acme", "--out", s(&chain)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&chain).unwrap().lines().count(), 3);
    let again = anchor_in(
        dir.path(),
        &["ledger", "export", "--tenant", "acme", "--out", s(&chain)],
    );
    assert_eq!(
        again.status.code(),
        Some(2),
        "an export never overwrites a file"
    );

    let jwks = anchor_in(dir.path(), &["keys", "jwks"]);
    assert_eq!(jwks.status.code(), Some(0), "{}", text(&jwks.stderr));
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, &jwks.stdout).unwrap();
    let verified = verify(&chain, &jwks_file);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stderr)
    );
    assert!(text(&verified.stdout).contains("tenant acme, 3 summaries"));

    let stdout = anchor_in(dir.path(), &["ledger", "export", "--tenant", "acme"]);
    assert_eq!(
        stdout.stdout,
        std::fs::read(&chain).unwrap(),
        "stdout holds the same bytes"
    );
}

#[test]
fn export_of_an_unknown_tenant_or_a_bad_id_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    populated_store(dir.path());
    for tenant in ["nobody", "Not/A/Slug"] {
        let out = anchor_in(dir.path(), &["ledger", "export", "--tenant", tenant]);
        assert_eq!(out.status.code(), Some(2), "{tenant}");
        assert!(
            text(&out.stderr).contains("tenant"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_retired_key_leaves_the_published_jwks_but_stays_in_all() {
    let dir = tempfile::tempdir().unwrap();
    populated_store(dir.path());
    let jwks: serde_json::Value =
        serde_json::from_slice(&anchor_in(dir.path(), &["keys", "jwks"]).stdout).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let retired = anchor_in(dir.path(), &["keys", "retire", &kid]);
    assert_eq!(retired.status.code(), Some(0), "{}", text(&retired.stderr));
    let published = anchor_in(dir.path(), &["keys", "jwks"]);
    assert_eq!(published.status.code(), Some(2), "no key left to publish");
    let all = anchor_in(dir.path(), &["keys", "jwks", "--all"]);
    assert!(text(&all.stdout).contains(&kid));
    assert_eq!(
        anchor_in(dir.path(), &["keys", "retire", &kid])
            .status
            .code(),
        Some(2)
    );
}
