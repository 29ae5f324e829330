//! The upgrade job: ask the calendars whether a run's OTS proof has reached Bitcoin.
//!
//! Calendars commit to Bitcoin every few hours, so the job re-enqueues itself with a growing
//! delay ([`delay`]: 10 min doubling to 6 h) until the proof carries a Bitcoin attestation or
//! the horizon ([`scheduler::Policy::upgrade_horizon`], default 48 h from the submission to
//! the calendars, and never before the period's end) passes, which opens an incident. On
//! completion, with a header source configured (`LEDGER_ESPLORA_URL`), the attestation is
//! checked against the block header, whose proof of work must meet its height's difficulty
//! (or regtest's, when `LEDGER_BITCOIN_NETWORK=regtest` says the source is a local dev
//! chain), and the upgraded proof is stored under a new version key (`root.v{n}.ots`;
//! per-manifest `.ots` files derive from it on request); a new receipt version names the
//! earliest Bitcoin block, the transaction the proof commits through and the chain, and
//! supersedes the previous one; the run becomes complete, and the job goes on following the
//! calendars still pending ([`job`]). Without a header
//! source the upgraded proof is stored but the receipt stays pending: a receipt never claims a
//! block nobody checked.

use std::time::Duration;

use ledger::blob::{BlobKey, ReceiptFormat};
use ledger::formats::{
    AnchorEntry, Artifact, Bitcoin, BitcoinNetwork, Receipt, ReceiptBody, sha256_hex,
};
use ledger::sql::{AnchorRow, Run, RunOutcome, RunStatus};
use ledger::{AnchorKind, AnchorStatus};
use sha2::{Digest as _, Sha256};
use stamp::DetachedTimestamp;
use stamp::verify::Finding;

use crate::blobs::put_or_keep;
use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::job::{FollowUp, Job};

/// Delay before upgrade attempt `attempt`: 10 minutes, doubling, at most 6 hours.
pub fn delay(attempt: u32) -> Duration {
    let minutes = 10u64.saturating_mul(1u64 << attempt.min(6));
    Duration::from_secs(minutes.min(360) * 60)
}

/// The latest receipt of a run's period, logged in the tenant's receipt log (a no-op when it
/// is; how a receipt written before the log existed gets into it). The latest pointer holds
/// the exact bytes of the version it names, so those bytes are the ones logged.
pub(crate) async fn latest_receipt(ctx: &Ctx, run: &Run) -> Result<Receipt> {
    let key = BlobKey::receipt_latest(&run.tenant, &run.period, ReceiptFormat::Json);
    let bytes = crate::blobs::must_get(ctx, &key).await?;
    let receipt = Receipt::from_json(&bytes)?;
    crate::receipt_log::log_receipt(ctx, &run.tenant, run.period, receipt.version, &bytes).await?;
    Ok(receipt)
}

/// Writes receipt `body.version` create-only, logs it, and points the latest receipt at it.
pub(crate) async fn publish_receipt(ctx: &Ctx, body: ReceiptBody) -> Result<Receipt> {
    let (t, p, v) = (body.tenant.clone(), body.period, body.version);
    let receipt = Receipt::sign(body, &ctx.key)?;
    let key = BlobKey::receipt_version(&t, &p, v, ReceiptFormat::Json)?;
    let stored = put_or_keep(ctx, &key, receipt.to_json_pretty().into_bytes()).await?;
    // Logged before the latest pointer names it (crate::receipt_log).
    crate::receipt_log::log_receipt(ctx, &t, p, v, &stored).await?;
    ctx.blobs
        .put_latest(
            &BlobKey::receipt_latest(&t, &p, ReceiptFormat::Json),
            &stored,
        )
        .await?;
    Ok(Receipt::from_json(&stored)?)
}

/// A new state of a run's OTS anchor: pending at the calendars (catch-up) or confirmed in a
/// Bitcoin block (upgrade), with the root `.ots` that shows it.
pub(crate) struct OtsAnchor<'a> {
    pub status: AnchorStatus,
    pub key: &'a BlobKey,
    pub bytes: &'a [u8],
    pub bitcoin: Option<Bitcoin>,
    /// Recorded in the anchor row.
    pub details: serde_json::Value,
}

