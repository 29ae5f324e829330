//! Every receipt version goes into its tenant's receipt log (`proofs::log`, issue 19): the
//! row first (the database orders the log), then the tiles and the signed checkpoint.
//!
//! Order: the receipt version (create-only), then its log entry, then the latest pointer, so
//! every receipt the store shows as latest is already in the log.
//!
//! Crash safety: a job killed between writing a receipt version and logging it writes the same
//! version again on its next attempt (the latest pointer still names the one before, and the
//! version key is create-only: the stored bytes are kept) and logs it, or finds the row. The
//! upgrade and catch-up jobs also log the latest receipt when they read it
//! ([`crate::upgrade::latest_receipt`]), which brings receipts published before the log
//! existed into it. A row whose tiles and checkpoint were
//! not published (a crash between the two) is published by the next call for the tenant,
//! which compares the checkpoint's size with the rows.

use ledger::receipt_log::LogEntry;
use ledger::{Period, TenantId};
use sha2::{Digest as _, Sha256};

use crate::ctx::Ctx;
use crate::error::Result;

/// Logs receipt version `version` of `tenant`'s `period`, whose exact stored bytes are
/// `bytes`, and publishes the log when the checkpoint does not cover it yet.
pub(crate) async fn log_receipt(
    ctx: &Ctx,
    tenant: &TenantId,
    period: Period,
    version: u32,
    bytes: &[u8],
) -> Result<()> {
    let entry = LogEntry {
        period,
        version,
        sha256: Sha256::digest(bytes).into(),
    };
    let index = ctx
        .store
        .append_receipt_log(tenant, &entry, ctx.now())
        .await?;
    ctx.checkpoint("receipt-logged").await;
    if published_size(ctx, tenant).await? > index {
        return Ok(());
    }
    let entries = ctx.store.receipt_log(tenant, None).await?;
    let published = proofs::log::publish(&ctx.blobs, &ctx.key, tenant, &entries).await?;
    tracing::debug!(%tenant, size = published.size, "receipt log published");
    Ok(())
}

/// The size of the tenant's newest published checkpoint (0 before the first).
async fn published_size(ctx: &Ctx, tenant: &TenantId) -> Result<u64> {
    let Some(note) = ctx
        .blobs
        .get(&ledger::blob::BlobKey::log_checkpoint(tenant))
        .await?
    else {
        return Ok(0);
    };
    let signer = proofs::log::signer(tenant, &ctx.key)?;
    let cp = proofs::log::TiledLog::<ledger::blob::BlobStore>::open_note(
        &note,
        signer.verifier(),
        tenant,
    )?;
    Ok(cp.size)
}
