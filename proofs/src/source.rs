//! Where the read side reads objects from: the blob store itself, a copy of the bucket's layout
//! in a directory, or (the CLI's) a bucket served over plain HTTP. Keys are the object
//! layout's (`roots/…`, `receipts/…`).

use std::future::Future;
use std::path::PathBuf;

use ledger::blob::{BlobKey, BlobStore};

use crate::error::{ProofsError, Result};

/// Where tiles are read from: the blob store itself, a copy of the bucket in a directory, or
/// a bucket served over HTTP (the CLI's). Keys are the object layout's (`roots/…`).
pub trait ObjectSource: Sync {
    /// The object's bytes, `None` when there is none.
    fn get(&self, key: &BlobKey) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
}

impl ObjectSource for BlobStore {
    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        Ok(BlobStore::get(self, key).await?)
    }
}

/// An object that must exist: a missing one is `Invalid`, naming its key.
pub(crate) async fn must_get<S: ObjectSource>(source: &S, key: &BlobKey) -> Result<Vec<u8>> {
    source
        .get(key)
        .await?
        .ok_or_else(|| ProofsError::Invalid(format!("{key} is missing from the blob store")))
}

/// A copy of the bucket's layout in a local directory, read only (nothing is created in it).
#[derive(Clone, Debug)]
pub struct DirSource(pub PathBuf);

impl ObjectSource for DirSource {
    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        let path = self.0.join(key.as_str());
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ProofsError::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}
