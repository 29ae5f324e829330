//! The C2SP tlog-tiles layout (<https://c2sp.org/tlog-tiles>): where a tree's hashes and
//! entries are stored, and how a proof is assembled from a few tiles. Pure arithmetic and
//! byte formats; reading the tiles is the caller's (`proofs`).
//!
//! From the specification:
//!
//! > "The Merkle Tree is stored in tiles of height 8, i.e. 256 hashes wide. [...] A tile at
//! > level L holds the hashes of the nodes at height 8 × L of the tree."
//!
//! > "Tiles are served at `<prefix>/tile/<L>/<N>[.p/<W>]` [...] `<N>` is the index of the tile
//! > within the level. It MUST be a non-negative integer encoded into 3-digit path elements.
//! > All but the last path element MUST begin with an `x`. For example, index 1234067 will be
//! > encoded as `x001/x234/067`. [...] The `.p/<W>` suffix is only present for partial tiles
//! > [...] `<W>` is the width of the tile, a decimal ASCII integer between 1 and 255, with no
//! > additional leading zeroes."
//!
//! > "Entry bundles are served at `<prefix>/tile/entries/<N>[.p/<W>]` [...] An entry bundle is
//! > a sequence of big-endian uint16 length-prefixed log entries."
//!
//! Hashing is RFC 9162 with the c2c leaf input: an entry is the 80-byte leaf input
//! `"c2c.manifest.v1|" + hex(d)`, so `SHA-256(0x00 || entry)` is the leaf hash and the tiles
//! reproduce the roots the project always had. Only the bottom row of each tile is stored: a
//! node at height `8L + k` (`0 < k < 8`) is the perfect fold of `2^k` hashes of one level-L
//! tile ([`locate`]).

use std::fmt;
use std::str::FromStr;

use crate::error::{MerkleError, Result};
use crate::hash::{Hash, LEAF_INPUT_LEN, LEAF_PREFIX};
use crate::leaf::ManifestDigest;
use crate::proof::ProofPlan;
use crate::tree::{NodeId, TreeSize};

/// Height of a tile: 8 tree levels.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u32 = 1 << TILE_HEIGHT;
/// The highest tile level a tree of at most `u64::MAX` leaves has (level 7 holds height 56).
pub const MAX_TILE_LEVEL: u8 = 7;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of the tree's nodes at height `8 × L`.
    Hashes(u8),
    /// Entries (leaf inputs), 256 per bundle: `tile/entries/…`.
    Entries,
}

/// One tile: its kind, index within its level, and width.
///
/// Invariants: `1 <= width <= 256`; a hash tile's level is at most [`MAX_TILE_LEVEL`]; the
/// index's first element (`index × 256`) fits in a `u64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    kind: TileKind,
    index: u64,
    width: u32,
}

fn tile_error(path: impl Into<String>, reason: impl Into<String>) -> MerkleError {
    MerkleError::Tile {
        path: path.into(),
        reason: reason.into(),
    }
}

impl TileId {
    pub fn new(kind: TileKind, index: u64, width: u32) -> Result<TileId> {
        let what = || format!("{kind:?} index {index} width {width}");
        if !(1..=TILE_WIDTH).contains(&width) {
            return Err(tile_error(what(), "a tile's width is between 1 and 256"));
        }
        if let TileKind::Hashes(level) = kind
            && level > MAX_TILE_LEVEL
        {
            return Err(tile_error(
                what(),
                format!("no tree of a 64-bit size has tiles above level {MAX_TILE_LEVEL}"),
            ));
        }
        if index > u64::MAX >> TILE_HEIGHT {
            return Err(tile_error(
                what(),
                "the index is outside the 64-bit leaf space",
            ));
        }
        Ok(TileId { kind, index, width })
    }

    pub fn kind(self) -> TileKind {
        self.kind
    }

    pub fn index(self) -> u64 {
        self.index
    }

    pub fn width(self) -> u32 {
        self.width
    }

