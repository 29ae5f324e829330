//! Sample verification: leaves re-proved from the stored tree, read back from the blob store,
//! against the stored `root.bin`; with an OTS anchor, each sampled leaf's per-manifest `.ots`
//! is derived too.
//!
//! The rollup runs it before signing (so the summary's coverage is true) and the
//! sample-verify job runs it again later, from another worker and a fresh read, so that an
//! artifact damaged after the run is caught too. A failure opens an incident and pauses the
//! tenant through its kill switch (actor [`ACTOR`]); an operator resolves both.

use ledger::formats::Coverage;
use ledger::sql::{KillScope, KillState, Run, RunStatus};
use ledger::{KillMode, Period, TenantId};
use rand::seq::index::sample;

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use proofs::PeriodProofs;

/// The actor recorded when a failed sample pauses a tenant.
pub const ACTOR: &str = "auto:sample-verify";

/// Re-proves `n` random leaves (all when fewer) from the tree read back from the blob store,
/// against `root.bin`. Any mismatch is an error naming the leaf and the check.
pub async fn verify_sample(
    ctx: &Ctx,
    tenant: &TenantId,
    period: Period,
    n: usize,
) -> Result<Coverage> {
    let stored = PeriodProofs::load(&ctx.blobs, tenant, period).await?;
    let levels = stored.levels();
    let root = levels.root();
    let size = levels.size() as usize;
    let picks = sample(&mut rand::rng(), size, n.min(size));
    let mut verified = 0u64;
    for i in picks {
        let digest = levels.digests()[i];
        let proof = stored.proof_at(i as u64)?;
        if proof.digest != digest {
            return Err(WorkerError::Permanent(format!(
                "the proof of leaf {i} names {} but the tree holds {digest}",
                proof.digest
            )));
        }
        proof.verify(Some(&root)).map_err(|e| {
            WorkerError::Permanent(format!(
                "proof of leaf {i} ({digest}) does not lead to root.bin: {e}"
            ))
        })?;
        if let Some(ots) = stored.manifest_ots(&digest)?
            && ots.digest() != digest.0
        {
            return Err(WorkerError::Permanent(format!(
                "the .ots of leaf {i} ({digest}) does not start from its digest"
            )));
        }
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
    let run = crate::ctx::job_run(ctx, run_id).await?;
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
