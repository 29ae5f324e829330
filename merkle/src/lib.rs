//! Pure Merkle-tree logic for Ledger Anchors: no I/O, no async.
//!
//! - [`canon`]: RFC 8785 canonical JSON and manifest digests `d = SHA-256(JCS(m))`.
//! - [`leaf`]: the c2c leaf input `"c2c.manifest.v1|" + hex(d)`, root strings, parameters.
//! - [`hash`]: SHA-256 and the RFC 9162 leaf and node hashes.
//! - [`tree`]: coordinates ([`TreeSize`], [`LeafIndex`], [`NodeId`]) and subtree arithmetic.
//! - [`stream`]: the O(log n) streaming builder with a node sink, and the parallel root.
//! - [`proof`]: inclusion and consistency proofs: plan → fetch → assemble, and verification.
//! - [`proof_doc`]: the `c2c.proof.v1` document.
//! - [`tiles`]: the C2SP tlog-tiles layout: tile coordinates and paths, which tile holds a
//!   node, entry bundles, and proofs assembled from tiles.

pub mod batch;
pub mod canon;
pub mod error;
pub mod hash;
pub mod leaf;
pub mod proof;
pub mod proof_doc;
pub mod stream;
pub mod tiles;
pub mod tree;

pub use error::{MerkleError, Result};
pub use hash::Hash;
pub use leaf::{ManifestDigest, Parameters, Root, TreeRoot};
pub use proof_doc::ProofV1;
pub use stream::{DigestTreeBuilder, NoSink, NodeSink, TreeBuilder};
pub use tree::{LeafIndex, NodeId, TreeSize};
