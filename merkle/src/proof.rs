//! RFC 9162 inclusion and consistency proofs: planning, assembly and verification.
//!
//! Generation is split the way transparency-dev/merkle splits it (`proof.Inclusion` → node ids
//! → fetched hashes → `Rehash`): [`plan_inclusion`] and [`plan_consistency`] are pure
//! arithmetic that name the perfect nodes a proof needs; the caller fetches those hashes from
//! wherever it stored them (a [`NodeCollector`] fed by the streaming builder, level files, an
//! object store); [`ProofPlan::assemble`] folds them into the proof. Verification follows the
//! algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.

use std::collections::BTreeMap;

use crate::error::{MerkleError, Result};
use crate::hash::{Hash, node_hash};
use crate::stream::NodeSink;
use crate::tree::{LeafIndex, NodeId, TreeSize, range_nodes, split_point};

/// One element of a proof: the hash of leaves `[begin, end)`, which is the right fold
/// ([`rehash`]) of `nodes`. A perfect subtree is a single node; the right border of a tree
/// whose size is not a power of two is several (an "ephemeral" node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub begin: u64,
    pub end: u64,
    pub nodes: Vec<NodeId>,
}

/// The nodes a proof needs, in proof order (leaf to root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    items: Vec<PlanItem>,
}

impl ProofPlan {
    fn from_ranges(ranges: Vec<(u64, u64)>) -> ProofPlan {
        let items = ranges
            .into_iter()
            .map(|(begin, end)| PlanItem {
                begin,
                end,
                nodes: range_nodes(begin, end),
            })
            .collect();
        ProofPlan { items }
    }

    pub fn items(&self) -> &[PlanItem] {
        &self.items
    }

    /// Number of hashes in the finished proof.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every node id to fetch, in proof order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.items.iter().flat_map(|i| i.nodes.iter().copied())
    }

    /// Builds the proof from fetched node hashes.
    pub fn assemble(&self, mut fetch: impl FnMut(NodeId) -> Option<Hash>) -> Result<Vec<Hash>> {
        self.items
            .iter()
            .map(|item| {
                let hashes = item
                    .nodes
                    .iter()
                    .map(|&id| {
                        fetch(id).ok_or(MerkleError::MissingNode {
                            level: id.level(),
                            index: id.index(),
                        })
                    })
                    .collect::<Result<Vec<Hash>>>()?;
                Ok(rehash(&hashes))
            })
            .collect()
    }
}

