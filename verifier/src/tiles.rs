//! One manifest's `c2c.proof.v1` from a static copy of the bucket (`anchor proof --from`'s
//! object layout), without I/O: [`ProofFromTiles`] says which objects it needs next, the
//! caller reads them however it reads (the Node package through its caller's `fetch`) and
//! hands the bytes back, until the proof is assembled and verified against the period's
//! root. The steps are `merkle::tiles`' (`EntrySearch` over the entry bundles, the
//! `TilePlan` of the inclusion proof, `TileNodes`), as `proofs::tiles::TiledTree` drives
//! them for `anchor proof --from`; the bytes of the result are what that command prints.
//!
//! Objects, as the bucket lays them out (`ledger::blob::BlobKey`):
//! `roots/{tenant}/{period}.json` (the tree's size and root, `c2c.root.v1`),
//! `receipts/{tenant}/{period}.json` (when present, it must sign the same size and root) and
//! `roots/{tenant}/{period}/tile/…` (C2SP tlog-tiles).
//!
//! Trust nothing read: a tile that does not parse, is missing, or whose hashes do not lead to
//! the root is an error naming it (`Bad::Tile`), never a proof; a digest that is not in the
//! tree, or a period with no root, is `Bad::NotFound`.

use std::collections::HashMap;

use domain::formats::{Receipt, RootMetadata};
use domain::{Period, TenantId};
use merkle::hash::Hash;
use merkle::proof::{plan_inclusion, verify_inclusion};
use merkle::tiles::{
    EntrySearch, SearchStep, TileId, TileNodes, TilePlan, parse_c2c_bundle, parse_hash_tile,
};
use merkle::{LeafIndex, ManifestDigest, Parameters, ProofV1, Root, TreeSize};

use crate::input::{Bad, InputError};

fn tile_error(message: impl Into<String>) -> InputError {
    InputError::new(Bad::Tile, message)
}

/// Where the session is.
#[derive(Debug)]
enum State {
    /// Needs the root metadata and (if there is one) the receipt.
    Root,
    /// Searching the entry bundles; needs this bundle.
    Search {
        tree: (TreeSize, Root),
        search: EntrySearch,
        next: TileId,
    },
    /// Found at `index`; needs the plan's hash tiles not yet read.
    Path {
        tree: (TreeSize, Root),
        index: u64,
        plan: TilePlan,
        tiles: HashMap<TileId, TileNodes>,
    },
    /// The verified proof.
    Done(Box<ProofV1>),
}

/// The proof of `digest` in `tenant`'s tree of `period`, from the bucket's objects (see the
/// module).
#[derive(Debug)]
pub struct ProofFromTiles {
    tenant: TenantId,
    period: Period,
    digest: ManifestDigest,
    root_key: String,
    receipt_key: String,
    /// The objects handed in for the current step.
    given: HashMap<String, Option<Vec<u8>>>,
    state: State,
}

impl ProofFromTiles {
    /// A session for `digest` (64 hex) in `tenant`'s `period`.
    pub fn new(tenant: &str, period: &str, digest: &str) -> Result<ProofFromTiles, InputError> {
        let option = |e: String| InputError::new(Bad::Option, e);
        let tenant = TenantId::new(tenant).map_err(|e| option(e.to_string()))?;
        let period: Period = period
            .parse()
            .map_err(|e: domain::DomainError| option(e.to_string()))?;
        let digest = ManifestDigest::from_hex(digest).map_err(|e| option(e.to_string()))?;
        Ok(ProofFromTiles {
            root_key: format!("roots/{tenant}/{period}.json"),
            receipt_key: format!("receipts/{tenant}/{period}.json"),
            tenant,
            period,
            digest,
            given: HashMap::new(),
            state: State::Root,
        })
    }

    fn tile_key(&self, id: TileId) -> String {
        format!("roots/{}/{}/{}", self.tenant, self.period, id.path())
    }

    /// The objects to read now (their keys under the bucket's root), each to be handed to
    /// [`ProofFromTiles::give`]; none once the proof is ready.
    pub fn needs(&self) -> Vec<String> {
        let keys = match &self.state {
            State::Root => vec![self.root_key.clone(), self.receipt_key.clone()],
            State::Search { next, .. } => vec![self.tile_key(*next)],
            State::Path { plan, tiles, .. } => plan
                .tiles()
                .iter()
                .filter(|id| !tiles.contains_key(id))
                .map(|id| self.tile_key(*id))
                .collect(),
            State::Done(_) => vec![],
        };
        keys.into_iter()
            .filter(|k| !self.given.contains_key(k))
            .collect()
    }

    /// The bytes of `key` (`None`: the bucket has no such object). Once every object of the
    /// step is in, the session moves on.
    pub fn give(&mut self, key: &str, bytes: Option<Vec<u8>>) -> Result<(), InputError> {
        let wanted = match &self.state {
            State::Root => key == self.root_key || key == self.receipt_key,
            State::Search { next, .. } => key == self.tile_key(*next),
            State::Path { plan, .. } => plan.tiles().iter().any(|id| self.tile_key(*id) == key),
            State::Done(_) => false,
        };
        if !wanted {
            return Err(InputError::new(
                Bad::Option,
                format!("{key} was not asked for"),
            ));
        }
        self.given.insert(key.to_owned(), bytes);
        while self.needs().is_empty() && !matches!(self.state, State::Done(_)) {
            self.step()?;
        }
        Ok(())
    }

