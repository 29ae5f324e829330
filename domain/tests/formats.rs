//! Golden documents: every format is pinned by a file in `tests/golden/`, signed with the
//! test key `tests/golden/signing-key.pem` (made by `openssl genpkey`; a test key, never
//! used anywhere else). Each file must (1) be exactly what the builders make today from the
//! fixed inputs below, (2) parse and re-serialise byte for byte, and (3) verify with
//! `tests/golden/jwks.json`. Any change to a format fails here first.
//!
//! After an intended format change: `UPDATE_GOLDEN=1 cargo test -p domain --test formats`
//! rewrites the files; review the diff like code.

use std::path::PathBuf;
use std::process::Command;

use chrono::{DateTime, Utc};
use domain::DomainError;
use domain::formats::{
    AnchorEntry, AnchorKind, AnchorOutcome, AnchorStatus, Artifact, Bitcoin, BitcoinNetwork,
    Counts, Coverage, GENESIS, KillMode, Receipt, ReceiptBody, RootMetadata, RunSummary,
    SignedSummary, SummaryBody, Toggles, Trigger, is_backfill, jcs_without_sig, sha256_hex,
};
use domain::ids::parse_ts;
use domain::keys::{Jwks, SigningKey};
use domain::{Cadence, Period, Plan, TenantId};
use merkle::Root;

/// Root of three digests (cli/tests/cli.rs, computed with Python's hashlib).
const ROOT3: &str =
    "c2c.merkle.v1:sha256:0x6c3bc7901b64d4d0be0fe70fa40e46ead3ee0eea18db3a2a771c54d4e0a191fa";
/// Root of examples/digests.txt (1,000 digests), computed the same way.
const SAMPLE_ROOT: &str =
    "c2c.merkle.v1:sha256:0xa7304dc40d7cf19a3612f7ddc4f25570c2d6194ce1440677ad830fef071f6f60";
const CALENDARS: [&str; 2] = [
    "https://a.pool.opentimestamps.org",
    "https://b.pool.opentimestamps.org",
];
const TSA: &str = "https://freetsa.example/tsr";

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key() -> SigningKey {
    SigningKey::from_pem(&String::from_utf8(read("signing-key.pem")).unwrap()).unwrap()
}

fn jwks() -> Jwks {
    Jwks::from_json(&read("jwks.json")).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    parse_ts(s).unwrap()
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn period(s: &str) -> Period {
    s.parse().unwrap()
}

fn root(s: &str) -> Root {
    s.parse().unwrap()
}

/// Compares `bytes` with the golden file, or writes it under `UPDATE_GOLDEN=1`.
fn pin(name: &str, bytes: &[u8]) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden(name), bytes).unwrap();
        return;
    }
    let file = read(name);
    assert!(
        file == bytes,
        "{name} differs from what the builders make today:\n--- file\n{}\n--- built\n{}\n\
         (after an intended change: UPDATE_GOLDEN=1 cargo test -p domain --test formats)",
        String::from_utf8_lossy(&file),
        String::from_utf8_lossy(bytes)
    );
}

fn line(s: &SignedSummary) -> Vec<u8> {
    let mut b = s.bytes.clone();
    b.push(b'\n');
    b
}

fn artifact(key: &str, contents: &str) -> Artifact {
    Artifact {
        key: key.into(),
        sha256: sha256_hex(contents.as_bytes()),
    }
}

fn ots_pending() -> AnchorEntry {
    AnchorEntry {
        kind: AnchorKind::Ots,
        status: AnchorStatus::Pending,
        calendars: Some(CALENDARS.map(String::from).to_vec()),
        tsa_url: None,
        gen_time: None,
        bitcoin: None,
        artifact: Some(artifact(
            "roots/acme/2026-W47/root.ots",
            "example pending root.ots",
        )),
    }
}

fn tsa_confirmed(tenant: &str, period: &str, gen_time: &str) -> AnchorEntry {
    AnchorEntry {
        kind: AnchorKind::Tsa,
        status: AnchorStatus::Confirmed,
        calendars: None,
        tsa_url: Some(TSA.into()),
        gen_time: Some(t(gen_time)),
        bitcoin: None,
        artifact: Some(artifact(
            &format!("roots/{tenant}/{period}/root.tsr"),
            &format!("example root.tsr of {tenant} {period}"),
        )),
    }
}

fn outcome(kind: AnchorKind, status: AnchorStatus) -> AnchorOutcome {
    AnchorOutcome { kind, status }
}

