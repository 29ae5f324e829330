//! A period's tree as C2SP tlog-tiles (`roots/{tenant}/{period}/tile/…`): written once by the
//! rollup, read a few tiles at a time by anyone holding the bucket.
//!
//! Layout (normative in `merkle::tiles`, the specification quoted there): hash tiles of height
//! 8 (`tile/<L>/<N>[.p/<W>]`, 256 hashes of 32 bytes per full tile) and the period's sorted,
//! distinct digests as entry bundles (`tile/entries/<N>[.p/<W>]`, each entry the 80-byte leaf
//! input `"c2c.manifest.v1|" + hex(d)`, so `SHA-256(0x00 || entry)` is the RFC 9162 leaf hash
//! and the roots are the ones the project always had). The tree's size and root are the
//! period's `roots/{tenant}/{period}.json` (`c2c.root.v1`), whose root the receipt signs and
//! the anchors stamp.
//!
//! Decisions:
//! - **A period's tiles are all final.** A period's tree never grows (manifests dated into a
//!   period whose run started are refused), so its partial tiles are never replaced: every
//!   tile is create-only and may be cached forever. The per-tenant log, which grows, is where
//!   partial tiles change.
//! - **Trust nothing read.** A proof computed from tiles is verified against the root before
//!   it is returned; a damaged, short or foreign tile is an error naming it, never a proof.
//! - **Finding a digest's leaf** reads entry bundles by interpolation (`merkle::tiles::
//!   EntrySearch`): digests are SHA-256 outputs, spread evenly, so one or two bundles; a
//!   tenant who submits skewed digests only makes its own lookups bisect.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::try_join_all;
use ledger::blob::{BlobKey, BlobStore, PutOutcome};
use ledger::formats::RootMetadata;
use ledger::{Period, TenantId};
use merkle::hash::Hash;
use merkle::proof::{plan_inclusion, verify_inclusion};
use merkle::tiles::{
    EntrySearch, SearchStep, TILE_HEIGHT, TileId, TileKind, TileNodes, TilePlan, c2c_entry,
    entry_bundle_bytes, hash_tile_bytes, parse_c2c_bundle, parse_hash_tile, tree_tiles,
};
use merkle::{LeafIndex, ManifestDigest, Parameters, ProofV1, Root, TreeSize};

use crate::error::{ProofsError, Result};
use crate::levels::Levels;
use crate::period::ProofJson;
pub use crate::source::{DirSource, ObjectSource};

/// Tile writes in flight at once: enough to hide a store's per-object latency (an fsync on a
/// directory, a round trip to S3/R2) without holding many tiles in memory.
const WRITES_IN_FLIGHT: usize = 32;

/// The bytes of tile `id` of a period's tree.
pub fn tile_bytes(levels: &Levels, id: TileId) -> Result<Vec<u8>> {
    let start = id.index() << TILE_HEIGHT;
    let missing = || ProofsError::Invalid(format!("{id} is outside a tree of {}", levels.size()));
    match id.kind() {
        TileKind::Hashes(level) => {
            let row = levels
                .row(u32::from(level) * TILE_HEIGHT, start, id.width())
                .ok_or_else(missing)?;
            Ok(hash_tile_bytes(&row))
        }
        TileKind::Entries => {
            let from = usize::try_from(start).map_err(|_| missing())?;
            let digests = levels
                .digests()
                .get(from..from + id.width() as usize)
                .ok_or_else(missing)?;
            let entries: Vec<_> = digests.iter().map(c2c_entry).collect();
            Ok(entry_bundle_bytes(entries.iter().map(<[u8; 80]>::as_slice)))
        }
    }
}

/// What [`write`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Tiles created by this call.
    pub created: u64,
    /// Tiles that were already there with the same bytes (a retried run).
    pub kept: u64,
}

