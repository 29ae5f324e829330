//! The rollup job: one run, from the period's digests to a signed receipt.
//!
//! Steps, each safe to repeat after a crash at any point (the crash test kills a worker at
//! every named [`Ctx::checkpoint`] and checks the end state):
//!
//! 1. **decide** (`scheduler::decide`): kill switch, rate limit, cost ceiling → go, defer or hold.
//! 2. **tree**: if `levels.bin` exists, the tree is read back from it, so a retry rebuilds
//!    exactly the tree the first attempt committed to and a period never gets two roots;
//!    otherwise the period's sorted distinct digests are streamed from the store into the
//!    tree, and `levels.bin`, `root.bin` and the root metadata are written create-only.
//! 3. **stamp**: OTS and RFC 3161 concurrently, as the decision says. A stored `root.ots` /
//!    `root.tsr` is reused, never re-stamped. An OTS failure with a TSA anchor in the same
//!    run defers OTS to the catch-up job; calendar failures count towards the automatic
//!    tsa-only switch.
//! 4. **sample**: 25 random leaves re-proved from `levels.bin` read back from the blob store,
//!    against `root.bin`. Per-manifest proofs and `.ots` files are not written: they are
//!    derived on request from the stored tree ([`proofs::period`] says why).
//! 5. **summary**: appended to the tenant's chain once per root (a retry finds it).
//! 6. **receipt** v1, create-only, then the tenant's receipt log (`crate::receipt_log`), then
//!    the latest pointer (so a receipt anyone is shown is already logged); the run row; the last-anchor KV pointer; upgrade and
//!    sample-verify jobs enqueued.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::blob::{BlobKey, PutOutcome, ReceiptFormat, RootArtifact};
use ledger::formats::{
    AnchorEntry, AnchorOutcome, Artifact, Counts, Coverage, Receipt, ReceiptBody, RootMetadata,
    RunSummary, SummaryBody, Toggles, is_backfill, sha256_hex,
};
use ledger::kv::KvKey;
use ledger::sql::{AnchorRow, KillScope, Run, RunFilter, RunOutcome, RunStatus, Tenant, Trigger};
use ledger::{AnchorKind, AnchorStatus, KillMode, Period, Plan};
use merkle::{ManifestDigest, Root};
use scheduler::{Anchors, Decision, RunFacts};
use sha2::{Digest as _, Sha256};
use stamp::tsp::{HashAlg, MessageImprint, TimeStampRequest, TimeStampResponse};

use crate::blobs::{put_exact, put_or_keep};
use crate::ctx::Ctx;
use crate::error::{Result, WorkerError};
use crate::job::Job;
use crate::public;
use proofs::Levels;

/// Every [`Ctx::checkpoint`] the rollup passes, in order: the crash test kills a worker at
/// each of them and checks that a retry ends in the same state as an uninterrupted run.
pub const CHECKPOINTS: &[&str] = &[
    "started",
    "tree-stored",
    "stamped",
    "summary-appended",
    "receipt-version-written",
    "receipt-logged",
    "receipt-written",
];

/// What a rollup attempt ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollup {
    /// Nothing to do: the run is already anchored or complete.
    AlreadyDone(RunStatus),
    /// Not now (paused, rate-limited); the job is re-enqueued after the delay.
    Deferred { reason: String, retry_in: Duration },
    /// Held with a reason (cost ceiling, consent withdrawn); a summary says why.
    Held(String),
    /// Anchored (OTS pending) or complete.
    Anchored {
        status: RunStatus,
        root: Root,
        tree_size: u64,
    },
}

/// The result of stamping one kind.
#[derive(Clone, Debug)]
enum Stamped {
    /// Stored under this key with this SHA-256; for TSA, `gen_time` is the token's and `url`
    /// the authority's that granted it.
    Stored {
        key: BlobKey,
        sha256: String,
        gen_time: Option<DateTime<Utc>>,
        url: Option<String>,
    },
    /// Not attempted or failed in a way that defers it (OTS during an outage): `public` for the
    /// run summary, `detail` for the operator's records.
    Deferred {
        public: &'static str,
        detail: String,
    },
    /// Not part of this run.
    NotWanted,
}

