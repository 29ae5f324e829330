//! The streaming builder: a compact range over `[0, size)`.
//!
//! A tree of `n` leaves is, at any moment, fully described by the perfect subtrees that the
//! binary form of `n` names (one per set bit, largest first): at most 64 hashes. Appending a
//! leaf merges equal-sized neighbours, exactly like a binary counter carrying; every perfect
//! node completed on the way is handed to the caller's [`NodeSink`], which can store levels or
//! tiles and later serve proofs (see [`crate::proof::plan_inclusion`]) without the tree ever
//! being held in memory. The root folds the range right to left (RFC 9162 §2.1.1).

use std::thread;

use crate::error::{MerkleError, Result};
use crate::hash::{Hash, c2c_leaf_hash, node_hash};
use crate::tree::NodeId;

/// Receives every perfect node as soon as its hash is known: each leaf (level 0), then each
/// interior node the moment its right child completes. Nodes arrive in post-order, so a sink
/// writing level files appends to each level in index order.
pub trait NodeSink {
    fn node(&mut self, id: NodeId, hash: &Hash);
}

/// A sink that keeps nothing (root-only builds).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl NodeSink for NoSink {
    #[inline]
    fn node(&mut self, _: NodeId, _: &Hash) {}
}

impl<F: FnMut(NodeId, &Hash)> NodeSink for F {
    #[inline]
    fn node(&mut self, id: NodeId, hash: &Hash) {
        self(id, hash);
    }
}

/// Builds an RFC 9162 tree from leaf hashes pushed in order, in O(log n) memory.
#[derive(Debug, Clone)]
pub struct TreeBuilder<S: NodeSink = NoSink> {
    size: u64,
    /// Hashes of the perfect subtrees covering `[0, size)`, largest (leftmost) first; entry `i`
    /// is at the level of the `i`-th highest set bit of `size`.
    range: Vec<Hash>,
    sink: S,
}

impl Default for TreeBuilder<NoSink> {
    fn default() -> Self {
        TreeBuilder::new()
    }
}

impl TreeBuilder<NoSink> {
    pub fn new() -> Self {
        TreeBuilder::with_sink(NoSink)
    }
}

