//! The JSON Schemas of `schemas/` (`c2c.receipt.v1`, `c2c.root.v1`, `c2c.run-summary.v1`,
//! `c2c.proof.v1`, `c2c.bundle.v1`) against the golden documents of `tests/golden/`, checked
//! by Python's `jsonschema` (`testkit::schema`, an implementation this project did not write):
//! every golden document is valid, and a document with a missing member, an extra member, a
//! value of the wrong type or malformed hex is invalid — at the JSON pointer of the fault — and
//! is refused by the Rust reader too, so the schemas and the readers agree on both sides.
//!
//! The API's error body is checked in `anchor-api/tests/router.rs`, the reserve attestation in
//! `reserves/tests/attestation.rs`, the demo's artifacts in `cli/tests/demo.rs`.

use std::path::PathBuf;

use domain::bundle::Bundle;
use domain::formats::{Receipt, RootMetadata, RunSummary};
use domain::{Period, TenantId};
use merkle::leaf::HexHash;
use merkle::proof::plan_inclusion;
use merkle::{DigestTreeBuilder, LeafIndex, ManifestDigest, Parameters, ProofV1, Root, TreeSize};
use serde_json::{Value, json};
use testkit::schema::{self, BUNDLE, PROOF, RECEIPT, ROOT, RUN_SUMMARY};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The schema of each golden file; a file no schema covers must be named here (keys), so a
/// new golden document cannot go unchecked.
fn schema_of(file: &str) -> Option<&'static str> {
    match file {
        "signing-key.pem" | "jwks.json" => None,
        "root-metadata.json" => Some(ROOT),
        "chain.jsonl" => Some(RUN_SUMMARY),
        f if f.starts_with("receipt-") => Some(RECEIPT),
        f if f.starts_with("run-summary") => Some(RUN_SUMMARY),
        f => panic!("tests/golden/{f}: which schema is it? (name it in schema_of)"),
    }
}

#[test]
fn every_golden_document_is_valid_against_its_schema() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(schema_name) = schema_of(&name) else {
            continue;
        };
        let bytes = golden(&name);
        if name == "chain.jsonl" {
            schema::assert_valid_lines(schema_name, &name, &bytes);
        } else {
            schema::assert_valid(schema_name, &name, &bytes);
        }
        checked.push(name);
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "chain.jsonl",
            "receipt-backfilled.json",
            "receipt-v1.json",
            "receipt-v2.json",
            "root-metadata.json",
            "run-summary-backfill.json",
            "run-summary.json"
        ]
    );
}

/// The three manifest digests of `merkle/tests/golden.rs` (their tree's root is the golden
/// receipts' root).
const DIGESTS: [&str; 3] = [
    "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
    "2a2ca9ead4dc1547b8bb04f5c3ad6f643f3999e29c1975d6ba8dd4fff7f53791",
    "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c",
];

/// The proof of leaf `index` of the golden three-digest tree, as `anchor proof` (tenant and
/// period of the golden receipts) or `anchor tree proof` (`None`: no run) writes it.
fn proof(index: usize, run: Option<(&str, &str)>) -> ProofV1 {
    let digests: Vec<[u8; 32]> = DIGESTS
        .iter()
        .map(|d| ManifestDigest::from_hex(d).unwrap().0)
        .collect();
    let plan = plan_inclusion(LeafIndex(index as u64), TreeSize(3)).unwrap();
    let mut nodes = std::collections::HashMap::new();
    let mut b = DigestTreeBuilder::with_sink(|id, h: &merkle::Hash| {
        nodes.insert(id, *h);
    });
    for d in &digests {
        b.push(d).unwrap();
    }
    let root = b.root();
    let _ = b.into_sink(); // flushes the last, partial batch of leaves into the sink
    let path = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
    let proof = ProofV1 {
        format: ProofV1::FORMAT.into(),
        tenant: run.map(|(t, _)| t.to_owned()),
        period: run.map(|(_, p)| p.to_owned()),
        digest: ManifestDigest(digests[index]),
        leaf_index: index as u64,
        tree_size: 3,
        root: Root(root),
        audit_path: path.into_iter().map(HexHash).collect(),
        parameters: Parameters::c2c(),
    };
    proof.verify(None).unwrap();
    proof
}

