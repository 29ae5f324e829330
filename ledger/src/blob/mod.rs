//! Artifacts — roots, proofs, stamps, receipts — on a local directory (embedded) or on
//! S3/Cloudflare R2 (fleet), under DESIGN.md's "Object layout" ([`BlobKey`]).
//!
//! # Create-only
//!
//! DESIGN.md: "Writes are create-only (If-None-Match: *). The only keys ever replaced are the
//! "latest" pointers, and every version they pointed to stays under its own key (R2 has no
//! bucket versioning, so history never depends on it)."
//!
//! - [`BlobStore::put_new`] writes a key that must not exist yet. Writing the *same* bytes
//!   again is a no-op that answers [`PutOutcome::AlreadyIdentical`], so a job that died after
//!   its write and is retried, or two workers that built the same artifact, both succeed.
//!   Writing *different* bytes is [`LedgerError::Conflict`] and leaves the first object as it
//!   was: an artifact a tenant may already hold is never changed behind their back.
//! - [`BlobStore::put_latest`] replaces a receipt's "latest" pointer (and only that: every
//!   other key is refused). Each receipt version is first written create-only under
//!   `receipts/{tenant}/{period}/v{n}.*`, so replacing the pointer loses nothing.
//!
//! History lives in versioned keys rather than in bucket versioning because R2 does not
//! implement bucket versioning, and because a history that is part of the key layout is
//! the same in a directory, on S3 and in a backup made by copying objects.
//!
//! # Atomicity and consistency
//!
//! A reader sees either no object or a complete one, never a partial write, on both backends:
//! S3 makes an object visible only once its PUT completes; the directory writes a temporary
//! file under `.tmp/`, fsyncs it, and only then links it to its key ([`DirStore`]). A
//! create-only write that finds its key taken compares the stored bytes with its own, which
//! relies on read-after-write consistency: S3 has been strongly consistent since 2020 and R2
//! always was; the directory is trivially so. Concurrent `put_new` calls with different bytes
//! under one key have exactly one winner; the others get `Conflict`.

mod dir;
mod key;
mod s3;

pub use dir::DirStore;
pub use key::{BlobKey, ReceiptFormat, RootArtifact};
pub use s3::{S3Config, S3Store};

use crate::error::{LedgerError, Result};

/// What [`BlobStore::put_new`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The key did not exist; it now holds the bytes.
    Created,
    /// The key already held exactly these bytes; nothing was written.
    AlreadyIdentical,
}

/// The blob store: one of the two backends behind one set of methods, which pass the same
/// contract tests (`ledger/tests/blob.rs`).
#[derive(Clone, Debug)]
pub enum BlobStore {
    Dir(DirStore),
    S3(S3Store),
}

impl BlobStore {
    /// Writes `bytes` under `key` unless the key exists: see the module's "Create-only".
    /// A latest-pointer key is refused ([`LedgerError::Invalid`]): those go through
    /// [`BlobStore::put_latest`].
    pub async fn put_new(&self, key: &BlobKey, bytes: &[u8]) -> Result<PutOutcome> {
        match self {
            BlobStore::Dir(s) => s.put_new(key, bytes).await,
            BlobStore::S3(s) => s.put_new(key, bytes).await,
        }
    }

    /// Replaces a latest pointer ([`BlobKey::is_latest_pointer`]) atomically: a reader sees
    /// the old or the new bytes. Any other key is refused ([`LedgerError::Invalid`]).
    pub async fn put_latest(&self, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        match self {
            BlobStore::Dir(s) => s.put_latest(key, bytes).await,
            BlobStore::S3(s) => s.put_latest(key, bytes).await,
        }
    }

    /// The object's bytes, or `None` when the key holds nothing.
    pub async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        match self {
            BlobStore::Dir(s) => s.get(key).await,
            BlobStore::S3(s) => s.get(key).await,
        }
    }

    /// Whether the key holds an object.
    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self {
            BlobStore::Dir(s) => s.exists(key).await,
            BlobStore::S3(s) => s.exists(key).await,
        }
    }

    /// A short name of the backend and where it is, for logs (`dir /var/lib/anchor/blobs`,
    /// `s3 bucket anchors at https://…`). Holds no secret.
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Dir(s) => format!("dir {}", s.root().display()),
            BlobStore::S3(s) => s.describe(),
        }
    }
}

impl From<DirStore> for BlobStore {
    fn from(s: DirStore) -> BlobStore {
        BlobStore::Dir(s)
    }
}

impl From<S3Store> for BlobStore {
    fn from(s: S3Store) -> BlobStore {
        BlobStore::S3(s)
    }
}

/// `put_new` on a latest pointer is a programming error the caller can fix; refused before
/// any I/O.
fn refuse_latest_pointer(key: &BlobKey) -> Result<()> {
    if key.is_latest_pointer() {
        return Err(LedgerError::invalid(
            "create-only blob key",
            key.as_str(),
            "a receipt's latest pointer is replaced with put_latest, not written with put_new",
        ));
    }
    Ok(())
}

/// `put_latest` on any other key would replace an object that must never change.
fn require_latest_pointer(key: &BlobKey) -> Result<()> {
    if !key.is_latest_pointer() {
        return Err(LedgerError::invalid(
            "latest-pointer blob key",
            key.as_str(),
            "only receipts/{tenant}/{period}.json|.pdf may be replaced; every other key is \
             create-only (put_new)",
        ));
    }
    Ok(())
}

/// The answer to a create-only write that found its key taken: identical bytes are a no-op,
/// different bytes a conflict that names both sides (length and SHA-256) so an operator can
/// tell which artifact differs.
fn compare_existing(key: &BlobKey, existing: &[u8], new: &[u8]) -> Result<PutOutcome> {
    if existing == new {
        return Ok(PutOutcome::AlreadyIdentical);
    }
    Err(LedgerError::Conflict {
        what: "create-only blob",
        key: key.to_string(),
        reason: format!(
            "the key already holds a different object ({}); refused to replace it with {}",
            fingerprint(existing),
            fingerprint(new)
        ),
    })
}

/// `N bytes, sha256 0123456789abcdef…`.
fn fingerprint(bytes: &[u8]) -> String {
    let hex = merkle::Hash::sha256(bytes).to_hex();
    format!("{} bytes, sha256 {}…", bytes.len(), &hex[..16])
}
