//! Backfills end to end: the tick asks for a step, a step creates runs as the token bucket
//! and the cost ceiling allow, strictly in order; cancel and resume; backfilled receipts.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::Fleet;
use ledger::kv::KvKey;
use ledger::sql::{Backfill, BackfillStatus, NewBackfill, RunStatus};
use ledger::{Period, Plan, TenantId, Trigger};
use workers::Ctx;
use workers::job::Job;
use workers::rollup::Rollup;

/// Pro: weekly OTS + RFC 3161 at the default unit costs.
const PRO_RUN: u64 = 21_000;

/// A pro tenant created an hour ago, with `per_week` manifests in each of the four weeks
/// 5, 4, 3 and 2 weeks back (oldest first): periods wholly before the tenant existed, which
/// the scheduler leaves to a backfill.
async fn old_tenant(fleet: &Fleet, name: &str, per_week: u32) -> (TenantId, Vec<Period>) {
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        name,
        Plan::Pro,
        Utc::now() - Duration::hours(1),
        50_000_000,
        0,
    )
    .await;
    let weeks: Vec<Period> = (2..=5).rev().map(common::week_ago).collect();
    for w in &weeks {
        common::manifests(ctx, &t, *w, per_week).await;
    }
    let report = fleet.tick().await;
    assert!(
        report.enqueued.is_empty(),
        "periods before the tenant existed are not the scheduler's: {report:?}"
    );
    (t, weeks)
}

async fn create(ctx: &Ctx, id: &str, t: &TenantId, weeks: &[Period], per_hour: u64, ceiling: u64) {
    ctx.store
        .create_backfill(
            &NewBackfill {
                id: id.into(),
                tenant: t.clone(),
                from: weeks[0].first_day(),
                to: weeks[weeks.len() - 1].end_day() - Duration::days(1),
                manifests_per_hour: per_hour,
                cost_ceiling_micro_usd: ceiling,
            },
            Utc::now(),
        )
        .await
        .unwrap();
}

/// One scheduler tick, then the backfill step jobs that tick enqueued, as a worker runs
/// them. Returns how many backfills the tick asked to step.
async fn tick_and_step(fleet: &Fleet) -> usize {
    let before: Vec<Job> = fleet
        .queued_jobs()
        .await
        .into_iter()
        .map(|(j, _)| j)
        .collect();
    let report = fleet.tick().await;
    let mut stepped = 0;
    for (job, _) in fleet.queued_jobs().await {
        if matches!(job, Job::Backfill { .. }) && !before.contains(&job) {
            fleet.consume(&job).await;
            workers::handler::dispatch(&fleet.ctx, &job)
                .await
                .result
                .unwrap();
            stepped += 1;
        }
    }
    assert_eq!(stepped, report.backfills);
    report.backfills
}

async fn backfill(ctx: &Ctx, id: &str) -> Backfill {
    ctx.store.backfill(id).await.unwrap()
}

/// Which of `weeks` have a run, and whether each was made by the backfill.
async fn runs_of(ctx: &Ctx, t: &TenantId, weeks: &[Period]) -> Vec<bool> {
    let mut out = Vec::new();
    for w in weeks {
        let run = ctx.store.find_run(t, *w).await.unwrap();
        if let Some(r) = &run {
            assert_eq!(r.trigger, Trigger::Backfill);
        }
        out.push(run.is_some());
    }
    out
}

