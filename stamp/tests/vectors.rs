//! Real OpenTimestamps proofs from opentimestamps-client's examples (../shared/vectors/ots).

use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{BlockHeader, HeadersFile};
use stamp::verify::{Finding, Verdict, verify_file};
use stamp::{DetachedTimestamp, Op, StampError};

fn dir() -> Option<PathBuf> {
    testkit::vectors().map(|d| d.join("ots"))
}

fn read(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn headers(dir: &std::path::Path) -> HeadersFile {
    let blocks: serde_json::Value = serde_json::from_slice(&read(dir, "blocks.json")).unwrap();
    let mut h = HeadersFile::default();
    for (height, b) in blocks["blocks"].as_object().unwrap() {
        if let Some(hex) = b["header_hex"].as_str() {
            h.insert(height.parse().unwrap(), BlockHeader::from_hex(hex).unwrap());
        }
    }
    h
}

#[test]
fn every_example_proof_parses_and_reserialises_byte_identically() {
    let Some(dir) = dir() else { return };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ots") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let file = DetachedTimestamp::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(file.to_bytes().unwrap(), bytes, "{}", path.display());
        // Where the stamped file is beside it, the proof's digest is that file's hash.
        let data = path.with_extension("");
        if data.is_file() && file.file_hash == Op::Sha256 {
            let digest: [u8; 32] = Sha256::digest(std::fs::read(&data).unwrap()).into();
            assert_eq!(file.digest(), digest, "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 12, "only {seen} .ots files found");
}

type Expect = fn(&StampError) -> bool;

#[test]
fn invalid_examples_are_rejected_with_the_reason() {
    let Some(dir) = dir() else { return };
    let cases: [(&str, Expect); 3] = [
        ("bad-major-version.ots", |e| {
            matches!(e, StampError::BadVersion(_))
        }),
        ("invalid-file-digest-type.ots", |e| {
            matches!(e, StampError::BadFileHashOp(0xf3))
        }),
        ("exceeds-max-msg-length.ots", |e| {
            matches!(e, StampError::TooLong { .. })
        }),
    ];
    for (name, expected) in cases {
        let err = DetachedTimestamp::from_bytes(&read(&dir.join("invalid"), name)).unwrap_err();
        assert!(expected(&err), "{name}: {err}");
    }
}

#[test]
fn truncation_and_trailing_garbage_are_rejected() {
    let Some(dir) = dir() else { return };
    let bytes = read(&dir, "hello-world.txt.ots");
    for cut in [0, 10, 31, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            DetachedTimestamp::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        DetachedTimestamp::from_bytes(&longer),
        Err(StampError::TrailingGarbage { trailing: 1, .. })
    ));
}

#[test]
fn hello_world_is_attested_by_bitcoin_block_358391() {
    let Some(dir) = dir() else { return };
    let file = DetachedTimestamp::from_bytes(&read(&dir, "hello-world.txt.ots")).unwrap();
    let digest: [u8; 32] = Sha256::digest(read(&dir, "hello-world.txt")).into();
    let (verdict, findings) = verify_file(&file, &digest, &headers(&dir)).unwrap();
    assert_eq!(verdict, Verdict::Verified);
    assert!(findings.contains(&Finding::Bitcoin {
        height: 358_391,
        block_hash: "000000000000000003e892881a8cdcdc117c06d444057c98b6f04a9ee75a2319".into(),
        time: 1_432_827_678,
        txid: Some("7e9f0f7d9daa2d9e51b2e22f4abe814c3f90539afa778a9bef88dc64627cb2ec".into()),
    }));
}

#[test]
fn bad_stamp_claiming_the_same_block_fails() {
    let Some(dir) = dir() else { return };
    let file = DetachedTimestamp::from_bytes(&read(&dir, "bad-stamp.txt.ots")).unwrap();
    let digest: [u8; 32] = Sha256::digest(read(&dir, "bad-stamp.txt")).into();
    let (verdict, findings) = verify_file(&file, &digest, &headers(&dir)).unwrap();
    assert_eq!(verdict, Verdict::NotVerified);
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Failed { reason } if reason.contains("merkle root"))),
        "{findings:?}"
    );
}

#[test]
fn a_proof_checked_against_other_data_is_refused() {
    let Some(dir) = dir() else { return };
    let file = DetachedTimestamp::from_bytes(&read(&dir, "hello-world.txt.ots")).unwrap();
    let err = verify_file(&file, &[0u8; 32], &headers(&dir)).unwrap_err();
    assert!(matches!(err, StampError::DigestMismatch { .. }), "{err}");
}

#[test]
fn a_header_with_a_changed_byte_fails_its_proof_of_work() {
    let Some(dir) = dir() else { return };
    let blocks: serde_json::Value = serde_json::from_slice(&read(&dir, "blocks.json")).unwrap();
    let hex = blocks["blocks"]["358391"]["header_hex"].as_str().unwrap();
    let good = BlockHeader::from_hex(hex).unwrap();
    good.check_proof_of_work().unwrap();
    assert_eq!(
        good.hash_display(),
        blocks["blocks"]["358391"]["block_hash"].as_str().unwrap()
    );
    let mut bytes = merkle::hash::decode_hex("h", hex).unwrap();
    bytes[40] ^= 1;
    let bad = BlockHeader::from_hex(&merkle::hash::encode_hex(&bytes)).unwrap();
    assert!(bad.check_proof_of_work().is_err());
}

#[test]
fn pending_only_proofs_say_so() {
    let Some(dir) = dir() else { return };
    let file = DetachedTimestamp::from_bytes(&read(&dir, "incomplete.txt.ots")).unwrap();
    let digest: [u8; 32] = Sha256::digest(read(&dir, "incomplete.txt")).into();
    let (verdict, findings) = verify_file(&file, &digest, &HeadersFile::default()).unwrap();
    assert_eq!(verdict, Verdict::PendingOnly, "{findings:?}");
}

/// The transaction each real proof's Bitcoin attestation commits through, as the reference
/// client's `ots info` prints it ("# Transaction id …"); gdp2q25-2nd.pdf.ots's is also the
/// transaction its vector's notes name.
#[test]
fn each_real_proofs_bitcoin_attestation_names_the_txid_ots_info_prints() {
    let Some(dir) = dir() else { return };
    for (name, height, txid) in [
        (
            "hello-world.txt.ots",
            358_391,
            "7e9f0f7d9daa2d9e51b2e22f4abe814c3f90539afa778a9bef88dc64627cb2ec",
        ),
        (
            "gdp2q25-2nd.pdf.ots",
            912_095,
            "fcf172401ca9d89013f13f5bbf0fc7577cb8a3588bf5cbc3b458ff36635fec00",
        ),
        (
            "bitcoin.pdf.ots",
            465_751,
            "8465d34ede9e3387cfd7aacae880cfc86a5bdc603d8822e3b0e7c1369f8acfa8",
        ),
    ] {
        let file = DetachedTimestamp::from_bytes(&read(&dir, name)).unwrap();
        let found: Vec<(u64, Option<String>)> = file
            .timestamp
            .attestations_with_txid()
            .into_iter()
            .filter_map(|(_, a, t)| match a {
                stamp::Attestation::Bitcoin { height } => {
                    Some((*height, t.map(|t| t.to_display_hex())))
                }
                _ => None,
            })
            .collect();
        assert_eq!(found, vec![(height, Some(txid.to_owned()))], "{name}");
    }
}
