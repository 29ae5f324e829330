//! The fast paths against the naive RFC 9162 transcription in `common/reference.rs`: property
//! tests over random sizes and indices, and an exhaustive sweep pinned to one rolling digest.

mod common;

use std::collections::HashMap;

use common::reference;
use merkle::hash::leaf_hash;
use merkle::proof::{
    NodeCollector, plan_consistency, plan_inclusion, verify_consistency, verify_inclusion,
};
use merkle::{Hash, LeafIndex, NodeId, TreeBuilder, TreeSize};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn inputs(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| i.to_be_bytes().to_vec()).collect()
}

fn build_all(inputs: &[Vec<u8>]) -> (Hash, HashMap<NodeId, Hash>) {
    let mut map = HashMap::new();
    let mut b = TreeBuilder::with_sink(|id, h: &Hash| {
        map.insert(id, *h);
    });
    for i in inputs {
        b.push_leaf_hash(leaf_hash(i));
    }
    let root = b.root();
    drop(b);
    (root, map)
}

fn hashes(v: &[reference::H]) -> Vec<Hash> {
    v.iter().map(|h| Hash(*h)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Issue 25: the batched builder hashes two messages at a time (interleaved compressions);
    /// its root, on one thread and on several, is the reference root of the same c2c leaves,
    /// for sizes around and across its 64-leaf batches.
    #[test]
    fn two_stream_roots_equal_the_reference(size in 1usize..700, seed in any::<u64>()) {
        let mut digests: Vec<[u8; 32]> = (0..size as u64)
            .map(|i| Sha256::digest((seed ^ i).to_be_bytes()).into())
            .collect();
        digests.sort_unstable();
        digests.dedup();
        let leaves: Vec<Vec<u8>> = digests
            .iter()
            .map(|d| [merkle::hash::LEAF_PREFIX.as_slice(), merkle::hash::encode_hex(d).as_bytes()].concat())
            .collect();
        let want = Hash(reference::mth(&leaves));
        let mut b = merkle::stream::DigestTreeBuilder::new();
        b.push_slice(&digests).unwrap();
        prop_assert_eq!(b.root(), want);
        prop_assert_eq!(merkle::stream::par_root_of_sorted_digests(&digests, 3).unwrap(), want);
    }

    #[test]
    fn streaming_root_and_streamed_proofs_equal_the_reference(
        size in 1u64..1500, index_seed in any::<u64>(), old_seed in any::<u64>()
    ) {
        let d = inputs(size);
        let index = index_seed % size;

        // The proof is produced the O(log n) way: plan, then collect only the planned nodes
        // from one streaming pass, then assemble.
        let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).unwrap();
        let mut b = TreeBuilder::with_sink(NodeCollector::for_plan(&plan));
        for i in &d {
            b.push_leaf_hash(leaf_hash(i));
        }
        let root = b.root();
        let collected = b.into_sink();
        let path = plan.assemble(|id| collected.get(id)).unwrap();

        prop_assert_eq!(root, Hash(reference::mth(&d)));
        prop_assert_eq!(&path, &hashes(&reference::path(index as usize, &d)));
        let leaf = leaf_hash(&d[index as usize]);
        prop_assert!(verify_inclusion(&leaf, LeafIndex(index), TreeSize(size), &path, &root).is_ok());

        // Any single flipped bit in the path, or the wrong index, is refused.
        if !path.is_empty() {
            let mut bad = path.clone();
            let k = (index_seed as usize) % bad.len();
            bad[k].0[(old_seed % 32) as usize] ^= 1 << (old_seed % 8);
            prop_assert!(verify_inclusion(&leaf, LeafIndex(index), TreeSize(size), &bad, &root).is_err());
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, LeafIndex(other), TreeSize(size), &path, &root).is_err());
        }

        // Consistency from a random older size.
        let old = 1 + old_seed % size;
        let cplan = plan_consistency(TreeSize(old), TreeSize(size)).unwrap();
        let (_, all) = build_all(&d);
        let cproof = cplan.assemble(|id| all.get(&id).copied()).unwrap();
        prop_assert_eq!(&cproof, &hashes(&reference::proof(old as usize, &d)));
        let old_root = Hash(reference::mth(&d[..old as usize]));
        prop_assert!(verify_consistency(TreeSize(old), TreeSize(size), &old_root, &root, &cproof).is_ok());
        if !cproof.is_empty() {
            let mut bad = cproof.clone();
            bad[0].0[0] ^= 0x80;
            prop_assert!(verify_consistency(TreeSize(old), TreeSize(size), &old_root, &root, &bad).is_err());
        }
    }
}

/// Every inclusion proof for every (index, size) with size ≤ 256, and every consistency proof
/// for every (size1, size2) with size2 ≤ 256, hashed in order into one SHA-256. The constant
/// was computed independently by the Python transcription of RFC 9162 in
/// `merkle/tests/rolling_digest.py` (hashlib only), so a change to any proof shows up here.
#[test]
fn every_proof_up_to_size_256_hashes_to_the_pinned_rolling_digest() {
    let mut rolling = Sha256::new();
    for size in 1..=256u64 {
        let d = inputs(size);
        let (root, all) = build_all(&d);
        for index in 0..size {
            let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).unwrap();
            let path = plan.assemble(|id| all.get(&id).copied()).unwrap();
            let leaf = leaf_hash(&d[index as usize]);
            verify_inclusion(&leaf, LeafIndex(index), TreeSize(size), &path, &root).unwrap();
            rolling.update(index.to_be_bytes());
            rolling.update(size.to_be_bytes());
            for h in &path {
                rolling.update(h.0);
            }
        }
        let mut old_builder = TreeBuilder::new();
        for old in 1..=size {
            old_builder.push_leaf_hash(leaf_hash(&d[old as usize - 1]));
            let plan = plan_consistency(TreeSize(old), TreeSize(size)).unwrap();
            let proof = plan.assemble(|id| all.get(&id).copied()).unwrap();
            verify_consistency(
                TreeSize(old),
                TreeSize(size),
                &old_builder.root(),
                &root,
                &proof,
            )
            .unwrap();
            rolling.update(old.to_be_bytes());
            rolling.update(size.to_be_bytes());
            for h in &proof {
                rolling.update(h.0);
            }
        }
    }
    let got = Hash(rolling.finalize().into()).to_hex();
    assert_eq!(got, PINNED_ROLLING_DIGEST);
}

const PINNED_ROLLING_DIGEST: &str =
    "8c08c033879ac6fa7baec5002adfe95656533d7348a9123789fff4c4aa1ceab5";
