//! `domain::chain::verify_jsonl`: a valid chain verifies; each rule, broken on purpose, is
//! reported at the exact line and under its own name, and verification stops at the first
//! bad line.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use chrono::{DateTime, Utc};
use domain::DomainError;
use domain::chain::{ChainReport, verify_jsonl};
use domain::formats::{
    AnchorKind, AnchorOutcome, AnchorStatus, Counts, Coverage, GENESIS, KillMode, RunSummary,
    SummaryBody, Toggles, Trigger, sha256_hex,
};
use domain::ids::parse_ts;
use domain::keys::{Jwks, SigningKey};
use domain::{Period, Plan, TenantId};
use serde_json::{Value, json};

const ROOT3: &str =
    "c2c.merkle.v1:sha256:0x6c3bc7901b64d4d0be0fe70fa40e46ead3ee0eea18db3a2a771c54d4e0a191fa";

fn key() -> SigningKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/signing-key.pem"
    ))
    .unwrap();
    SigningKey::from_pem(&pem).unwrap()
}

fn jwks() -> Jwks {
    Jwks::new(vec![key().public_jwk()]).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    parse_ts(s).unwrap()
}

fn body(tenant: &str, period: &str) -> SummaryBody {
    let period: Period = period.parse().unwrap();
    SummaryBody {
        tenant: TenantId::new(tenant).unwrap(),
        period,
        cadence: period.cadence(),
        run_id: format!("run-{period}-{tenant}"),
        trigger: Trigger::Scheduled,
        root: Some(ROOT3.parse().unwrap()),
        tree_size: 3,
        anchors: vec![AnchorOutcome {
            kind: AnchorKind::Tsa,
            status: AnchorStatus::Confirmed,
        }],
        counts: Counts {
            manifests: 3,
            proofs: 3,
        },
        coverage: Coverage {
            sampled: 3,
            verified: 3,
        },
        estimated_cost_micro_usd: 1_000,
        errors: vec![],
        toggles: Toggles {
            plan: Plan::Starter,
            kill_switch: KillMode::Normal,
        },
    }
}

const PERIODS: [&str; 4] = ["2026-08", "2026-09", "2026-10", "2026-11"];
const TIMES: [&str; 4] = [
    "2026-09-01T06:00:00.000Z",
    "2026-10-01T06:00:00.000Z",
    "2026-11-01T06:00:00.000Z",
    "2026-12-01T06:00:00.000Z",
];

/// Four monthly runs of `acme`, each line's exact bytes.
fn lines() -> Vec<Vec<u8>> {
    let key = key();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (i, (p, ts)) in PERIODS.iter().zip(TIMES).enumerate() {
        let prev = out
            .last()
            .map_or_else(|| GENESIS.to_owned(), |l| sha256_hex(l));
        let signed = RunSummary::sign(body("acme", p), i as u64 + 1, &prev, t(ts), &key).unwrap();
        out.push(signed.bytes);
    }
    out
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut data = Vec::new();
    for l in lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    data
}

/// Parses a line, edits it, and writes it back canonically (so only the edit is wrong).
fn edit(line: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(line).unwrap();
    f(&mut v);
    merkle::canon::canonicalize_value(&v).unwrap()
}

/// A correctly signed line for position `seq` after `prev_line`.
fn signed(
    body: SummaryBody,
    seq: u64,
    prev_line: Option<&[u8]>,
    ts: &str,
    key: &SigningKey,
) -> Vec<u8> {
    let prev = prev_line.map_or_else(|| GENESIS.to_owned(), sha256_hex);
    RunSummary::sign(body, seq, &prev, t(ts), key)
        .unwrap()
        .bytes
}

#[track_caller]
fn assert_broken(data: &[u8], line: usize, rule: &str) -> String {
    match verify_jsonl(data, &jwks()) {
        Err(DomainError::Chain {
            line: l,
            rule: r,
            detail,
        }) => {
            assert_eq!((l, r), (line, rule), "detail: {detail}");
            detail
        }
        other => panic!("expected line {line} rule {rule}, got {other:?}"),
    }
}