/// Writes every tile of a period's tree, create-only, [`WRITES_IN_FLIGHT`] at a time. Safe to
/// rerun: a tile already stored with the same bytes is kept; one with other bytes is the
/// store's `Conflict` (a different tree for the same period, which must never happen).
pub async fn write(
    blobs: &BlobStore,
    tenant: &TenantId,
    period: Period,
    levels: &Levels,
) -> Result<Written> {
    let mut written = Written::default();
    let ids = tree_tiles(TreeSize(levels.size()));
    for batch in ids.chunks(WRITES_IN_FLIGHT) {
        let outcomes = try_join_all(batch.iter().map(|&id| async move {
            let bytes = tile_bytes(levels, id)?;
            let key = BlobKey::root_tile(tenant, &period, id);
            Ok::<_, ProofsError>(blobs.put_new(&key, &bytes).await?)
        }))
        .await?;
        for outcome in outcomes {
            match outcome {
                PutOutcome::Created => written.created += 1,
                PutOutcome::AlreadyIdentical => written.kept += 1,
            }
        }
    }
    Ok(written)
}

/// One period's tiled tree: its size and root (from `c2c.root.v1`) and where its tiles are.
#[derive(Debug)]
pub struct TiledTree<'s, S> {
    source: &'s S,
    cache: Option<&'s TileCache>,
    tenant: TenantId,
    period: Period,
    size: TreeSize,
    root: Root,
}

impl<'s, S: ObjectSource> TiledTree<'s, S> {
    /// Reads the period's `roots/{tenant}/{period}.json` for the tree's size and root.
    pub async fn open(source: &'s S, tenant: &TenantId, period: Period) -> Result<Self> {
        let key = BlobKey::root_meta(tenant, &period);
        let bytes = source.get(&key).await?.ok_or_else(|| {
            ProofsError::NotFound(format!("{key}: {tenant} {period} has no root"))
        })?;
        let meta = RootMetadata::from_json(&bytes)?;
        if meta.tenant != *tenant || meta.period != period {
            return Err(ProofsError::Invalid(format!(
                "{key} describes {} {}",
                meta.tenant, meta.period
            )));
        }
        Ok(Self::with_root(
            source,
            tenant,
            period,
            meta.tree_size,
            meta.root,
        ))
    }

    /// A tree whose size and root the caller already holds (from a verified receipt).
    pub fn with_root(
        source: &'s S,
        tenant: &TenantId,
        period: Period,
        size: u64,
        root: Root,
    ) -> Self {
        TiledTree {
            source,
            cache: None,
            tenant: tenant.clone(),
            period,
            size: TreeSize(size),
            root,
        }
    }

    /// Reads tiles through `cache` (parsed, shared across requests; tiles are immutable).
    #[must_use]
    pub fn with_cache(mut self, cache: &'s TileCache) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn size(&self) -> u64 {
        self.size.0
    }

    pub fn root(&self) -> Root {
        self.root
    }

    /// The digests of one entry bundle.
    pub async fn bundle(&self, id: TileId) -> Result<Arc<Vec<ManifestDigest>>> {
        let parse = |b: &[u8]| Ok(Parsed::Digests(Arc::new(parse_c2c_bundle(id, b)?)));
        match self.cached(id, parse).await? {
            Parsed::Digests(digests) => Ok(digests),
            Parsed::Hashes(_) => Err(ProofsError::Invalid(format!("{id} is not a bundle"))),
        }
    }

    /// One hash tile with the nodes it implies.
    pub async fn hashes(&self, id: TileId) -> Result<Arc<TileNodes>> {
        let parse = |b: &[u8]| {
            let hashes = parse_hash_tile(id, b)?;
            Ok(Parsed::Hashes(Arc::new(TileNodes::new(hashes))))
        };
        match self.cached(id, parse).await? {
            Parsed::Hashes(nodes) => Ok(nodes),
            Parsed::Digests(_) => Err(ProofsError::Invalid(format!("{id} is not a hash tile"))),
        }
    }

