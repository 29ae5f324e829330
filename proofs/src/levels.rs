//! The stored tree: what inclusion proofs need, persisted once per run as `levels.bin`.
//!
//! Format `c2c.levels.v1` (all integers big-endian):
//!
//! ```text
//! "c2c.levels.v1\n"            14 bytes, magic
//! tree_size                    u64
//! digests                      tree_size × 32 bytes: the sorted, distinct manifest digests
//! level 1, level 2, …          ⌊tree_size / 2^l⌋ × 32 bytes each: every perfect node of that
//!                              level, left to right (RFC 9162 §2.1.1 node hashes)
//! ```
//!
//! Level 0 (the leaf hashes) is not stored: it is `SHA-256(0x00 || "c2c.manifest.v1|" ||
//! hex(d))` of each digest. A proof reads its few perfect nodes by offset, the way
//! transparency-dev/merkle's `proof.Inclusion` names node ids for the caller to fetch.

use merkle::hash::{Hash, c2c_leaf_hash};
use merkle::proof::plan_inclusion;
use merkle::stream::{DigestTreeBuilder, NodeSink};
use merkle::tree::{LeafIndex, NodeId, TreeSize};
use merkle::{ManifestDigest, Parameters, ProofV1, Root};

use crate::error::{ProofsError, Result};

const MAGIC: &[u8; 14] = b"c2c.levels.v1\n";

/// Perfect nodes by level, as the streaming builder emits them (each level in index order).
#[derive(Debug, Default)]
struct LevelSink(Vec<Vec<Hash>>);

impl NodeSink for LevelSink {
    fn node(&mut self, id: NodeId, hash: &Hash) {
        let level = id.level() as usize;
        if self.0.len() <= level {
            self.0.resize_with(level + 1, Vec::new);
        }
        debug_assert_eq!(self.0[level].len() as u64, id.index());
        self.0[level].push(*hash);
    }
}

/// A whole tree: digests, perfect nodes and root.
#[derive(Debug)]
pub struct Levels {
    digests: Vec<ManifestDigest>,
    /// `nodes[l]` holds level `l + 1`.
    nodes: Vec<Vec<Hash>>,
    root: Root,
}

impl Levels {
    /// Builds the tree over sorted, distinct digests (an unsorted or repeated one is an
    /// error naming it: the store hands them over in leaf order).
    pub fn build(digests: Vec<ManifestDigest>) -> Result<Levels> {
        if digests.is_empty() {
            return Err(ProofsError::Invalid(
                "a tree needs at least one manifest".into(),
            ));
        }
        let raw: Vec<[u8; 32]> = digests.iter().map(|d| d.0).collect();
        let mut builder = DigestTreeBuilder::with_sink(LevelSink::default());
        let added = builder.push_slice(&raw)?;
        if added != raw.len() as u64 {
            return Err(ProofsError::Invalid(format!(
                "{} repeated digests among {}: leaves must be distinct",
                raw.len() as u64 - added,
                raw.len()
            )));
        }
        let root = Root(builder.root());
        let LevelSink(mut levels) = builder.into_sink();
        // Level 0 is recomputable; keep only what is stored.
        if !levels.is_empty() {
            levels.remove(0);
        }
        Ok(Levels {
            digests,
            nodes: levels,
            root,
        })
    }

    pub fn size(&self) -> u64 {
        self.digests.len() as u64
    }

    pub fn root(&self) -> Root {
        self.root
    }

    pub fn digests(&self) -> &[ManifestDigest] {
        &self.digests
    }

    /// `count` perfect-node hashes at tree height `height`, from index `start`: a tile's row
    /// (height 0 is the leaf hashes). `None` past the end of the level.
    pub fn row(&self, height: u32, start: u64, count: u32) -> Option<Vec<Hash>> {
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(count as usize)?;
        match height {
            0 => Some(
                self.digests
                    .get(start..end)?
                    .iter()
                    .map(|d| c2c_leaf_hash(&d.0))
                    .collect(),
            ),
            h => Some(self.nodes.get(h as usize - 1)?.get(start..end)?.to_vec()),
        }
    }

    fn node(&self, id: NodeId) -> Option<Hash> {
        let i = usize::try_from(id.index()).ok()?;
        match id.level() {
            0 => self.digests.get(i).map(|d| c2c_leaf_hash(&d.0)),
            l => self.nodes.get(l as usize - 1)?.get(i).copied(),
        }
    }

    /// The RFC 9162 audit path of leaf `index`, leaf to root.
    pub fn audit_path(&self, index: u64) -> Result<Vec<Hash>> {
        let plan = plan_inclusion(LeafIndex(index), TreeSize(self.size()))?;
        Ok(plan.assemble(|id| self.node(id))?)
    }