#[test]
fn a_chain_built_by_signing_summaries_verifies_with_or_without_a_final_newline() {
    let lines = lines();
    let data = join(&lines);
    let report = verify_jsonl(&data, &jwks()).unwrap();
    assert_eq!(
        report,
        ChainReport {
            tenant: TenantId::new("acme").unwrap(),
            lines: 4,
            head_hash: sha256_hex(&lines[3]),
            first_ts: t(TIMES[0]),
            last_ts: t(TIMES[3]),
        }
    );
    let without = &data[..data.len() - 1];
    assert_eq!(verify_jsonl(without, &jwks()).unwrap(), report);
    let one = verify_jsonl(&lines[0], &jwks()).unwrap();
    assert_eq!((one.lines, one.head_hash), (1, sha256_hex(&lines[0])));
}

#[test]
fn empty_input_is_rule_empty() {
    assert_broken(b"", 0, "empty");
}

#[test]
fn a_line_that_is_not_a_json_object_is_rule_json() {
    let mut l = lines();
    l[1] = b"not json".to_vec();
    assert_broken(&join(&l), 2, "json");
    l[1] = b"[1,2]".to_vec();
    assert_broken(&join(&l), 2, "json");
    // A blank line in the middle, or a second final newline, is a line that is not JSON.
    let mut data = join(&lines()[..2]);
    data.push(b'\n');
    assert_broken(&data, 3, "json");
    // Duplicate member names are not I-JSON.
    let dup = String::from_utf8(lines()[0].clone()).unwrap().replacen(
        "{\"alg\":\"ES256\",",
        "{\"alg\":\"ES256\",\"alg\":\"ES256\",",
        1,
    );
    assert_broken(dup.as_bytes(), 1, "json");
}

#[test]
fn a_line_of_the_wrong_shape_is_rule_json() {
    let mut l = lines();
    l[2] = edit(&l[2], |v| v["counts"] = json!({"manifests": 3}));
    let detail = assert_broken(&join(&l), 3, "json");
    assert!(detail.contains("proofs"), "{detail}");
}

#[test]
fn a_line_that_is_not_its_own_rfc8785_form_is_rule_canonical() {
    let mut l = lines();
    let v: Value = serde_json::from_slice(&l[1]).unwrap();
    l[1] = serde_json::to_vec_pretty(&v)
        .unwrap()
        .split(|&b| b == b'\n')
        .flatten()
        .copied()
        .collect();
    assert_broken(&join(&l), 2, "canonical");
    // CRLF line endings leave a \r on every line.
    let crlf: Vec<u8> = lines()
        .iter()
        .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
        .collect();
    let detail = assert_broken(&crlf, 1, "canonical");
    assert!(detail.contains("CRLF"), "{detail}");
}

#[test]
fn another_format_or_alg_is_rule_version() {
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["format"] = json!("c2c.run-summary.v2"));
    assert_broken(&join(&l), 2, "version");
    let mut l = lines();
    l[3] = edit(&l[3], |v| v["alg"] = json!("ES384"));
    assert_broken(&join(&l), 4, "version");
}

#[test]
fn a_seq_that_is_not_the_line_number_is_rule_seq() {
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["seq"] = json!(3));
    assert_broken(&join(&l), 2, "seq");
    // A deleted line: the next one now sits at the wrong line.
    let mut l = lines();
    l.remove(1);
    let detail = assert_broken(&join(&l), 2, "seq");
    assert!(detail.contains("seq is 3, expected 2"), "{detail}");
}

#[test]
fn a_prev_that_is_not_the_hash_of_the_previous_line_is_rule_prev() {
    let mut l = lines();
    l[2] = edit(&l[2], |v| v["prev"] = json!(sha256_hex(b"elsewhere")));
    assert_broken(&join(&l), 3, "prev");
    let mut l = lines();
    l[0] = edit(&l[0], |v| v["prev"] = json!(sha256_hex(b"")));
    assert_broken(&join(&l), 1, "prev");
}

