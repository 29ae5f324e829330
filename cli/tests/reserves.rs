//! `anchor reserves verify`: a served attestation of seed 000's fixtures verifies (exit 0);
//! one with a changed figure, or checked against another key set, does not (exit 1); an
//! unreadable JWKS is bad input (exit 2).

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
