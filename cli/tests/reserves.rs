//! `anchor reserves verify`: a served attestation of seed 000's fixtures verifies (exit 0);
//! one with a changed figure, or checked against another key set, does not (exit 1); an
//! unreadable JWKS is bad input (exit 2).
//!
//! The operator's flow of README.md ("Reserve attestations"), end to end on `anchor demo`'s
//! data: registry and snapshots, `publish --dry-run`, `publish` (exit 3, digest submitted),
//! `anchor run` of the reserves tenant's period, `publish` again (published), `verify` (exit
//! 0), a flipped byte (exit 1).

mod common;
#[path = "../../reserves/tests/common/mod.rs"]
mod fixtures;

use ledger::keys::SigningKey;

#[test]
fn reserves_verify_accepts_a_served_attestation_and_refuses_a_tampered_one() {
    let key = SigningKey::generate();
    let signed = fixtures::signed_at(&key, fixtures::as_of());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attestation.json");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&file, &signed.served_json).unwrap();
    std::fs::write(&jwks, fixtures::jwks(&key).to_json_pretty()).unwrap();
    let verify = |f: &std::path::Path, k: &std::path::Path| {
        common::anchor()
            .args(["reserves", "verify"])
            .arg(f)
            .arg("--jwks")
            .arg(k)
            .output()
            .unwrap()
    };

    let out = common::success("reserves verify", &verify(&file, &jwks));
    assert!(
        out.contains(&format!("attestation {} VALID", signed.id())),
        "{out}"
    );
    assert!(out.contains("coverage 12000 bps"), "{out}");
    assert!(out.contains("tenant reserves-co"), "{out}");
    assert!(out.contains("stale [\"ras_compute_fal_halfk\"]"), "{out}");

    let tampered = dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        signed.served_json.replace("\"6000\"", "\"6001\""),
    )
    .unwrap();
    let o = verify(&tampered, &jwks);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("NOT valid") && err.contains("signature"),
        "{err}"
    );

    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        fixtures::jwks(&SigningKey::generate()).to_json_pretty(),
    )
    .unwrap();
    assert_eq!(verify(&file, &other).status.code(), Some(1));

    std::fs::write(dir.path().join("bad.json"), "{}").unwrap();
    assert_eq!(
        verify(&file, &dir.path().join("bad.json")).status.code(),
        Some(2)
    );
}

