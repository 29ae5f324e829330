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
use crate::hash::{
    Hash, Message, c2c_leaf_hash, hash_messages, leaf_message, node_hash, node_message,
};
use crate::tree::NodeId;

/// Receives every perfect node once its hash is known, always after its two children and with
/// each level in index order, so a sink writing level files only ever appends. (The plain
/// [`TreeBuilder`] sends them in post-order; [`DigestTreeBuilder`] level by level within each
/// batch of 64 leaves.)
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

/// Leaves hashed together as one perfect subtree of `2^BATCH_LEVEL` leaves.
const BATCH_LEVEL: u32 = 6;
const BATCH: usize = 1 << BATCH_LEVEL;

/// Hashes `BATCH` digests as the perfect subtree whose first leaf is `first_leaf`, level by
/// level, preparing every message of a level before hashing any of them. Two things make this
/// faster than the streaming carry: the hashes within a level are independent, so the CPU
/// overlaps them, and a message is read long after it was written, so its loads never wait on
/// the byte stores that built it. Every node goes to `sink`, after its children and with each
/// level in index order.
fn batch_subtree<S: NodeSink>(digests: &[[u8; 32]], first_leaf: u64, sink: &mut S) -> Hash {
    debug_assert_eq!(digests.len(), BATCH);
    let mut msgs: [Message; BATCH] = [[[0u8; 64]; 2]; BATCH];
    let mut level = [Hash::default(); BATCH];
    for (msg, d) in msgs.iter_mut().zip(digests) {
        leaf_message(d, msg);
    }
    hash_messages(&msgs, &mut level);
    for (i, h) in (first_leaf..).zip(&level) {
        sink.node(NodeId::leaf(i), h);
    }
    let mut len = BATCH;
    let mut l = 0;
    while len > 1 {
        len /= 2;
        l += 1;
        for (i, msg) in msgs[..len].iter_mut().enumerate() {
            node_message(&level[2 * i], &level[2 * i + 1], msg);
        }
        hash_messages(&msgs[..len], &mut level[..len]);
        for (i, h) in ((first_leaf >> l)..).zip(&level[..len]) {
            sink.node(NodeId::new(l, i).expect("inside the tree"), h);
        }
    }
    level[0]
}

/// Builds the c2c tree from manifest digests given in ascending byte order. Equal neighbours
/// are de-duplicated (DESIGN.md: "Leaves are sorted by `d` and de-duplicated"); a digest below
/// its predecessor is refused, because a tree built from unsorted leaves would not be the
/// tree anyone else rebuilds from the same set.
///
/// Digests are buffered 64 at a time and hashed as one perfect subtree (see `batch_subtree`);
/// the sink still sees every node, each after its children and each level in index order.
#[derive(Debug, Clone)]
pub struct DigestTreeBuilder<S: NodeSink = NoSink> {
    tree: TreeBuilder<S>,
    pending: Vec<[u8; 32]>,
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
            pending: Vec::with_capacity(BATCH),
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
        self.last = Some(*digest);
        self.pending.push(*digest);
        if self.pending.len() == BATCH {
            let hash = batch_subtree(&self.pending, self.tree.size, &mut self.tree.sink);
            self.tree.push_subtree(BATCH_LEVEL, hash)?;
            self.pending.clear();
        }
        Ok(true)
    }

    /// Appends a run of digests; the same as [`DigestTreeBuilder::push`] on each, but every
    /// aligned window of 64 strictly ascending digests is hashed straight from the slice.
    /// Returns how many were added (not duplicates).
    pub fn push_slice(&mut self, digests: &[[u8; 32]]) -> Result<u64> {
        let before = self.size();
        let mut rest = digests;
        while let Some(first) = rest.first() {
            let batch_ready = self.pending.is_empty()
                && rest.len() >= BATCH
                && self.last.is_none_or(|last| *first > last)
                && rest[..BATCH].windows(2).all(|w| w[0] < w[1]);
            if batch_ready {
                let hash = batch_subtree(&rest[..BATCH], self.tree.size, &mut self.tree.sink);
                self.tree.push_subtree(BATCH_LEVEL, hash)?;
                self.last = Some(rest[BATCH - 1]);
                rest = &rest[BATCH..];
            } else {
                self.push(first)?;
                rest = &rest[1..];
            }
        }
        Ok(self.size() - before)
    }

    pub fn size(&self) -> u64 {
        self.tree.size() + self.pending.len() as u64
    }

    /// The root of the digests pushed so far.
    pub fn root(&self) -> Hash {
        if self.pending.is_empty() {
            return self.tree.root();
        }
        let mut tail = TreeBuilder {
            size: self.tree.size,
            range: self.tree.range.clone(),
            sink: NoSink,
        };
        for d in &self.pending {
            tail.push_leaf_hash(c2c_leaf_hash(d));
        }
        tail.root()
    }

    /// Hashes the buffered tail leaf by leaf, so the sink has seen every node.
    fn flush(&mut self) {
        for d in std::mem::take(&mut self.pending) {
            self.tree.push_leaf_hash(c2c_leaf_hash(&d));
        }
    }

    /// The compact range of everything pushed (see [`TreeBuilder::compact_range`]).
    pub fn compact_range(mut self) -> Vec<(u32, Hash)> {
        self.flush();
        self.tree.compact_range()
    }

    /// Ends the build; the sink has seen every perfect node of the tree.
    pub fn into_sink(mut self) -> S {
        self.flush();
        self.tree.into_sink()
    }
}