/// Publishes the receipt version after `receipt` with the run's OTS anchor in `ots`'s state
/// (superseding it), records the anchor row (its time is when this state began, which the
/// upgrade horizon counts from) and moves the run to `status`.
pub(crate) async fn supersede_ots(
    ctx: &Ctx,
    run: &Run,
    receipt: &Receipt,
    ots: OtsAnchor<'_>,
    status: RunStatus,
) -> Result<()> {
    let mut anchors = receipt.anchors.clone();
    for a in anchors.iter_mut().filter(|a| a.kind == AnchorKind::Ots) {
        a.status = ots.status;
        a.bitcoin.clone_from(&ots.bitcoin);
        a.artifact = Some(Artifact {
            key: ots.key.to_string(),
            sha256: sha256_hex(ots.bytes),
        });
    }
    publish_receipt(
        ctx,
        ReceiptBody {
            tenant: receipt.tenant.clone(),
            period: receipt.period,
            anchored_at: receipt.anchored_at,
            backfilled: receipt.backfilled,
            root: receipt.root,
            tree_size: receipt.tree_size,
            anchors,
            run_id: receipt.run_id.clone(),
            summary_hash: receipt.summary_hash.clone(),
            version: receipt.version + 1,
            supersedes: Some(receipt.version),
        },
    )
    .await?;
    let now = ctx.now();
    ctx.store
        .put_anchor(&AnchorRow {
            run_id: run.id.clone(),
            kind: AnchorKind::Ots,
            status: ots.status,
            details: ots.details,
            artifact_key: Some(ots.key.to_string()),
            artifact_sha256: Some(Sha256::digest(ots.bytes).into()),
            updated_at: now,
        })
        .await?;
    if run.status == status {
        // A complete run's further branches: its outcome and finish time stand.
        return Ok(());
    }
    ctx.store
        .finish_run(
            &run.id,
            &RunOutcome {
                status,
                root: run.root,
                tree_size: run.tree_size,
                estimated_cost_micro_usd: run.estimated_cost_micro_usd,
                errors: run.errors.clone(),
            },
            now,
        )
        .await?;
    Ok(())
}

/// One upgrade attempt. Returns the next attempt when the proof is still pending (the
/// handler pushes it once this delivery has released the job's key).
///
/// Every calendar branch is followed, not only the first to confirm: once a Bitcoin
/// attestation verifies, the run is complete and its receipt names the earliest block, and
/// while other calendars still hold pending attestations (and the horizon has not passed)
/// the job keeps asking them. Each newly confirmed branch stores a new proof version and a
/// receipt version whose `bitcoin` is the earliest attestation so far; the anchor row records
/// every attestation (`details.attestations`) and the calendars still pending
/// (`details.pending`). Decision: a receipt names one block (its existence claim rests on
/// the earliest), while the proof and the row keep them all, so a tenant who distrusts one
/// calendar can check another's transaction. Reconciliation after a lost queue resumes only
/// runs still `anchored`; a complete run's remaining branches are then left as they are.
pub async fn job(ctx: &Ctx, run_id: &str, attempt: u32) -> Result<Option<FollowUp>> {
    let run = crate::ctx::job_run(ctx, run_id).await?;
    let receipt = latest_receipt(ctx, &run).await?;
    let Some(ots) = receipt.anchors.iter().find(|a| {
        a.kind == AnchorKind::Ots
            && matches!(a.status, AnchorStatus::Pending | AnchorStatus::Confirmed)
    }) else {
        return Ok(None);
    };
    let confirmed = ots.status == AnchorStatus::Confirmed;
    match (run.status, confirmed) {
        // Waiting for the first Bitcoin attestation, or following the other branches.
        (RunStatus::Anchored, false) | (RunStatus::Complete, true) => {}
        _ => return Ok(None),
    }
    let mut file = root_ots(ctx, &run, ots).await?;
    if confirmed && (file.timestamp.pending().is_empty() || past_horizon(ctx, &run, &receipt)) {
        return Ok(None);
    }
    let before = bitcoin_count(&file);
    let outcomes =
        stamp::calendar::upgrade(&ctx.stamping.http, &ctx.stamping.calendars, &mut file).await?;
    tracing::info!(run = run_id, attempt, ?outcomes, "upgrade attempt");
    if !file.timestamp.has_bitcoin() {
        return retry_until_horizon(ctx, &run, &receipt, attempt).await;
    }
    if confirmed && bitcoin_count(&file) == before {
        return Ok(Some(next(&run.id, attempt + 1)));
    }
    record_confirmation(ctx, &run, &receipt, file, attempt).await
}

/// The root's `.ots` the receipt's OTS anchor names.
async fn root_ots(ctx: &Ctx, run: &Run, ots: &AnchorEntry) -> Result<DetachedTimestamp> {
    let named = ots
        .artifact
        .as_ref()
        .map(|a| a.key.clone())
        .unwrap_or_default();
    let key = proofs::root_ots_key(&run.tenant, run.period, &named)?;
    let bytes = ctx
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| WorkerError::Permanent(format!("{key} is missing")))?;
    Ok(DetachedTimestamp::from_bytes(&bytes)?)
}

