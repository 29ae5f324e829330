//! Signed attestations: binding to an anchored run, verification, tamper detection, the
//! summary staleness rule, and the signature checked by openssl.

mod common;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use chrono::Duration;
use common::*;
use ledger::keys::SigningKey;
use reserves::attestation::{
    AnchorBinding, Attestation, AttestedPeriod, Balances, SignedAttestation, verify,
};
use reserves::compute::Claims;
use reserves::error::RuleError as ReserveError;
use reserves::types::AttestationId;
use serde_json::Value;

fn balances() -> Balances {
    let period = AttestedPeriod::new(ts("2026-11-22T09:00:00.000Z"), as_of()).unwrap();
    Balances::new(
        period,
        fixture_computation(),
        Claims {
            reserve_ratio_bps: Some(12_000),
            min_reserve_ratio_bps: 10_500,
        },
    )
    .unwrap()
}

/// An attestation of the fixtures, anchored by a summary signed an hour before it is issued.
fn signed(key: &SigningKey) -> SignedAttestation {
    let b = balances();
    let (summary, proof) = anchored(b.digest(), key, ts("2026-11-24T01:00:00.000Z"));
    let binding = AnchorBinding::new(&summary.bytes, proof).unwrap();
    let a = Attestation::new(
        AttestationId::generate(),
        ts("2026-11-24T02:00:00.000Z"),
        b,
        binding,
        &jwks(key),
        Duration::hours(36),
    )
    .unwrap();
    SignedAttestation::sign(a, key)
}

#[test]
fn a_signed_attestation_verifies_and_embeds_the_exact_summary_bytes() {
    let key = SigningKey::generate();
    let s = signed(&key);
    let (served, summary) = verify(s.served_json.as_bytes(), &jwks(&key)).unwrap();
    assert_eq!(served, s.served);
    assert_eq!(summary.tenant, tenant());
    let a = &served.payload.attestation;
    assert_eq!(a.anchor.summary.as_bytes(), summary.to_jcs().unwrap());
    assert_eq!(a.anchor.root, summary.root.unwrap());
    assert_eq!(a.anchor.proof.digest, a.balance_digest);
    // The stored canonical bytes are JCS of the served payload.
    let v: Value = serde_json::from_str(&s.served_json).unwrap();
    assert_eq!(
        merkle::canon::canonicalize_value(&v["payload"]).unwrap(),
        s.canonical
    );
    assert_eq!(v["payload"]["schema"], "ledger-anchors.reserve-attestation");
    assert_eq!(v["payload"]["version"], "1");
    assert_eq!(
        s.served.payload_hash,
        ledger::formats::sha256_hex(&s.canonical)
    );
}

/// Every scalar of the served document, with its JSON pointer.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

fn tweak(v: &mut Value) {
    *v = match v.take() {
        Value::String(s) if s.is_empty() => Value::String("x".into()),
        Value::String(s) => {
            let mut c: Vec<char> = s.chars().collect();
            let last = c.len() - 1;
            c[last] = if c[last] == '0' { '1' } else { '0' };
            Value::String(c.into_iter().collect())
        }
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => Value::from(n.as_u64().unwrap() + 1),
        Value::Null => Value::String("x".into()),
        _ => unreachable!(),
    };
}

#[test]
fn changing_any_field_of_the_served_document_fails_verification() {
    let key = SigningKey::generate();
    let s = signed(&key);
    let jwks = jwks(&key);
    let doc: Value = serde_json::from_str(&s.served_json).unwrap();
    let mut paths = Vec::new();
    leaves(&doc, String::new(), &mut paths);
    assert!(paths.len() > 60, "{}", paths.len());
    for p in &paths {
        let mut t = doc.clone();
        tweak(t.pointer_mut(p).unwrap());
        let bytes = serde_json::to_vec(&t).unwrap();
        let err = verify(&bytes, &jwks).expect_err(p);
        if p.starts_with("/payload/") {
            assert!(matches!(err, ReserveError::Signature(_)), "{p}: {err}");
        }
    }
    // Removing or adding a member is a change too.
    let mut t = doc.clone();
    t["payload"]["attestation"]["balances"]["computation"]
        .as_object_mut()
        .unwrap()
        .remove("stale");
    assert!(verify(&serde_json::to_vec(&t).unwrap(), &jwks).is_err());
    let mut t = doc;
    t["payload"]["attestation"]["note"] = Value::from("added");
    assert!(matches!(
        verify(&serde_json::to_vec(&t).unwrap(), &jwks),
        Err(ReserveError::Signature(_))
    ));
}