    pub fn is_full(self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Bytes a hash tile of this width holds (32 per hash); an entry bundle has no fixed size.
    pub fn hash_bytes(self) -> usize {
        32 * self.width as usize
    }

    /// The tile's path below the log's prefix, `tile/<L>/<N>[.p/<W>]` or
    /// `tile/entries/<N>[.p/<W>]`.
    pub fn path(self) -> String {
        let mut out = String::from("tile/");
        match self.kind {
            TileKind::Hashes(level) => out.push_str(&level.to_string()),
            TileKind::Entries => out.push_str("entries"),
        }
        out.push('/');
        let digits = self.index.to_string();
        let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
        let groups: Vec<&str> = padded
            .as_bytes()
            .chunks(3)
            .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
            .collect();
        for (i, group) in groups.iter().enumerate() {
            if i + 1 < groups.len() {
                out.push('x');
                out.push_str(group);
                out.push('/');
            } else {
                out.push_str(group);
            }
        }
        if !self.is_full() {
            out.push_str(".p/");
            out.push_str(&self.width.to_string());
        }
        out
    }

    /// Parses a tile path, refusing anything the layout does not produce: a level that is not
    /// a decimal number without leading zeros (or `entries`), index elements that are not
    /// three digits with `x` on all but the last, superfluous leading `x000` elements, a width
    /// outside 1..=255 or with leading zeros, and anything after the width.
    pub fn parse(path: &str) -> Result<TileId> {
        let bad = |why: &str| tile_error(path, why.to_owned());
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("a tile path starts with tile/"))?;
        let mut parts = rest.split('/');
        let kind = match parts.next() {
            Some("entries") => TileKind::Entries,
            Some(level) if !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit()) => {
                let level: u8 = level
                    .parse()
                    .map_err(|_| bad("the level is not a small number"))?;
                TileKind::Hashes(level)
            }
            _ => return Err(bad("the level is neither a decimal number nor entries")),
        };
        let mut index: u64 = 0;
        let mut width = TILE_WIDTH;
        let mut ended = false;
        while let Some(part) = parts.next() {
            if ended {
                return Err(bad("nothing may follow the tile index"));
            }
            let (group, last) = match part.strip_prefix('x') {
                Some(g) => (g, false),
                None => (part, true),
            };
            let (group, partial) = match group.strip_suffix(".p") {
                Some(g) if last => (g, true),
                _ => (group, false),
            };
            if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("index elements are three decimal digits"));
            }
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(group.parse::<u64>().expect("three digits")))
                .ok_or_else(|| bad("the index does not fit in 64 bits"))?;
            if last {
                ended = true;
                if partial {
                    let w = parts
                        .next()
                        .ok_or_else(|| bad("a partial tile names its width after .p/"))?;
                    width = w
                        .parse::<u32>()
                        .ok()
                        .filter(|w| (1..TILE_WIDTH).contains(w))
                        .ok_or_else(|| bad("a partial tile's width is between 1 and 255"))?;
                }
            }
        }
        if !ended {
            return Err(bad("the last index element has no x prefix"));
        }
        let id = TileId::new(kind, index, width).map_err(|e| match e {
            MerkleError::Tile { reason, .. } => tile_error(path, reason),
            other => other,
        })?;
        if id.path() != path {
            return Err(bad(
                "not the canonical encoding (leading zeros in the level, width or index)",
            ));
        }
        Ok(id)
    }
}

impl fmt::Debug for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TileId({})", self.path())
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl FromStr for TileId {
    type Err = MerkleError;

    fn from_str(s: &str) -> Result<TileId> {
        TileId::parse(s)
    }
}