/// Stores the upgraded proof as a new version and, once its Bitcoin attestations verify, a
/// receipt version naming the earliest; asks again later while calendars are still pending.
async fn record_confirmation(
    ctx: &Ctx,
    run: &Run,
    receipt: &Receipt,
    file: DetachedTimestamp,
    attempt: u32,
) -> Result<Option<FollowUp>> {
    // A new version of the root's proof, numbered like the receipt that first names it
    // (per-manifest `.ots` files derive from the version the latest receipt names).
    let version = receipt.version + 1;
    let new_key = BlobKey::root_ots_version(&run.tenant, &run.period, version)?;
    let new_bytes = put_or_keep(ctx, &new_key, file.to_bytes()?).await?;
    let file = DetachedTimestamp::from_bytes(&new_bytes)?;

    let Some(blocks) = confirmed_blocks(ctx, run, receipt, &file).await? else {
        return Ok(Some(next(&run.id, attempt + 1)));
    };
    let pending: Vec<String> = file
        .timestamp
        .pending()
        .into_iter()
        .map(|(uri, _)| stamp::error::redact_userinfo(&uri))
        .collect();
    supersede_ots(
        ctx,
        run,
        receipt,
        OtsAnchor {
            status: AnchorStatus::Confirmed,
            key: &new_key,
            bytes: &new_bytes,
            bitcoin: Some(blocks.earliest.clone()),
            details: serde_json::json!({
                "bitcoin": blocks.earliest,
                "attestations": blocks.all,
                "pending": pending,
            }),
        },
        RunStatus::Complete,
    )
    .await?;
    tracing::info!(
        run = %run.id,
        height = blocks.earliest.height,
        attestations = blocks.all.len(),
        still_pending = pending.len(),
        "OTS proof reached Bitcoin"
    );
    Ok((!pending.is_empty()).then(|| next(&run.id, attempt + 1)))
}

/// How many Bitcoin attestations `file` carries.
fn bitcoin_count(file: &DetachedTimestamp) -> usize {
    file.timestamp
        .attestations()
        .iter()
        .filter(|(_, a)| matches!(a, stamp::Attestation::Bitcoin { .. }))
        .count()
}

/// Whether the upgrade horizon of a confirmed run's remaining branches has passed: it counts
/// from when the root was stamped, never from before the period's end.
fn past_horizon(ctx: &Ctx, run: &Run, receipt: &Receipt) -> bool {
    ctx.now() >= run.period.end().max(receipt.anchored_at) + ctx.policy.upgrade_horizon
}

/// Upgrade attempt `attempt` of `run_id`, after [`delay`]`(attempt)`.
pub(crate) fn next(run_id: &str, attempt: u32) -> FollowUp {
    FollowUp {
        job: Job::Upgrade {
            run: run_id.to_owned(),
            attempt,
        },
        delay: delay(attempt),
    }
}

/// The attempt number whose schedule matches a proof submitted `age` ago (the sum of the
/// delays before it reaches `age`): a reconciled upgrade job resumes the backoff instead of
/// restarting it.
pub fn attempt_for_age(age: Duration) -> u32 {
    let mut elapsed = Duration::ZERO;
    let mut attempt = 0;
    while attempt < 64 {
        elapsed += delay(attempt);
        if elapsed > age {
            break;
        }
        attempt += 1;
    }
    attempt
}

/// Enqueues upgrade attempt `attempt` of `run_id` after [`delay`]`(attempt)`: attempt 0 when
/// a root is first stamped into OTS (rollup, catch-up), the next one while still pending.
pub(crate) async fn enqueue(ctx: &Ctx, run_id: &str, attempt: u32) -> Result<()> {
    let FollowUp { job, delay } = next(run_id, attempt);
    ctx.queue.push(job, delay).await
}

/// Still pending: retry later, or past the horizon open an incident. The horizon counts from
/// when the root was submitted to the calendars (a backfilled or caught-up root is stamped
/// long after its period ended), never from before the period's end.
async fn retry_until_horizon(
    ctx: &Ctx,
    run: &Run,
    receipt: &Receipt,
    attempt: u32,
) -> Result<Option<FollowUp>> {
    let submitted = ctx
        .store
        .anchors(&run.id)
        .await?
        .into_iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .map_or(receipt.anchored_at, |a| a.updated_at);
    let horizon_end = run.period.end().max(submitted) + ctx.policy.upgrade_horizon;
    if ctx.now() < horizon_end {
        return Ok(Some(next(&run.id, attempt + 1)));
    }
    ctx.store
        .open_incident(
            Some(&run.tenant),
            Some(&run.id),
            "upgrade-horizon",
            &format!(
                "the OTS proof of {} has no Bitcoin attestation {} h after it was submitted",
                run.id,
                ctx.policy.upgrade_horizon.num_hours()
            ),
            ctx.now(),
        )
        .await?;
    Ok(None)
}