/// Hash of a subtree given its perfect cover, left to right with decreasing sizes:
/// `H(h1, H(h2, … H(h_{k-1}, h_k)))` — RFC 9162's split at the largest power of two, applied
/// to a range whose first node is that power of two.
pub fn rehash(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let last = *iter.next().expect("a plan item covers at least one leaf");
    iter.fold(last, |acc, left| node_hash(left, &acc))
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[n])`, as leaf ranges in proof order.
fn inclusion_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, n);
    let mut out = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < lo + k {
            // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// RFC 9162 §2.1.4.1 `PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`, as leaf ranges in proof order.
fn consistency_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi, mut m, mut b) = (0u64, n, m, true);
    let mut out = Vec::new();
    loop {
        let size = hi - lo;
        if m == size {
            // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
            if !b {
                out.push((lo, hi));
            }
            break;
        }
        let k = split_point(size);
        if m <= k {
            // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            // SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            b = false;
        }
    }
    out.reverse();
    out
}

fn check_index(index: LeafIndex, size: TreeSize) -> Result<()> {
    if index.0 >= size.0 {
        return Err(MerkleError::IndexOutOfRange {
            index: index.0,
            size: size.0,
        });
    }
    Ok(())
}

fn check_sizes(size1: TreeSize, size2: TreeSize) -> Result<()> {
    if size1.0 == 0 || size1.0 > size2.0 {
        return Err(MerkleError::ConsistencySizes {
            size1: size1.0,
            size2: size2.0,
        });
    }
    Ok(())
}

/// The nodes an inclusion proof of leaf `index` in a tree of `size` leaves needs.
pub fn plan_inclusion(index: LeafIndex, size: TreeSize) -> Result<ProofPlan> {
    check_index(index, size)?;
    Ok(ProofPlan::from_ranges(inclusion_ranges(index.0, size.0)))
}

/// The nodes a consistency proof from `size1` to `size2` needs (`0 < size1 <= size2`).
pub fn plan_consistency(size1: TreeSize, size2: TreeSize) -> Result<ProofPlan> {
    check_sizes(size1, size2)?;
    Ok(ProofPlan::from_ranges(consistency_ranges(size1.0, size2.0)))
}

/// A [`NodeSink`] that keeps exactly the nodes a set of plans asks for: feed it to the streaming
/// builder and a proof costs O(proof size) memory however large the tree.
#[derive(Debug, Clone, Default)]
pub struct NodeCollector {
    wanted: BTreeMap<NodeId, Option<Hash>>,
}

impl NodeCollector {
    pub fn for_plan(plan: &ProofPlan) -> NodeCollector {
        NodeCollector {
            wanted: plan.node_ids().map(|id| (id, None)).collect(),
        }
    }

    pub fn get(&self, id: NodeId) -> Option<Hash> {
        self.wanted.get(&id).copied().flatten()
    }
}

impl NodeSink for NodeCollector {
    #[inline]
    fn node(&mut self, id: NodeId, hash: &Hash) {
        if let Some(slot) = self.wanted.get_mut(&id) {
            *slot = Some(*hash);
        }
    }
}

/// The number of hashes a valid inclusion proof has (without building the plan).
fn inclusion_len(index: u64, size: u64) -> usize {
    // Levels below the point where the paths to `index` and to the last leaf diverge each
    // contribute one sibling; above it, each set bit of the remaining index one left subtree.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    // `inner` is 64 when the paths diverge at the top bit: nothing is left above it.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// For each hash of a valid inclusion path of leaf `index` in a tree of `size` leaves, whether
/// that sibling sits on the left (`true`: the step is `H(0x01 || sibling || r)`) or on the
/// right (`H(0x01 || r || sibling)`). The same walk as RFC 9162 §2.1.3.2, without hashing; used
/// to write a path as operations another verifier replays (per-manifest .ots files).
pub fn inclusion_sides(index: LeafIndex, size: TreeSize) -> Result<Vec<bool>> {
    check_index(index, size)?;
    let (mut fnum, mut snum) = (index.0, size.0 - 1);
    let mut sides = Vec::with_capacity(inclusion_len(index.0, size.0));
    while snum != 0 {
        if fnum & 1 == 1 || fnum == snum {
            sides.push(true);
            while fnum & 1 == 0 && fnum != 0 {
                fnum >>= 1;
                snum >>= 1;
            }
        } else {
            sides.push(false);
        }
        fnum >>= 1;
        snum >>= 1;
    }
    Ok(sides)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    path: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion(leaf, index, size, path)?;
    if &computed != root {
        return Err(MerkleError::RootMismatch {
            computed: computed.to_hex(),
            expected: root.to_hex(),
        });
    }
    Ok(())
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1–6, without the final
/// comparison).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    path: &[Hash],
) -> Result<Hash> {
    check_index(index, size)?;
    let expected = inclusion_len(index.0, size.0);
    if path.len() != expected {
        return Err(MerkleError::ProofLength {
            got: path.len(),
            expected,
        });
    }
    // "1. Compare leaf_index from the inclusion_proof_v2 structure against tree_size. If
    //  leaf_index is greater than or equal to tree_size, then fail the proof verification."
    // "2. Set fn to leaf_index and sn to tree_size - 1."  "3. Set r to hash."
    let (mut fnum, mut snum, mut r) = (index.0, size.0 - 1, *leaf);
    // "4. For each value p in the inclusion_path array:"
    for p in path {
        // "a. If sn is 0, then stop the iteration and fail the proof verification."
        if snum == 0 {
            return Err(MerkleError::ProofLength {
                got: path.len(),
                expected,
            });
        }
        // "b. If LSB(fn) is set, or if fn is equal to sn, then:"
        if fnum & 1 == 1 || fnum == snum {
            // "i. Set r to HASH(0x01 || p || r)."
            r = node_hash(p, &r);
            // "ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //  either LSB(fn) is set or fn is 0."
            while fnum & 1 == 0 && fnum != 0 {
                fnum >>= 1;
                snum >>= 1;
            }
        } else {
            // "Otherwise: i. Set r to HASH(0x01 || r || p)."
            r = node_hash(&r, p);
        }
        // "c. Finally, right-shift both fn and sn one time."
        fnum >>= 1;
        snum >>= 1;
    }
    // "5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
    //  root_hash are equal, then the log has proven the inclusion of hash."
    if snum != 0 {
        return Err(MerkleError::ProofLength {
            got: path.len(),
            expected,
        });
    }
    Ok(r)
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1`
/// leaves with root `root1` (RFC 9162 §2.1.4.2). `size1 == 0` is refused (transparency-dev's
/// rule: there is nothing to be consistent with); `size1 == size2` needs an empty proof and
/// equal roots.
///
/// long-function: RFC 9162 §2.1.4.2's seven steps in order, each under its quoted text, so the
/// code reads against the RFC line by line; split, a step's state (`fn`, `sn`, `fr`, `sr`)
/// would be passed around instead of read.
pub fn verify_consistency(
    size1: TreeSize,
    size2: TreeSize,
    root1: &Hash,
    root2: &Hash,
    path: &[Hash],
) -> Result<()> {
    check_sizes(size1, size2)?;
    if size1 == size2 {
        if !path.is_empty() {
            return Err(MerkleError::ProofLength {
                got: path.len(),
                expected: 0,
            });
        }
        if root1 != root2 {
            return Err(MerkleError::ConsistencyMismatch { which: "second" });
        }
        return Ok(());
    }
    let expected = consistency_ranges(size1.0, size2.0).len();
    // "1. If consistency_path is an empty array, stop and fail the proof verification."
    if path.len() != expected || path.is_empty() {
        return Err(MerkleError::ProofLength {
            got: path.len(),
            expected,
        });
    }
    // "2. If first is an exact power of 2, then prepend first_hash to the consistency_path
    //  array."
    let mut items: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if size1.0.is_power_of_two() {
        items.push(*root1);
    }
    items.extend_from_slice(path);
    // "3. Set fn to first - 1 and sn to second - 1."
    let (mut fnum, mut snum) = (size1.0 - 1, size2.0 - 1);
    // "4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set."
    while fnum & 1 == 1 {
        fnum >>= 1;
        snum >>= 1;
    }
    // "5. Set both fr and sr to the first value in the consistency_path array."
    let (mut fr, mut sr) = (items[0], items[0]);
    // "6. For each subsequent value c in the consistency_path array:"
    for c in &items[1..] {
        // "a. If sn is 0, then stop the iteration and fail the proof verification."
        if snum == 0 {
            return Err(MerkleError::ProofLength {
                got: path.len(),
                expected,
            });
        }
        // "b. If LSB(fn) is set, or if fn is equal to sn, then:"
        if fnum & 1 == 1 || fnum == snum {
            // "i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr)."
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // "ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //  either LSB(fn) is set or fn is 0."
            while fnum & 1 == 0 && fnum != 0 {
                fnum >>= 1;
                snum >>= 1;
            }
        } else {
            // "Otherwise: i. Set sr to HASH(0x01 || sr || c)."
            sr = node_hash(&sr, c);
        }
        // "c. Finally, right-shift both fn and sn one time."
        fnum >>= 1;
        snum >>= 1;
    }
    // "7. After completing iterating through the consistency_path array as described above,
    //  verify that the fr calculated is equal to the first_hash supplied, that the sr
    //  calculated is equal to the second_hash supplied, and that sn is 0."
    if snum != 0 {
        return Err(MerkleError::ProofLength {
            got: path.len(),
            expected,
        });
    }
    if &fr != root1 {
        return Err(MerkleError::ConsistencyMismatch { which: "first" });
    }
    if &sr != root2 {
        return Err(MerkleError::ConsistencyMismatch { which: "second" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_len_matches_the_plan_for_every_index_up_to_size_200() {
        for size in 1..=200u64 {
            for index in 0..size {
                let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).unwrap();
                assert_eq!(inclusion_len(index, size), plan.len(), "{index}/{size}");
                let sides = inclusion_sides(LeafIndex(index), TreeSize(size)).unwrap();
                // A sibling is on the left exactly when its leaf range starts before ours.
                let want: Vec<bool> = plan.items().iter().map(|i| i.begin < index).collect();
                assert_eq!(sides, want, "{index}/{size}");
            }
        }
    }

    /// Found by the `verify_inclusion` fuzz target: when the paths to the leaf and to the last
    /// leaf diverge at bit 63, the length computation shifted a u64 by 64.
    #[test]
    fn inclusion_len_handles_paths_that_diverge_at_the_top_bit() {
        for (index, size) in [
            ((1u64 << 63) - 1, u64::MAX),
            (0x5858_2858_5858_5858, 0x5858_5858_ffff_ffff),
            (0, 1 << 63 | 1),
            (1 << 63, u64::MAX),
        ] {
            let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).unwrap();
            assert_eq!(inclusion_len(index, size), plan.len(), "{index}/{size}");
            let sides = inclusion_sides(LeafIndex(index), TreeSize(size)).unwrap();
            assert_eq!(sides.len(), plan.len());
            let path = vec![Hash([1; 32]); plan.len() + 1];
            assert!(
                verify_inclusion(
                    &Hash([0; 32]),
                    LeafIndex(index),
                    TreeSize(size),
                    &path,
                    &Hash([2; 32])
                )
                .is_err()
            );
        }
    }

    #[test]
    fn inclusion_plan_for_leaf_6_of_7_uses_two_perfect_nodes() {
        // RFC 9162 §2.1.5's example tree of 7 leaves: "The inclusion proof for d6 is [i, k]",
        // i = leaves 4..6, k = leaves 0..4.
        let plan = plan_inclusion(LeafIndex(6), TreeSize(7)).unwrap();
        let ranges: Vec<(u64, u64)> = plan.items().iter().map(|i| (i.begin, i.end)).collect();
        assert_eq!(ranges, vec![(4, 6), (0, 4)]);
    }

    #[test]
    fn consistency_plan_from_3_to_7_matches_the_rfc_example() {
        // RFC 9162 §2.1.5: "The consistency proof between hash0 and hash is PROOF(3, D[7]) =
        // [c, d, g, l]": c = leaf 2, d = leaf 3, g = leaves 0..2, l = leaves 4..7.
        let plan = plan_consistency(TreeSize(3), TreeSize(7)).unwrap();
        let ranges: Vec<(u64, u64)> = plan.items().iter().map(|i| (i.begin, i.end)).collect();
        assert_eq!(ranges, vec![(2, 3), (3, 4), (0, 2), (4, 7)]);
        assert_eq!(
            plan.items()[3].nodes.len(),
            2,
            "leaves 4..7 are an ephemeral node"
        );
    }

    #[test]
    fn out_of_range_coordinates_are_refused_before_any_hashing() {
        assert!(matches!(
            plan_inclusion(LeafIndex(3), TreeSize(3)),
            Err(MerkleError::IndexOutOfRange { index: 3, size: 3 })
        ));
        assert!(plan_consistency(TreeSize(0), TreeSize(3)).is_err());
        assert!(plan_consistency(TreeSize(4), TreeSize(3)).is_err());
    }

    #[test]
    fn assembly_names_the_node_it_was_not_given() {
        let plan = plan_inclusion(LeafIndex(0), TreeSize(2)).unwrap();
        let err = plan.assemble(|_| None).unwrap_err();
        assert_eq!(err, MerkleError::MissingNode { level: 0, index: 1 });
    }
}
