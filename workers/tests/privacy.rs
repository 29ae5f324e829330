//! Run summaries are public (a public tenant's chain is served to anyone): they carry error
//! classes (`workers::public`), never the operator's details. Canary strings planted where
//! the details come from (the kill switch's reason and account, a tenant's status) must not
//! appear in the tenant's exported chain, while the operator's own records keep them.

mod common;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::sql::{ConsentAction, KillScope, KillState};
use ledger::{KillMode, Plan};
use workers::rollup::Rollup;

const REASON_CANARY: &str = "canary-reason-7f3a: db01.corp.internal maintenance";
const ACTOR_CANARY: &str = "canary-operator-jdoe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_chain_names_error_classes_and_never_the_operators_reason_or_account() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    ctx.store
        .set_kill_switch(&KillState {
            scope: KillScope::Global,
            mode: KillMode::TsaOnly,
            reason: REASON_CANARY.into(),
            actor: ACTOR_CANARY.into(),
            at: Utc::now(),
        })
        .await
        .unwrap();
    let t = common::tenant(
        ctx,
        "private-details",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let (deferred, held) = (common::week_ago(3), common::week_ago(2));
    common::manifests(ctx, &t, deferred, 3).await;
    common::manifests(ctx, &t, held, 3).await;
    fleet.tick().await;

    // TSA now, OTS deferred by the operator's kill switch.
    let out = common::rollup(ctx, &common::run_id(&t, deferred)).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    // Then the tenant opts out: the queued run is held.
    common::consent(ctx, &t, ConsentAction::OptOut, Utc::now()).await;
    let out = common::rollup(ctx, &common::run_id(&t, held)).await;
    assert!(matches!(out, Rollup::Held(_)), "{out:?}");

    for (period, class) in [
        (deferred, workers::public::OTS_DEFERRED_KILL_SWITCH),
        (held, workers::public::HELD_NOT_ANCHORING),
    ] {
        let errors: Vec<String> = common::summaries_of(ctx, &t, &common::run_id(&t, period))
            .await
            .into_iter()
            .flat_map(|s| s.errors)
            .collect();
        assert_eq!(errors, vec![class.to_owned()], "{period}");
    }
    let chain = String::from_utf8(ctx.store.export_jsonl(&t).await.unwrap()).unwrap();
    assert_eq!(chain.lines().count(), 2, "{chain}");
    for canary in [
        REASON_CANARY,
        "db01.corp.internal",
        ACTOR_CANARY,
        "opted_out",
    ] {
        assert!(
            !chain.contains(canary),
            "the public chain holds {canary:?}:\n{chain}"
        );
    }
    // The operator's records keep the details.
    let held_row = ctx.store.run(&common::run_id(&t, held)).await.unwrap();
    assert!(
        held_row.errors.iter().any(|e| e.contains("opted_out")),
        "{:?}",
        held_row.errors
    );
    let anchors = ctx
        .store
        .anchors(&common::run_id(&t, deferred))
        .await
        .unwrap();
    assert!(
        anchors
            .iter()
            .any(|a| a.details.to_string().contains(REASON_CANARY)),
        "{anchors:?}"
    );
}