/// The anchors the tenant's plan wants for a cadence; a cadence outside the plan (a manual
/// or backfill run) gets every anchor kind the plan uses.
pub fn wanted(ctx: &Ctx, tenant: &Tenant, period: Period) -> Anchors {
    let schedules = ctx.policy.plans.schedules(tenant.plan);
    schedules
        .iter()
        .find(|s| s.cadence == period.cadence())
        .map_or_else(
            || Anchors {
                ots: schedules.iter().any(|s| s.anchors.ots),
                tsa: schedules.iter().any(|s| s.anchors.tsa),
            },
            |s| s.anchors,
        )
}

/// The effective kill-switch mode and the reason recorded with it.
pub async fn kill_state(ctx: &Ctx, tenant: &Tenant) -> Result<(KillMode, String)> {
    let mode = ctx.store.effective_kill_mode(&tenant.id).await?;
    let mut reason = String::new();
    for scope in [KillScope::Global, KillScope::Tenant(tenant.id.clone())] {
        if let Some(s) = ctx.store.kill_switch(&scope).await?
            && s.mode == mode
        {
            reason = format!("{} ({}, set by {})", s.reason, scope.key(), s.actor);
        }
    }
    Ok((mode, reason))
}

/// Facts for the governor: spend this UTC month, and the roots counted against
/// `max_roots_per_period`.
///
/// The limit counts roots per period, as its name says: the tenant's roots **of this run's
/// cadence** whose runs started in the current period of that cadence (daily runs today,
/// weekly runs this ISO week, monthly runs this month), so an enterprise tenant's daily OTS
/// root and weekly TSA root never compete for one allowance, and a tenant catching up after an
/// outage anchors at most that many of a cadence per period. Backfilled runs are neither
/// counted nor limited: a backfill is paced by its own manifests per hour and cost ceiling.
/// Decision (issue 22): before, every run started in the current UTC day counted against it,
/// so a daily cap of 1 deferred an enterprise tenant's weekly root behind its daily one, and
/// starved a backfill to one period a day.
async fn facts(ctx: &Ctx, tenant: &Tenant, run: &Run, now: DateTime<Utc>) -> Result<RunFacts> {
    let (kill, kill_reason) = kill_state(ctx, tenant).await?;
    let month = Period::containing(ledger::Cadence::Monthly, now);
    let cadence = run.period.cadence();
    let window = Period::containing(cadence, now);
    let runs = ctx
        .store
        .runs(&RunFilter {
            tenant: Some(tenant.id.clone()),
            status: None,
            limit: Some(10_000),
        })
        .await?;
    let mut spent = 0u64;
    let mut roots_in_window = 0u32;
    for r in runs.iter().filter(|r| r.id != run.id) {
        let counted = matches!(
            r.status,
            RunStatus::Running | RunStatus::Anchored | RunStatus::Complete
        );
        let Some(started) = r.started_at else {
            continue;
        };
        if counted && started >= month.start() && started < month.end() {
            spent = spent.saturating_add(r.estimated_cost_micro_usd);
        }
        if counted
            && r.trigger != Trigger::Backfill
            && r.period.cadence() == cadence
            && started >= window.start()
            && started < window.end()
        {
            roots_in_window += 1;
        }
    }
    let max_roots_per_period = if run.trigger == Trigger::Backfill {
        0
    } else {
        tenant.max_roots_per_period
    };
    Ok(RunFacts {
        wanted: wanted(ctx, tenant, run.period),
        kill,
        kill_reason,
        month_spent_micro_usd: spent,
        ceiling_micro_usd: tenant.cost_ceiling_micro_usd,
        roots_in_window,
        max_roots_per_period,
    })
}