/// A bundle of the golden documents: the proof of the first digest, the golden receipt of
/// its period, the summary it names and the golden JWKS. The `.ots` and `.tsr` members are
/// stand-in bytes: the schema says they are base64, what they hold is the verifier's to check.
fn bundle(stamps: bool) -> Vec<u8> {
    let proof = proof(0, Some(("acme", "2026-W47")));
    let receipt = golden("receipt-v2.json");
    assert_eq!(
        value(&receipt)["root"],
        proof.root.to_string(),
        "the golden receipt's root"
    );
    let stamp = |b: &[u8]| stamps.then(|| b.to_vec());
    Bundle {
        tenant: TenantId::new("acme").unwrap(),
        period: "2026-W47".parse::<Period>().unwrap(),
        digest: proof.digest,
        proof: proof.to_json_pretty().into_bytes(),
        manifest_ots: stamp(
            b"\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94\x01",
        ),
        root_bin: proof.root.0.0.to_vec(),
        root_ots: stamp(b"\x00OpenTimestamps\x00\x00Proof\x00"),
        root_tsr: stamp(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        receipt,
        summary: golden("run-summary.json"),
        jwks: golden("jwks.json"),
    }
    .to_json()
}

#[test]
fn proofs_and_bundles_of_the_golden_tree_are_valid_against_their_schemas() {
    for i in 0..3 {
        for run in [Some(("acme", "2026-W47")), None] {
            let doc = proof(i, run).to_json_pretty();
            schema::assert_valid(
                PROOF,
                &format!("proof of leaf {i} ({run:?})"),
                doc.as_bytes(),
            );
        }
    }
    for stamps in [true, false] {
        let doc = bundle(stamps);
        Bundle::from_json(&doc).unwrap();
        schema::assert_valid(BUNDLE, &format!("bundle (stamps: {stamps})"), &doc);
        // The JSON members hold the formats their contentSchema names.
        let v = value(&doc);
        for (member, name) in [
            ("proof", PROOF),
            ("receipt", RECEIPT),
            ("summary", RUN_SUMMARY),
        ] {
            let bytes = base64_decode(v[member].as_str().unwrap());
            schema::assert_valid(name, &format!("bundle member {member}"), &bytes);
        }
    }
}

/// RFC 4648 base64 with padding (the bundle's members), decoded without a crate of its own.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let n = data
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (val(c) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len()]);
    }
    out
}

/// One way to spoil a valid document, and the JSON pointer its failure must name.
#[derive(Clone)]
struct Spoil {
    what: &'static str,
    pointer: &'static str,
    edit: fn(&mut Value),
}

/// Each spoiled document fails validation at its pointer, and `reader` refuses it too.
/// `canonical`: write the spoiled document as RFC 8785 (a run summary's reader refuses any
/// other bytes before it looks at the members).
fn every_spoiled_document_is_invalid(
    schema_name: &str,
    valid: &[u8],
    spoils: &[Spoil],
    canonical: bool,
    reader: fn(&[u8]) -> bool,
) {
    assert!(reader(valid), "the reader refuses the valid {schema_name}");
    for spoil in spoils {
        let mut doc = value(valid);
        (spoil.edit)(&mut doc);
        let bytes = if canonical {
            merkle::canon::canonicalize_value(&doc).unwrap()
        } else {
            serde_json::to_vec_pretty(&doc).unwrap()
        };
        let label = format!("{schema_name} with {}", spoil.what);
        assert!(!reader(&bytes), "{label}: the Rust reader accepted it");
        let Some(errors) = schema::assert_invalid(schema_name, &label, &bytes) else {
            continue; // skipped: no validator outside CI
        };
        let at = format!("at JSON pointer \"{}\":", spoil.pointer);
        assert!(
            errors.iter().any(|e| e.contains(&at)),
            "{label}: no failure {at}\n{}",
            errors.join("\n")
        );
    }
}

