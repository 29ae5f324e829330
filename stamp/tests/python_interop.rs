//! Per-manifest `.ots` files checked by software we did not write: the OpenTimestamps reference
//! client (`ots info`) parses them, and the reference library, replaying every operation from
//! the manifest digest, reaches the root's commitment SHA-256(root.bin).
//!
//! The tools come from `scripts/python-tools.sh` (a venv under target/py-tools, or
//! `$LEDGER_PY_TOOLS`). Without them the test skips loudly; with `CI=true` it fails.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use merkle::leaf::HexHash;
use merkle::proof::plan_inclusion;
use merkle::{
    DigestTreeBuilder, Hash, LeafIndex, ManifestDigest, NodeId, Parameters, ProofV1, Root, TreeSize,
};
use sha2::{Digest as _, Sha256};
use stamp::manifest::per_manifest_ots;
use stamp::{Attestation, DetachedTimestamp, Entry, Op, Timestamp};

fn tools() -> Option<PathBuf> {
    testkit::python_tools()
}

/// A tree over `n` digests; returns the sorted digests, the root and every node.
fn tree(n: u64) -> (Vec<[u8; 32]>, Hash, HashMap<NodeId, Hash>) {
    let mut digests: Vec<[u8; 32]> = (0..n)
        .map(|i| Sha256::digest(format!("{{\"manifest\":{i}}}")).into())
        .collect();
    digests.sort_unstable();
    let mut nodes = HashMap::new();
    let mut b = DigestTreeBuilder::with_sink(|id, h: &Hash| {
        nodes.insert(id, *h);
    });
    for d in &digests {
        b.push(d).unwrap();
    }
    let root = b.root();
    let _ = b.into_sink();
    (digests, root, nodes)
}

fn proof(digests: &[[u8; 32]], root: Hash, nodes: &HashMap<NodeId, Hash>, index: u64) -> ProofV1 {
    let size = digests.len() as u64;
    let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).unwrap();
    let path = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
    ProofV1 {
        format: ProofV1::FORMAT.into(),
        tenant: Some("acme".into()),
        period: Some("2026-W47".into()),
        digest: ManifestDigest(digests[index as usize]),
        leaf_index: index,
        tree_size: size,
        root: Root(root),
        audit_path: path.into_iter().map(HexHash).collect(),
        parameters: Parameters::c2c(),
    }
}

/// A root timestamp as a calendar would return it: a nonce appended, hashed, pending there;
/// and, on a second branch, a further step with a Bitcoin attestation.
fn root_ots(root: Hash) -> (DetachedTimestamp, Vec<u8>) {
    let mut t = Timestamp::new(Sha256::digest(root.0).to_vec());
    let deep = t.push_op(Op::Append(vec![0xa5; 16])).push_op(Op::Sha256);
    deep.entries.push(Entry::Attestation(Attestation::Pending {
        uri: "https://a.pool.opentimestamps.org".into(),
    }));
    let deeper = deep.push_op(Op::Prepend(vec![0x5a; 8])).push_op(Op::Sha256);
    deeper
        .entries
        .push(Entry::Attestation(Attestation::Bitcoin { height: 900_000 }));
    let bitcoin_msg = deeper.msg.clone();
    (
        DetachedTimestamp {
            file_hash: Op::Sha256,
            timestamp: t,
        },
        bitcoin_msg,
    )
}

const REPLAY: &str = r"
import sys
from opentimestamps.core.serialize import StreamDeserializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile
with open(sys.argv[1], 'rb') as fd:
    dt = DetachedTimestampFile.deserialize(StreamDeserializationContext(fd))
print(dt.file_digest.hex())
for msg, att in sorted(dt.timestamp.all_attestations(), key=lambda x: x[0]):
    print(msg.hex(), type(att).__name__)
";

#[test]
fn per_manifest_ots_is_parsed_by_ots_info_and_replayed_by_the_reference_library() {
    let Some(bin) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for n in [1u64, 2, 7, 1000] {
        let (digests, root, nodes) = tree(n);
        let (root_file, bitcoin_msg) = root_ots(root);
        for index in [0, n / 2, n - 1] {
            let p = proof(&digests, root, &nodes, index);
            let ots = per_manifest_ots(&p, &root_file).unwrap();
            let path = dir.path().join(format!("{n}-{index}.ots"));
            std::fs::write(&path, ots.to_bytes().unwrap()).unwrap();

            let info = Command::new(bin.join("ots"))
                .arg("info")
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&info.stdout);
            assert!(
                info.status.success(),
                "ots info {n}/{index}: {}",
                String::from_utf8_lossy(&info.stderr)
            );
            assert!(
                stdout.contains(&format!("File sha256 hash: {}", p.digest)),
                "ots info {n}/{index}:\n{stdout}"
            );

            let replay = Command::new(bin.join("python"))
                .args(["-c", REPLAY])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                replay.status.success(),
                "{}",
                String::from_utf8_lossy(&replay.stderr)
            );
            let out = String::from_utf8(replay.stdout).unwrap();
            let mut lines = out.lines();
            assert_eq!(lines.next(), Some(p.digest.to_hex().as_str()));
            let attested: Vec<&str> = lines.collect();
            let pending_msg = {
                let mut m = Sha256::digest(root.0).to_vec();
                m.extend_from_slice(&[0xa5; 16]);
                Sha256::digest(&m).to_vec()
            };
            let mut want = vec![
                format!(
                    "{} PendingAttestation",
                    merkle::hash::encode_hex(&pending_msg)
                ),
                format!(
                    "{} BitcoinBlockHeaderAttestation",
                    merkle::hash::encode_hex(&bitcoin_msg)
                ),
            ];
            want.sort();
            assert_eq!(attested, want, "{n}/{index}");
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn a_root_timestamp_of_another_root_is_refused() {
    let (digests, root, nodes) = tree(5);
    let p = proof(&digests, root, &nodes, 3);
    let (other, _) = root_ots(Hash([9; 32]));
    assert!(per_manifest_ots(&p, &other).is_err());
    let mut bad = p.clone();
    bad.audit_path[0].0.0[0] ^= 1;
    assert!(per_manifest_ots(&bad, &root_ots(root).0).is_err());
}