    /// The verified proof once [`ProofFromTiles::needs`] is empty.
    pub fn proof(&self) -> Option<&ProofV1> {
        match &self.state {
            State::Done(p) => Some(p),
            _ => None,
        }
    }

    fn take(&mut self, key: &str) -> Option<Vec<u8>> {
        self.given.remove(key).flatten()
    }

    fn tile(&mut self, id: TileId) -> Result<Vec<u8>, InputError> {
        let key = self.tile_key(id);
        self.take(&key)
            .ok_or_else(|| tile_error(format!("{key} is missing")))
    }

    /// Moves on with the objects of the current step, all in hand.
    fn step(&mut self) -> Result<(), InputError> {
        let state = std::mem::replace(&mut self.state, State::Root);
        self.state = match state {
            State::Root => self.opened()?,
            State::Search {
                tree,
                mut search,
                next,
            } => {
                let bytes = self.tile(next)?;
                let digests =
                    parse_c2c_bundle(next, &bytes).map_err(|e| tile_error(e.to_string()))?;
                let step = search
                    .observe(next, &digests)
                    .map_err(|e| tile_error(e.to_string()))?;
                self.searched(tree, search, step)?
            }
            State::Path {
                tree,
                index,
                plan,
                mut tiles,
            } => {
                for id in plan.tiles() {
                    if !tiles.contains_key(id) {
                        let bytes = self.tile(*id)?;
                        let hashes =
                            parse_hash_tile(*id, &bytes).map_err(|e| tile_error(e.to_string()))?;
                        tiles.insert(*id, TileNodes::new(hashes));
                    }
                }
                self.proved(tree, index, &plan, &tiles)?
            }
            done @ State::Done(_) => done,
        };
        Ok(())
    }

    /// The tree's size and root from the root metadata, checked against the receipt.
    fn opened(&mut self) -> Result<State, InputError> {
        let (tenant, period) = (self.tenant.clone(), self.period);
        let root_key = self.root_key.clone();
        let bytes = self.take(&root_key).ok_or_else(|| {
            InputError::new(
                Bad::NotFound,
                format!("{root_key}: {tenant} {period} has no root"),
            )
        })?;
        let meta = RootMetadata::from_json(&bytes).map_err(|e| tile_error(e.to_string()))?;
        if meta.tenant != tenant || meta.period != period {
            return Err(tile_error(format!(
                "{root_key} describes {} {}",
                meta.tenant, meta.period
            )));
        }
        let receipt_key = self.receipt_key.clone();
        if let Some(bytes) = self.take(&receipt_key) {
            let r = Receipt::from_json(&bytes)
                .map_err(|e| InputError::new(Bad::Receipt, format!("{receipt_key}: {e}")))?;
            if r.root != meta.root || r.tree_size != meta.tree_size {
                return Err(tile_error(format!(
                    "{receipt_key} signs root {} over {} manifests, but the tiles' root \
                     metadata says {} over {}",
                    r.root, r.tree_size, meta.root, meta.tree_size
                )));
            }
        }
        let tree = (TreeSize(meta.tree_size), meta.root);
        let search = EntrySearch::new(self.digest, tree.0);
        let step = search.start().map_err(|e| tile_error(e.to_string()))?;
        self.searched(tree, search, step)
    }

    /// After a search step: read the next bundle, or plan the audit path of the leaf found.
    fn searched(
        &mut self,
        tree: (TreeSize, Root),
        search: EntrySearch,
        step: SearchStep,
    ) -> Result<State, InputError> {
        match step {
            SearchStep::Read(next) => Ok(State::Search { tree, search, next }),
            SearchStep::Absent => Err(InputError::new(
                Bad::NotFound,
                format!(
                    "{} is not in the tree of {} {}",
                    self.digest, self.tenant, self.period
                ),
            )),
            SearchStep::Found(index) => {
                let plan = plan_inclusion(LeafIndex(index), tree.0)
                    .and_then(|p| TilePlan::new(p, tree.0))
                    .map_err(|e| tile_error(e.to_string()))?;
                let tiles = HashMap::new();
                if plan.tiles().is_empty() {
                    return self.proved(tree, index, &plan, &tiles);
                }
                Ok(State::Path {
                    tree,
                    index,
                    plan,
                    tiles,
                })
            }
        }
    }

    /// The audit path assembled from the tiles and verified against the root.
    fn proved(
        &self,
        (size, root): (TreeSize, Root),
        index: u64,
        plan: &TilePlan,
        tiles: &HashMap<TileId, TileNodes>,
    ) -> Result<State, InputError> {
        let not_to_root = |e: &dyn std::fmt::Display| {
            tile_error(format!(
                "the tiles of {} {} do not lead to its root {root}: {e}",
                self.tenant, self.period
            ))
        };
        let path: Vec<Hash> = plan
            .assemble(|id| tiles.get(&id))
            .map_err(|e| not_to_root(&e))?;
        verify_inclusion(
            &self.digest.leaf_hash(),
            LeafIndex(index),
            size,
            &path,
            &root.0,
        )
        .map_err(|e| not_to_root(&e))?;
        Ok(State::Done(Box::new(ProofV1 {
            format: ProofV1::FORMAT.to_owned(),
            tenant: Some(self.tenant.to_string()),
            period: Some(self.period.to_string()),
            digest: self.digest,
            leaf_index: index,
            tree_size: size.0,
            root,
            audit_path: path.into_iter().map(merkle::leaf::HexHash).collect(),
            parameters: Parameters::c2c(),
        })))
    }
}