const OBS_PACKS_GEMINI: &str = "10";
const OBS_PACKS_FAL: &str = "6";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
#[allow(clippy::too_many_lines)] // the README's flow, one step after the other
fn an_operator_publishes_an_attestation_bound_to_a_demo_run_and_an_auditor_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("D");
    let tsa_dir = dir.path().join("tsa");
    let cmd = |args: &[&str]| {
        let mut c = common::anchor();
        c.args(args).current_dir(dir.path());
        c
    };
    common::success(
        "demo",
        &cmd(&["demo", "--data", "D", "--manifests", "20"])
            .output()
            .unwrap(),
    );
    common::success(
        "tsa dev-ca",
        &cmd(&["tsa", "dev-ca", "--out", "tsa"]).output().unwrap(),
    );
    let port = free_port();
    let mut children = common::Children::default();
    children.push(
        "tsa",
        cmd(&[
            "tsa",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--key",
            "tsa/tsa.key",
            "--cert",
            "tsa/tsa.pem",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap(),
    );
    common::poll(
        "the dev TSA",
        std::time::Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
        String::new,
    );
    assert!(tsa_dir.join("ca.pem").exists());
    let env = [
        ("LEDGER_DATA_DIR", "D".to_owned()),
        ("LEDGER_RESERVES_TENANT", "reserves-co".to_owned()),
        ("LEDGER_TSA_URL", format!("http://127.0.0.1:{port}/")),
        ("LEDGER_TSA_CA_FILE", "tsa/ca.pem".to_owned()),
    ];
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = cmd(args);
        c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write as _;
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    };

    common::success(
        "tenants add",
        &run(
            &[
                "tenants",
                "add",
                "reserves-co",
                "--plan",
                "starter",
                "--opt-in",
            ],
            None,
        ),
    );
    common::success(
        "assets add gemini",
        &run(
            &["reserves", "assets", "add", "-"],
            Some(
                r#"{"id":"ras_compute_gemini_k","asset_type":"compute_credit","provider":"gemini",
                "name":"Gemini API credits","unit":"credit","eligible":true,"haircut_bps":1000,
                "provider_metadata":{"credits_per_unit":1000}}"#,
            ),
        ),
    );
    common::success(
        "assets add fal",
        &run(
            &["reserves", "assets", "add", "-"],
            Some(
                r#"{"id":"ras_compute_fal_halfk","asset_type":"compute_credit","provider":"fal",
                "name":"FAL credits","unit":"credit","eligible":true,"haircut_bps":0,
                "provider_metadata":{"credits_per_unit":500}}"#,
            ),
        ),
    );
    let now = chrono::Utc::now();
    let obs = ts(now - chrono::Duration::hours(1));
    for (asset, packs) in [
        ("ras_compute_gemini_k", OBS_PACKS_GEMINI),
        ("ras_compute_fal_halfk", OBS_PACKS_FAL),
    ] {
        let out = common::success(
            "snapshots add",
            &run(
                &["reserves", "snapshots", "add", asset, "-"],
                Some(&format!(
                    r#"{{"observed_at":"{obs}","raw_amount":"{packs}","amount_unit":"pack","source":"manual"}}"#
                )),
            ),
        );
        assert!(out.contains("\"packs\""), "{out}");
    }
    let (start, end) = (ts(now - chrono::Duration::days(30)), ts(now));
    let publish = |extra: &[&str]| {
        let mut args = vec![
            "reserves",
            "publish",
            "--period-start",
            &start,
            "--period-end",
            &end,
            "--liabilities-total",
            "10000",
            "--bucket",
            "usd.main=10000",
            "--min-ratio-bps",
            "10000",
            "--operator",
            "ops@example",
        ];
        args.extend_from_slice(extra);
        run(&args, None)
    };

    // Dry run: 10 k-packs × 1000 × 90 % + 6 half-k packs × 500 = 12000 of 10000 owed.
    let out = common::success("publish --dry-run", &publish(&["--dry-run"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["computation"]["eligible_reserves_total"], "12000");
    assert_eq!(report["computation"]["coverage_ratio_bps"], "12000");
    assert_eq!(report["computation"]["fully_backed"], true);
    assert_eq!(report["checks"], "ok");

    // Seed 001's messages: a submitted ratio off by 2 bps, and I3 on the minimum.
    let o = publish(&["--ratio-bps", "12002"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::text(&o.stderr)
            .contains("reserve_ratio_bps=12002 does not match computed value 12000"),
        "{}",
        common::text(&o.stderr)
    );

    // Phase 1: submitted, waiting for anchoring (exit 3).
    let o = publish(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", common::text(&o.stderr));
    let period = now.format("%Y-%m").to_string();
    let hint = format!("anchor run --tenant reserves-co --period {period}");
    assert!(
        common::text(&o.stdout).contains(&hint),
        "{}",
        common::text(&o.stdout)
    );

    common::success(
        "anchor run",
        &run(
            &["run", "--tenant", "reserves-co", "--period", &period],
            None,
        ),
    );

    // Phase 2: published, served JSON written.
    let out = common::success("publish", &publish(&["--out", "attestation.json"]));
    assert!(out.contains("published (ok)"), "{out}");
    let again = common::success("publish again", &publish(&[]));
    assert!(again.contains("already published"), "{again}");
    // The served JSON is valid against schemas/ledger-anchors.reserve-attestation.v1.json.
    testkit::schema::assert_valid(
        testkit::schema::RESERVE_ATTESTATION,
        "anchor reserves publish --out attestation.json",
        &std::fs::read(dir.path().join("attestation.json")).unwrap(),
    );

    let jwks = common::success("keys jwks", &run(&["keys", "jwks"], None));
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    let out = common::success(
        "reserves verify",
        &run(
            &[
                "reserves",
                "verify",
                "attestation.json",
                "--jwks",
                "jwks.json",
            ],
            None,
        ),
    );
    assert!(out.contains("coverage 12000 bps"), "{out}");
    assert!(out.contains("anchored by tenant reserves-co"), "{out}");

    // The attestations list/show commands serve the same bytes.
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    let shown = run(&["reserves", "attestations", "show", &id], None);
    assert_eq!(
        shown.stdout,
        std::fs::read(dir.path().join("attestation.json")).unwrap()
    );

    // One flipped byte: exit 1.
    let mut bytes = std::fs::read(dir.path().join("attestation.json")).unwrap();
    let at = bytes
        .windows(7)
        .position(|w| w == b"\"12000\"")
        .expect("a ratio in the served JSON");
    bytes[at + 2] ^= 0x01;
    std::fs::write(dir.path().join("flipped.json"), &bytes).unwrap();
    let o = run(
        &["reserves", "verify", "flipped.json", "--jwks", "jwks.json"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o.stderr));

    // A later observation before the period end changes the balances; their digest arrives
    // after the tenant's month was anchored, and publish says so instead of waiting forever.
    let earlier = ts(now - chrono::Duration::minutes(30));
    common::success(
        "snapshots add (later observation)",
        &run(
            &["reserves", "snapshots", "add", "ras_compute_fal_halfk", "-"],
            Some(&format!(
                r#"{{"observed_at":"{earlier}","raw_amount":"5000","source":"manual"}}"#
            )),
        ),
    );
    let o = publish(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o.stdout));
    assert!(
        common::text(&o.stderr).contains("was already anchored before the digest arrived"),
        "{}",
        common::text(&o.stderr)
    );

    // The audit log: one line per invocation, the publication with its id.
    let audit = std::fs::read_to_string(data.join("reserves-audit.jsonl")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        actions,
        [
            "dry-run",
            "refused",
            "submitted",
            "published",
            "already-published",
            "refused"
        ]
    );
    assert!(audit.contains(&id) && audit.contains("ops@example"));
}