/// Pretends the backfill's token bucket last refilled `ago` earlier than stored (the clock
/// moved on), without touching its level.
async fn age_bucket(ctx: &Ctx, id: &str, ago: Duration) {
    let key = KvKey::state(&format!("backfill-bucket:{id}")).unwrap();
    let json = ctx.kv.get(&key).await.unwrap().expect("a stored bucket");
    let mut bucket: serde_json::Value = serde_json::from_str(&json).unwrap();
    let at: DateTime<Utc> = bucket["at"].as_str().unwrap().parse().unwrap();
    bucket["at"] = serde_json::Value::String((at - ago).to_rfc3339());
    ctx.kv.set(&key, &bucket.to_string()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_creates_runs_in_order_as_its_token_bucket_allows_and_its_receipts_say_backfilled()
 {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let (t, weeks) = old_tenant(&fleet, "late-co", 3).await;
    // 7 manifests an hour: the full bucket holds two 3-manifest weeks, not three.
    create(ctx, "bf-paced", &t, &weeks, 7, 1_000_000).await;
    assert_eq!(
        backfill(ctx, "bf-paced").await.status,
        BackfillStatus::Queued
    );

    assert_eq!(tick_and_step(&fleet).await, 1);
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    let b = backfill(ctx, "bf-paced").await;
    assert_eq!(b.status, BackfillStatus::Running);
    assert_eq!(
        (b.periods_total, b.periods_done, b.manifests_done),
        (4, 2, 6)
    );
    assert_eq!(b.cost_spent_micro_usd, 2 * PRO_RUN);
    let queued = fleet.queued_jobs().await;
    for w in &weeks[..2] {
        assert!(queued.iter().any(|(j, _)| *j
            == Job::Rollup {
                run: common::run_id(&t, *w),
                via: "backfill-bf-paced".into()
            }));
    }

    // Moments later the bucket has not refilled enough for the next 3 manifests.
    assert_eq!(tick_and_step(&fleet).await, 1);
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    assert_eq!(backfill(ctx, "bf-paced").await.periods_done, 2);

    // An hour later it has: the remaining weeks go, oldest first.
    age_bucket(ctx, "bf-paced", Duration::hours(1)).await;
    tick_and_step(&fleet).await;
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true; 4]);
    let b = backfill(ctx, "bf-paced").await;
    assert_eq!(
        (b.periods_total, b.periods_done, b.manifests_done),
        (4, 4, 12)
    );
    assert_eq!(b.cost_spent_micro_usd, 4 * PRO_RUN);

    // Nothing left: the backfill is done and the tick stops asking for it.
    tick_and_step(&fleet).await;
    assert_eq!(backfill(ctx, "bf-paced").await.status, BackfillStatus::Done);
    assert_eq!(tick_and_step(&fleet).await, 0);

    // The backfilled runs anchor now, and their receipts say so plainly.
    let started = Utc::now();
    for w in &weeks {
        let out = common::rollup(ctx, &common::run_id(&t, *w)).await;
        assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
        let r = common::receipt(ctx, &t, *w, 1).await;
        assert!(r.backfilled, "{w}");
        assert_eq!(r.covered.to, w.end());
        assert!(r.anchored_at > w.end(), "anchored after the period");
        assert!(
            r.anchored_at >= started - Duration::milliseconds(1),
            "never backdated: {} < {started}",
            r.anchored_at
        );
        let s = common::summaries_of(ctx, &t, &r.run_id).await;
        assert_eq!(s[0].trigger, Trigger::Backfill);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_stops_before_its_cost_ceiling_would_be_crossed_and_a_resume_rechecks_it() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let (t, weeks) = old_tenant(&fleet, "capped-co", 2).await;
    // Plenty of tokens; money for two weeks and a bit, not three.
    create(ctx, "bf-capped", &t, &weeks, 1_000, 2 * PRO_RUN + 8_000).await;

    tick_and_step(&fleet).await;
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    assert_eq!(
        backfill(ctx, "bf-capped").await.status,
        BackfillStatus::Running
    );

    tick_and_step(&fleet).await;
    let b = backfill(ctx, "bf-capped").await;
    assert_eq!(b.status, BackfillStatus::Stopped);
    let reason = b.reason.unwrap();
    assert!(reason.starts_with("cost ceiling"), "{reason}");
    assert!(reason.contains(&weeks[2].to_string()), "{reason}");
    assert_eq!(b.cost_spent_micro_usd, 2 * PRO_RUN, "never crossed");
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    assert_eq!(
        tick_and_step(&fleet).await,
        0,
        "a stopped backfill is not stepped"
    );

    // The operator resumes it: the tick steps it again, and the step checks the ceiling
    // before anything else, so it stops again without a run and without spending tokens.
    let key = KvKey::state("backfill-bucket:bf-capped").unwrap();
    let bucket = ctx.kv.get(&key).await.unwrap();
    ctx.store
        .set_backfill_status(
            "bf-capped",
            BackfillStatus::Queued,
            Some("resumed by the operator"),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(tick_and_step(&fleet).await, 1);
    let b = backfill(ctx, "bf-capped").await;
    assert_eq!(b.status, BackfillStatus::Stopped);
    assert!(b.reason.unwrap().starts_with("cost ceiling"));
    assert_eq!(b.periods_done, 2);
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    let level = |json: Option<String>| {
        serde_json::from_str::<serde_json::Value>(&json.unwrap()).unwrap()["level"].clone()
    };
    assert_eq!(level(ctx.kv.get(&key).await.unwrap()), level(bucket));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_backfill_continues_from_where_it_stopped() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let (t, weeks) = old_tenant(&fleet, "paused-co", 2).await;
    // Two weeks per hour (capacity 4 manifests).
    create(ctx, "bf-resume", &t, &weeks, 4, 1_000_000).await;
    tick_and_step(&fleet).await;
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);

    // Stopped (set through the store: the state a step's stop leaves), then resumed by the
    // operator: queued again, the next tick steps it, and it goes on with the weeks it has
    // not done, in order.
    ctx.store
        .set_backfill_status(
            "bf-resume",
            BackfillStatus::Stopped,
            Some("test: stopped"),
            Utc::now(),
        )
        .await
        .unwrap();
    age_bucket(ctx, "bf-resume", Duration::hours(1)).await;
    assert_eq!(tick_and_step(&fleet).await, 0, "stopped: not stepped");
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, true, false, false]);
    ctx.store
        .set_backfill_status(
            "bf-resume",
            BackfillStatus::Queued,
            Some("resumed by the operator"),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(tick_and_step(&fleet).await, 1);
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true; 4]);
    let b = backfill(ctx, "bf-resume").await;
    assert_eq!(b.status, BackfillStatus::Running);
    assert_eq!((b.periods_total, b.periods_done), (4, 4));
    tick_and_step(&fleet).await;
    assert_eq!(
        backfill(ctx, "bf-resume").await.status,
        BackfillStatus::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_backfill_creates_no_further_runs_and_cannot_be_resumed() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let (t, weeks) = old_tenant(&fleet, "cancel-co", 2).await;
    // Three manifests an hour: one 2-manifest week now, the next one later.
    create(ctx, "bf-cancel", &t, &weeks, 3, 1_000_000).await;
    tick_and_step(&fleet).await;
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, false, false, false]);

    ctx.store
        .set_backfill_status(
            "bf-cancel",
            BackfillStatus::Cancelled,
            Some("cancelled by the operator"),
            Utc::now(),
        )
        .await
        .unwrap();
    // Tokens would allow more now, but nothing more is created, even by a step job that
    // was already in the queue.
    age_bucket(ctx, "bf-cancel", Duration::hours(5)).await;
    assert_eq!(tick_and_step(&fleet).await, 0);
    workers::handler::dispatch(
        ctx,
        &Job::Backfill {
            id: "bf-cancel".into(),
            tick: 0,
        },
    )
    .await
    .result
    .unwrap();
    assert_eq!(runs_of(ctx, &t, &weeks).await, [true, false, false, false]);
    let b = backfill(ctx, "bf-cancel").await;
    assert_eq!(b.status, BackfillStatus::Cancelled);
    assert_eq!(b.periods_done, 1);

    let resumed = ctx
        .store
        .set_backfill_status(
            "bf-cancel",
            BackfillStatus::Queued,
            Some("resumed by the operator"),
            Utc::now(),
        )
        .await;
    assert!(
        matches!(resumed, Err(ledger::LedgerError::Conflict { .. })),
        "{resumed:?}"
    );

    // The run created before the cancel is not withdrawn: it anchors as a backfill.
    let out = common::rollup(ctx, &common::run_id(&t, weeks[0])).await;
    assert!(
        matches!(
            out,
            Rollup::Anchored {
                status: RunStatus::Anchored,
                ..
            }
        ),
        "{out:?}"
    );
    assert!(common::receipt(ctx, &t, weeks[0], 1).await.backfilled);
}
