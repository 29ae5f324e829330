//! The per-tenant receipt log in the blob store (`log/{tenant}/…`): its tiles, its signed
//! checkpoints, and reading both back.
//!
//! Written by [`publish`] after every receipt version (the workers call it): the rows of the
//! database's `receipt_log` are the log's order, and everything here is derived from them,
//! so publishing again after a crash writes the same bytes. Objects:
//!
//! - `log/{tenant}/tile/<L>/<N>[.p/<W>]` and `log/{tenant}/tile/entries/<N>[.p/<W>]`: the
//!   C2SP tlog-tiles of the log tree, each entry a [`LogEntry`]. Create-only; the log grows
//!   by new partial tiles (a key per width), so a reader holding a checkpoint of size `n`
//!   always finds the tiles of size `n`, even after the log grew.
//! - `log/{tenant}/checkpoints/{size}`: the signed checkpoint of each size, create-only.
//! - `log/{tenant}/checkpoint`: the newest, a latest pointer that never moves to a smaller
//!   size (a publisher that lost a race rewrites it to the largest size it can see).
//!
//! Read by [`TiledLog`] from any [`ObjectSource`] (the blob store, a copy of the bucket, a
//! static HTTP server, the API's routes): entries and consistency proofs from a few tiles.

use std::collections::HashMap;

use domain::keys::SigningKey;
use domain::note::{Checkpoint, NoteSigner, NoteVerifier};
use domain::receipt_log::{LogEntry, origin};
use futures_util::future::try_join_all;
use ledger::TenantId;
use ledger::blob::{BlobKey, BlobStore, PutOutcome};
use merkle::hash::{Hash, leaf_hash};
use merkle::proof::{plan_consistency, plan_inclusion};
use merkle::tiles::{
    TILE_HEIGHT, TileId, TileKind, TileNodes, TilePlan, entry_bundle_bytes, hash_tile_bytes,
    parse_entry_bundle, parse_hash_tile, row_tiles, tree_tiles,
};
use merkle::{LeafIndex, NodeId, TreeBuilder, TreeSize};

use crate::error::{ProofsError, Result};
use crate::source::{ObjectSource, must_get};

/// The signer of `tenant`'s checkpoints: the log key derived from the operator's key, named
/// by the log's origin.
pub fn signer(tenant: &TenantId, key: &SigningKey) -> Result<NoteSigner> {
    Ok(NoteSigner::from_seed(&origin(tenant), &key.log_seed())?)
}

/// A whole log tree in memory (a tenant's log holds one entry per receipt version: hundreds
/// to a few thousand).
#[derive(Debug)]
pub struct LogTree {
    entries: Vec<Vec<u8>>,
    /// `levels[l]`: the perfect nodes at height `l` (level 0: the leaf hashes).
    levels: Vec<Vec<Hash>>,
    root: Hash,
}

impl LogTree {
    pub fn new(entries: Vec<Vec<u8>>) -> LogTree {
        let mut levels: Vec<Vec<Hash>> = Vec::new();
        let mut builder = TreeBuilder::with_sink(|id: NodeId, h: &Hash| {
            let l = id.level() as usize;
            if levels.len() <= l {
                levels.resize_with(l + 1, Vec::new);
            }
            levels[l].push(*h);
        });
        for e in &entries {
            builder.push_leaf_hash(leaf_hash(e));
        }
        // RFC 9162 §2.1.1: "The hash of an empty list is the hash of an empty string".
        let root = if entries.is_empty() {
            Hash::sha256(b"")
        } else {
            builder.root()
        };
        drop(builder);
        LogTree {
            entries,
            levels,
            root,
        }
    }

    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn root(&self) -> Hash {
        self.root
    }

    fn node(&self, id: NodeId) -> Option<Hash> {
        let i = usize::try_from(id.index()).ok()?;
        self.levels.get(id.level() as usize)?.get(i).copied()
    }

