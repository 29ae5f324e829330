//! Tree coordinates (newtypes with their invariants) and RFC 9162 §2.1 subtree arithmetic.

use std::fmt;

use crate::error::{MerkleError, Result};
use crate::hash::{Hash, node_hash};

/// Number of leaves in a tree. Any `u64` is a size; `0` is the empty tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeSize(pub u64);

/// A 0-based leaf position. On its own any `u64`; every function that pairs it with a
/// [`TreeSize`] checks `index < size` and returns [`MerkleError::IndexOutOfRange`] otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafIndex(pub u64);

/// A perfect (complete) subtree: `2^level` leaves starting at leaf `index << level`.
///
/// Invariant: `level < 64` and the subtree's last leaf fits in a `u64`, so
/// [`NodeId::leaves`] never overflows. Only perfect subtrees have ids; the hashes of the
/// right border of a tree whose size is not a power of two are "ephemeral" and are recomputed
/// from perfect ones (see [`crate::proof::rehash`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    level: u32,
    index: u64,
}

impl NodeId {
    pub fn new(level: u32, index: u64) -> Result<NodeId> {
        if level >= 64 || (level > 0 && index >> (64 - level) != 0) {
            return Err(MerkleError::NodeId { level, index });
        }
        Ok(NodeId { level, index })
    }

    /// The leaf itself as a level-0 node.
    pub fn leaf(index: u64) -> NodeId {
        NodeId { level: 0, index }
    }

    pub fn level(self) -> u32 {
        self.level
    }

    pub fn index(self) -> u64 {
        self.index
    }

    /// The half-open leaf range `[begin, end)` this node covers. `end` may equal `2^64`
    /// only in the `u128` form, which is why it is returned as `u128`.
    pub fn leaves(self) -> (u64, u128) {
        let begin = self.index << self.level;
        (begin, u128::from(begin) + (1u128 << self.level))
    }

    /// The parent, one level up.
    #[must_use]
    pub fn parent(self) -> NodeId {
        NodeId {
            level: self.level + 1,
            index: self.index >> 1,
        }
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({}, {})", self.level, self.index)
    }
}

/// RFC 9162 §2.1.1: "k is the largest power of two smaller than n (i.e., k < n <= 2k)".
/// Requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (n - 1).ilog2()
}

/// The perfect subtrees that exactly cover `[begin, end)`, left to right: at each step the
/// largest node aligned at `begin` that fits. For the ranges RFC 9162 proofs use (a subtree of
/// the tree, so `begin` is aligned to a power of two at least `end - begin`) the levels strictly
/// decrease, and the range's hash is the right fold in [`crate::proof::rehash`].
pub fn range_nodes(begin: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = begin;
    while at < end {
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let fit = (end - at).ilog2();
        let level = align.min(fit);
        out.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    out
}

/// Root of a whole in-memory list of leaf hashes, level by level (RFC 9162 §2.1.1; a lone
/// last node is carried up unchanged, never duplicated). Reference-quality helper for tests
/// and small trees; streaming callers use [`crate::stream::TreeBuilder`].
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::EMPTY_TREE_ROOT;
    }
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                [lone] => *lone,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_strictly_below_n() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn node_ids_outside_the_leaf_space_are_refused() {
        assert!(NodeId::new(64, 0).is_err());
        assert!(NodeId::new(63, 2).is_err());
        assert!(NodeId::new(63, 1).is_ok());
        assert!(NodeId::new(1, u64::MAX >> 1).is_ok());
        assert!(NodeId::new(1, 1 << 63).is_err());
    }

    #[test]
    fn range_nodes_cover_a_right_border_with_decreasing_levels() {
        let ids: Vec<(u32, u64)> = range_nodes(8, 15)
            .iter()
            .map(|n| (n.level(), n.index()))
            .collect();
        assert_eq!(ids, vec![(2, 2), (1, 6), (0, 14)]);
        assert_eq!(range_nodes(0, 8), vec![NodeId::new(3, 0).unwrap()]);
        assert!(range_nodes(5, 5).is_empty());
    }
}