    /// Tile `id` from the cache, or read, parsed and (with a cache) kept.
    async fn cached(
        &self,
        id: TileId,
        parse: impl FnOnce(&[u8]) -> Result<Parsed>,
    ) -> Result<Parsed> {
        let key = BlobKey::root_tile(&self.tenant, &self.period, id);
        if let Some(hit) = self.cache.and_then(|c| c.get(key.as_str())) {
            return Ok(hit);
        }
        let bytes = self
            .source
            .get(&key)
            .await?
            .ok_or_else(|| ProofsError::Invalid(format!("{key} is missing")))?;
        let parsed = parse(&bytes)?;
        if let Some(c) = self.cache {
            c.put(key.as_str().to_owned(), parsed.clone());
        }
        Ok(parsed)
    }

    /// The leaf index of `digest`, or `None` when it is not in the tree.
    pub async fn index_of(&self, digest: &ManifestDigest) -> Result<Option<u64>> {
        let mut search = EntrySearch::new(*digest, self.size);
        let mut step = search.start()?;
        loop {
            match step {
                SearchStep::Read(id) => {
                    let digests = self.bundle(id).await?;
                    step = search.observe(id, &digests)?;
                }
                SearchStep::Found(i) => return Ok(Some(i)),
                SearchStep::Absent => return Ok(None),
            }
        }
    }

    /// The audit path of leaf `index`, from the few tiles it needs (read concurrently).
    pub async fn audit_path(&self, index: u64) -> Result<Vec<Hash>> {
        let plan = TilePlan::new(plan_inclusion(LeafIndex(index), self.size)?, self.size)?;
        let read = try_join_all(
            plan.tiles()
                .iter()
                .map(|&id| async move { Ok::<_, ProofsError>((id, self.hashes(id).await?)) }),
        )
        .await?;
        let tiles: HashMap<TileId, Arc<TileNodes>> = read.into_iter().collect();
        Ok(plan.assemble(|id| tiles.get(&id).map(AsRef::as_ref))?)
    }

    /// The `c2c.proof.v1` of a manifest, verified against the root before it is returned; a
    /// `NotFound` when the manifest is not in the tree.
    pub async fn proof(&self, digest: &ManifestDigest) -> Result<ProofV1> {
        let (index, path) = self.located(digest).await?;
        Ok(ProofV1 {
            format: ProofV1::FORMAT.to_owned(),
            tenant: Some(self.tenant.to_string()),
            period: Some(self.period.to_string()),
            digest: *digest,
            leaf_index: index,
            tree_size: self.size.0,
            root: self.root,
            audit_path: path.into_iter().map(merkle::leaf::HexHash).collect(),
            parameters: Parameters::c2c(),
        })
    }

    /// A manifest's leaf index and audit path, verified against the root.
    async fn located(&self, digest: &ManifestDigest) -> Result<(u64, Vec<Hash>)> {
        let index = self.index_of(digest).await?.ok_or_else(|| {
            ProofsError::NotFound(format!(
                "{digest} is not in the tree of {} {}",
                self.tenant, self.period
            ))
        })?;
        let path = self.audit_path(index).await?;
        verify_inclusion(
            &digest.leaf_hash(),
            LeafIndex(index),
            self.size,
            &path,
            &self.root.0,
        )
        .map_err(|e| {
            ProofsError::Invalid(format!(
                "the tiles of {} {} do not lead to its root {}: {e}",
                self.tenant, self.period, self.root
            ))
        })?;
        Ok((index, path))
    }
}

/// A tile as the cache keeps it: parsed once, shared.
#[derive(Clone, Debug)]
pub enum Parsed {
    Hashes(Arc<TileNodes>),
    Digests(Arc<Vec<ManifestDigest>>),
}

impl Parsed {
    fn bytes(&self) -> usize {
        32 * match self {
            Parsed::Hashes(h) => h.len(),
            Parsed::Digests(d) => d.len(),
        }
    }
}

/// Tiles kept in memory across requests, parsed (hashes, digests), least recently used out
/// first, bounded in bytes. Tiles are immutable, so an entry never goes stale and needs no TTL.
/// Decision: parsed rather than raw, because parsing an entry bundle (256 hex digests) on
/// every request cost more than the rest of a proof (`cargo bench -p anchor-api --bench
/// proofs`); no single-flight: two concurrent misses on one tile read its few KiB twice, which
/// costs less than the coordination at these sizes.
#[derive(Debug)]
pub struct TileCache {
    max_bytes: usize,
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    tiles: HashMap<String, (Parsed, u64)>,
    bytes: usize,
    tick: u64,
}