/// acme (pro, weekly): three runs — a scheduled run, an empty week, a tsa-only week whose
/// TSA failed.
fn acme_bodies() -> [SummaryBody; 3] {
    let base = SummaryBody {
        tenant: tenant("acme"),
        period: period("2026-W47"),
        cadence: Cadence::Weekly,
        run_id: "run-2026-W47-acme-1".into(),
        trigger: Trigger::Scheduled,
        root: Some(root(ROOT3)),
        tree_size: 3,
        anchors: vec![
            outcome(AnchorKind::Ots, AnchorStatus::Pending),
            outcome(AnchorKind::Tsa, AnchorStatus::Confirmed),
        ],
        counts: Counts {
            manifests: 4,
            proofs: 3,
        },
        coverage: Coverage {
            sampled: 3,
            verified: 3,
        },
        estimated_cost_micro_usd: 2_500,
        errors: vec![],
        toggles: Toggles {
            plan: Plan::Pro,
            kill_switch: KillMode::Normal,
        },
    };
    let empty = SummaryBody {
        period: period("2026-W48"),
        run_id: "run-2026-W48-acme-1".into(),
        root: None,
        tree_size: 0,
        anchors: vec![],
        counts: Counts {
            manifests: 0,
            proofs: 0,
        },
        coverage: Coverage {
            sampled: 0,
            verified: 0,
        },
        estimated_cost_micro_usd: 0,
        ..base.clone()
    };
    let tsa_only = SummaryBody {
        period: period("2026-W49"),
        run_id: "run-2026-W49-acme-1".into(),
        root: Some(root(SAMPLE_ROOT)),
        tree_size: 1000,
        anchors: vec![
            outcome(AnchorKind::Ots, AnchorStatus::Skipped),
            outcome(AnchorKind::Tsa, AnchorStatus::Failed),
        ],
        counts: Counts {
            manifests: 1050,
            proofs: 1000,
        },
        coverage: Coverage {
            sampled: 25,
            verified: 25,
        },
        estimated_cost_micro_usd: 2_000,
        errors: vec![format!("tsa {TSA}: timed out after 10 s")],
        toggles: Toggles {
            plan: Plan::Pro,
            kill_switch: KillMode::TsaOnly,
        },
        ..base.clone()
    };
    [base, empty, tsa_only]
}

fn acme_chain() -> Vec<SignedSummary> {
    let key = key();
    let times = [
        "2026-11-23T02:00:05.123Z",
        "2026-11-30T02:00:01.000Z",
        "2026-12-07T02:00:09.870Z",
    ];
    let mut out: Vec<SignedSummary> = Vec::new();
    for (i, (body, ts)) in acme_bodies().into_iter().zip(times).enumerate() {
        let prev = out
            .last()
            .map_or_else(|| GENESIS.to_owned(), SignedSummary::hash_hex);
        out.push(RunSummary::sign(body, i as u64 + 1, &prev, t(ts), &key).unwrap());
    }
    out
}

/// globex (starter, monthly): a September backfilled in late November.
fn globex_summary() -> SignedSummary {
    let body = SummaryBody {
        tenant: tenant("globex"),
        period: period("2026-09"),
        cadence: Cadence::Monthly,
        run_id: "backfill-2026-09-globex".into(),
        trigger: Trigger::Backfill,
        root: Some(root(SAMPLE_ROOT)),
        tree_size: 1000,
        anchors: vec![outcome(AnchorKind::Tsa, AnchorStatus::Confirmed)],
        counts: Counts {
            manifests: 1050,
            proofs: 1000,
        },
        coverage: Coverage {
            sampled: 25,
            verified: 25,
        },
        estimated_cost_micro_usd: 2_000,
        errors: vec![],
        toggles: Toggles {
            plan: Plan::Starter,
            kill_switch: KillMode::Normal,
        },
    };
    RunSummary::sign(body, 1, GENESIS, t("2026-11-20T10:00:02.000Z"), &key()).unwrap()
}

fn receipt_v1(summary: &SignedSummary) -> Receipt {
    let body = ReceiptBody {
        tenant: tenant("acme"),
        period: period("2026-W47"),
        anchored_at: t("2026-11-23T02:00:04.000Z"),
        backfilled: false,
        root: root(ROOT3),
        tree_size: 3,
        anchors: vec![
            ots_pending(),
            tsa_confirmed("acme", "2026-W47", "2026-11-23T02:00:03.000Z"),
        ],
        run_id: "run-2026-W47-acme-1".into(),
        summary_hash: summary.hash_hex(),
        version: 1,
        supersedes: None,
    };
    Receipt::sign(body, &key()).unwrap()
}