    /// The bytes of tile `id`.
    pub fn tile_bytes(&self, id: TileId) -> Result<Vec<u8>> {
        let start = usize::try_from(id.index() << TILE_HEIGHT)
            .map_err(|_| ProofsError::Invalid(format!("{id} is outside the log")))?;
        let range = start..start + id.width() as usize;
        let missing = || ProofsError::Invalid(format!("{id} is outside a log of {}", self.size()));
        match id.kind() {
            TileKind::Hashes(level) => {
                let row = self
                    .levels
                    .get(usize::from(level) * TILE_HEIGHT as usize)
                    .and_then(|l| l.get(range))
                    .ok_or_else(missing)?;
                Ok(hash_tile_bytes(row))
            }
            TileKind::Entries => {
                let entries = self.entries.get(range).ok_or_else(missing)?;
                Ok(entry_bundle_bytes(entries.iter().map(Vec::as_slice)))
            }
        }
    }

    /// The RFC 9162 consistency proof from size `old` to this tree.
    pub fn consistency(&self, old: u64) -> Result<Vec<Hash>> {
        let plan = plan_consistency(TreeSize(old), TreeSize(self.size()))?;
        Ok(plan.assemble(|id| self.node(id))?)
    }

    /// The audit path of leaf `index`.
    pub fn inclusion(&self, index: u64) -> Result<Vec<Hash>> {
        let plan = plan_inclusion(LeafIndex(index), TreeSize(self.size()))?;
        Ok(plan.assemble(|id| self.node(id))?)
    }
}

/// What [`publish`] left in the blob store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub size: u64,
    pub root: Hash,
    /// The signed checkpoint of `size`.
    pub note: String,
}

/// Writes the tiles and the signed checkpoint of `tenant`'s log over `entries` (all of them,
/// in order), and points `log/{tenant}/checkpoint` at it unless it already names a larger
/// size. Safe to repeat and to race: every object is a function of the entries.
pub async fn publish(
    blobs: &BlobStore,
    key: &SigningKey,
    tenant: &TenantId,
    entries: &[LogEntry],
) -> Result<Published> {
    let tree = LogTree::new(entries.iter().map(LogEntry::to_bytes).collect());
    let ids = tree_tiles(TreeSize(tree.size()));
    for batch in ids.chunks(32) {
        try_join_all(batch.iter().map(|&id| {
            let tree = &tree;
            async move {
                let bytes = tree.tile_bytes(id)?;
                let key = BlobKey::log_tile(tenant, id);
                Ok::<PutOutcome, ProofsError>(blobs.put_new(&key, &bytes).await?)
            }
        }))
        .await?;
    }
    let signer = signer(tenant, key)?;
    let checkpoint = Checkpoint {
        origin: origin(tenant),
        size: tree.size(),
        root: tree.root(),
    };
    let note = signer.sign(&checkpoint.to_text())?;
    blobs
        .put_new(
            &BlobKey::log_checkpoint_at(tenant, tree.size()),
            note.as_bytes(),
        )
        .await?;
    let latest = BlobKey::log_checkpoint(tenant);
    let current = match blobs.get(&latest).await? {
        Some(bytes) => Some(Checkpoint::open(&bytes, signer.verifier(), &checkpoint.origin)?.size),
        None => None,
    };
    if current.is_none_or(|size| size < tree.size()) {
        blobs.put_latest(&latest, note.as_bytes()).await?;
    }
    let vkey = format!("{}\n", signer.verifier());
    let vkey_key = BlobKey::log_vkey(tenant);
    if blobs.get(&vkey_key).await?.as_deref() != Some(vkey.as_bytes()) {
        blobs.put_latest(&vkey_key, vkey.as_bytes()).await?;
    }
    Ok(Published {
        size: tree.size(),
        root: tree.root(),
        note,
    })
}

/// A tenant's log at one checkpoint's size and root, read from tiles.
#[derive(Debug)]
pub struct TiledLog<'s, S> {
    source: &'s S,
    tenant: TenantId,
    size: TreeSize,
    root: Hash,
}