/// The four faults every format is checked for, at the top level: `missing` removed, an
/// unknown member added, `number` given as a string, and `hex` (a member holding 64 lowercase
/// hex digits) spoiled by `spoil_hex`.
macro_rules! four_faults {
    ($missing:literal, $number:literal, $hex:literal) => {
        [
            Spoil {
                what: concat!("no ", $missing),
                pointer: "",
                edit: |d| {
                    d.as_object_mut().unwrap().remove($missing).unwrap();
                },
            },
            Spoil {
                what: "an unknown member",
                pointer: "",
                edit: |d| {
                    d["note"] = json!("added");
                },
            },
            Spoil {
                what: concat!($number, " as a string"),
                pointer: concat!("/", $number),
                edit: |d| {
                    d[$number] = json!(d[$number].to_string());
                },
            },
            Spoil {
                what: concat!("malformed hex in ", $hex),
                pointer: concat!("/", $hex),
                edit: |d| spoil_hex(&mut d[$hex]),
            },
        ]
    };
}

/// Upper-cases a 64-hex value (documents write lowercase only), or the hex part of a root
/// string, and drops its last digit: both readers and schemas refuse either fault alone.
fn spoil_hex(v: &mut Value) {
    let s = v.as_str().unwrap();
    let mut spoiled = s
        .to_uppercase()
        .replace("C2C.MERKLE.V1:SHA256:0X", "c2c.merkle.v1:sha256:0x");
    spoiled.pop();
    *v = json!(spoiled);
}

#[test]
fn receipts_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_are_invalid() {
    let mut spoils = four_faults!("summary_hash", "tree_size", "summary_hash").to_vec();
    spoils.extend([
        Spoil {
            what: "bad hex in an artifact's sha256",
            pointer: "/anchors/0/artifact/sha256",
            edit: |d| spoil_hex(&mut d["anchors"][0]["artifact"]["sha256"]),
        },
        Spoil {
            what: "a bad root",
            pointer: "/root",
            edit: |d| spoil_hex(&mut d["root"]),
        },
        Spoil {
            what: "an unknown member of an anchor",
            pointer: "/anchors/1",
            edit: |d| d["anchors"][1]["note"] = json!(1),
        },
        Spoil {
            what: "a confirmed ots anchor without its block",
            pointer: "/anchors/0",
            edit: |d| {
                d["anchors"][0].as_object_mut().unwrap().remove("bitcoin");
            },
        },
        Spoil {
            what: "a timestamp without milliseconds",
            pointer: "/anchored_at",
            edit: |d| d["anchored_at"] = json!("2026-11-23T02:00:04Z"),
        },
        Spoil {
            what: "a period of another cadence",
            pointer: "/period",
            edit: |d| d["period"] = json!("2026-11"),
        },
    ]);
    every_spoiled_document_is_invalid(RECEIPT, &golden("receipt-v2.json"), &spoils, false, |b| {
        Receipt::from_json(b).is_ok()
    });
}

#[test]
fn root_metadata_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_is_invalid() {
    let mut spoils = four_faults!("built_at", "tree_size", "root").to_vec();
    spoils.push(Spoil {
        what: "other tree parameters",
        pointer: "/parameters/dup_last",
        edit: |d| d["parameters"]["dup_last"] = json!(true),
    });
    every_spoiled_document_is_invalid(ROOT, &golden("root-metadata.json"), &spoils, false, |b| {
        RootMetadata::from_json(b).is_ok()
    });
}

#[test]
fn run_summaries_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_are_invalid() {
    let chain = golden("chain.jsonl");
    let second = chain.split(|b| *b == b'\n').nth(1).unwrap();
    assert_eq!(value(second)["seq"], 2);
    let mut spoils = four_faults!("toggles", "seq", "prev").to_vec();
    spoils.extend([
        Spoil {
            what: "a root with a tree size of 0",
            pointer: "/root",
            edit: |d| d["root"] = json!(format!("c2c.merkle.v1:sha256:0x{}", "ab".repeat(32))),
        },
        Spoil {
            what: "an unknown trigger",
            pointer: "/trigger",
            edit: |d| d["trigger"] = json!("cron"),
        },
    ]);
    every_spoiled_document_is_invalid(RUN_SUMMARY, second, &spoils, true, |b| {
        RunSummary::from_bytes(b).is_ok()
    });
}

