//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong in `merkle`: malformed input, impossible tree coordinates and
/// proofs that do not verify. Messages name the offending value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MerkleError {
    /// A hex string had the wrong length or a non-hex character.
    #[error("{what}: {reason}")]
    Hex { what: &'static str, reason: String },
    /// A root string is not `c2c.merkle.v1:sha256:0x<64 hex>`.
    #[error("root {0:?} is not of the form c2c.merkle.v1:sha256:0x<64 lowercase hex>")]
    RootString(String),
    /// JSON text could not be canonicalised (RFC 8785 / I-JSON).
    #[error("canonical JSON: {0}")]
    Canon(String),
    /// A leaf index that is not inside the tree.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// Sizes that cannot form a consistency proof.
    #[error("consistency needs 0 < size1 <= size2, got size1 {size1}, size2 {size2}")]
    ConsistencySizes { size1: u64, size2: u64 },
    /// A node coordinate outside the 64-bit index space.
    #[error("node (level {level}, index {index}) is outside the 64-bit leaf space")]
    NodeId { level: u32, index: u64 },
    /// A proof has more or fewer hashes than its coordinates require.
    #[error("proof has {got} hashes, expected {expected}")]
    ProofLength { got: usize, expected: usize },
    /// A proof that is well formed but leads to a different root.
    #[error("proof does not lead to the expected root: computed {computed}, expected {expected}")]
    RootMismatch { computed: String, expected: String },
    /// Both roots of a consistency proof must be reproduced.
    #[error("consistency proof does not reproduce the {which} root")]
    ConsistencyMismatch { which: &'static str },
    /// Proof assembly was handed no hash for a node it planned for.
    #[error("no hash supplied for node (level {level}, index {index})")]
    MissingNode { level: u32, index: u64 },
    /// A `c2c.proof.v1` document that is not well formed.
    #[error("proof document: {0}")]
    ProofFormat(String),
    /// A submitted batch of manifests or digests that is not usable (names the element).
    #[error("batch: {0}")]
    Batch(String),
    /// A batch with more elements than the caller allows.
    #[error("batch: more than {max} manifests or digests in one batch")]
    BatchTooLarge { max: usize },
    /// Leaves given to a builder out of order or after the builder ended.
    #[error("{0}")]
    Builder(String),
    /// A tile path outside the C2SP tlog-tiles layout, or tile bytes that do not fit the tile
    /// they were read as (wrong size, a malformed entry).
    #[error("tile {path}: {reason}")]
    Tile { path: String, reason: String },
}

pub type Result<T, E = MerkleError> = std::result::Result<T, E>;
