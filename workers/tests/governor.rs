//! The governor (`scheduler::decide`) as the rollup applies it: the monthly cost ceiling holds
//! a run (never crossed, equality allowed) and the rate limit defers one.

mod common;

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::sql::RunStatus;
use ledger::{KillMode, Plan, Trigger};
use workers::job::Job;
use workers::rollup::Rollup;

/// Pro: weekly OTS + RFC 3161 at the default unit costs ($0.001 + $0.02).
const PRO_RUN: u64 = 21_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_would_cross_the_monthly_ceiling_is_held_with_its_reason_in_the_run_and_the_chain()
 {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    // Room for exactly two runs: the second lands on the ceiling, which is allowed.
    let t = common::tenant(
        ctx,
        "thrifty",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        2 * PRO_RUN,
        0,
    )
    .await;
    let weeks = [
        common::week_ago(4),
        common::week_ago(3),
        common::week_ago(2),
    ];
    for w in weeks {
        common::manifests(ctx, &t, w, 6).await;
    }
    let report = fleet.tick().await;
    assert_eq!(report.enqueued.len(), 3, "{report:?}");

    for w in &weeks[..2] {
        let out = common::rollup(ctx, &common::run_id(&t, *w)).await;
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
    }
    let spent: u64 = ctx
        .store
        .runs(&ledger::sql::RunFilter {
            tenant: Some(t.clone()),
            status: Some(RunStatus::Anchored),
            limit: None,
        })
        .await
        .unwrap()
        .iter()
        .map(|r| r.estimated_cost_micro_usd)
        .sum();
    assert_eq!(
        spent,
        t_ceiling(ctx, &t).await,
        "the ceiling is reached exactly"
    );

    let held_id = common::run_id(&t, weeks[2]);
    let out = common::rollup(ctx, &held_id).await;
    let Rollup::Held(reason) = out else {
        panic!("expected the run to be held, got {out:?}")
    };
    assert!(reason.starts_with("cost ceiling"), "{reason}");
    assert!(
        reason.contains("$0.021") && reason.contains("$0.042"),
        "the reason names the estimate, the spend and the ceiling: {reason}"
    );

    let run = ctx.store.run(&held_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Held);
    assert_eq!(run.errors, vec![reason.clone()]);
    assert_eq!((run.root, run.tree_size), (None, None));

    let summaries = common::summaries_of(ctx, &t, &held_id).await;
    assert_eq!(summaries.len(), 1, "one summary records the hold");
    let s = &summaries[0];
    // The public summary names the class; the amounts stay in the operator's run row.
    assert_eq!(
        s.errors,
        vec![workers::public::HELD_COST_CEILING.to_owned()]
    );
    assert_eq!((s.root, s.tree_size), (None, 0));
    assert!(s.anchors.is_empty());
    assert_eq!(s.counts.manifests, 6);
    assert_eq!(s.estimated_cost_micro_usd, PRO_RUN);
    assert_eq!(s.trigger, Trigger::Scheduled);
    assert_eq!(s.toggles.kill_switch, KillMode::Normal);
    assert_eq!(common::assert_chain_verifies(ctx, &t).await, 3);

    common::assert_nothing_written(ctx, &t, weeks[2]).await;
    assert!(
        ctx.kv
            .get(&ledger::kv::KvKey::last_anchor(&t))
            .await
            .unwrap()
            .is_some_and(|v| v.contains(&weeks[1].to_string())),
        "the last anchor is still the last run that went through"
    );
}

