//! Create-only blob writes as the jobs make them: a stamp (not deterministic) keeps whatever
//! an earlier attempt stored; deterministic bytes must match what is there.

use ledger::blob::{BlobKey, PutOutcome};

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};

/// Writes `bytes` create-only and returns what the key holds afterwards: ours, or, when
/// another attempt stored different bytes first (a stamp is not deterministic), theirs.
pub(crate) async fn put_or_keep(ctx: &Ctx, key: &BlobKey, bytes: Vec<u8>) -> Result<Vec<u8>> {
    match ctx.blobs.put_new(key, &bytes).await {
        Ok(PutOutcome::Created | PutOutcome::AlreadyIdentical) => Ok(bytes),
        Err(ledger::LedgerError::Conflict { .. }) => ctx.blobs.get(key).await?.ok_or_else(|| {
            WorkerError::Transient(format!("{key}: conflict reported but the key is empty"))
        }),
        Err(e) => Err(e.into()),
    }
}

/// Writes deterministic bytes create-only; different bytes already there are a bug or
/// tampering, never something to paper over.
pub(crate) async fn put_exact(ctx: &Ctx, key: &BlobKey, bytes: &[u8]) -> Result<()> {
    match ctx.blobs.put_new(key, bytes).await {
        Ok(_) => Ok(()),
        Err(ledger::LedgerError::Conflict { .. }) => Err(WorkerError::Permanent(format!(
            "{key} already holds different bytes than this run computes"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// An object that must be there (it was written earlier in the same job).
pub(crate) async fn must_get(ctx: &Ctx, key: &BlobKey) -> Result<Vec<u8>> {
    ctx.blobs
        .get(key)
        .await?
        .ok_or_else(|| WorkerError::Transient(format!("{key} is missing from the blob store")))
}
