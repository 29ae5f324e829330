//! Consent: opting out stops new anchors (no new runs, a queued run is held with a reason)
//! and keeps the history (earlier runs, receipts, summaries and the consent log).

mod common;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::Plan;
use ledger::blob::RootArtifact;
use ledger::sql::{BackfillStatus, ConsentAction, NewBackfill, RunStatus};
use workers::rollup::Rollup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_opt_out_no_new_runs_are_created_a_queued_run_is_held_and_history_stays_readable()
{
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "leaving-co",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let (old, queued, later) = (
        common::week_ago(4),
        common::week_ago(3),
        common::week_ago(2),
    );
    common::manifests(ctx, &t, old, 4).await;
    common::manifests(ctx, &t, queued, 4).await;
    let report = fleet.tick().await;
    assert_eq!(report.enqueued.len(), 2, "{report:?}");
    let old_id = common::run_id(&t, old);
    let out = common::rollup(ctx, &old_id).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    let receipt_before = common::latest_receipt_bytes(ctx, &t, old).await.unwrap();

    common::consent(ctx, &t, ConsentAction::OptOut, Utc::now()).await;

    // The run that was already queued is held, with the reason, in its row and its summary.
    let queued_id = common::run_id(&t, queued);
    let out = common::rollup(ctx, &queued_id).await;
    let Rollup::Held(reason) = out else {
        panic!("expected a hold, got {out:?}")
    };
    assert!(reason.contains("opted_out"), "{reason}");
    assert!(reason.contains("no new anchors"), "{reason}");
    let run = ctx.store.run(&queued_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Held);
    assert_eq!(run.errors, vec![reason.clone()]);
    let s = common::summaries_of(ctx, &t, &queued_id).await;
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].root, s[0].errors.clone()),
        (None, vec![workers::public::HELD_NOT_ANCHORING.to_owned()])
    );
    common::assert_nothing_written(ctx, &t, queued).await;

    // New manifests keep arriving, but the scheduler creates no run for an opted-out tenant.
    common::manifests(ctx, &t, later, 4).await;
    let report = fleet.tick().await;
    assert!(report.enqueued.is_empty(), "{report:?}");
    assert!(ctx.store.find_run(&t, later).await.unwrap().is_none());

    // History is kept: the earlier run, its artifacts and receipt, the chain, the consent log.
    let run = ctx.store.run(&old_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Anchored);
    assert_eq!(
        common::latest_receipt_bytes(ctx, &t, old).await.unwrap(),
        receipt_before
    );
    let r = common::receipt(ctx, &t, old, 1).await;
    assert_eq!(Some(r.root), run.root);
    assert!(
        common::root_artifact(ctx, &t, old, RootArtifact::Bin)
            .await
            .is_some()
    );
    assert_eq!(common::assert_chain_verifies(ctx, &t).await, 2);
    let log: Vec<ConsentAction> = ctx
        .store
        .consent_log(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(log, [ConsentAction::OptIn, ConsentAction::OptOut]);

    // Opting in again resumes scheduling (so the empty tick above was the opt-out's doing).
    common::consent(ctx, &t, ConsentAction::OptIn, Utc::now()).await;
    let report = fleet.tick().await;
    assert_eq!(report.enqueued, vec![common::run_id(&t, later)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_waits_while_its_tenant_is_opted_out_and_goes_on_after_an_opt_in() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "on-off-co",
        Plan::Pro,
        Utc::now() - Duration::hours(1),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(5);
    common::manifests(ctx, &t, week, 3).await;
    ctx.store
        .create_backfill(
            &NewBackfill {
                id: "bf-consent".into(),
                tenant: t.clone(),
                from: week.first_day(),
                to: week.end_day() - Duration::days(1),
                manifests_per_hour: 100,
                cost_ceiling_micro_usd: 1_000_000,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    common::consent(ctx, &t, ConsentAction::OptOut, Utc::now()).await;

    // Opted out: the step creates no run (which could only be held), spends nothing.
    workers::backfill::step(ctx, "bf-consent").await.unwrap();
    assert!(ctx.store.find_run(&t, week).await.unwrap().is_none());
    let b = ctx.store.backfill("bf-consent").await.unwrap();
    assert_eq!(b.status, BackfillStatus::Queued);
    assert_eq!((b.periods_done, b.cost_spent_micro_usd), (0, 0));

    // Opted in again: the backfill goes on and its run anchors.
    common::consent(ctx, &t, ConsentAction::OptIn, Utc::now()).await;
    workers::backfill::step(ctx, "bf-consent").await.unwrap();
    let run = ctx.store.find_run(&t, week).await.unwrap().expect("a run");
    assert_eq!(run.trigger, ledger::Trigger::Backfill);
    assert_eq!(
        ctx.store.backfill("bf-consent").await.unwrap().periods_done,
        1
    );
    let out = common::rollup(ctx, &run.id).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
}