/// The tiles of one row of `count` items (hashes at one level, or entries): the full tiles,
/// then a partial one when `count` is not a multiple of 256.
pub fn row_tiles(kind: TileKind, count: u64) -> Vec<TileId> {
    let full = count / u64::from(TILE_WIDTH);
    let rest = (count % u64::from(TILE_WIDTH)) as u32;
    let mut out: Vec<TileId> = (0..full)
        .map(|n| TileId {
            kind,
            index: n,
            width: TILE_WIDTH,
        })
        .collect();
    if rest > 0 {
        out.push(TileId {
            kind,
            index: full,
            width: rest,
        });
    }
    out
}

/// Hashes stored at tile level `level` for a tree of `size` leaves: the perfect nodes at
/// height `8 × level`.
pub fn stored_hashes(level: u8, size: TreeSize) -> u64 {
    size.0
        .checked_shr(TILE_HEIGHT * u32::from(level))
        .unwrap_or(0)
}

/// Every tile of a tree of `size` leaves, hash tiles level by level, then the entry bundles.
/// A period's tree never grows, so this is exactly what its writer stores.
pub fn tree_tiles(size: TreeSize) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let count = stored_hashes(level, size);
        if count == 0 {
            break;
        }
        out.extend(row_tiles(TileKind::Hashes(level), count));
    }
    out.extend(row_tiles(TileKind::Entries, size.0));
    out
}

/// Where a perfect node's hash comes from: `count` (a power of two, at most 256) hashes of
/// `tile` starting at `offset`, folded as a perfect subtree ([`TileNodes::node`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileSpan {
    pub tile: TileId,
    pub offset: u32,
    pub count: u32,
}

/// The tile that holds (or implies) perfect node `node` of a tree of `size` leaves: for a
/// node at height `8L + k`, the `2^k` hashes at height `8L` below it, in the level-L tile of
/// this size (full, or the partial tile at the right edge).
pub fn locate(node: NodeId, size: TreeSize) -> Result<TileSpan> {
    let (_, end) = node.leaves();
    if end > u128::from(size.0) {
        return Err(tile_error(
            format!("node (level {}, index {})", node.level(), node.index()),
            format!("is not a perfect node of a tree of size {}", size.0),
        ));
    }
    let level = (node.level() / TILE_HEIGHT) as u8;
    let k = node.level() % TILE_HEIGHT;
    let first = node.index() << k;
    let index = first >> TILE_HEIGHT;
    let offset = (first % u64::from(TILE_WIDTH)) as u32;
    let stored = stored_hashes(level, size);
    let width = if index < stored / u64::from(TILE_WIDTH) {
        TILE_WIDTH
    } else {
        (stored % u64::from(TILE_WIDTH)) as u32
    };
    Ok(TileSpan {
        tile: TileId::new(TileKind::Hashes(level), index, width)?,
        offset,
        count: 1 << k,
    })
}

/// A hash tile with every node it implies: level 0 is the tile's hashes, level `k` the
/// perfect nodes `2^k` of them wide (`⌊width / 2^k⌋` of them), up to the tile's root. Built
/// once per tile (255 hashes for a full one), so a server that keeps tiles answers each node
/// of a proof with a lookup instead of re-folding up to 128 hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileNodes {
    levels: Vec<Vec<Hash>>,
}

impl TileNodes {
    pub fn new(hashes: Vec<Hash>) -> TileNodes {
        let mut levels = vec![hashes];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next: Vec<Hash> = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|p| crate::hash::node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        TileNodes { levels }
    }