impl<S: NodeSink> TreeBuilder<S> {
    pub fn with_sink(sink: S) -> Self {
        TreeBuilder {
            size: 0,
            range: Vec::with_capacity(64),
            sink,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next leaf hash (`SHA-256(0x00 || input)`).
    #[inline]
    pub fn push_leaf_hash(&mut self, leaf: Hash) {
        let index = self.size;
        self.sink.node(NodeId::leaf(index), &leaf);
        self.carry(leaf, 0);
        self.size = index + 1;
    }

    /// Appends a perfect subtree of `2^level` leaves whose hash was computed elsewhere (another
    /// thread, a stored tile). Its own nodes are not re-announced to the sink; the merges it
    /// causes are. Fails unless the current size is a multiple of `2^level`.
    pub fn push_subtree(&mut self, level: u32, hash: Hash) -> Result<()> {
        let fits = level < 64
            && self.size.trailing_zeros() >= level
            && self.size.checked_add(1u64 << level).is_some();
        if !fits {
            return Err(MerkleError::Builder(format!(
                "a subtree of 2^{level} leaves cannot be appended at size {}",
                self.size
            )));
        }
        self.carry(hash, level);
        self.size += 1u64 << level;
        Ok(())
    }

    #[inline]
    fn carry(&mut self, mut hash: Hash, mut level: u32) {
        // Each set bit at `level` and above in `size` is a pending left sibling.
        while level < 64 && (self.size >> level) & 1 == 1 {
            let left = self
                .range
                .pop()
                .expect("one range entry per set bit of size");
            hash = node_hash(&left, &hash);
            level += 1;
            let index = self.size >> level;
            self.sink
                .node(NodeId::new(level, index).expect("inside the tree"), &hash);
        }
        self.range.push(hash);
    }

    /// The root of the leaves pushed so far (the empty-tree root when none).
    pub fn root(&self) -> Hash {
        let mut iter = self.range.iter().rev();
        let Some(last) = iter.next() else {
            return Hash::EMPTY_TREE_ROOT;
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The compact range itself: `(level, hash)` of each perfect subtree covering `[0, size)`,
    /// largest first.
    pub fn compact_range(&self) -> Vec<(u32, Hash)> {
        let levels = (0..64u32).rev().filter(|l| (self.size >> l) & 1 == 1);
        levels.zip(self.range.iter().copied()).collect()
    }

    pub fn into_sink(self) -> S {
        self.sink
    }
}

/// Builds the c2c tree from manifest digests given in ascending byte order. Equal neighbours
/// are de-duplicated (DESIGN.md: "Leaves are sorted by `d` and de-duplicated"); a digest below
/// its predecessor is refused, because a tree built from unsorted leaves would not be the
/// tree anyone else rebuilds from the same set.
#[derive(Debug, Clone)]
pub struct DigestTreeBuilder<S: NodeSink = NoSink> {
    tree: TreeBuilder<S>,
    last: Option<[u8; 32]>,
}

impl Default for DigestTreeBuilder<NoSink> {
    fn default() -> Self {
        DigestTreeBuilder::new()
    }
}

impl DigestTreeBuilder<NoSink> {
    pub fn new() -> Self {
        DigestTreeBuilder::with_sink(NoSink)
    }
}

impl<S: NodeSink> DigestTreeBuilder<S> {
    pub fn with_sink(sink: S) -> Self {
        DigestTreeBuilder {
            tree: TreeBuilder::with_sink(sink),
            last: None,
        }
    }

    /// Appends `digest`; `Ok(false)` when it equals the previous one (a duplicate).
    #[inline]
    pub fn push(&mut self, digest: &[u8; 32]) -> Result<bool> {
        if let Some(last) = &self.last {
            if digest == last {
                return Ok(false);
            }
            if digest < last {
                return Err(MerkleError::Builder(format!(
                    "digests must arrive in ascending order: {} after {}",
                    Hash(*digest),
                    Hash(*last)
                )));
            }
        }
        self.tree.push_leaf_hash(c2c_leaf_hash(digest));
        self.last = Some(*digest);
        Ok(true)
    }

    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    pub fn into_sink(self) -> S {
        self.tree.into_sink()
    }
}

/// Root of the c2c tree over `digests`, which must already be sorted and distinct (checked:
/// an error names the first offending pair), using `threads` OS threads.
///
/// The leaves are cut into chunks of `2^j` (a power of two, so every full chunk is a perfect
/// subtree); threads take chunks from a shared counter, build each chunk's compact range, and
/// the ranges are appended to one builder in order with [`TreeBuilder::push_subtree`]. The
/// result is bit-identical to the single-threaded build.
pub fn par_root_of_sorted_digests(digests: &[[u8; 32]], threads: usize) -> Result<Hash> {
    if let Some(i) = digests.windows(2).position(|w| w[0] >= w[1]) {
        return Err(MerkleError::Builder(format!(
            "digests must be sorted and distinct: {} at position {} is followed by {}",
            Hash(digests[i]),
            i,
            Hash(digests[i + 1])
        )));
    }
    let threads = threads.max(1);
    let n = digests.len();
    if threads == 1 || n < 1 << 14 {
        let mut b = TreeBuilder::new();
        for d in digests {
            b.push_leaf_hash(c2c_leaf_hash(d));
        }
        return Ok(b.root());
    }
    // About eight chunks per thread keeps both cores busy to the end.
    let target = (n / (threads * 8)).max(1);
    let chunk_level = target.ilog2();
    let chunk = 1usize << chunk_level;
    let chunks: Vec<&[[u8; 32]]> = digests.chunks(chunk).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut ranges: Vec<Vec<(u32, Hash)>> = vec![Vec::new(); chunks.len()];
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(part) = chunks.get(i) else { break };
                        let mut b = TreeBuilder::new();
                        for d in *part {
                            b.push_leaf_hash(c2c_leaf_hash(d));
                        }
                        done.push((i, b.compact_range()));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            for (i, range) in w.join().expect("tree worker panicked") {
                ranges[i] = range;
            }
        }
    });
    let mut all = TreeBuilder::new();
    for range in ranges {
        for (level, hash) in range {
            all.push_subtree(level, hash)?;
        }
    }
    Ok(all.root())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::tree::root_of_leaf_hashes;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn streaming_root_equals_the_level_by_level_root_for_every_size_to_300() {
        let all = leaves(300);
        let mut b = TreeBuilder::new();
        assert_eq!(b.root(), Hash::EMPTY_TREE_ROOT);
        for (i, l) in all.iter().enumerate() {
            b.push_leaf_hash(*l);
            assert_eq!(b.root(), root_of_leaf_hashes(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn the_sink_sees_every_perfect_node_once_in_post_order() {
        let mut seen = Vec::new();
        let mut b = TreeBuilder::with_sink(|id: NodeId, _: &Hash| seen.push(id));
        for l in leaves(6) {
            b.push_leaf_hash(l);
        }
        drop(b);
        let ids: Vec<(u32, u64)> = seen.iter().map(|n| (n.level(), n.index())).collect();
        assert_eq!(
            ids,
            vec![
                (0, 0),
                (0, 1),
                (1, 0),
                (0, 2),
                (0, 3),
                (1, 1),
                (2, 0),
                (0, 4),
                (0, 5),
                (1, 2)
            ]
        );
    }

    #[test]
    fn digest_builder_skips_duplicates_and_refuses_descending_input() {
        let mut b = DigestTreeBuilder::new();
        assert!(b.push(&[1; 32]).unwrap());
        assert!(!b.push(&[1; 32]).unwrap());
        assert!(b.push(&[2; 32]).unwrap());
        let err = b.push(&[0; 32]).unwrap_err().to_string();
        assert!(err.contains("ascending order"), "{err}");
        assert_eq!(b.size(), 2);
    }

    #[test]
    fn subtrees_append_only_at_aligned_sizes() {
        let mut b = TreeBuilder::new();
        b.push_leaf_hash(Hash([1; 32]));
        assert!(b.push_subtree(1, Hash([2; 32])).is_err());
        b.push_leaf_hash(Hash([3; 32]));
        assert!(b.push_subtree(1, Hash([2; 32])).is_ok());
        assert_eq!(b.size(), 4);
    }

    #[test]
    fn parallel_root_equals_sequential_root_for_awkward_sizes() {
        for n in [0usize, 1, 2, 3, (1 << 14) + 1, 40_000, 65_536, 70_001] {
            let mut digests: Vec<[u8; 32]> = (0..n as u64)
                .map(|i| Hash::sha256(&i.to_le_bytes()).0)
                .collect();
            digests.sort_unstable();
            let mut seq = DigestTreeBuilder::new();
            for d in &digests {
                seq.push(d).unwrap();
            }
            for threads in [1, 2, 3] {
                assert_eq!(
                    par_root_of_sorted_digests(&digests, threads).unwrap(),
                    seq.root(),
                    "n={n} threads={threads}"
                );
            }
        }
    }

    #[test]
    fn parallel_root_refuses_unsorted_input() {
        let err = par_root_of_sorted_digests(&[[2; 32], [1; 32]], 2).unwrap_err();
        assert!(err.to_string().contains("position 0"), "{err}");
    }
}
