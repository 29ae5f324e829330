//! The OTS catch-up job: roots anchored TSA-only while the calendars were out (or while an
//! operator held the fleet at tsa-only) are stamped into OpenTimestamps afterwards.
//!
//! The scheduler enqueues it every tick while the global switch is the automation's
//! tsa-only, and whenever runs with a deferred OTS anchor exist. For each such run, oldest
//! first: submit SHA-256(root.bin) to the calendars; store `root.ots` (per-manifest `.ots`
//! files are derived from it on request, see [`proofs::period`]); publish a new receipt version whose OTS anchor is pending (and which
//! supersedes the TSA-only one); mark the run anchored so the upgrade job follows it to
//! Bitcoin. The first success also ends an automatic tsa-only ([`crate::outage`]). With no
//! deferred run and an automatic tsa-only in force, one probe digest is submitted to learn
//! whether the calendars are back.

use ledger::blob::{BlobKey, RootArtifact};
use ledger::sql::{RunFilter, RunStatus};
use ledger::{AnchorKind, AnchorStatus, KillMode};
use sha2::{Digest as _, Sha256};

use crate::blobs::put_or_keep;
use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::upgrade::{OtsAnchor, latest_receipt, supersede_ots};

/// Runs whose OTS anchor was deferred, oldest first.
pub async fn deferred_runs(ctx: &Ctx) -> Result<Vec<ledger::sql::Run>> {
    let mut out = Vec::new();
    let runs = ctx
        .store
        .runs(&RunFilter {
            tenant: None,
            status: Some(RunStatus::Complete),
            limit: Some(10_000),
        })
        .await?;
    for run in runs {
        let anchors = ctx.store.anchors(&run.id).await?;
        if anchors
            .iter()
            .any(|a| a.kind == AnchorKind::Ots && a.status == AnchorStatus::Skipped)
        {
            out.push(run);
        }
    }
    out.reverse();
    Ok(out)
}

pub async fn job(ctx: &Ctx) -> Result<()> {
    if ctx
        .store
        .kill_switch(&ledger::sql::KillScope::Global)
        .await?
        .is_some_and(|s| s.mode == KillMode::TsaOnly && s.actor != crate::outage::AUTO_ACTOR)
    {
        // An operator holds the fleet at tsa-only: respect it.
        return Ok(());
    }
    let runs = deferred_runs(ctx).await?;
    if runs.is_empty() {
        if crate::outage::auto_tsa_only(ctx).await? {
            let probe: [u8; 32] =
                Sha256::digest(format!("ledger-anchors calendar probe {}", ctx.now()).as_bytes())
                    .into();
            match stamp::calendar::stamp(&ctx.stamping.http, &ctx.stamping.calendars, probe).await {
                Ok(_) => crate::outage::calendars_answered(ctx).await?,
                Err(e) => tracing::warn!(error = %e, "calendar probe failed: still tsa-only"),
            }
        }
        return Ok(());
    }
    for run in runs {
        let tenant = ctx.store.tenant(&run.tenant).await?;
        if ctx.store.effective_kill_mode(&tenant.id).await? == KillMode::Paused {
            continue;
        }
        let root_bin = ctx
            .blobs
            .get(&BlobKey::root_artifact(
                &run.tenant,
                &run.period,
                RootArtifact::Bin,
            ))
            .await?
            .ok_or_else(|| WorkerError::Permanent(format!("root.bin of {} is missing", run.id)))?;
        let digest: [u8; 32] = Sha256::digest(&root_bin).into();
        let key = BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Ots);
        let bytes = match ctx.blobs.get(&key).await? {
            Some(b) => b,
            None => {
                match stamp::calendar::stamp(&ctx.stamping.http, &ctx.stamping.calendars, digest)
                    .await
                {
                    Ok((file, _)) => {
                        crate::outage::calendars_answered(ctx).await?;
                        put_or_keep(ctx, &key, file.to_bytes()?).await?
                    }
                    Err(e) => {
                        crate::outage::calendars_failed(ctx, &e.to_string()).await?;
                        return Ok(());
                    }
                }
            }
        };
        // Parsed only to refuse storing a receipt that names bytes no client could read.
        stamp::DetachedTimestamp::from_bytes(&bytes)?;
        let receipt = latest_receipt(ctx, &run).await?;
        supersede_ots(
            ctx,
            &run,
            &receipt,
            OtsAnchor {
                status: AnchorStatus::Pending,
                key: &key,
                bytes: &bytes,
                bitcoin: None,
                details: serde_json::json!({ "caught_up_at": ledger::ids::format_ts(ctx.now()) }),
            },
            RunStatus::Anchored,
        )
        .await?;
        crate::upgrade::enqueue(ctx, &run.id, 0).await?;
        tracing::info!(run = %run.id, "OTS caught up after an outage");
    }
    Ok(())
}