async fn t_ceiling(ctx: &workers::Ctx, t: &ledger::TenantId) -> u64 {
    ctx.store.tenant(t).await.unwrap().cost_ceiling_micro_usd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_max_roots_per_period_is_deferred_not_held_and_writes_nothing() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "one-a-day",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        1,
    )
    .await;
    let (first, second) = (common::week_ago(3), common::week_ago(2));
    common::manifests(ctx, &t, first, 3).await;
    common::manifests(ctx, &t, second, 3).await;
    fleet.tick().await;

    let out = common::rollup(ctx, &common::run_id(&t, first)).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");

    let id = common::run_id(&t, second);
    let out = common::rollup(ctx, &id).await;
    let Rollup::Deferred { reason, retry_in } = out else {
        panic!("expected a deferral, got {out:?}")
    };
    assert!(reason.starts_with("rate limit: 1 of max 1"), "{reason}");
    assert_eq!(retry_in, StdDuration::from_secs(4), "four ticks of 1 s");

    // Not held, not failed, not even started: the run waits in the queue.
    let run = ctx.store.run(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!((run.attempt, run.started_at), (0, None));
    assert!(run.errors.is_empty());
    assert!(common::summaries_of(ctx, &t, &id).await.is_empty());
    common::assert_nothing_written(ctx, &t, second).await;

    // Through the job handler, the deferral asks for the rollup again after `retry_in` and
    // records that the run may not run before then, so the reaper leaves it alone.
    let before = Utc::now();
    let out = workers::handler::rollup_leased(ctx, &id).await;
    let result = out.result.unwrap();
    assert!(
        matches!(result, Some(Rollup::Deferred { .. })),
        "{result:?}"
    );
    let next = out.follow_up.expect("a deferral asks for a later rollup");
    assert!(
        matches!(&next.job, Job::Rollup { run, via } if *run == id && via.starts_with("deferred-")),
        "{next:?}"
    );
    assert!(next.delay >= std::time::Duration::from_secs(3), "{next:?}");
    let not_before = ctx
        .store
        .run(&id)
        .await
        .unwrap()
        .not_before
        .expect("not_before set");
    assert!(
        not_before >= before + Duration::from_std(next.delay).unwrap()
            && not_before <= Utc::now() + Duration::from_std(next.delay).unwrap(),
        "not_before {not_before} is the deferral's end"
    );
    let run = ctx.store.run(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    common::assert_nothing_written(ctx, &t, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_root_per_period_lets_an_enterprise_tenant_anchor_its_daily_and_its_weekly_root_the_same_day()
 {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "both-cadences",
        Plan::Enterprise,
        Utc::now() - Duration::days(40),
        50_000_000,
        1,
    )
    .await;
    // A closed week and a closed day in it: one weekly (TSA) and one daily (OTS) run.
    let week = common::week_ago(1);
    let day = ledger::Period::containing(ledger::Cadence::Daily, week.start());
    let other_day = day.next();
    for d in [day, other_day] {
        common::manifests(ctx, &t, d, 3).await;
    }
    let now = Utc::now();
    for period in [day, week] {
        ctx.store
            .create_run(&t, period, Trigger::Manual, now)
            .await
            .unwrap();
    }
    for period in [day, week] {
        let out = common::rollup(ctx, &common::run_id(&t, period)).await;
        assert!(matches!(out, Rollup::Anchored { .. }), "{period}: {out:?}");
    }
    // A second daily root the same day is over the daily allowance of one.
    ctx.store
        .create_run(&t, other_day, Trigger::Manual, now)
        .await
        .unwrap();
    let out = common::rollup(ctx, &common::run_id(&t, other_day)).await;
    let Rollup::Deferred { reason, .. } = out else {
        panic!("expected a deferral, got {out:?}")
    };
    assert!(reason.starts_with("rate limit: 1 of max 1"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_runs_are_neither_counted_nor_limited_by_max_roots_per_period() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "backfilled",
        Plan::Pro,
        Utc::now() - Duration::days(80),
        50_000_000,
        1,
    )
    .await;
    let weeks = [
        common::week_ago(6),
        common::week_ago(5),
        common::week_ago(4),
    ];
    let now = Utc::now();
    for week in weeks {
        common::manifests(ctx, &t, week, 2).await;
        ctx.store
            .create_run(&t, week, Trigger::Backfill, now)
            .await
            .unwrap();
    }
    for week in weeks {
        let out = common::rollup(ctx, &common::run_id(&t, week)).await;
        assert!(matches!(out, Rollup::Anchored { .. }), "{week}: {out:?}");
    }
    // And the backfill took nothing from the tenant's own allowance this week.
    let scheduled = common::week_ago(2);
    common::manifests(ctx, &t, scheduled, 2).await;
    ctx.store
        .create_run(&t, scheduled, Trigger::Scheduled, now)
        .await
        .unwrap();
    let out = common::rollup(ctx, &common::run_id(&t, scheduled)).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
}