    /// The tile's own hashes.
    pub fn hashes(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// Hashes held, all levels together.
    pub fn len(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The node a span names: `count` (a power of two) hashes from `offset`.
    pub fn node(&self, span: &TileSpan) -> Option<Hash> {
        let k = span.count.trailing_zeros() as usize;
        self.levels
            .get(k)?
            .get((span.offset >> k) as usize)
            .copied()
    }
}

/// A proof plan with the tiles it reads: fetch [`TilePlan::tiles`], then
/// [`TilePlan::assemble`]. At most one tile per tile level for an inclusion proof, plus the
/// right edge's partial tiles.
#[derive(Clone, Debug)]
pub struct TilePlan {
    plan: ProofPlan,
    spans: Vec<TileSpan>,
    tiles: Vec<TileId>,
}

impl TilePlan {
    /// Locates every node of `plan` (made for a tree of `size` leaves) in its tile.
    pub fn new(plan: ProofPlan, size: TreeSize) -> Result<TilePlan> {
        let spans = plan
            .node_ids()
            .map(|id| locate(id, size))
            .collect::<Result<Vec<_>>>()?;
        let mut tiles: Vec<TileId> = spans.iter().map(|s| s.tile).collect();
        tiles.sort();
        tiles.dedup();
        Ok(TilePlan { plan, spans, tiles })
    }

    /// The distinct tiles to fetch.
    pub fn tiles(&self) -> &[TileId] {
        &self.tiles
    }

    /// The proof's hashes from the fetched tiles, each with its nodes ([`TileNodes`]).
    pub fn assemble<'a>(
        &self,
        tile: impl Fn(TileId) -> Option<&'a TileNodes>,
    ) -> Result<Vec<Hash>> {
        let mut spans = self.spans.iter();
        self.plan.assemble(|_| {
            let span = spans.next()?;
            tile(span.tile)?.node(span)
        })
    }
}

/// A hash tile's bytes: its hashes, concatenated.
pub fn hash_tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// The hashes of a hash tile read as `id`: exactly `32 × width` bytes.
pub fn parse_hash_tile(id: TileId, bytes: &[u8]) -> Result<Vec<Hash>> {
    if !matches!(id.kind, TileKind::Hashes(_)) {
        return Err(tile_error(id.path(), "an entry bundle is not a hash tile"));
    }
    if bytes.len() != id.hash_bytes() {
        return Err(tile_error(
            id.path(),
            format!(
                "holds {} bytes; a tile of width {} holds {}",
                bytes.len(),
                id.width,
                id.hash_bytes()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().expect("32-byte chunks")))
        .collect())
}

/// An entry bundle's bytes: each entry as a big-endian `u16` length, then its bytes.
pub fn entry_bundle_bytes<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).expect("an entry is at most 65535 bytes");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The entries of an entry bundle read as `id`: exactly `width` of them, nothing after.
pub fn parse_entry_bundle(id: TileId, bytes: &[u8]) -> Result<Vec<&[u8]>> {
    if id.kind != TileKind::Entries {
        return Err(tile_error(id.path(), "a hash tile is not an entry bundle"));
    }
    let mut rest = bytes;
    let mut out = Vec::with_capacity(id.width as usize);
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or_else(|| tile_error(id.path(), "ends inside an entry's length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(tile_error(
                id.path(),
                format!("entry {} is cut short", out.len()),
            ));
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    if out.len() != id.width as usize {
        return Err(tile_error(
            id.path(),
            format!("holds {} entries, its width is {}", out.len(), id.width),
        ));
    }
    Ok(out)
}

/// The c2c entry of a manifest digest: its 80-byte leaf input.
pub fn c2c_entry(digest: &ManifestDigest) -> [u8; LEAF_INPUT_LEN] {
    digest.leaf_input()
}

/// The manifest digests of a c2c entry bundle read as `id`: every entry is
/// `"c2c.manifest.v1|"` followed by 64 lowercase hex digits, and they ascend strictly.
pub fn parse_c2c_bundle(id: TileId, bytes: &[u8]) -> Result<Vec<ManifestDigest>> {
    let entries = parse_entry_bundle(id, bytes)?;
    let mut out: Vec<ManifestDigest> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let digest = entry
            .strip_prefix(LEAF_PREFIX.as_slice())
            .filter(|hex| {
                hex.len() == 64 && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .and_then(|hex| ManifestDigest::from_hex_bytes(hex).ok())
            .ok_or_else(|| {
                tile_error(
                    id.path(),
                    format!("entry {i} is not c2c.manifest.v1| and 64 lowercase hex digits"),
                )
            })?;
        if out.last().is_some_and(|prev| *prev >= digest) {
            return Err(tile_error(
                id.path(),
                format!("entry {i} does not ascend: leaves are sorted and distinct"),
            ));
        }
        out.push(digest);
    }
    Ok(out)
}

/// Finds a digest's leaf among sorted digests stored as entry bundles, reading few bundles.
///
/// Manifest digests are SHA-256 outputs, so they are spread evenly: interpolating on the
/// first eight bytes lands in the right bundle in one or two reads at any size. A tenant may
/// submit digests that are not spread evenly (they choose what they submit), so after
/// [`EntrySearch::INTERPOLATIONS`] probes the search bisects: at most that many plus
/// `log2(bundles)` reads in the worst case.
#[derive(Clone, Debug)]
pub struct EntrySearch {
    target: ManifestDigest,
    /// Candidate bundles `[lo, hi]` (inclusive) and the key bounds known around them.
    lo: u64,
    hi: u64,
    lo_key: u128,
    hi_key: u128,
    probes: u32,
    size: TreeSize,
}

/// What a search wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchStep {
    /// Read this entry bundle and hand its digests to [`EntrySearch::observe`].
    Read(TileId),
    /// The digest is leaf `index`.
    Found(u64),
    /// The digest is not a leaf.
    Absent,
}

fn key(d: &ManifestDigest) -> u128 {
    u128::from(u64::from_be_bytes(d.0[..8].try_into().expect("8 bytes")))
}

impl EntrySearch {
    /// Interpolation probes before the search falls back to bisection.
    pub const INTERPOLATIONS: u32 = 3;