#[test]
fn proofs_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_are_invalid() {
    let mut spoils = four_faults!("audit_path", "leaf_index", "digest").to_vec();
    spoils.extend([
        Spoil {
            what: "bad hex in the audit path",
            pointer: "/audit_path/1",
            edit: |d| spoil_hex(&mut d["audit_path"][1]),
        },
        Spoil {
            what: "a tenant that is not a tenant id",
            pointer: "/tenant",
            edit: |d| d["tenant"] = json!(7),
        },
    ]);
    let valid = proof(0, Some(("acme", "2026-W47"))).to_json_pretty();
    every_spoiled_document_is_invalid(PROOF, valid.as_bytes(), &spoils, false, |b| {
        ProofV1::from_json(b).is_ok()
    });
}

#[test]
fn bundles_with_a_missing_or_extra_member_a_wrong_type_or_bad_hex_are_invalid() {
    let mut spoils = four_faults!("jwks", "receipt", "digest").to_vec();
    // "receipt as a string" keeps it a string: the wrong type here is a number.
    spoils[2] = Spoil {
        what: "receipt as a number",
        pointer: "/receipt",
        edit: |d| d["receipt"] = json!(1),
    };
    // Bundle readers take either case of hex in `digest`; a non-hex digit is refused by both.
    spoils[3] = Spoil {
        what: "a digest with a non-hex digit",
        pointer: "/digest",
        edit: |d| {
            let s = d["digest"]
                .as_str()
                .unwrap()
                .replacen(char::is_numeric, "g", 1);
            d["digest"] = json!(s);
        },
    };
    spoils.push(Spoil {
        what: "unpadded base64",
        pointer: "/root_bin",
        edit: |d| {
            let s = d["root_bin"]
                .as_str()
                .unwrap()
                .trim_end_matches('=')
                .to_owned();
            d["root_bin"] = json!(s);
        },
    });
    every_spoiled_document_is_invalid(BUNDLE, &bundle(true), &spoils, false, |b| {
        Bundle::from_json(b).is_ok()
    });
}

/// Signatures and key ids are canonical base64url (the readers take any string there; the
/// signature check refuses another spelling).
#[test]
fn signatures_and_key_ids_that_are_not_canonical_base64url_are_invalid() {
    let jwks = domain::keys::Jwks::from_json(&golden("jwks.json")).unwrap();
    let receipt = value(&golden("receipt-v1.json"));
    let sig = receipt["sig"].as_str().unwrap();
    let kid = receipt["kid"].as_str().unwrap();
    let cases = [
        ("sig", sig.replace(['-', '_'], "+"), "/sig"),
        ("sig", format!("{sig}=="), "/sig"),
        ("sig", sig[..85].to_owned(), "/sig"),
        ("kid", format!("{kid}="), "/kid"),
        ("kid", kid[..42].to_owned(), "/kid"),
    ];
    for (member, spoiled, pointer) in cases {
        let mut doc = receipt.clone();
        doc[member] = json!(spoiled);
        let bytes = serde_json::to_vec_pretty(&doc).unwrap();
        let refused = Receipt::from_json(&bytes)
            .and_then(|r| r.verify_signature(&jwks))
            .is_err();
        assert!(
            refused,
            "{member} {spoiled}: the signature check accepted it"
        );
        let label = format!("receipt with {member} {spoiled}");
        if let Some(errors) = schema::assert_invalid(RECEIPT, &label, &bytes) {
            let at = format!("at JSON pointer \"{pointer}\":");
            assert!(
                errors.iter().any(|e| e.contains(&at)),
                "{}",
                errors.join("\n")
            );
        }
    }
}

#[test]
fn every_schema_is_a_file_named_by_its_id() {
    for name in schema::ALL {
        let doc = value(&std::fs::read(schema::path(name)).unwrap());
        assert_eq!(doc["$id"], format!("{name}.json"), "{name}");
        assert_eq!(
            doc["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        if let Some(format) = name.strip_prefix("c2c.") {
            assert_eq!(
                doc["properties"]["format"]["const"],
                format!("c2c.{format}")
            );
            assert_eq!(
                doc["additionalProperties"], false,
                "{name} is a closed format"
            );
        }
    }
}