/// Runs the rollup of `run_id` once. Transient errors propagate (the handler re-enqueues);
/// permanent ones are recorded as a failed run by the handler. The pipeline reads top to
/// bottom as the numbered steps of the module documentation, each a function.
pub async fn rollup(ctx: &Ctx, run_id: &str) -> Result<Rollup> {
    let run = crate::ctx::job_run(ctx, run_id).await?;
    if matches!(run.status, RunStatus::Anchored | RunStatus::Complete) {
        return Ok(Rollup::AlreadyDone(run.status));
    }
    let tenant = ctx.store.tenant(&run.tenant).await?;
    let now = ctx.now();
    let go = match govern(ctx, &tenant, &run, now).await? {
        Ok(go) => go,
        Err(not_now) => return Ok(not_now),
    };
    let run = ctx.store.start_run(run_id, now).await?;
    tracing::info!(run = run_id, anchors = %go.anchors, ots_deferred = go.ots_deferred, attempt = run.attempt, "rollup started");
    ctx.checkpoint("started").await;

    // 2. The tree, once per period.
    let (root, size) = store_tree(ctx, &run, now).await?;
    ctx.checkpoint("tree-stored").await;

    // 3. Stamps, concurrently.
    // Boxed: both stamping futures held at once are large (clippy::large_futures).
    let (ots, tsa) = Box::pin(stamp_root(ctx, &run, &root, &go)).await?;
    ctx.checkpoint("stamped").await;

    // 4. Sample verification from what was stored.
    let coverage = verify_sample(ctx, &run).await?;

    // 5. Summary, once per root.
    let (outcomes, entries, errors) = describe_anchors(ctx, &ots, tsa.as_ref());
    let (summary, summary_hash) =
        append_summary(ctx, &run, &go, (root, size), coverage, outcomes, errors).await?;
    ctx.checkpoint("summary-appended").await;

    // 6. Receipt v1 and the latest pointer.
    let anchored_at = summary.ts;
    write_first_receipt(ctx, &run, root, size, entries, summary_hash, anchored_at).await?;

    // Record the anchors and the run: anchored while the OTS proof waits for Bitcoin.
    let status = if matches!(ots, Stamped::Stored { .. }) {
        RunStatus::Anchored
    } else {
        RunStatus::Complete
    };
    let outcome = RunOutcome {
        status,
        root: Some(root),
        tree_size: Some(size),
        estimated_cost_micro_usd: go.estimate_micro_usd,
        // The operator's record keeps the detail the public summary leaves out.
        errors: match &ots {
            Stamped::Deferred { detail, .. } => vec![detail.clone()],
            _ => Vec::new(),
        },
    };
    finish(ctx, &run, &ots, tsa.as_ref(), &outcome, anchored_at).await?;
    Ok(Rollup::Anchored {
        status,
        root,
        tree_size: size,
    })
}

/// What the governor let a run do: its anchors, whether OTS waits for the catch-up, the cost
/// estimate, and the kill mode and reason it decided under.
struct Go {
    anchors: Anchors,
    ots_deferred: bool,
    estimate_micro_usd: u64,
    kill: KillMode,
    kill_reason: String,
    plan: Plan,
    /// The tenant's own time-stamping authority, if it has one.
    tsa: Option<ledger::sql::TenantTsa>,
}