    pub fn new(target: ManifestDigest, size: TreeSize) -> EntrySearch {
        let bundles = size.0.div_ceil(u64::from(TILE_WIDTH));
        EntrySearch {
            target,
            lo: 0,
            hi: bundles.saturating_sub(1),
            lo_key: 0,
            hi_key: 1 << 64,
            probes: 0,
            size,
        }
    }

    /// The first step: a bundle to read, or [`SearchStep::Absent`] for an empty tree.
    pub fn start(&self) -> Result<SearchStep> {
        if self.size.0 == 0 {
            return Ok(SearchStep::Absent);
        }
        self.probe()
    }

    fn probe(&self) -> Result<SearchStep> {
        let span = self.hi - self.lo;
        let pick = if self.probes < Self::INTERPOLATIONS && self.hi_key > self.lo_key {
            let t = key(&self.target).clamp(self.lo_key, self.hi_key) - self.lo_key;
            let guess = t * u128::from(span + 1) / (self.hi_key - self.lo_key);
            self.lo + (guess as u64).min(span)
        } else {
            self.lo + span / 2
        };
        Ok(SearchStep::Read(bundle_of(pick, self.size)?))
    }

    /// Takes the digests of the bundle last asked for and says what to do next.
    pub fn observe(&mut self, bundle: TileId, digests: &[ManifestDigest]) -> Result<SearchStep> {
        let (Some(first), Some(last)) = (digests.first(), digests.last()) else {
            return Err(tile_error(
                bundle.path(),
                "an entry bundle holds no entries",
            ));
        };
        self.probes += 1;
        let n = bundle.index;
        if self.target < *first {
            if n == self.lo {
                return Ok(SearchStep::Absent);
            }
            self.hi = n - 1;
            self.hi_key = key(first);
        } else if self.target > *last {
            if n == self.hi {
                return Ok(SearchStep::Absent);
            }
            self.lo = n + 1;
            self.lo_key = key(last);
        } else {
            return Ok(match digests.binary_search(&self.target) {
                Ok(i) => SearchStep::Found(n * u64::from(TILE_WIDTH) + i as u64),
                Err(_) => SearchStep::Absent,
            });
        }
        self.probe()
    }
}

/// The entry bundle that holds bundle index `n` of a tree of `size` leaves.
fn bundle_of(n: u64, size: TreeSize) -> Result<TileId> {
    let full = size.0 / u64::from(TILE_WIDTH);
    let width = if n < full {
        TILE_WIDTH
    } else {
        (size.0 % u64::from(TILE_WIDTH)) as u32
    };
    TileId::new(TileKind::Entries, n, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::{plan_consistency, plan_inclusion, verify_consistency, verify_inclusion};
    use crate::stream::TreeBuilder;
    use crate::tree::{LeafIndex, root_of_leaf_hashes};

    fn id(kind: TileKind, index: u64, width: u32) -> TileId {
        TileId::new(kind, index, width).unwrap()
    }

    #[test]
    fn paths_follow_the_specifications_examples() {
        assert_eq!(
            id(TileKind::Hashes(0), 1_234_067, 256).path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(id(TileKind::Hashes(1), 0, 256).path(), "tile/1/000");
        assert_eq!(id(TileKind::Hashes(2), 5, 7).path(), "tile/2/005.p/7");
        assert_eq!(
            id(TileKind::Entries, 1000, 255).path(),
            "tile/entries/x001/000.p/255"
        );
        assert_eq!(id(TileKind::Entries, 999, 256).path(), "tile/entries/999");
    }

    #[test]
    fn every_path_parses_back_to_its_tile() {
        for kind in [TileKind::Hashes(0), TileKind::Hashes(7), TileKind::Entries] {
            for index in [0, 1, 999, 1000, 1_234_067, u64::MAX >> 8] {
                for width in [1, 200, 255, 256] {
                    let t = id(kind, index, width);
                    assert_eq!(TileId::parse(&t.path()).unwrap(), t, "{t}");
                }
            }
        }
    }

    #[test]
    fn paths_outside_the_layout_are_refused_naming_the_path() {
        for bad in [
            "tile/0/1",
            "tile/0/0001",
            "tile/00/001",
            "tile/8/001",
            "tile/0/x000/001",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/07",
            "tile/0/001.p",
            "tile/0/001.p/7/x",
            "tile/0/x001.p/7/002",
            "tile/data/001",
            "tiles/0/001",
            "tile/0/../001",
            "tile//001",
            "tile/0/00a",
        ] {
            let err = TileId::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("tile {bad}:")), "{bad}: {err}");
        }
    }

    fn leaf_hashes(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| crate::hash::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    /// The tiles of a tree built the slow way: level `8L` of the tree, cut into rows of 256.
    fn tiles_of(leaves: &[Hash]) -> std::collections::BTreeMap<TileId, TileNodes> {
        let mut out = std::collections::BTreeMap::new();
        let mut row = leaves.to_vec();
        for level in 0..=MAX_TILE_LEVEL {
            if row.is_empty() {
                break;
            }
            for (t, chunk) in row_tiles(TileKind::Hashes(level), row.len() as u64)
                .into_iter()
                .zip(row.chunks(256))
            {
                out.insert(t, TileNodes::new(chunk.to_vec()));
            }
            row = row.chunks_exact(256).map(root_of_leaf_hashes).collect();
        }
        out
    }

    #[test]
    fn inclusion_and_consistency_proofs_from_tiles_verify_at_tile_edges() {
        for n in [
            1u64, 2, 255, 256, 257, 511, 512, 700, 65_535, 65_536, 65_537, 70_000,
        ] {
            let leaves = leaf_hashes(n);
            let tiles = tiles_of(&leaves);
            let root = root_of_leaf_hashes(&leaves);
            let listed: std::collections::BTreeSet<TileId> = tree_tiles(TreeSize(n))
                .into_iter()
                .filter(|t| t.kind != TileKind::Entries)
                .collect();
            assert_eq!(listed, tiles.keys().copied().collect(), "size {n}");
            for m in [0, 1, 254, 255, 256, n / 2, n.saturating_sub(2), n - 1] {
                if m >= n {
                    continue;
                }
                let plan = TilePlan::new(
                    plan_inclusion(LeafIndex(m), TreeSize(n)).unwrap(),
                    TreeSize(n),
                )
                .unwrap();
                assert!(
                    plan.tiles().len() <= 2 * (n.ilog2() as usize / 8 + 1),
                    "size {n}"
                );
                let path = plan.assemble(|t| tiles.get(&t)).unwrap();
                verify_inclusion(&leaves[m as usize], LeafIndex(m), TreeSize(n), &path, &root)
                    .unwrap();
                if m > 0 {
                    let plan = TilePlan::new(
                        plan_consistency(TreeSize(m), TreeSize(n)).unwrap(),
                        TreeSize(n),
                    )
                    .unwrap();
                    let proof = plan.assemble(|t| tiles.get(&t)).unwrap();
                    let old = root_of_leaf_hashes(&leaves[..m as usize]);
                    verify_consistency(TreeSize(m), TreeSize(n), &old, &root, &proof).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_missing_tile_or_a_short_tile_is_an_error_never_a_proof() {
        let leaves = leaf_hashes(300);
        let tiles = tiles_of(&leaves);
        let plan = TilePlan::new(
            plan_inclusion(LeafIndex(3), TreeSize(300)).unwrap(),
            TreeSize(300),
        )
        .unwrap();
        let missing = plan.tiles()[0];
        assert!(
            plan.assemble(|t| if t == missing { None } else { tiles.get(&t) })
                .is_err()
        );
        let short = TileNodes::new(tiles[&missing].hashes()[..10].to_vec());
        assert!(
            plan.assemble(|t| if t == missing {
                Some(&short)
            } else {
                tiles.get(&t)
            })
            .is_err()
        );
        let t = id(TileKind::Hashes(0), 0, 256);
        let err = parse_hash_tile(t, &[0u8; 32 * 255])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "tile tile/0/000: holds 8160 bytes; a tile of width 256 holds 8192"
        );
    }

    #[test]
    fn tile_nodes_answer_every_span_as_the_fold_does() {
        for width in [1u32, 2, 3, 100, 255, 256] {
            let hashes = leaf_hashes(u64::from(width));
            let nodes = TileNodes::new(hashes.clone());
            for k in 0..=8u32 {
                let count = 1u32 << k;
                for offset in (0..width).step_by(count as usize) {
                    let span = TileSpan {
                        tile: id(TileKind::Hashes(0), 0, width),
                        offset,
                        count,
                    };
                    let fold = hashes
                        .get(offset as usize..(offset + count) as usize)
                        .map(root_of_leaf_hashes);
                    assert_eq!(nodes.node(&span), fold, "{width} {offset} {count}");
                }
            }
        }
    }

    #[test]
    fn locate_refuses_a_node_outside_the_tree() {
        assert!(locate(NodeId::new(1, 1).unwrap(), TreeSize(3)).is_err());
        let span = locate(NodeId::new(9, 1).unwrap(), TreeSize(1024)).unwrap();
        assert_eq!(span.tile, id(TileKind::Hashes(1), 0, 4));
        assert_eq!((span.offset, span.count), (2, 2));
    }

    #[test]
    fn c2c_bundles_round_trip_and_refuse_foreign_or_unsorted_entries() {
        let mut digests: Vec<ManifestDigest> = (0..300u32)
            .map(|i| ManifestDigest(Hash::sha256(&i.to_be_bytes()).0))
            .collect();
        digests.sort();
        let bundles = row_tiles(TileKind::Entries, 300);
        let second = bundles[1];
        let entries: Vec<[u8; 80]> = digests[256..].iter().map(c2c_entry).collect();
        let bytes = entry_bundle_bytes(entries.iter().map(<[u8; 80]>::as_slice));
        assert_eq!(parse_c2c_bundle(second, &bytes).unwrap(), digests[256..]);
        // The leaf hash of an entry is the c2c leaf hash.
        assert_eq!(
            crate::hash::leaf_hash(&entries[0]),
            digests[256].leaf_hash()
        );
        let mut swapped = entries.clone();
        swapped.swap(0, 1);
        let err = parse_c2c_bundle(
            second,
            &entry_bundle_bytes(swapped.iter().map(<[u8; 80]>::as_slice)),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("entry 1 does not ascend"), "{err}");
        let mut upper = entries.clone();
        upper[5][20] = b'A';
        let err = parse_c2c_bundle(
            second,
            &entry_bundle_bytes(upper.iter().map(<[u8; 80]>::as_slice)),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("entry 5 is not"), "{err}");
        let err = parse_c2c_bundle(second, &bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut short"), "{err}");
        let err = parse_c2c_bundle(bundles[0], &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds 44 entries, its width is 256"), "{err}");
    }

    fn search(digests: &[ManifestDigest], target: ManifestDigest) -> (SearchStep, u32) {
        let size = TreeSize(digests.len() as u64);
        let mut s = EntrySearch::new(target, size);
        let mut step = s.start().unwrap();
        let mut reads = 0;
        while let SearchStep::Read(t) = step {
            reads += 1;
            let start = (t.index() * 256) as usize;
            step = s
                .observe(t, &digests[start..start + t.width() as usize])
                .unwrap();
        }
        (step, reads)
    }

    #[test]
    fn the_entry_search_finds_every_sha256_leaf_in_a_few_reads_and_absent_ones_too() {
        let mut digests: Vec<ManifestDigest> = (0..100_000u32)
            .map(|i| ManifestDigest(Hash::sha256(&i.to_be_bytes()).0))
            .collect();
        digests.sort();
        let mut most = 0;
        for (i, d) in digests.iter().enumerate().step_by(97) {
            let (step, reads) = search(&digests, *d);
            assert_eq!(step, SearchStep::Found(i as u64));
            most = most.max(reads);
        }
        assert!(most <= 3, "{most} reads");
        assert_eq!(
            search(&digests, ManifestDigest([0; 32])).0,
            SearchStep::Absent
        );
        assert_eq!(
            search(&digests, ManifestDigest([0xff; 32])).0,
            SearchStep::Absent
        );
        let mut between = digests[500];
        between.0[31] ^= 1;
        if digests.binary_search(&between).is_err() {
            assert_eq!(search(&digests, between).0, SearchStep::Absent);
        }
    }

    #[test]
    fn the_entry_search_stays_logarithmic_on_digests_a_tenant_skewed() {
        // Every digest starts with zero bytes but one: interpolation is useless here.
        let mut digests: Vec<ManifestDigest> = (0..50_000u32)
            .map(|i| {
                let mut d = [0u8; 32];
                d[28..].copy_from_slice(&i.to_be_bytes());
                ManifestDigest(d)
            })
            .collect();
        digests.push(ManifestDigest([0xff; 32]));
        let bundles = (digests.len() as u64).div_ceil(256);
        for (i, d) in digests.iter().enumerate().step_by(1013) {
            let (step, reads) = search(&digests, *d);
            assert_eq!(step, SearchStep::Found(i as u64));
            assert!(
                reads <= EntrySearch::INTERPOLATIONS + bundles.ilog2() + 2,
                "{reads} reads"
            );
        }
    }

    #[test]
    fn tree_tiles_count_matches_the_streaming_builders_nodes() {
        // Full tiles at level L are exactly the perfect nodes at height 8(L+1).
        let n = 70_000u64;
        let mut level8 = 0usize;
        let mut b =
            TreeBuilder::with_sink(|id: NodeId, _: &Hash| level8 += usize::from(id.level() == 8));
        for h in leaf_hashes(n) {
            b.push_leaf_hash(h);
        }
        drop(b);
        let full_l0 = tree_tiles(TreeSize(n))
            .into_iter()
            .filter(|t| t.kind == TileKind::Hashes(0) && t.is_full())
            .count();
        assert_eq!(full_l0, level8);
    }
}
