//! Sample verification: leaves re-proved from the stored artifacts, read back from the blob
//! store, against the stored `root.bin`.
//!
//! The rollup runs it before signing (so the summary's coverage is true) and the
//! sample-verify job runs it again later, from another worker and a fresh read, so that an
//! artifact damaged after the run is caught too. A failure opens an incident and pauses the
//! tenant through its kill switch (actor [`ACTOR`]); an operator resolves both.

use ledger::blob::{BlobKey, RootArtifact};
use ledger::formats::Coverage;
use ledger::sql::{KillScope, KillState, Run, RunStatus};
use ledger::{KillMode, Period, TenantId};
use merkle::{ProofV1, Root};
use rand::seq::index::sample;

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::levels::Levels;

/// The actor recorded when a failed sample pauses a tenant.
pub const ACTOR: &str = "auto:sample-verify";

async fn must_get(ctx: &Ctx, key: &BlobKey) -> Result<Vec<u8>> {
    ctx.blobs
        .get(key)
        .await?
        .ok_or_else(|| WorkerError::Permanent(format!("{key} is missing from the blob store")))
}

/// Re-proves `n` random leaves (all when fewer). Any mismatch is an error naming the leaf and
/// the check.
pub async fn verify_sample(
    ctx: &Ctx,
    tenant: &TenantId,
    period: Period,
    n: usize,
) -> Result<Coverage> {
    let root_bin = must_get(
        ctx,
        &BlobKey::root_artifact(tenant, &period, RootArtifact::Bin),
    )
    .await?;
    let root = Root(merkle::Hash(root_bin.as_slice().try_into().map_err(
        |_| WorkerError::Permanent(format!("root.bin holds {} bytes, not 32", root_bin.len())),
    )?));
    let levels_bytes = must_get(
        ctx,
        &BlobKey::root_artifact(tenant, &period, RootArtifact::Levels),
    )
    .await?;
    let levels = Levels::from_bytes_off_thread(levels_bytes).await?;
    if levels.root() != root {
        return Err(WorkerError::Permanent(format!(
            "levels.bin implies root {} but root.bin holds {root}",
            levels.root()
        )));
    }
    let size = levels.size() as usize;
    let picks = sample(&mut rand::rng(), size, n.min(size));
    let mut verified = 0u64;
    for i in picks {
        let digest = levels.digests()[i];
        let bytes = must_get(ctx, &BlobKey::proof(tenant, &period, &digest)).await?;
        let proof = ProofV1::from_json(&bytes)
            .map_err(|e| WorkerError::Permanent(format!("proof of leaf {i} ({digest}): {e}")))?;
        if proof.digest != digest
            || proof.leaf_index != i as u64
            || proof.tree_size != levels.size()
        {
            return Err(WorkerError::Permanent(format!(
                "proof of leaf {i} names digest {} at {} of {}, the tree has {digest} at {i} of {}",
                proof.digest,
                proof.leaf_index,
                proof.tree_size,
                levels.size()
            )));
        }
        proof.verify(Some(&root)).map_err(|e| {
            WorkerError::Permanent(format!(
                "proof of leaf {i} ({digest}) does not lead to root.bin: {e}"
            ))
        })?;
        verified += 1;
    }
    metrics::counter!("sample_leaves_verified_total").increment(verified);
    Ok(Coverage {
        sampled: verified,
        verified,
    })
}

/// Opens an incident for `run` and pauses its tenant.
pub async fn fail(ctx: &Ctx, run: &Run, detail: &str) -> Result<()> {
    let now = ctx.now();
    let id = ctx
        .store
        .open_incident(
            Some(&run.tenant),
            Some(&run.id),
            "sample-verify",
            detail,
            now,
        )
        .await?;
    ctx.store
        .set_kill_switch(&KillState {
            scope: KillScope::Tenant(run.tenant.clone()),
            mode: KillMode::Paused,
            reason: format!("sample verification failed (incident {id}): {detail}"),
            actor: ACTOR.into(),
            at: now,
        })
        .await?;
    metrics::counter!("sample_verify_failures_total").increment(1);
    tracing::error!(run = %run.id, incident = id, detail, "sample verification failed: tenant paused");
    Ok(())
}

/// The sample-verify job.
pub async fn job(ctx: &Ctx, run_id: &str) -> Result<()> {
    let run = ctx.store.run(run_id).await?;
    if !matches!(run.status, RunStatus::Anchored | RunStatus::Complete) {
        return Ok(());
    }
    if let Err(e) = verify_sample(ctx, &run.tenant, run.period, ctx.policy.sample_size).await {
        if e.is_transient() {
            return Err(e);
        }
        fail(ctx, &run, &e.to_string()).await?;
    }
    Ok(())
}