/// Fails unless `digests` strictly ascend; `offset` is the position of `digests[0]` in the
/// caller's input, for the message.
fn check_sorted_distinct(digests: &[[u8; 32]], offset: usize) -> Result<()> {
    match digests.windows(2).position(|w| w[0] >= w[1]) {
        None => Ok(()),
        Some(i) => Err(MerkleError::Builder(format!(
            "digests must be sorted and distinct: {} at position {} is followed by {}",
            Hash(digests[i]),
            offset + i,
            Hash(digests[i + 1])
        ))),
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
    let threads = threads.max(1);
    let n = digests.len();
    if threads == 1 || n < 1 << 14 {
        check_sorted_distinct(digests, 0)?;
        let mut b = DigestTreeBuilder::new();
        b.push_slice(digests)?;
        return Ok(b.root());
    }
    // About eight chunks per thread keeps both cores busy to the end.
    let target = (n / (threads * 8)).max(1);
    let chunk_level = target.ilog2();
    let chunk = 1usize << chunk_level;
    let chunks: Vec<&[[u8; 32]]> = digests.chunks(chunk).collect();
    // Each worker checks the order inside its chunks; the seams between chunks are checked here.
    for (i, pair) in chunks.windows(2).enumerate() {
        let seam = [pair[0][pair[0].len() - 1], pair[1][0]];
        check_sorted_distinct(&seam, (i + 1) * chunk - 1)?;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut ranges: Vec<Vec<(u32, Hash)>> = vec![Vec::new(); chunks.len()];
    thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(part) = chunks.get(i) else { break };
                        check_sorted_distinct(part, i * chunk)?;
                        let mut b = DigestTreeBuilder::new();
                        b.push_slice(part)?;
                        done.push((i, b.compact_range()));
                    }
                    Ok::<_, MerkleError>(done)
                })
            })
            .collect();
        for w in workers {
            for (i, range) in w.join().expect("tree worker panicked")? {
                ranges[i] = range;
            }
        }
        Ok(())
    })?;
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

    fn digests(n: u64) -> Vec<[u8; 32]> {
        let mut v: Vec<[u8; 32]> = (0..n).map(|i| Hash::sha256(&i.to_le_bytes()).0).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn batched_digest_builder_matches_the_leaf_by_leaf_builder_across_batch_edges() {
        let all = digests(300);
        let mut plain = TreeBuilder::new();
        let mut batched = DigestTreeBuilder::new();
        assert_eq!(batched.root(), Hash::EMPTY_TREE_ROOT);
        for (i, d) in all.iter().enumerate() {
            plain.push_leaf_hash(c2c_leaf_hash(d));
            batched.push(d).unwrap();
            assert_eq!(batched.root(), plain.root(), "size {}", i + 1);
            assert_eq!(batched.size(), i as u64 + 1);
        }
    }

    #[test]
    fn batched_sink_sees_the_same_nodes_each_after_its_children_and_levels_in_order() {
        use std::collections::{BTreeMap, HashMap};
        for n in [1u64, 63, 64, 65, 128, 200, 256, 257] {
            let all = digests(n);
            let mut plain_seen = BTreeMap::new();
            let mut plain = TreeBuilder::with_sink(|id: NodeId, h: &Hash| {
                assert!(plain_seen.insert(id, *h).is_none());
            });
            for d in &all {
                plain.push_leaf_hash(c2c_leaf_hash(d));
            }
            drop(plain);

            let mut order = Vec::new();
            let mut batched = DigestTreeBuilder::with_sink(|id: NodeId, h: &Hash| {
                order.push((id, *h));
            });
            for d in &all {
                batched.push(d).unwrap();
            }
            let _ = batched.into_sink();

            let seen: BTreeMap<NodeId, Hash> = order.iter().copied().collect();
            assert_eq!(seen.len(), order.len(), "n={n}: a node was sent twice");
            assert_eq!(seen, plain_seen, "n={n}");
            let mut position = HashMap::new();
            let mut last_index: HashMap<u32, u64> = HashMap::new();
            for (at, (id, _)) in order.iter().enumerate() {
                if id.level() > 0 {
                    let left = NodeId::new(id.level() - 1, id.index() * 2).unwrap();
                    let right = NodeId::new(id.level() - 1, id.index() * 2 + 1).unwrap();
                    assert!(
                        position[&left] < at && position[&right] < at,
                        "n={n} {id:?}"
                    );
                }
                if let Some(prev) = last_index.insert(id.level(), id.index()) {
                    assert!(
                        prev < id.index(),
                        "n={n}: level {} out of order",
                        id.level()
                    );
                }
                position.insert(*id, at);
            }
        }
    }

    #[test]
    fn push_slice_equals_pushing_one_by_one_with_duplicates_anywhere() {
        let mut all = digests(500);
        // Duplicates inside a would-be batch, at batch edges, and across calls.
        for i in [3usize, 64, 127, 128, 300, 301] {
            all.insert(i, all[i]);
        }
        let mut one = DigestTreeBuilder::new();
        for d in &all {
            one.push(d).unwrap();
        }
        let mut sliced = DigestTreeBuilder::new();
        let (a, b) = all.split_at(70);
        let added = sliced.push_slice(a).unwrap() + sliced.push_slice(b).unwrap();
        assert_eq!(added, 500);
        assert_eq!(sliced.size(), one.size());
        assert_eq!(sliced.root(), one.root());
        let mut bad = DigestTreeBuilder::new();
        assert!(bad.push_slice(&[[2; 32], [1; 32]]).is_err());
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
    fn parallel_root_refuses_unsorted_input_naming_the_position() {
        let err = par_root_of_sorted_digests(&[[2; 32], [1; 32]], 2).unwrap_err();
        assert!(err.to_string().contains("position 0"), "{err}");
        let mut big = digests(100_000);
        // Inside a chunk, on a chunk seam (chunks are 4096 here), and a duplicate.
        for (at, make) in [(5000usize, 0u8), (4095, 0), (70_000, 1)] {
            let saved = big[at + 1];
            big[at + 1] = if make == 0 { [0; 32] } else { big[at] };
            let err = par_root_of_sorted_digests(&big, 2).unwrap_err().to_string();
            assert!(err.contains(&format!("position {at} ")), "{at}: {err}");
            big[at + 1] = saved;
        }
        assert!(par_root_of_sorted_digests(&big, 2).is_ok());
    }
}