#[test]
fn rewriting_a_line_even_with_a_valid_signature_breaks_the_next_lines_prev() {
    let key = key();
    let mut l = lines();
    let mut rewritten = body("acme", PERIODS[1]);
    rewritten.estimated_cost_micro_usd = 1;
    l[1] = signed(rewritten, 2, Some(&l[0]), TIMES[1], &key);
    assert_broken(&join(&l), 3, "prev");
}

#[test]
fn a_timestamp_not_after_the_previous_one_or_unreadable_is_rule_ts() {
    let key = key();
    let mut l = lines();
    l[2] = signed(body("acme", PERIODS[2]), 3, Some(&l[1]), TIMES[1], &key);
    let detail = assert_broken(&join(&l), 3, "ts");
    assert!(detail.contains("not after line 2"), "{detail}");
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["ts"] = json!("2026-10-01 06:00"));
    assert_broken(&join(&l), 2, "ts");
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["ts"] = json!("2026-10-01T08:00:00.000+02:00"));
    assert_broken(&join(&l), 2, "ts");
}

#[test]
fn a_second_tenant_in_one_chain_is_rule_tenant() {
    let key = key();
    let mut l = lines();
    l[1] = signed(body("globex", PERIODS[1]), 2, Some(&l[0]), TIMES[1], &key);
    let detail = assert_broken(&join(&l), 2, "tenant");
    assert!(
        detail.contains("globex") && detail.contains("acme"),
        "{detail}"
    );
}

#[test]
fn a_kid_the_jwks_does_not_hold_is_rule_key() {
    let stranger = SigningKey::generate();
    let mut l = lines();
    l[1] = signed(
        body("acme", PERIODS[1]),
        2,
        Some(&l[0]),
        TIMES[1],
        &stranger,
    );
    let detail = assert_broken(&join(&l), 2, "key");
    assert!(detail.contains(stranger.key_id().as_str()), "{detail}");
}

#[test]
fn a_changed_member_or_a_borrowed_signature_is_rule_signature() {
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["estimated_cost_micro_usd"] = json!(1));
    assert_broken(&join(&l), 2, "signature");
    let mut l = lines();
    let sig0: Value = serde_json::from_slice(&l[0]).unwrap();
    l[3] = edit(&l[3], |v| v["sig"] = sig0["sig"].clone());
    assert_broken(&join(&l), 4, "signature");
    let mut l = lines();
    l[3] = edit(&l[3], |v| v["sig"] = json!("AAAA"));
    assert_broken(&join(&l), 4, "signature");
}

#[test]
fn verification_stops_at_the_first_bad_line() {
    let mut l = lines();
    l[1] = edit(&l[1], |v| v["estimated_cost_micro_usd"] = json!(1));
    l[3] = b"garbage".to_vec();
    assert_broken(&join(&l), 2, "signature");
}

/// The high-S twin of a valid signature verifies (ECDSA has no low-S rule), but the line's
/// bytes change, so the next line's `prev` no longer links: the chain still catches it.
#[test]
fn a_high_s_twin_signature_verifies_but_breaks_the_next_link() {
    use p256::ecdsa::Signature;
    let mut l = lines();
    l[1] = edit(&l[1], |v| {
        let raw = Base64UrlUnpadded::decode_vec(v["sig"].as_str().unwrap()).unwrap();
        let sig = Signature::from_slice(&raw).unwrap();
        let (r, s) = sig.split_scalars();
        let twin = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        v["sig"] = json!(Base64UrlUnpadded::encode_string(&twin.to_bytes()));
    });
    assert_broken(&join(&l), 3, "prev");
    assert_eq!(verify_jsonl(&join(&l[..2]), &jwks()).unwrap().lines, 2);
}