/// The upgrade: the OTS proof reached Bitcoin (example block values, not a real block).
fn receipt_v2(summary: &SignedSummary) -> Receipt {
    let mut body = receipt_v1(summary);
    let ots = &mut body.anchors[0];
    ots.status = AnchorStatus::Confirmed;
    ots.bitcoin = Some(Bitcoin {
        height: 925_000,
        block_hash: sha256_hex(b"example block 925000"),
        time: t("2026-11-23T03:12:45.000Z"),
        txid: Some(sha256_hex(b"example transaction")),
        network: Some(BitcoinNetwork::Bitcoin),
    });
    // Keys are create-only: the upgraded proof has its own key (`BlobKey::root_ots_version`).
    ots.artifact = Some(artifact(
        "roots/acme/2026-W47/root.v2.ots",
        "example upgraded root.ots",
    ));
    let body = ReceiptBody {
        tenant: body.tenant,
        period: body.period,
        anchored_at: body.anchored_at,
        backfilled: body.backfilled,
        root: body.root,
        tree_size: body.tree_size,
        anchors: body.anchors,
        run_id: body.run_id,
        summary_hash: body.summary_hash,
        version: 2,
        supersedes: Some(1),
    };
    Receipt::sign(body, &key()).unwrap()
}

fn receipt_backfilled(summary: &SignedSummary) -> Receipt {
    let p = period("2026-09");
    let anchored_at = t("2026-11-20T10:00:01.000Z");
    let body = ReceiptBody {
        tenant: tenant("globex"),
        period: p,
        anchored_at,
        backfilled: is_backfill(p, anchored_at, chrono::Duration::hours(6)),
        root: root(SAMPLE_ROOT),
        tree_size: 1000,
        anchors: vec![tsa_confirmed(
            "globex",
            "2026-09",
            "2026-11-20T10:00:00.500Z",
        )],
        run_id: "backfill-2026-09-globex".into(),
        summary_hash: summary.hash_hex(),
        version: 1,
        supersedes: None,
    };
    Receipt::sign(body, &key()).unwrap()
}

fn root_metadata() -> RootMetadata {
    RootMetadata::new(
        tenant("acme"),
        period("2026-W47"),
        root(ROOT3),
        3,
        t("2026-11-23T02:00:00.250Z"),
    )
    .unwrap()
}

#[test]
fn golden_files_are_what_the_builders_make_today() {
    let jwks = Jwks::new(vec![key().public_jwk()]).unwrap();
    pin("jwks.json", jwks.to_json_pretty().as_bytes());
    pin(
        "root-metadata.json",
        root_metadata().to_json_pretty().as_bytes(),
    );
    let chain = acme_chain();
    pin("run-summary.json", &line(&chain[0]));
    pin(
        "chain.jsonl",
        &chain.iter().flat_map(line).collect::<Vec<_>>(),
    );
    let globex = globex_summary();
    pin("run-summary-backfill.json", &line(&globex));
    pin(
        "receipt-v1.json",
        receipt_v1(&chain[0]).to_json_pretty().as_bytes(),
    );
    pin(
        "receipt-v2.json",
        receipt_v2(&chain[0]).to_json_pretty().as_bytes(),
    );
    pin(
        "receipt-backfilled.json",
        receipt_backfilled(&globex).to_json_pretty().as_bytes(),
    );
}

#[test]
fn golden_jwks_holds_the_golden_keys_public_jwk_under_its_thumbprint() {
    let key = key();
    let jwks = jwks();
    assert_eq!(jwks.keys().len(), 1);
    let jwk = jwks.get(key.key_id()).expect("the key is in the set");
    assert_eq!(jwk, &key.public_jwk());
    assert_eq!(&jwk.thumbprint(), key.key_id());
    assert_eq!(jwks.to_json_pretty().as_bytes(), read("jwks.json"));
}

#[test]
fn golden_root_metadata_parses_and_reserialises_byte_for_byte() {
    let bytes = read("root-metadata.json");
    let meta = RootMetadata::from_json(&bytes).unwrap();
    assert_eq!(meta.to_json_pretty().as_bytes(), bytes);
    assert_eq!(meta.format, "c2c.root.v1");
    assert_eq!(meta.cadence, Cadence::Weekly);
}

