//! The one error type of this crate.

use thiserror::Error;

/// What went wrong reading, building or verifying a timestamp. Every variant names the check
/// that failed and, where there is one, the byte offset.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StampError {
    #[error("not an OpenTimestamps proof: the header magic is missing")]
    BadMagic,
    #[error("unsupported .ots major version {0} (this reader knows version 1)")]
    BadVersion(u64),
    #[error("file hash operation tag 0x{0:02x} is not a hash (sha1, ripemd160, sha256, keccak256)")]
    BadFileHashOp(u8),
    #[error("at byte {offset}: unexpected end of proof")]
    Truncated { offset: usize },
    #[error("at byte {offset}: unknown operation tag 0x{tag:02x}")]
    UnknownOp { offset: usize, tag: u8 },
    #[error("at byte {offset}: {what} is {len} bytes, limit {limit}")]
    TooLong {
        offset: usize,
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("at byte {offset}: {what} must not be empty")]
    Empty { offset: usize, what: &'static str },
    #[error("at byte {offset}: a varuint does not fit in 64 bits")]
    VarintOverflow { offset: usize },
    #[error("at byte {offset}: a varuint is not in its shortest form")]
    NonMinimalVarint { offset: usize },
    #[error("at byte {offset}: timestamps nested deeper than {limit}")]
    TooDeep { offset: usize, limit: usize },
    #[error("at byte {offset}: {trailing} bytes of trailing garbage after the proof")]
    TrailingGarbage { offset: usize, trailing: usize },
    #[error("at byte {offset}: pending attestation URI {reason}")]
    BadUri { offset: usize, reason: String },
    #[error("at byte {offset}: {what} payload has {trailing} unread bytes")]
    PayloadTrailing {
        offset: usize,
        what: &'static str,
        trailing: usize,
    },
    #[error("a timestamp with neither operations nor attestations cannot be written")]
    EmptyTimestamp,
    #[error("the proof's file digest {got} is not the digest of the data, {want}")]
    DigestMismatch { got: String, want: String },
    #[error("block header: {0}")]
    Header(String),
    #[error(
        "Bitcoin block {height}: the proof commits to merkle root {computed}, the header has {header}"
    )]
    MerkleRootMismatch {
        height: u64,
        computed: String,
        header: String,
    },
    #[error("{0}")]
    Proof(String),
    #[error("calendar: {0}")]
    Calendar(String),
    /// A remote header source (Esplora, bitcoind) could not be used: the source, the request
    /// and what was wrong.
    #[error("header source {0}")]
    HeaderSource(String),
}

pub type Result<T, E = StampError> = std::result::Result<T, E>;