/// Step 1: consent, the kill switch, the cost ceiling and the rate limit. `Err` carries what
/// the rollup returns when it may not go now (held for good, or deferred).
async fn govern(
    ctx: &Ctx,
    tenant: &Tenant,
    run: &Run,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Go, Rollup>> {
    if !tenant.anchoring_enabled() {
        let reason = format!(
            "tenant {} is {} and {}: no new anchors",
            tenant.id, tenant.consent, tenant.status
        );
        let public = public::HELD_NOT_ANCHORING;
        hold(ctx, tenant, run, (&reason, public), 0, KillMode::Normal).await?;
        return Ok(Err(Rollup::Held(reason)));
    }
    let facts = facts(ctx, tenant, run, now).await?;
    match scheduler::decide(&facts, &ctx.policy.costs) {
        Decision::Defer { reason } => Ok(Err(Rollup::Deferred {
            reason,
            retry_in: ctx.policy.tick.max(Duration::from_secs(1)) * 4,
        })),
        Decision::Hold { reason } => {
            let estimate = ctx.policy.costs.estimate(facts.wanted);
            let public = public::held(&reason);
            hold(ctx, tenant, run, (&reason, public), estimate, facts.kill).await?;
            Ok(Err(Rollup::Held(reason)))
        }
        Decision::Go {
            anchors,
            ots_deferred,
            estimate_micro_usd,
        } => Ok(Ok(Go {
            anchors,
            ots_deferred,
            estimate_micro_usd,
            kill: facts.kill,
            kill_reason: facts.kill_reason,
            plan: tenant.plan,
            tsa: tenant.tsa.clone(),
        })),
    }
}

/// Step 2: the period's tree (built once, or read back), its tiles (`proofs::tiles`),
/// `root.bin` and the root metadata;
/// returns the root and the tree size. The tree itself is freed here (the sample reads it
/// back from the blob store).
async fn store_tree(ctx: &Ctx, run: &Run, now: DateTime<Utc>) -> Result<(Root, u64)> {
    let (t, p) = (&run.tenant, run.period);
    let (root, size) = {
        let levels = load_or_build_tree(ctx, run).await?;
        // The tiles before the root metadata: a reader that finds `roots/{t}/{p}.json` finds
        // every tile it implies (a crash in between is repaired by the retry, which keeps the
        // tiles already written).
        let written = proofs::tiles::write(&ctx.blobs, t, p, &levels).await?;
        tracing::debug!(created = written.created, kept = written.kept, "tiles");
        (levels.root(), levels.size())
    };
    put_exact(
        ctx,
        &BlobKey::root_artifact(t, &p, RootArtifact::Bin),
        &root.0.0,
    )
    .await?;
    let meta_key = BlobKey::root_meta(t, &p);
    if ctx.blobs.get(&meta_key).await?.is_none() {
        let meta = RootMetadata::new(t.clone(), p, root, size, now)?;
        put_or_keep(ctx, &meta_key, meta.to_json_pretty().into_bytes()).await?;
    }
    Ok((root, size))
}

/// Step 3: OTS and TSA stamps of the root, concurrently. With a TSA anchor in this run a
/// transient OTS failure defers OTS to the catch-up (the root is anchored anyway).
async fn stamp_root(
    ctx: &Ctx,
    run: &Run,
    root: &Root,
    go: &Go,
) -> Result<(Stamped, Option<Stamped>)> {
    let (t, p) = (&run.tenant, run.period);
    let root_digest: [u8; 32] = Sha256::digest(root.0.0).into();
    let (ots, tsa) = tokio::join!(
        async {
            if go.anchors.ots {
                stamp_ots(ctx, t, p, root_digest).await
            } else if go.ots_deferred {
                Ok(Stamped::Deferred {
                    public: public::OTS_DEFERRED_KILL_SWITCH,
                    detail: format!("OTS deferred by the kill switch: {}", go.kill_reason),
                })
            } else {
                Ok(Stamped::NotWanted)
            }
        },
        async {
            if go.anchors.tsa {
                stamp_tsa(ctx, &run.id, go.tsa.as_ref(), t, p, root)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        }
    );
    let tsa = tsa?;
    let ots = match ots {
        Ok(s) => s,
        Err(e) if tsa.is_some() && e.is_transient() => Stamped::Deferred {
            public: public::OTS_DEFERRED_CALENDARS,
            detail: format!("OTS failed, deferred to catch-up: {e}"),
        },
        Err(e) => return Err(e),
    };
    Ok((ots, tsa))
}

/// Step 5: the run summary, appended to the tenant's chain once per root; returns it and its
/// hash.
async fn append_summary(
    ctx: &Ctx,
    run: &Run,
    go: &Go,
    (root, size): (Root, u64),
    coverage: Coverage,
    outcomes: Vec<AnchorOutcome>,
    errors: Vec<String>,
) -> Result<(RunSummary, String)> {
    let manifests = ctx
        .store
        .count_period_manifests(&run.tenant, run.period)
        .await?;
    let body = SummaryBody {
        tenant: run.tenant.clone(),
        period: run.period,
        cadence: run.period.cadence(),
        run_id: run.id.clone(),
        trigger: run.trigger,
        root: Some(root),
        tree_size: size,
        anchors: outcomes,
        // Every leaf's proof is derivable from the stored tree.
        counts: Counts {
            manifests,
            proofs: size,
        },
        coverage,
        estimated_cost_micro_usd: go.estimate_micro_usd,
        errors,
        toggles: Toggles {
            plan: go.plan,
            kill_switch: go.kill,
        },
    };
    summary_once(ctx, body, root).await
}

/// Step 4: the sample verification, from what was stored; a failure fails the run for good.
async fn verify_sample(ctx: &Ctx, run: &Run) -> Result<Coverage> {
    let (n, from) = (ctx.policy.sample_size, crate::sample::Source::Tree);
    match crate::sample::verify_sample(ctx, &run.tenant, run.period, n, from).await {
        Ok(c) => Ok(c),
        Err(e) => {
            crate::sample::fail(ctx, run, &e.to_string()).await?;
            Err(WorkerError::Permanent(format!(
                "sample verification failed: {e}"
            )))
        }
    }
}

/// Step 6: receipt version 1 (create-only) and the latest pointer to it.
async fn write_first_receipt(
    ctx: &Ctx,
    run: &Run,
    root: Root,
    size: u64,
    entries: Vec<AnchorEntry>,
    summary_hash: String,
    anchored_at: DateTime<Utc>,
) -> Result<()> {
    let (t, p) = (&run.tenant, run.period);
    let receipt = Receipt::sign(
        ReceiptBody {
            tenant: t.clone(),
            period: p,
            anchored_at,
            backfilled: run.trigger == Trigger::Backfill
                || is_backfill(p, anchored_at, ctx.policy.grace),
            root,
            tree_size: size,
            anchors: entries,
            run_id: run.id.clone(),
            summary_hash,
            version: 1,
            supersedes: None,
        },
        &ctx.key,
    )?;
    let bytes = receipt.to_json_pretty().into_bytes();
    let v1 = BlobKey::receipt_version(t, &p, 1, ReceiptFormat::Json)?;
    let stored = put_or_keep(ctx, &v1, bytes).await?;
    ctx.checkpoint("receipt-version-written").await;
    // Logged before the latest pointer names it: a receipt anyone can be shown is in the log.
    crate::receipt_log::log_receipt(ctx, t, p, 1, &stored).await?;
    ctx.blobs
        .put_latest(
            &BlobKey::receipt_latest(t, &p, ReceiptFormat::Json),
            &stored,
        )
        .await?;
    ctx.checkpoint("receipt-written").await;
    Ok(())
}

/// The run's end: its anchor rows, its outcome, the tenant's last-anchor note, the upgrade
/// job (OTS pending) and the sample-verify job, and the metrics.
async fn finish(
    ctx: &Ctx,
    run: &Run,
    ots: &Stamped,
    tsa: Option<&Stamped>,
    outcome: &RunOutcome,
    anchored_at: DateTime<Utc>,
) -> Result<()> {
    let (t, p) = (&run.tenant, run.period);
    let root = outcome.root.expect("a finished rollup has a root");
    let now = ctx.now();
    record_anchors(ctx, &run.id, ots, tsa, now).await?;
    ctx.store.finish_run(&run.id, outcome, now).await?;
    ctx.kv
        .set(
            &KvKey::last_anchor(t),
            &serde_json::json!({
                "run": run.id, "period": p.to_string(), "root": root.to_string(),
                "anchored_at": ledger::ids::format_ts(anchored_at),
            })
            .to_string(),
        )
        .await?;
    let status = outcome.status;
    if status == RunStatus::Anchored {
        crate::upgrade::enqueue(ctx, &run.id, 0).await?;
    }
    ctx.queue
        .push(
            Job::SampleVerify {
                run: run.id.clone(),
            },
            Duration::from_secs(1),
        )
        .await?;
    metrics::counter!("runs_finished_total", "status" => status.as_str()).increment(1);
    let latency = (now - p.end()).to_std().unwrap_or_default().as_secs_f64();
    metrics::histogram!("anchor_latency_seconds").record(latency);
    let size = outcome.tree_size.unwrap_or_default();
    tracing::info!(run = %run.id, %root, size, %status, "rollup done");
    Ok(())
}

/// The summary's anchor outcomes, the receipt's anchor entries and the summary's public
/// errors (a deferred OTS's class) for what the stamping step got.
fn describe_anchors(
    ctx: &Ctx,
    ots: &Stamped,
    tsa: Option<&Stamped>,
) -> (Vec<AnchorOutcome>, Vec<AnchorEntry>, Vec<String>) {
    let mut outcomes = Vec::new();
    let mut entries = Vec::new();
    let calendars = ctx.stamping.calendars.calendars.clone();
    let mut errors = Vec::new();
    match ots {
        Stamped::Stored { key, sha256, .. } => {
            outcomes.push(AnchorOutcome {
                kind: AnchorKind::Ots,
                status: AnchorStatus::Pending,
            });
            entries.push(AnchorEntry {
                kind: AnchorKind::Ots,
                status: AnchorStatus::Pending,
                calendars: Some(calendars.clone()),
                tsa_url: None,
                gen_time: None,
                bitcoin: None,
                artifact: Some(Artifact {
                    key: key.to_string(),
                    sha256: sha256.clone(),
                }),
            });
        }
        Stamped::Deferred { public, .. } => {
            errors.push((*public).to_owned());
            outcomes.push(AnchorOutcome {
                kind: AnchorKind::Ots,
                status: AnchorStatus::Skipped,
            });
            entries.push(AnchorEntry {
                kind: AnchorKind::Ots,
                status: AnchorStatus::Skipped,
                calendars: Some(calendars.clone()),
                tsa_url: None,
                gen_time: None,
                bitcoin: None,
                artifact: None,
            });
        }
        Stamped::NotWanted => {}
    }
    if let Some(Stamped::Stored {
        key,
        sha256,
        gen_time,
        url,
    }) = tsa
    {
        outcomes.push(AnchorOutcome {
            kind: AnchorKind::Tsa,
            status: AnchorStatus::Confirmed,
        });
        entries.push(AnchorEntry {
            kind: AnchorKind::Tsa,
            status: AnchorStatus::Confirmed,
            calendars: None,
            tsa_url: url.clone(),
            gen_time: *gen_time,
            bitcoin: None,
            artifact: Some(Artifact {
                key: key.to_string(),
                sha256: sha256.clone(),
            }),
        });
    }
    (outcomes, entries, errors)
}

/// One anchor row per anchor kind the run stamped or deferred.
async fn record_anchors(
    ctx: &Ctx,
    run_id: &str,
    ots: &Stamped,
    tsa: Option<&Stamped>,
    now: DateTime<Utc>,
) -> Result<()> {
    for (kind, stamped) in [(AnchorKind::Ots, Some(ots)), (AnchorKind::Tsa, tsa)] {
        let Some(stamped) = stamped else { continue };
        let row = match stamped {
            Stamped::Stored {
                key,
                sha256,
                gen_time,
                url,
            } => AnchorRow {
                run_id: run_id.to_owned(),
                kind,
                status: if kind == AnchorKind::Tsa {
                    AnchorStatus::Confirmed
                } else {
                    AnchorStatus::Pending
                },
                details: match url {
                    Some(u) => serde_json::json!({
                        "gen_time": gen_time.map(ledger::ids::format_ts), "url": u,
                    }),
                    None => serde_json::json!({ "gen_time": gen_time.map(ledger::ids::format_ts) }),
                },
                artifact_key: Some(key.to_string()),
                artifact_sha256: Some(hex32(sha256)),
                updated_at: now,
            },
            Stamped::Deferred { detail: why, .. } => AnchorRow {
                run_id: run_id.to_owned(),
                kind,
                status: AnchorStatus::Skipped,
                details: serde_json::json!({ "deferred": why }),
                artifact_key: None,
                artifact_sha256: None,
                updated_at: now,
            },
            Stamped::NotWanted => continue,
        };
        ctx.store.put_anchor(&row).await?;
    }
    Ok(())
}

fn hex32(hex: &str) -> [u8; 32] {
    let v = merkle::hash::decode_hex("sha256", hex).expect("we wrote this hex");
    v.try_into().expect("a SHA-256 is 32 bytes")
}

/// Reads the stored tree, or builds it from the store and stores it.
async fn load_or_build_tree(ctx: &Ctx, run: &Run) -> Result<Levels> {
    let key = BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Levels);
    if let Some(bytes) = ctx.blobs.get(&key).await? {
        return Ok(Levels::from_bytes_off_thread(bytes).await?);
    }
    let digests: Vec<ManifestDigest> = ctx.store.period_digests(&run.tenant, run.period).await?;
    if digests.is_empty() {
        return Err(WorkerError::Permanent(format!(
            "period {} of {} has no manifests",
            run.period, run.tenant
        )));
    }
    let levels = tokio::task::spawn_blocking(move || Levels::build(digests))
        .await
        .map_err(|e| WorkerError::Permanent(format!("tree task: {e}")))??;
    // Written without a second copy of the bytes (the tree of 1M leaves is 64 MiB).
    match ctx.blobs.put_new(&key, &levels.to_bytes()).await {
        Ok(PutOutcome::Created | PutOutcome::AlreadyIdentical) => Ok(levels),
        // Another attempt stored its tree first: that one is the period's tree.
        Err(ledger::LedgerError::Conflict { .. }) => {
            drop(levels);
            let stored = ctx.blobs.get(&key).await?.ok_or_else(|| {
                WorkerError::Transient(format!("{key}: conflict reported but the key is empty"))
            })?;
            Ok(Levels::from_bytes_off_thread(stored).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// OTS: reuse a stored `root.ots`, or submit to the calendars (m of n) and store the answer.
/// Success and failure feed the automatic calendar-outage switch.
async fn stamp_ots(
    ctx: &Ctx,
    t: &ledger::TenantId,
    p: Period,
    digest: [u8; 32],
) -> Result<Stamped> {
    let key = BlobKey::root_artifact(t, &p, RootArtifact::Ots);
    if let Some(bytes) = ctx.blobs.get(&key).await? {
        return Ok(Stamped::Stored {
            sha256: sha256_hex(&bytes),
            key,
            gen_time: None,
            url: None,
        });
    }
    match stamp::calendar::stamp(&ctx.stamping.http, &ctx.stamping.calendars, digest).await {
        Ok((file, report)) => {
            crate::outage::calendars_answered(ctx).await?;
            tracing::info!(
                ok = report.ok_count(),
                of = ctx.stamping.calendars.calendars.len(),
                "ots stamped"
            );
            let stored = put_or_keep(ctx, &key, file.to_bytes()?).await?;
            Ok(Stamped::Stored {
                sha256: sha256_hex(&stored),
                key,
                gen_time: None,
                url: None,
            })
        }
        Err(e) => {
            crate::outage::calendars_failed(ctx, &e.to_string()).await?;
            Err(e.into())
        }
    }
}

/// RFC 3161: reuse a stored `root.tsr` (re-checked), or request one and store it, from the
/// configured authorities in order (failover: the first that grants a checked token).
///
/// Which authority granted it goes into the receipt. Before asking each one, the run's TSA
/// anchor row is written `pending` naming it, so a worker that crashes after storing the
/// reply and before the receipt finds, on its retry, the authority the stored reply came from.
async fn stamp_tsa(
    ctx: &Ctx,
    run_id: &str,
    own: Option<&ledger::sql::TenantTsa>,
    t: &ledger::TenantId,
    p: Period,
    root: &Root,
) -> Result<Stamped> {
    let tenant_tsa;
    let tsa = match (own, &ctx.stamping.tsa) {
        (Some(own), fleet) => {
            tenant_tsa = crate::ctx::Tsa::for_tenant(own, fleet.as_ref())?;
            &tenant_tsa
        }
        (None, Some(fleet)) => fleet,
        (None, None) => {
            return Err(WorkerError::Permanent(
                "this run needs an RFC 3161 anchor but no TSA is configured (LEDGER_TSA_URL)"
                    .into(),
            ));
        }
    };
    let key = BlobKey::root_artifact(t, &p, RootArtifact::Tsr);
    let imprint = MessageImprint::of_data(HashAlg::Sha256, &root.0.0);
    let checks = tsa.verify()?;
    let (reply, url) = if let Some(bytes) = ctx.blobs.get(&key).await? {
        (bytes, requested_from(ctx, run_id, tsa).await?)
    } else {
        let request = TimeStampRequest::new(imprint.clone(), tsa.policy.clone());
        let mut failures = Vec::new();
        let mut granted = None;
        for client in &tsa.clients {
            ctx.store
                .put_anchor(&AnchorRow {
                    run_id: run_id.to_owned(),
                    kind: AnchorKind::Tsa,
                    status: AnchorStatus::Pending,
                    details: serde_json::json!({ "url": client.url, "requesting": true }),
                    artifact_key: None,
                    artifact_sha256: None,
                    updated_at: ctx.now(),
                })
                .await?;
            match client.stamp(&request, &checks).await {
                Ok(stamped) => {
                    granted = Some((
                        put_or_keep(ctx, &key, stamped.reply).await?,
                        client.url.clone(),
                    ));
                    break;
                }
                Err(e) => {
                    tracing::warn!(tsa = %client.url, error = %e, "time-stamping authority failed; trying the next");
                    failures.push((client.url.clone(), e));
                }
            }
        }
        let Some(g) = granted else {
            let (_, last) = failures.pop().expect("at least one authority was asked");
            return Err(last.into());
        };
        g
    };
    let resp = TimeStampResponse::from_der(&reply)?;
    let token = stamp::tsp::granted_token(&resp, &checks)?;
    let verified = stamp::tsp::verify_token(token, &imprint, None, &checks)?;
    Ok(Stamped::Stored {
        sha256: sha256_hex(&reply),
        key,
        gen_time: Some(verified.info.gen_time),
        url: Some(url),
    })
}

/// The authority a stored `root.tsr` came from: the one the run's TSA anchor row names (written
/// before asking it); the first configured one for a reply stored before rows named it.
async fn requested_from(ctx: &Ctx, run_id: &str, tsa: &crate::ctx::Tsa) -> Result<String> {
    let named = ctx
        .store
        .anchors(run_id)
        .await?
        .into_iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .and_then(|a| a.details["url"].as_str().map(str::to_owned));
    Ok(named.unwrap_or_else(|| tsa.clients[0].url.clone()))
}

/// Appends the run's summary unless one for this root is already in the chain (a retry
/// after a crash between the append and the run's update).
/// Returns the summary and the hex SHA-256 of its exact bytes.
async fn summary_once(ctx: &Ctx, body: SummaryBody, root: Root) -> Result<(RunSummary, String)> {
    for row in ctx.store.run_summaries(&body.tenant, &body.run_id).await? {
        let s = RunSummary::from_bytes(&row.bytes)?;
        if s.root == Some(root) && s.anchors.iter().all(|a| a.status != AnchorStatus::Failed) {
            return Ok((s, merkle::Hash(row.hash).to_hex()));
        }
    }
    let signed = ctx.store.append_summary(body, &ctx.key, ctx.now()).await?;
    let hash = signed.hash_hex();
    Ok((signed.summary, hash))
}

/// Records a held run and its summary (no root).
async fn hold(
    ctx: &Ctx,
    tenant: &Tenant,
    run: &Run,
    (reason, public): (&str, &str),
    estimate: u64,
    kill: KillMode,
) -> Result<()> {
    let now = ctx.now();
    ctx.store.start_run(&run.id, now).await?;
    append_outcome_summary(
        ctx,
        tenant,
        run,
        None,
        vec![public.to_owned()],
        estimate,
        kill,
    )
    .await?;
    ctx.store
        .finish_run(
            &run.id,
            &RunOutcome {
                status: RunStatus::Held,
                root: None,
                tree_size: None,
                estimated_cost_micro_usd: estimate,
                errors: vec![reason.to_owned()],
            },
            now,
        )
        .await?;
    metrics::counter!("runs_finished_total", "status" => "held").increment(1);
    tracing::warn!(run = %run.id, reason, "run held");
    Ok(())
}

/// A summary for a run that anchored nothing (held or failed).
pub(crate) async fn append_outcome_summary(
    ctx: &Ctx,
    tenant: &Tenant,
    run: &Run,
    root: Option<(Root, u64)>,
    errors: Vec<String>,
    estimate: u64,
    kill: KillMode,
) -> Result<()> {
    let body = SummaryBody {
        tenant: tenant.id.clone(),
        period: run.period,
        cadence: run.period.cadence(),
        run_id: run.id.clone(),
        trigger: run.trigger,
        root: root.map(|r| r.0),
        tree_size: root.map_or(0, |r| r.1),
        anchors: Vec::new(),
        counts: Counts {
            manifests: ctx
                .store
                .count_period_manifests(&tenant.id, run.period)
                .await?,
            proofs: 0,
        },
        coverage: Coverage {
            sampled: 0,
            verified: 0,
        },
        estimated_cost_micro_usd: estimate,
        errors,
        toggles: Toggles {
            plan: tenant.plan,
            kill_switch: kill,
        },
    };
    ctx.store.append_summary(body, &ctx.key, ctx.now()).await?;
    Ok(())
}