impl<'s, S: ObjectSource> TiledLog<'s, S> {
    /// The log at a checkpoint the caller verified.
    pub fn new(source: &'s S, tenant: &TenantId, checkpoint: &Checkpoint) -> Self {
        TiledLog {
            source,
            tenant: tenant.clone(),
            size: TreeSize(checkpoint.size),
            root: checkpoint.root,
        }
    }

    /// The newest signed checkpoint's bytes (`log/{tenant}/checkpoint`).
    pub async fn latest_note(source: &S, tenant: &TenantId) -> Result<Vec<u8>> {
        let key = BlobKey::log_checkpoint(tenant);
        source
            .get(&key)
            .await?
            .ok_or_else(|| ProofsError::NotFound(format!("{key}: {tenant} has no receipt log yet")))
    }

    /// Opens `note` as `tenant`'s checkpoint signed by `verifier`.
    pub fn open_note(
        note: &[u8],
        verifier: &NoteVerifier,
        tenant: &TenantId,
    ) -> Result<Checkpoint> {
        Ok(Checkpoint::open(note, verifier, &origin(tenant))?)
    }

    pub fn size(&self) -> u64 {
        self.size.0
    }

    /// Every entry of the log, read from its entry bundles, checked against the root: the
    /// leaf hashes of the entries must make the checkpoint's root.
    pub async fn entries(&self) -> Result<Vec<LogEntry>> {
        let ids = row_tiles(TileKind::Entries, self.size.0);
        let bundles = try_join_all(ids.iter().map(|&id| async move {
            let bytes = must_get(self.source, &BlobKey::log_tile(&self.tenant, id)).await?;
            let raw = parse_entry_bundle(id, &bytes)?;
            raw.into_iter()
                .map(|e| Ok(e.to_vec()))
                .collect::<Result<Vec<Vec<u8>>>>()
        }))
        .await?;
        let raw: Vec<Vec<u8>> = bundles.into_iter().flatten().collect();
        let tree = LogTree::new(raw);
        if tree.root() != self.root {
            return Err(ProofsError::Invalid(format!(
                "the entries of {}'s receipt log do not make the checkpoint's root at size {}",
                self.tenant, self.size.0
            )));
        }
        tree.entries
            .iter()
            .map(|b| Ok(LogEntry::parse(b)?))
            .collect()
    }

    /// The consistency proof from size `old` to this checkpoint, from the hash tiles of this
    /// size.
    pub async fn consistency(&self, old: u64) -> Result<Vec<Hash>> {
        let plan = TilePlan::new(plan_consistency(TreeSize(old), self.size)?, self.size)?;
        let read = try_join_all(plan.tiles().iter().map(|&id| async move {
            let bytes = must_get(self.source, &BlobKey::log_tile(&self.tenant, id)).await?;
            Ok::<_, ProofsError>((id, TileNodes::new(parse_hash_tile(id, &bytes)?)))
        }))
        .await?;
        let tiles: HashMap<TileId, TileNodes> = read.into_iter().collect();
        Ok(plan.assemble(|id| tiles.get(&id))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use merkle::proof::verify_consistency;

    fn entries(n: u32) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    #[test]
    fn every_consistency_proof_of_a_log_verifies_against_the_smaller_logs_root() {
        for n in [1u32, 2, 3, 7, 8, 255, 256, 257, 600] {
            let big = LogTree::new(entries(n));
            for m in [1, n / 2, n.saturating_sub(1), n]
                .into_iter()
                .filter(|&m| m >= 1)
            {
                let small = LogTree::new(entries(m));
                let proof = big.consistency(u64::from(m)).unwrap();
                verify_consistency(
                    TreeSize(u64::from(m)),
                    TreeSize(u64::from(n)),
                    &small.root(),
                    &big.root(),
                    &proof,
                )
                .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
            }
        }
    }

    #[test]
    fn a_tile_outside_the_log_is_an_error() {
        let tree = LogTree::new(entries(3));
        let id = TileId::new(TileKind::Entries, 1, 3).unwrap();
        assert!(tree.tile_bytes(id).is_err());
    }
}
