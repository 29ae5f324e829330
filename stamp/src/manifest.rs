//! Per-manifest `.ots` files (DESIGN.md "Formats"): the RFC 9162 path from one manifest digest
//! to the root written as OpenTimestamps operations, then `sha256` to the digest of `root.bin`,
//! then the root's own timestamp. A tenant holding the manifest runs stock `ots verify` on it.
//!
//! From the manifest digest `d` the operations are:
//! `hexlify` → `prepend "c2c.manifest.v1|"` → `prepend 00` → `sha256` (the leaf hash); per path
//! level, `prepend sibling` or `append sibling` (RFC 9162 §2.1.3.2 decides the side) →
//! `prepend 01` → `sha256`; finally `sha256` (= SHA-256(root.bin), the root timestamp's digest).

use merkle::proof::inclusion_sides;
use merkle::{LeafIndex, ProofV1, TreeSize};
use sha2::{Digest as _, Sha256};

use crate::error::{Result, StampError};
use crate::ots::{DetachedTimestamp, Op, Timestamp};

/// Builds the per-manifest `.ots` for the manifest of `proof` from the root's `.ots` (the
/// timestamp of `root.bin`). The proof is verified first, and the root timestamp must stamp
/// exactly this root.
pub fn per_manifest_ots(
    proof: &ProofV1,
    root_ots: &DetachedTimestamp,
) -> Result<DetachedTimestamp> {
    proof
        .verify(None)
        .map_err(|e| StampError::Proof(format!("the proof does not verify: {e}")))?;
    let root_bin_digest: [u8; 32] = Sha256::digest(proof.root.0.0).into();
    if root_ots.file_hash != Op::Sha256 || root_ots.digest() != root_bin_digest {
        return Err(StampError::DigestMismatch {
            got: merkle::hash::encode_hex(root_ots.digest()),
            want: merkle::hash::encode_hex(&root_bin_digest),
        });
    }
    let sides = inclusion_sides(LeafIndex(proof.leaf_index), TreeSize(proof.tree_size))
        .map_err(|e| StampError::Proof(e.to_string()))?;

    let mut top = Timestamp::new(proof.digest.0.to_vec());
    let mut at = top
        .push_op(Op::Hexlify)
        .push_op(Op::Prepend(merkle::hash::LEAF_PREFIX.to_vec()))
        .push_op(Op::Prepend(vec![0x00]))
        .push_op(Op::Sha256);
    for (sibling, left) in proof.audit_path.iter().zip(sides) {
        let place = if left {
            Op::Prepend(sibling.0.0.to_vec())
        } else {
            Op::Append(sibling.0.0.to_vec())
        };
        at = at
            .push_op(place)
            .push_op(Op::Prepend(vec![0x01]))
            .push_op(Op::Sha256);
    }
    debug_assert_eq!(at.msg, proof.root.0.0, "a verified path reaches the root");
    let at = at.push_op(Op::Sha256);
    if at.msg != root_ots.timestamp.msg {
        return Err(StampError::Proof(
            "the path does not reach SHA-256(root.bin)".into(),
        ));
    }
    at.entries.clone_from(&root_ots.timestamp.entries);
    Ok(DetachedTimestamp {
        file_hash: Op::Sha256,
        timestamp: top,
    })
}