    /// The `c2c.proof.v1` of leaf `index`.
    pub fn proof(&self, tenant: &str, period: &str, index: u64) -> Result<ProofV1> {
        let path = self.audit_path(index)?;
        Ok(ProofV1 {
            format: ProofV1::FORMAT.to_owned(),
            tenant: Some(tenant.to_owned()),
            period: Some(period.to_owned()),
            digest: self.digests[index as usize],
            leaf_index: index,
            tree_size: self.size(),
            root: self.root,
            audit_path: path.into_iter().map(merkle::leaf::HexHash).collect(),
            parameters: Parameters::c2c(),
        })
    }

    /// The position of `digest`, if it is a leaf.
    pub fn index_of(&self, digest: &ManifestDigest) -> Option<u64> {
        self.digests.binary_search(digest).ok().map(|i| i as u64)
    }

    /// [`Levels::from_bytes`] on a blocking thread (it re-hashes the whole tree), for async
    /// callers.
    pub async fn from_bytes_off_thread(bytes: Vec<u8>) -> Result<Levels> {
        tokio::task::spawn_blocking(move || Levels::from_bytes(&bytes))
            .await
            .map_err(|e| ProofsError::Invalid(format!("levels task: {e}")))?
    }

    /// Serialises as `c2c.levels.v1`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let nodes: usize = self.nodes.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(22 + 32 * (self.digests.len() + nodes));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.size().to_be_bytes());
        for d in &self.digests {
            out.extend_from_slice(&d.0);
        }
        for level in &self.nodes {
            for h in level {
                out.extend_from_slice(&h.0);
            }
        }
        out
    }

    /// Parses `c2c.levels.v1` and checks it: digests strictly ascending, every node the hash
    /// of its children, and so the root the one the file implies.
    pub fn from_bytes(bytes: &[u8]) -> Result<Levels> {
        let bad = |why: String| ProofsError::Invalid(format!("levels.bin: {why}"));
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a c2c.levels.v1 file".into()))?;
        let (size, rest) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("truncated before the tree size".into()))?;
        let size = u64::from_be_bytes(*size);
        let mut expected = size;
        let mut level_sizes = Vec::new();
        while expected / 2 > 0 {
            expected /= 2;
            level_sizes.push(expected);
        }
        let total = size + level_sizes.iter().sum::<u64>();
        if rest.len() as u64 != total * 32 {
            return Err(bad(format!(
                "{} bytes of hashes, a tree of {size} leaves needs {}",
                rest.len(),
                total * 32
            )));
        }
        let mut chunks = rest.chunks_exact(32).map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        });
        let digests: Vec<ManifestDigest> = chunks
            .by_ref()
            .take(size as usize)
            .map(ManifestDigest)
            .collect();
        let rebuilt = Levels::build(digests)?;
        for (l, n) in level_sizes.iter().enumerate() {
            for (i, h) in chunks.by_ref().take(*n as usize).enumerate() {
                if rebuilt.nodes[l][i].0 != h {
                    return Err(bad(format!(
                        "node {i} of level {} is not its children's hash",
                        l + 1
                    )));
                }
            }
        }
        Ok(rebuilt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(n: u32) -> Vec<ManifestDigest> {
        let mut v: Vec<ManifestDigest> = (0..n)
            .map(|i| ManifestDigest(*Hash::sha256(&i.to_be_bytes()).as_bytes()))
            .collect();
        merkle::leaf::sort_and_dedup(&mut v);
        v
    }

    #[test]
    fn every_proof_from_stored_levels_verifies_for_sizes_1_to_70() {
        for n in 1..=70 {
            let levels = Levels::build(digests(n)).unwrap();
            for i in 0..u64::from(n) {
                let p = levels.proof("t", "2026-11", i).unwrap();
                p.verify(Some(&levels.root())).unwrap();
            }
        }
    }

    #[test]
    fn levels_round_trip_and_a_flipped_node_is_refused() {
        let levels = Levels::build(digests(37)).unwrap();
        let bytes = levels.to_bytes();
        let back = Levels::from_bytes(&bytes).unwrap();
        assert_eq!(back.root(), levels.root());
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let err = Levels::from_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("not its children's hash"), "{err}");
        assert!(Levels::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn repeated_digests_are_refused() {
        let mut d = digests(4);
        d.push(d[3]);
        assert!(
            Levels::build(d)
                .unwrap_err()
                .to_string()
                .contains("repeated")
        );
    }
}