#[test]
fn a_key_outside_the_jwks_is_refused_naming_the_key_id() {
    let key = SigningKey::generate();
    let s = signed(&key);
    let other = SigningKey::generate();
    let err = verify(s.served_json.as_bytes(), &jwks(&other))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(key.key_id().as_str()) && err.contains("not in the JWKS"),
        "{err}"
    );
}

#[test]
fn a_summary_older_than_the_configured_age_refuses_to_publish_naming_both_ages() {
    let key = SigningKey::generate();
    let b = balances();
    let (summary, proof) = anchored(b.digest(), &key, ts("2026-11-24T01:00:00.000Z"));
    let binding = AnchorBinding::new(&summary.bytes, proof).unwrap();
    let err = Attestation::new(
        AttestationId::generate(),
        ts("2026-11-25T03:30:00.000Z"),
        b,
        binding,
        &jwks(&key),
        Duration::hours(24),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is 1d 2h 30m old"), "{err}");
    assert!(err.contains("configured maximum age 1d"), "{err}");
    assert!(
        err.contains("reserves-co") && err.contains("seq 1"),
        "{err}"
    );
}

#[test]
fn a_proof_of_another_digest_or_a_summary_by_an_unknown_key_does_not_bind() {
    let key = SigningKey::generate();
    let b = balances();
    let other = merkle::ManifestDigest(merkle::Hash::sha256(b"other").0);
    let (summary, proof) = anchored(other, &key, ts("2026-11-24T01:00:00.000Z"));
    let binding = AnchorBinding::new(&summary.bytes, proof).unwrap();
    let err = Attestation::new(
        AttestationId::generate(),
        ts("2026-11-24T02:00:00.000Z"),
        b.clone(),
        binding,
        &jwks(&key),
        Duration::days(2),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not the balance digest"), "{err}");

    let (summary, proof) = anchored(b.digest(), &key, ts("2026-11-24T01:00:00.000Z"));
    let binding = AnchorBinding::new(&summary.bytes, proof).unwrap();
    let stranger = SigningKey::generate();
    let err = Attestation::new(
        AttestationId::generate(),
        ts("2026-11-24T02:00:00.000Z"),
        b,
        binding,
        &jwks(&stranger),
        Duration::days(2),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("anchor binding: run summary") && err.contains("not in the JWKS"),
        "{err}"
    );
}

#[test]
fn an_i3_violation_cannot_be_made_into_balances() {
    let a = assets();
    let s = snapshots(&a);
    let c = reserves::compute::compute(&a, &s, liabilities(7000, &[]), as_of()).unwrap();
    let period = AttestedPeriod::new(ts("2026-11-22T09:00:00.000Z"), as_of()).unwrap();
    let err = Balances::new(
        period,
        c,
        Claims {
            reserve_ratio_bps: None,
            min_reserve_ratio_bps: 10_000,
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "reserve_attestation_i3_violated: reserve_ratio_bps=8571 < 10000"
    );
    let err = AttestedPeriod::new(as_of(), as_of())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "period_end must be > period_start");
}

/// `openssl dgst -sha256 -verify` (a verifier we did not write) checks the ES256 signature
/// over the stored canonical bytes, after the raw r‖s is re-encoded as the DER openssl reads.
#[test]
fn openssl_verifies_the_signature_over_the_stored_canonical_bytes() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let key = SigningKey::generate();
    let s = signed(&key);
    let dir = tempfile::tempdir().unwrap();
    let raw = Base64UrlUnpadded::decode_vec(&s.served.sig).unwrap();
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    std::fs::write(dir.path().join("payload.jcs"), &s.canonical).unwrap();
    std::fs::write(dir.path().join("sig.der"), der.as_bytes()).unwrap();
    std::fs::write(dir.path().join("pub.pem"), key.public_jwk().to_spki_pem()).unwrap();
    let run = |file: &str| {
        std::process::Command::new(&openssl)
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                file,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let ok = run("payload.jcs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "Verified OK");
    // openssl's SHA-256 of the bytes is the payload_hash.
    let dg = std::process::Command::new(&openssl)
        .args(["dgst", "-sha256", "-r", "payload.jcs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dg.stdout).starts_with(&s.served.payload_hash));
    let mut bad = s.canonical.clone();
    let n = bad.len() - 2;
    bad[n] ^= 1;
    std::fs::write(dir.path().join("bad.jcs"), &bad).unwrap();
    assert!(!run("bad.jcs").status.success());
}

/// The served document against `schemas/ledger-anchors.reserve-attestation.v1.json`, checked by
/// Python's `jsonschema` (`testkit::schema`): valid as signed, its embedded run summary a valid
/// `c2c.run-summary.v1` and its proof a valid `c2c.proof.v1`.
#[test]
fn the_served_document_is_valid_against_its_json_schema() {
    use testkit::schema::{self, PROOF, RESERVE_ATTESTATION, RUN_SUMMARY};
    let key = SigningKey::generate();
    let s = signed(&key);
    schema::assert_valid(
        RESERVE_ATTESTATION,
        "a signed attestation",
        s.served_json.as_bytes(),
    );
    let doc: Value = serde_json::from_str(&s.served_json).unwrap();
    let anchor = &doc["payload"]["attestation"]["anchor"];
    let summary = anchor["summary"].as_str().unwrap();
    schema::assert_valid(RUN_SUMMARY, "the embedded run summary", summary.as_bytes());
    let proof = serde_json::to_vec(&anchor["proof"]).unwrap();
    schema::assert_valid(PROOF, "the embedded proof", &proof);
    // The fixtures hold reserve lines with and without a snapshot (its members null).
    let lines = doc["payload"]["attestation"]["balances"]["computation"]["reserves"]
        .as_array()
        .unwrap();
    assert!(
        lines.iter().any(|l| l["snapshot_id"].is_null()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l["snapshot_id"].is_string()),
        "{lines:?}"
    );
}

/// Upper-cases a hex value (documents write lowercase only) and drops its last digit.
fn spoil_hex(v: &mut Value) {
    let mut s = v.as_str().unwrap().to_uppercase();
    s.pop();
    *v = Value::from(s);
}

const COMPUTATION: &str = "/payload/attestation/balances/computation";

/// A way to spoil a served attestation: what it does, the JSON pointer its schema failure must
/// name, and the edit.
type Spoil = (&'static str, &'static str, fn(&mut Value));

const SPOILS: [Spoil; 7] = [
    ("no payload_hash", "", |d| {
        d.as_object_mut().unwrap().remove("payload_hash").unwrap();
    }),
    ("no computation.stale", COMPUTATION, |d| {
        let c = d.pointer_mut(COMPUTATION).and_then(Value::as_object_mut);
        c.unwrap().remove("stale").unwrap();
    }),
    ("an unknown member", "/payload/attestation", |d| {
        d["payload"]["attestation"]["note"] = Value::from("added");
    }),
    (
        "an amount as a number",
        "/payload/attestation/balances/computation/eligible_reserves_total",
        |d| {
            let v = &mut d.pointer_mut(COMPUTATION).unwrap()["eligible_reserves_total"];
            *v = Value::from(v.as_str().unwrap().parse::<u64>().unwrap());
        },
    ),
    (
        "malformed hex in balance_digest",
        "/payload/attestation/balance_digest",
        |d| {
            spoil_hex(&mut d["payload"]["attestation"]["balance_digest"]);
        },
    ),
    (
        "malformed hex in the embedded proof",
        "/payload/attestation/anchor/proof/audit_path/0",
        |d| spoil_hex(&mut d["payload"]["attestation"]["anchor"]["proof"]["audit_path"][0]),
    ),
    ("malformed hex in payload_hash", "/payload_hash", |d| {
        spoil_hex(&mut d["payload_hash"]);
    }),
];

/// A served attestation with a missing or an extra member, a value of the wrong type or
/// malformed hex is invalid against its JSON Schema at the JSON pointer of the fault, and
/// `verify` refuses it as well.
#[test]
fn a_served_document_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_is_invalid() {
    use testkit::schema::{self, RESERVE_ATTESTATION};
    let key = SigningKey::generate();
    let s = signed(&key);
    let jwks = jwks(&key);
    let doc: Value = serde_json::from_str(&s.served_json).unwrap();
    for (what, pointer, edit) in SPOILS {
        let mut t = doc.clone();
        edit(&mut t);
        let bytes = serde_json::to_vec_pretty(&t).unwrap();
        assert!(verify(&bytes, &jwks).is_err(), "{what}: verified");
        let label = format!("an attestation with {what}");
        if let Some(errors) = schema::assert_invalid(RESERVE_ATTESTATION, &label, &bytes) {
            let at = format!("at JSON pointer \"{pointer}\":");
            assert!(
                errors.iter().any(|e| e.contains(&at)),
                "{label}: no failure {at}\n{}",
                errors.join("\n")
            );
        }
    }
}