/// The Bitcoin attestations of an upgraded proof that verified, each with the block, its
/// transaction and the chain; and the earliest of them ([`stamp::verify::earliest_bitcoin`]),
/// whose time the receipt's existence claim rests on.
struct Blocks {
    earliest: Bitcoin,
    all: Vec<Bitcoin>,
}

/// The Bitcoin blocks the upgraded proof's attestations name, checked against their headers
/// from the configured source; `None` without a source (a receipt never claims a block nobody
/// checked) or when no attestation verifies yet.
async fn confirmed_blocks(
    ctx: &Ctx,
    run: &Run,
    receipt: &Receipt,
    file: &DetachedTimestamp,
) -> Result<Option<Blocks>> {
    let Some(source) = &ctx.stamping.headers else {
        tracing::warn!(
            run = %run.id,
            "Bitcoin attestation found but no header source (LEDGER_ESPLORA_URL): receipt stays pending"
        );
        return Ok(None);
    };
    let digest: [u8; 32] = Sha256::digest(receipt.root.0.0).into();
    verified_blocks(ctx, source, file, &digest).await
}

/// The earliest Bitcoin block `file`'s attestations name ([`verified_blocks`]). The calendar
/// canary ([`crate::canary`]) checks its stamps with it, so it trusts the same evidence as
/// the upgrade job.
pub(crate) async fn verified_block(
    ctx: &Ctx,
    source: &stamp::headers::RemoteHeaders,
    file: &DetachedTimestamp,
    digest: &[u8; 32],
) -> Result<Option<Bitcoin>> {
    Ok(verified_blocks(ctx, source, file, digest)
        .await?
        .map(|b| b.earliest))
}

/// The Bitcoin blocks `file`'s attestations name, each checked against its header from
/// `source` at the configured network's rules (or against the newer epoch table); `None`
/// when no attestation of `file` (which must stamp `digest`) verifies.
async fn verified_blocks(
    ctx: &Ctx,
    source: &stamp::headers::RemoteHeaders,
    file: &DetachedTimestamp,
    digest: &[u8; 32],
) -> Result<Option<Blocks>> {
    let heights = file.timestamp.bitcoin_heights();
    let timeout = Duration::from_secs(15);
    let headers = match &ctx.stamping.epochs {
        // Only on mainnet (the configuration refuses a table with regtest).
        Some(epochs) => {
            stamp::headers::fetch_headers_against(
                &ctx.stamping.http,
                source,
                heights,
                timeout,
                epochs.clone(),
            )
            .await?
        }
        None => {
            stamp::headers::fetch_headers_on(
                &ctx.stamping.http,
                source,
                heights,
                timeout,
                ctx.stamping.network,
            )
            .await?
        }
    };
    let (_, findings) = stamp::verify::verify_file(file, digest, &headers)?;
    let network = match ctx.stamping.network {
        stamp::bitcoin::Network::Bitcoin => BitcoinNetwork::Bitcoin,
        stamp::bitcoin::Network::Regtest => BitcoinNetwork::Regtest,
    };
    let block = |f: &Finding| match f {
        Finding::Bitcoin {
            height,
            block_hash,
            time,
            txid,
        } => Some(Bitcoin {
            height: *height,
            block_hash: block_hash.clone(),
            time: chrono::DateTime::from_timestamp(i64::from(*time), 0).unwrap_or_default(),
            txid: txid.clone(),
            network: Some(network),
        }),
        _ => None,
    };
    let Some(earliest) = stamp::verify::earliest_bitcoin(&findings).and_then(block) else {
        return Ok(None);
    };
    let mut all: Vec<Bitcoin> = findings.iter().filter_map(block).collect();
    all.sort_by_key(|b| (b.height, b.time));
    all.dedup();
    Ok(Some(Blocks { earliest, all }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconciled_upgrade_resumes_the_backoff_where_the_proofs_age_puts_it() {
        assert_eq!(attempt_for_age(Duration::ZERO), 0);
        assert_eq!(attempt_for_age(Duration::from_mins(9)), 0);
        // 10 min waited before attempt 1, 10 + 20 before attempt 2, 10 + 20 + 40 before 3.
        assert_eq!(attempt_for_age(Duration::from_mins(10)), 1);
        assert_eq!(attempt_for_age(Duration::from_mins(30)), 2);
        assert_eq!(attempt_for_age(Duration::from_mins(69)), 2);
        assert_eq!(attempt_for_age(Duration::from_mins(70)), 3);
        // Far past the horizon it stays bounded.
        assert!(attempt_for_age(Duration::from_hours(24 * 365)) <= 64);
    }
}
