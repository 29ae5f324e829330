//! Sample verification, from a source independent of the tree: the manifests the SQL store
//! accepted for the period. Their set must be exactly the stored tree's leaves (a tree that
//! dropped, added or changed a manifest is caught, naming the first digest that differs), and
//! a random sample of them is re-proved from the stored tree, read back from the blob store,
//! against the stored `root.bin`, with each sampled leaf's per-manifest `.ots` derived too when
//! there is an OTS anchor. A stored tree that does not hash to `root.bin` fails to load.
//!
//! Decision (issue 22): before, the sample was drawn from the stored tree itself, so it could
//! only re-check what the rollup had just hashed. The sample-verify job, run after every
//! rollup by another worker from a fresh read, now reads the period's digests (32 bytes each)
//! and compares two sorted lists ([`Source::Store`]); the rollup's own check before signing
//! keeps drawing from the tree it has just built from the store ([`Source::Tree`]), since
//! reading the store again there doubled the rollup's time at a million manifests (measured
//! by `cargo bench -p anchor-cli --bench pipeline`). The sample keeps its size
//! (`LEDGER_SAMPLE_SIZE`) for the proofs.
//!
//! The rollup runs it before signing (so the summary's coverage is true) and the
//! sample-verify job runs it again later, from another worker and a fresh read, so that an
//! artifact damaged after the run is caught too. A failure opens an incident and pauses the
//! tenant through its kill switch (actor [`ACTOR`]); an operator resolves both.

use ledger::formats::Coverage;
use ledger::sql::{KillScope, KillState, Run, RunStatus};
use ledger::{KillMode, Period, TenantId};
use merkle::ManifestDigest;
use rand::seq::index::sample;

use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use proofs::PeriodProofs;

/// The actor recorded when a failed sample pauses a tenant.
pub const ACTOR: &str = "auto:sample-verify";

/// What the sample is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The manifests the SQL store accepted, whose set must equal the tree's leaves: the
    /// sample-verify job's independent check.
    Store,
    /// The stored tree's own leaves: the rollup's check before signing, right after it built
    /// the tree from the store (reading the store again there would re-read, at 1M manifests
    /// 32 MB and about half the rollup's time, what was just read).
    Tree,
}

/// Re-proves `n` manifests at random (all when fewer) from the tree read back from the blob
/// store, against `root.bin`; from [`Source::Store`] it first checks that the manifests the
/// store accepted for `tenant`'s `period` are exactly the stored tree's leaves. Any mismatch
/// is a permanent error naming the digest or leaf and the check.
pub async fn verify_sample(
    ctx: &Ctx,
    tenant: &TenantId,
    period: Period,
    n: usize,
    source: Source,
) -> Result<Coverage> {
    let stored = PeriodProofs::load(&ctx.blobs, tenant, period).await?;
    let levels = stored.levels();
    let root = levels.root();
    let accepted = match source {
        Source::Store => {
            let accepted = ctx.store.period_digests(tenant, period).await?;
            same_leaves(&accepted, levels.digests())?;
            accepted
        }
        Source::Tree => levels.digests().to_vec(),
    };
    let picks = sample(&mut rand::rng(), accepted.len(), n.min(accepted.len()));
    let mut verified = 0u64;
    for i in picks {
        let digest = accepted[i];
        let proof = stored.proof(&digest)?;
        if proof.digest != digest {
            return Err(WorkerError::Permanent(format!(
                "the proof of manifest {digest} names {}",
                proof.digest
            )));
        }
        proof.verify(Some(&root)).map_err(|e| {
            WorkerError::Permanent(format!(
                "the proof of manifest {digest} (leaf {}) does not lead to root.bin: {e}",
                proof.leaf_index
            ))
        })?;
        if let Some(ots) = stored.manifest_ots(&digest)?
            && ots.digest() != digest.0
        {
            return Err(WorkerError::Permanent(format!(
                "the .ots of manifest {digest} does not start from its digest"
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

/// `accepted` (the store's distinct digests of the period, sorted) and `leaves` (the stored
/// tree's, sorted) are the same list; else a permanent error naming the first difference.
fn same_leaves(accepted: &[ManifestDigest], leaves: &[ManifestDigest]) -> Result<()> {
    let differs = |what: String| {
        Err(WorkerError::Permanent(format!(
            "the store accepted {} manifests for the period and the stored tree holds {} \
             leaves: {what}",
            accepted.len(),
            leaves.len()
        )))
    };
    let first = accepted
        .iter()
        .zip(leaves)
        .position(|(a, l)| a != l)
        .unwrap_or(accepted.len().min(leaves.len()));
    match (accepted.get(first), leaves.get(first)) {
        (None, None) => Ok(()),
        (Some(a), l) if l.is_none_or(|l| a < l) => {
            differs(format!("manifest {a} is not in the stored tree"))
        }
        (_, Some(l)) => differs(format!("leaf {l} is no manifest the store accepted")),
        (Some(_), None) => unreachable!("handled by the arm before"),
    }
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
    let n = ctx.policy.sample_size;
    if let Err(e) = verify_sample(ctx, &run.tenant, run.period, n, Source::Store).await {
        if e.is_transient() {
            return Err(e);
        }
        fail(ctx, &run, &e.to_string()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> ManifestDigest {
        ManifestDigest([b; 32])
    }

    #[test]
    fn the_same_sorted_digests_pass_and_the_first_difference_is_named() {
        assert!(same_leaves(&[d(1), d(2)], &[d(1), d(2)]).is_ok());
        assert!(same_leaves(&[], &[]).is_ok());
        let missing = same_leaves(&[d(1), d(2), d(3)], &[d(1), d(3)]).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains(&format!("manifest {} is not in the stored tree", d(2))),
            "{missing}"
        );
        let extra = same_leaves(&[d(1)], &[d(1), d(4)]).unwrap_err();
        assert!(
            extra
                .to_string()
                .contains(&format!("leaf {} is no manifest the store accepted", d(4))),
            "{extra}"
        );
        let changed = same_leaves(&[d(1), d(5)], &[d(1), d(2)])
            .unwrap_err()
            .to_string();
        assert!(
            changed.contains(&format!("leaf {} is no manifest", d(2))),
            "{changed}"
        );
        assert!(changed.contains("accepted 2 manifests") && changed.contains("holds 2 leaves"));
    }
}