impl TileCache {
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            max_bytes,
            inner: std::sync::Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> Option<Parsed> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.tiles.get_mut(key)?;
        entry.1 = tick;
        Some(entry.0.clone())
    }

    fn put(&self, key: String, tile: Parsed) {
        let size = tile.bytes();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += size;
        if let Some((old, _)) = inner.tiles.insert(key, (tile, tick)) {
            inner.bytes -= old.bytes();
        }
        while inner.bytes > self.max_bytes {
            let Some(oldest) = inner
                .tiles
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = inner.tiles.remove(&oldest) {
                inner.bytes -= old.bytes();
            }
        }
    }

    /// Bytes held now (32 per hash or digest).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

/// What a server keeps of a tiled period between requests: its size and root and the root
/// `.ots` its latest receipt names; a few hundred bytes, never the tree.
#[derive(Clone, Debug)]
pub struct TiledPeriod {
    pub tenant: TenantId,
    pub period: Period,
    pub size: u64,
    pub root: Root,
    pub root_ots: Option<stamp::DetachedTimestamp>,
    /// The period's `c2c.proof.v1` JSON template (`period::ProofJson`).
    json: ProofJson,
}

impl TiledPeriod {
    /// Reads the root metadata and the current root `.ots`; `None` when the period has no
    /// tiles (anchored before tiles existed: its proofs come from `levels.bin`).
    pub async fn load<S: ObjectSource>(
        source: &S,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Option<TiledPeriod>> {
        let tree = TiledTree::open(source, tenant, period).await?;
        let first = merkle::tiles::row_tiles(TileKind::Entries, tree.size())[0];
        if source
            .get(&BlobKey::root_tile(tenant, &period, first))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let root_ots = crate::period::current_root_ots(source, tenant, period).await?;
        Ok(Some(TiledPeriod {
            tenant: tenant.clone(),
            period,
            size: tree.size(),
            root: tree.root(),
            root_ots,
            json: ProofJson::of(tenant, period, tree.size(), tree.root()),
        }))
    }

    pub fn tree<'s, S: ObjectSource>(&self, source: &'s S) -> TiledTree<'s, S> {
        TiledTree::with_root(source, &self.tenant, self.period, self.size, self.root)
    }

    /// [`TiledPeriod::tree`] through a shared [`TileCache`].
    pub fn cached_tree<'s, S: ObjectSource>(
        &self,
        source: &'s S,
        cache: &'s TileCache,
    ) -> TiledTree<'s, S> {
        self.tree(source).with_cache(cache)
    }

    /// A manifest's `c2c.proof.v1` as JSON: exactly `serde_json::to_vec` of
    /// [`TiledTree::proof`], written from the period's template (the API's hot path).
    pub async fn proof_json<S: ObjectSource>(
        &self,
        tree: &TiledTree<'_, S>,
        digest: &ManifestDigest,
    ) -> Result<Vec<u8>> {
        let (index, path) = tree.located(digest).await?;
        Ok(self.json.write(digest, index, &path))
    }

    /// The per-manifest `.ots` (see `PeriodProofs::manifest_ots`); `None` without an OTS
    /// anchor.
    pub async fn manifest_ots<S: ObjectSource>(
        &self,
        tree: &TiledTree<'_, S>,
        digest: &ManifestDigest,
    ) -> Result<Option<stamp::DetachedTimestamp>> {
        let Some(root_ots) = &self.root_ots else {
            return Ok(None);
        };
        let proof = tree.proof(digest).await?;
        Ok(Some(stamp::manifest::per_manifest_ots(&proof, root_ots)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(n: u32) -> Levels {
        let mut v: Vec<ManifestDigest> = (0..n)
            .map(|i| ManifestDigest(*Hash::sha256(&i.to_be_bytes()).as_bytes()))
            .collect();
        merkle::leaf::sort_and_dedup(&mut v);
        Levels::build(v).unwrap()
    }

    struct Mem(HashMap<String, Vec<u8>>);

    impl ObjectSource for Mem {
        async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
            Ok(self.0.get(key.as_str()).cloned())
        }
    }

    fn store(levels: &Levels, t: &TenantId, p: Period) -> Mem {
        Mem(tree_tiles(TreeSize(levels.size()))
            .into_iter()
            .map(|id| {
                (
                    BlobKey::root_tile(t, &p, id).to_string(),
                    tile_bytes(levels, id).unwrap(),
                )
            })
            .collect())
    }

    #[tokio::test]
    async fn every_proof_from_tiles_equals_the_proof_from_the_whole_tree() {
        let t = TenantId::new("acme").unwrap();
        let p: Period = "2026-11".parse().unwrap();
        for n in [1, 2, 255, 256, 257, 600, 66_000] {
            let levels = levels(n);
            let mem = store(&levels, &t, p);
            let tree = TiledTree::with_root(&mem, &t, p, levels.size(), levels.root());
            for i in [0, levels.size() / 3, levels.size() - 1] {
                let d = levels.digests()[i as usize];
                let want = levels.proof("acme", "2026-11", i).unwrap();
                assert_eq!(tree.proof(&d).await.unwrap(), want, "size {n} leaf {i}");
            }
            let tiled = TiledPeriod {
                tenant: t.clone(),
                period: p,
                size: levels.size(),
                root: levels.root(),
                root_ots: None,
                json: ProofJson::of(&t, p, levels.size(), levels.root()),
            };
            let d = levels.digests()[0];
            assert_eq!(
                tiled.proof_json(&tree, &d).await.unwrap(),
                serde_json::to_vec(&tree.proof(&d).await.unwrap()).unwrap()
            );
            let absent = ManifestDigest([0x5a; 32]);
            assert!(matches!(
                tree.proof(&absent).await,
                Err(ProofsError::NotFound(_))
            ));
        }
    }

    #[tokio::test]
    async fn the_tile_cache_stays_within_its_bytes_and_keeps_the_recently_used() {
        let tile = || Parsed::Hashes(Arc::new(TileNodes::new(vec![Hash([0; 32]); 128])));
        let cache = TileCache::new(3 * 8160); // 255 hashes of 32 bytes each
        for i in 0..3 {
            cache.put(format!("t{i}"), tile());
        }
        assert!(cache.get("t0").is_some());
        cache.put("t3".into(), tile());
        assert_eq!(cache.bytes(), 3 * 8160);
        assert!(cache.get("t1").is_none(), "the least recently used went");
        assert!(cache.get("t0").is_some() && cache.get("t3").is_some());
    }

    #[tokio::test]
    async fn a_damaged_tile_is_an_error_naming_the_root_never_a_proof() {
        let t = TenantId::new("acme").unwrap();
        let p: Period = "2026-11".parse().unwrap();
        let levels = levels(700);
        let mut mem = store(&levels, &t, p);
        let key = BlobKey::root_tile(&t, &p, TileId::new(TileKind::Hashes(1), 0, 2).unwrap());
        let err = |mem: &Mem| {
            let tree = TiledTree::with_root(mem, &t, p, levels.size(), levels.root());
            futures_util::FutureExt::now_or_never(tree.proof(&levels.digests()[3]))
                .expect("in memory")
                .unwrap_err()
                .to_string()
        };
        mem.0.get_mut(key.as_str()).unwrap()[40] ^= 1; // node (8, 1), on leaf 3's path
        let e = err(&mem);
        assert!(e.contains("do not lead to its root"), "{e}");
        mem.0.get_mut(key.as_str()).unwrap().pop();
        let e = err(&mem);
        assert!(
            e.contains("holds 63 bytes; a tile of width 2 holds 64"),
            "{e}"
        );
        mem.0.remove(key.as_str());
        let e = err(&mem);
        assert!(e.contains("tile/1/000.p/2 is missing"), "{e}");
    }
}