#[test]
fn golden_receipts_parse_reserialise_byte_for_byte_and_verify_with_the_golden_jwks() {
    let jwks = jwks();
    for name in [
        "receipt-v1.json",
        "receipt-v2.json",
        "receipt-backfilled.json",
    ] {
        let bytes = read(name);
        let r = Receipt::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.to_json_pretty().as_bytes(), bytes, "{name}");
        r.verify_signature(&jwks)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let summary = read("run-summary.json");
    let summary = summary.strip_suffix(b"\n").unwrap();
    let v1 = Receipt::from_json(&read("receipt-v1.json")).unwrap();
    assert_eq!(v1.summary_hash, sha256_hex(summary));
    assert!(!v1.backfilled);
    let back = Receipt::from_json(&read("receipt-backfilled.json")).unwrap();
    assert!(
        back.backfilled,
        "September anchored in November is a backfill"
    );
    let globex = read("run-summary-backfill.json");
    assert_eq!(
        back.summary_hash,
        sha256_hex(globex.strip_suffix(b"\n").unwrap())
    );
}

#[test]
fn golden_run_summaries_are_their_own_jcs_and_verify_with_the_golden_jwks() {
    let jwks = jwks();
    for name in ["run-summary.json", "run-summary-backfill.json"] {
        let file = read(name);
        let bytes = file.strip_suffix(b"\n").expect("one JSONL line");
        let s = RunSummary::from_bytes(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.to_jcs().unwrap(), bytes, "{name}");
        s.verify_signature(&jwks)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let report = domain::chain::verify_jsonl(&read("chain.jsonl"), &jwks).unwrap();
    assert_eq!(report.lines, 3);
    assert_eq!(report.tenant.as_str(), "acme");
}

#[test]
fn signing_a_summary_returns_its_jcs_bytes_their_hash_and_a_summary_that_reads_back() {
    let chain = acme_chain();
    let s = &chain[0];
    assert_eq!(s.bytes, s.summary.to_jcs().unwrap());
    assert_eq!(s.hash_hex(), sha256_hex(&s.bytes));
    assert_eq!(RunSummary::from_bytes(&s.bytes).unwrap(), s.summary);
    assert_eq!(chain[1].summary.prev, s.hash_hex());
    assert_eq!(chain[1].summary.root, None);
    assert!(String::from_utf8_lossy(&chain[1].bytes).contains(r#""root":null"#));
    assert_eq!(s.summary.body(), acme_bodies()[0]);
    // The signature covers the JCS without `sig`, so it is deterministic too.
    let again = RunSummary::sign(
        acme_bodies()[0].clone(),
        1,
        GENESIS,
        t("2026-11-23T02:00:05.123Z"),
        &key(),
    )
    .unwrap();
    assert_eq!(again.bytes, s.bytes);
}

#[test]
fn summary_signing_refuses_bad_links_and_inconsistent_bodies() {
    let key = key();
    let ts = t("2026-11-23T02:00:05.123Z");
    let body = || acme_bodies()[0].clone();
    let hex = sha256_hex(b"x");
    let fails = |body: SummaryBody, seq: u64, prev: &str, why: &str| {
        let e = RunSummary::sign(body, seq, prev, ts, &key).expect_err(why);
        assert!(matches!(e, DomainError::Format(_)), "{why}: {e}");
    };
    fails(body(), 0, GENESIS, "seq 0");
    fails(body(), 1, &hex, "seq 1 after a hash");
    fails(body(), 2, GENESIS, "genesis at seq 2");
    fails(body(), 2, &hex.to_uppercase(), "upper-case prev");
    fails(
        SummaryBody {
            cadence: Cadence::Monthly,
            ..body()
        },
        1,
        GENESIS,
        "monthly cadence for a week",
    );
    fails(
        SummaryBody {
            root: None,
            ..body()
        },
        1,
        GENESIS,
        "no root but tree_size 3",
    );
    fails(
        SummaryBody {
            coverage: Coverage {
                sampled: 3,
                verified: 4,
            },
            ..body()
        },
        1,
        GENESIS,
        "verified above sampled",
    );
    fails(
        SummaryBody {
            estimated_cost_micro_usd: 1 << 53,
            ..body()
        },
        1,
        GENESIS,
        "2^53 micro-USD",
    );
    fails(
        SummaryBody {
            run_id: "run 1".into(),
            ..body()
        },
        1,
        GENESIS,
        "a space in the run id",
    );
    RunSummary::sign(body(), 2, &hex, ts, &key).unwrap();
}

fn summary_value() -> serde_json::Value {
    serde_json::from_slice(&acme_chain()[0].bytes).unwrap()
}

fn jcs(v: &serde_json::Value) -> Vec<u8> {
    merkle::canon::canonicalize_value(v).unwrap()
}

#[test]
fn summaries_from_bytes_refuse_non_canonical_bytes_unknown_members_and_missing_nulls() {
    let s = &acme_chain()[1];
    let pretty = serde_json::to_vec_pretty(&s.summary).unwrap();
    let e = RunSummary::from_bytes(&pretty).unwrap_err().to_string();
    assert!(e.contains("RFC 8785"), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(&s.bytes).unwrap();
    v["note"] = serde_json::json!("extra");
    let e = RunSummary::from_bytes(&jcs(&v)).unwrap_err().to_string();
    assert!(e.contains("note"), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(&s.bytes).unwrap();
    v.as_object_mut().unwrap().remove("root");
    let e = RunSummary::from_bytes(&jcs(&v)).unwrap_err().to_string();
    assert!(e.contains("one written form"), "{e}");

    let mut v = summary_value();
    v["ts"] = serde_json::json!("2026-11-23T02:00:05Z");
    assert!(RunSummary::from_bytes(&jcs(&v)).is_err());
    let mut v = summary_value();
    v["format"] = serde_json::json!("c2c.run-summary.v2");
    let e = RunSummary::from_bytes(&jcs(&v)).unwrap_err().to_string();
    assert!(e.contains("c2c.run-summary.v2"), "{e}");
    let mut v = summary_value();
    v["toggles"]["kill_switch"] = serde_json::json!("off");
    assert!(RunSummary::from_bytes(&jcs(&v)).is_err());
}

#[test]
fn changing_any_member_of_a_signed_document_breaks_its_signature() {
    let jwks = jwks();
    let receipt: serde_json::Value = serde_json::from_slice(&read("receipt-v1.json")).unwrap();
    for (member, value) in [
        ("tree_size", serde_json::json!(4)),
        ("backfilled", serde_json::json!(true)),
        ("run_id", serde_json::json!("run-other")),
        ("summary_hash", serde_json::json!(sha256_hex(b"other"))),
    ] {
        let mut v = receipt.clone();
        v[member] = value;
        let r = Receipt::from_json(&serde_json::to_vec(&v).unwrap()).unwrap();
        let e = r.verify_signature(&jwks).expect_err(member);
        assert!(matches!(e, DomainError::Signature(_)), "{member}: {e}");
    }
    let summary = summary_value();
    let mut v = summary.clone();
    v["estimated_cost_micro_usd"] = serde_json::json!(1);
    let s = RunSummary::from_bytes(&jcs(&v)).unwrap();
    assert!(matches!(
        s.verify_signature(&jwks),
        Err(DomainError::Signature(_))
    ));
    // A key the set does not hold is named.
    let other = Jwks::new(vec![SigningKey::generate().public_jwk()]).unwrap();
    let s = RunSummary::from_bytes(&jcs(&summary)).unwrap();
    let e = s.verify_signature(&other).unwrap_err().to_string();
    assert!(e.contains(s.kid.as_str()), "{e}");
}

#[test]
fn receipts_refuse_broken_anchor_version_and_period_rules() {
    let base: serde_json::Value = serde_json::from_slice(&read("receipt-v2.json")).unwrap();
    let refused = |edit: &dyn Fn(&mut serde_json::Value), why: &str| {
        let mut v = base.clone();
        edit(&mut v);
        let e = Receipt::from_json(&serde_json::to_vec(&v).unwrap()).expect_err(why);
        assert!(matches!(e, DomainError::Format(_)), "{why}: {e}");
    };
    Receipt::from_json(&serde_json::to_vec(&base).unwrap()).unwrap();
    refused(
        &|v| v["supersedes"] = serde_json::json!(null),
        "v2 supersedes nothing",
    );
    refused(&|v| v["version"] = serde_json::json!(0), "version 0");
    refused(
        &|v| {
            v.as_object_mut().unwrap().remove("supersedes");
        },
        "supersedes missing",
    );
    refused(
        &|v| v["cadence"] = serde_json::json!("daily"),
        "daily cadence for a week",
    );
    refused(
        &|v| v["covered"]["to"] = serde_json::json!("2026-11-24T00:00:00.000Z"),
        "covered is not the period",
    );
    refused(
        &|v| {
            v["backfilled"] = serde_json::json!(true);
            v["anchored_at"] = serde_json::json!("2026-11-20T00:00:00.000Z");
        },
        "backfilled yet anchored inside the period",
    );
    refused(
        &|v| {
            v["anchors"][0].as_object_mut().unwrap().remove("bitcoin");
        },
        "confirmed ots without bitcoin",
    );
    refused(
        &|v| v["anchors"][1]["status"] = serde_json::json!("failed"),
        "failed tsa with an artifact and a gen_time",
    );
    refused(
        &|v| v["anchors"][1]["calendars"] = serde_json::json!(CALENDARS),
        "tsa with calendars",
    );
    refused(
        &|v| v["anchors"][0]["artifact"]["key"] = serde_json::json!("roots/../secrets"),
        "artifact key with ..",
    );
    refused(&|v| v["anchors"] = serde_json::json!([]), "no anchors");
    refused(
        &|v| v["anchors"][0]["type"] = serde_json::json!("eth"),
        "unknown anchor type",
    );
    refused(
        &|v| v["parameters"]["dup_last"] = serde_json::json!(true),
        "other tree parameters",
    );
    refused(&|v| v["alg"] = serde_json::json!("RS256"), "another alg");
    refused(
        &|v| v["anchored_at"] = serde_json::json!("2026-11-23T02:00:04Z"),
        "a timestamp without milliseconds",
    );
    refused(
        &|v| v["tree_size"] = serde_json::json!(9_007_199_254_740_992_u64),
        "2^53",
    );
    let dup = String::from_utf8(read("receipt-v1.json"))
        .unwrap()
        .replacen("\"version\": 1,", "\"version\": 1, \"version\": 1,", 1);
    assert!(
        Receipt::from_json(dup.as_bytes()).is_err(),
        "duplicate member"
    );
}

#[test]
fn backfill_means_anchored_after_the_period_end_plus_grace() {
    let p = period("2026-W47");
    let grace = chrono::Duration::hours(6);
    assert!(!is_backfill(p, t("2026-11-23T06:00:00.000Z"), grace));
    assert!(is_backfill(p, t("2026-11-23T06:00:00.001Z"), grace));
}

#[test]
fn jcs_without_sig_is_what_receipt_signatures_cover() {
    let r = Receipt::from_json(&read("receipt-v1.json")).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let msg = jcs_without_sig(&v).unwrap();
    assert!(!String::from_utf8_lossy(&msg).contains("\"sig\""));
    jwks().get(&r.kid).unwrap().verify(&msg, &r.sig).unwrap();
}

/// Python recomputes every golden signature from the files alone: JCS as
/// `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` (equal to RFC 8785
/// for documents of strings, integers, booleans and nulls), ES256 with `cryptography`, the
/// key from `jwks.json` by `kid`; and it checks the chain's `prev` links and the receipts'
/// `summary_hash`es.
#[test]
fn python_verifies_the_golden_signatures_links_and_summary_hashes() {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        testkit::skip(
            "python3 with the cryptography package not found",
            "install Debian's python3-cryptography",
        );
        return;
    }
    let script = r#"
import sys, os, json, hashlib, base64
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
d = sys.argv[1]
rd = lambda n: open(os.path.join(d, n), "rb").read()
b = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
keys = {k["kid"]: k for k in json.loads(rd("jwks.json"))["keys"]}
def check(doc):
    doc = dict(doc); sig = b(doc.pop("sig")); k = keys[doc["kid"]]
    assert doc["alg"] == "ES256" and len(sig) == 64
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b(k["x"]), "big"), int.from_bytes(b(k["y"]), "big"), ec.SECP256R1()).public_key()
    msg = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    pub.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")), msg, ec.ECDSA(hashes.SHA256()))
lines = rd("chain.jsonl").split(b"\n")[:-1]
prev = "genesis"
for i, l in enumerate(lines, 1):
    s = json.loads(l); check(s)
    assert s["seq"] == i and s["prev"] == prev, i
    assert json.dumps(s, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() == l
    prev = hashlib.sha256(l).hexdigest()
h = lambda n: hashlib.sha256(rd(n).rstrip(b"\n")).hexdigest()
for n, s in [("receipt-v1.json", "run-summary.json"), ("receipt-v2.json", "run-summary.json"), ("receipt-backfilled.json", "run-summary-backfill.json")]:
    r = json.loads(rd(n)); check(r); assert r["summary_hash"] == h(s), n
check(json.loads(rd("run-summary-backfill.json")))
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, golden("").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
