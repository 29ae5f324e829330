//! The automatic calendar-outage switch (workers/src/outage.rs) and the OTS catch-up job
//! (workers/src/catchup.rs), end to end: rollups against calendars that fail, the global kill
//! switch going to tsa-only, TSA-only receipts, the calendars coming back, receipt version 2.

mod common;

use chrono::{Duration, Utc};
use common::{Fleet, calendar_down, calendar_up, submissions};
use ledger::blob::RootArtifact;
use ledger::formats::sha256_hex;
use ledger::sql::{KillScope, KillState, RunStatus};
use ledger::{AnchorKind, AnchorStatus, KillMode, Period, Plan, TenantId};
use sha2::{Digest as _, Sha256};
use wiremock::MockServer;
use workers::Ctx;
use workers::job::Job;
use workers::outage::AUTO_ACTOR;
use workers::rollup::Rollup;

const USD_50: u64 = 50_000_000;

async fn global(ctx: &Ctx) -> Option<KillState> {
    ctx.store.kill_switch(&KillScope::Global).await.unwrap()
}

async fn rollup(ctx: &Ctx, t: &TenantId, p: Period) -> Rollup {
    common::rollup(ctx, &common::run_id(t, p)).await
}

/// The receipt v1 of a run anchored while OTS was off: TSA confirmed, OTS skipped with no
/// artifact; the run is complete with the OTS anchor recorded as skipped.
async fn assert_tsa_only_receipt(ctx: &Ctx, t: &TenantId, p: Period, why: &str) {
    let r = common::receipt(ctx, t, p, 1).await;
    let ots = r
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    assert_eq!(ots.status, AnchorStatus::Skipped, "{t}:{p}");
    assert!(ots.artifact.is_none());
    let tsa = r
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .unwrap();
    assert_eq!(tsa.status, AnchorStatus::Confirmed);
    assert!(tsa.gen_time.is_some());
    assert!(
        common::root_artifact(ctx, t, p, RootArtifact::Tsr)
            .await
            .is_some()
    );
    assert!(
        common::root_artifact(ctx, t, p, RootArtifact::Ots)
            .await
            .is_none()
    );
    let run = ctx.store.run(&common::run_id(t, p)).await.unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    assert!(
        run.errors.iter().any(|e| e.contains(why)),
        "{:?} should mention {why:?}",
        run.errors
    );
    let anchors = ctx.store.anchors(&run.id).await.unwrap();
    assert!(
        anchors
            .iter()
            .any(|a| a.kind == AnchorKind::Ots && a.status == AnchorStatus::Skipped)
    );
}

/// After a successful catch-up of the run of `t`:`p` (whose receipt v1 was `v1`): receipt v2
/// with OTS pending on a stored root.ots supersedes v1, which is unchanged; the latest pointer
/// is v2; the run is anchored and an upgrade job follows it.
async fn assert_caught_up(
    ctx: &Ctx,
    queued: &[(Job, i64)],
    calendar: &str,
    t: &TenantId,
    p: &Period,
    v1: Vec<u8>,
) {
    let v2_bytes = common::receipt_version_bytes(ctx, t, *p, 2)
        .await
        .unwrap_or_else(|| panic!("receipt v2 of {t}:{p}"));
    assert_eq!(
        common::latest_receipt_bytes(ctx, t, *p).await.unwrap(),
        v2_bytes,
        "the latest pointer is v2"
    );
    assert_eq!(
        common::receipt_version_bytes(ctx, t, *p, 1).await.unwrap(),
        v1,
        "v1 is never rewritten"
    );
    let v1 = common::receipt(ctx, t, *p, 1).await;
    let v2 = common::receipt(ctx, t, *p, 2).await;
    assert_eq!(v2.supersedes, Some(1));
    assert_eq!((v2.root, v2.tree_size), (v1.root, v1.tree_size));
    assert_eq!(v2.anchored_at, v1.anchored_at);
    assert_eq!(v2.summary_hash, v1.summary_hash);
    let ots = v2
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    assert_eq!(ots.status, AnchorStatus::Pending);
    let root_ots = common::root_artifact(ctx, t, *p, RootArtifact::Ots)
        .await
        .expect("root.ots stored by the catch-up");
    let artifact = ots.artifact.as_ref().unwrap();
    assert_eq!(artifact.key, format!("roots/{t}/{p}/root.ots"));
    assert_eq!(artifact.sha256, sha256_hex(&root_ots));
    // The proof stamps SHA-256(root.bin) and is pending at the calendar.
    let file = stamp::DetachedTimestamp::from_bytes(&root_ots).unwrap();
    let root_bin = common::root_artifact(ctx, t, *p, RootArtifact::Bin)
        .await
        .unwrap();
    assert_eq!(file.digest(), Sha256::digest(&root_bin).as_slice());
    assert_eq!(file.timestamp.pending().len(), 1);
    assert_eq!(file.timestamp.pending()[0].0, calendar);
    let tsa = v2
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .unwrap();
    assert_eq!(
        tsa.status,
        AnchorStatus::Confirmed,
        "the TSA anchor is kept"
    );

    let run = ctx.store.run(&common::run_id(t, *p)).await.unwrap();
    assert_eq!(run.status, RunStatus::Anchored, "now waits for Bitcoin");
    let anchors = ctx.store.anchors(&run.id).await.unwrap();
    assert!(
        anchors
            .iter()
            .any(|a| a.kind == AnchorKind::Ots && a.status == AnchorStatus::Pending)
    );
    assert!(
        queued.iter().any(|(j, _)| *j
            == Job::Upgrade {
                run: run.id.clone(),
                attempt: 0
            }),
        "an upgrade follows {}",
        run.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, its steps in order
async fn calendar_outage_switches_to_tsa_only_and_catch_up_publishes_receipt_v2_when_calendars_return()
 {
    let cal = MockServer::start().await;
    calendar_down(&cal).await;
    let fleet = Fleet::start(&[cal.uri()], &[("LEDGER_OUTAGE_THRESHOLD", "2")]).await;
    let ctx = &fleet.ctx;
    let created = Utc::now() - Duration::days(40);
    let pro = common::tenant(ctx, "pro-co", Plan::Pro, created, USD_50, 0).await;
    let ent = common::tenant(ctx, "ent-co", Plan::Enterprise, created, USD_50, 0).await;
    let weeks = [
        common::week_ago(4),
        common::week_ago(3),
        common::week_ago(2),
    ];
    for w in weeks {
        common::manifests(ctx, &pro, w, 7).await;
    }
    let day = common::day_ago(9);
    common::manifests(ctx, &ent, day, 5).await;

    let report = fleet.tick().await;
    for p in weeks {
        assert!(report.enqueued.contains(&common::run_id(&pro, p)));
    }
    assert!(report.enqueued.contains(&common::run_id(&ent, day)));
    assert!(!report.catch_up, "nothing to catch up yet");

    // Failure 1 of K = 2: OTS is deferred (the run has a TSA), the fleet stays normal.
    let out = rollup(ctx, &pro, weeks[0]).await;
    assert!(
        matches!(
            out,
            Rollup::Anchored {
                status: RunStatus::Complete,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(submissions(&cal).await, 1);
    assert!(global(ctx).await.is_none_or(|s| s.mode == KillMode::Normal));
    assert_tsa_only_receipt(ctx, &pro, weeks[0], "OTS failed, deferred to catch-up").await;

    // Failure 2: the automation switches the whole fleet to tsa-only.
    rollup(ctx, &pro, weeks[1]).await;
    assert_eq!(submissions(&cal).await, 2);
    let switch = global(ctx).await.expect("the global switch is set");
    assert_eq!(switch.mode, KillMode::TsaOnly);
    assert_eq!(switch.actor, AUTO_ACTOR);
    assert!(
        switch.reason.contains("calendar outage"),
        "{}",
        switch.reason
    );
    assert!(switch.reason.contains("2 consecutive"), "{}", switch.reason);
    assert_tsa_only_receipt(ctx, &pro, weeks[1], "OTS failed, deferred to catch-up").await;

    // Meanwhile: runs get TSA now and OTS deferred, without asking the calendars.
    rollup(ctx, &pro, weeks[2]).await;
    assert_tsa_only_receipt(ctx, &pro, weeks[2], "OTS deferred by the kill switch").await;
    // An enterprise day wants OTS only; during the outage it gets a TSA stamp instead, and
    // its estimate includes the OTS stamp the catch-up will buy for it.
    rollup(ctx, &ent, day).await;
    assert_tsa_only_receipt(ctx, &ent, day, "OTS deferred by the kill switch").await;
    let ent_run = ctx.store.run(&common::run_id(&ent, day)).await.unwrap();
    assert_eq!(ent_run.estimated_cost_micro_usd, 21_000);
    assert_eq!(
        submissions(&cal).await,
        2,
        "tsa-only runs never call calendars"
    );
    let summary = common::summaries_of(ctx, &pro, &common::run_id(&pro, weeks[2])).await;
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].toggles.kill_switch, KillMode::TsaOnly);
    assert!(
        summary[0]
            .anchors
            .iter()
            .any(|a| a.kind == AnchorKind::Ots && a.status == AnchorStatus::Skipped)
    );

    // The scheduler asks for catch-up while the automation holds the fleet at tsa-only.
    assert!(fleet.tick().await.catch_up);

    // Calendars still down: catch-up tries, fails, changes nothing.
    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, 3);
    assert_eq!(global(ctx).await.unwrap().mode, KillMode::TsaOnly);
    assert!(
        common::receipt_version_bytes(ctx, &pro, weeks[0], 2)
            .await
            .is_none()
    );

    // The calendars answer again.
    calendar_up(&cal).await;
    let deferred = [
        (pro.clone(), weeks[0]),
        (pro.clone(), weeks[1]),
        (pro.clone(), weeks[2]),
        (ent.clone(), day),
    ];
    let mut v1s = Vec::new();
    for (t, p) in &deferred {
        v1s.push(common::receipt_version_bytes(ctx, t, *p, 1).await.unwrap());
    }
    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, deferred.len());

    let switch = global(ctx).await.unwrap();
    assert_eq!(switch.mode, KillMode::Normal);
    assert_eq!(switch.actor, AUTO_ACTOR);
    let history: Vec<(KillMode, String)> = ctx
        .store
        .kill_switch_history(Some(&KillScope::Global))
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.mode, s.actor))
        .collect();
    assert_eq!(
        history,
        vec![
            (KillMode::TsaOnly, AUTO_ACTOR.to_owned()),
            (KillMode::Normal, AUTO_ACTOR.to_owned())
        ]
    );

    let queued = fleet.queued_jobs().await;
    for ((t, p), v1) in deferred.iter().zip(v1s) {
        assert_caught_up(ctx, &queued, &cal.uri(), t, p, v1).await;
    }
    assert!(
        workers::catchup::deferred_runs(ctx)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!fleet.tick().await.catch_up, "nothing left to catch up");
    common::assert_chain_verifies(ctx, &pro).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_tsa_only_with_nothing_deferred_ends_when_a_probe_is_answered() {
    let cal = MockServer::start().await;
    calendar_down(&cal).await;
    let fleet = Fleet::start(&[cal.uri()], &[("LEDGER_OUTAGE_THRESHOLD", "3")]).await;
    let ctx = &fleet.ctx;
    for i in 1..=3 {
        workers::outage::calendars_failed(ctx, "test: HTTP 500")
            .await
            .unwrap();
        let mode = global(ctx).await.map(|s| s.mode);
        let expected = if i < 3 { None } else { Some(KillMode::TsaOnly) };
        assert_eq!(mode, expected, "after {i} failures");
    }
    assert!(workers::outage::auto_tsa_only(ctx).await.unwrap());
    assert!(fleet.tick().await.catch_up, "the tick keeps probing");

    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, 1, "one probe");
    assert_eq!(global(ctx).await.unwrap().mode, KillMode::TsaOnly);

    calendar_up(&cal).await;
    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, 1);
    let switch = global(ctx).await.unwrap();
    assert_eq!(
        (switch.mode, switch.actor.as_str()),
        (KillMode::Normal, AUTO_ACTOR)
    );
    assert!(!fleet.tick().await.catch_up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_tsa_only_is_never_cleared_or_overridden_by_the_automation() {
    let cal = MockServer::start().await;
    calendar_up(&cal).await;
    let fleet = Fleet::start(&[cal.uri()], &[("LEDGER_OUTAGE_THRESHOLD", "2")]).await;
    let ctx = &fleet.ctx;
    let operator = KillState {
        scope: KillScope::Global,
        mode: KillMode::TsaOnly,
        reason: "planned calendar maintenance".into(),
        actor: "admin:alice".into(),
        // Stored at millisecond precision.
        at: ledger::ids::from_millis(ledger::ids::to_millis(Utc::now())),
    };
    ctx.store.set_kill_switch(&operator).await.unwrap();
    let pro = common::tenant(
        ctx,
        "pro-co",
        Plan::Pro,
        Utc::now() - Duration::days(30),
        USD_50,
        0,
    )
    .await;
    let week = common::week_ago(2);
    common::manifests(ctx, &pro, week, 4).await;
    fleet.tick().await;
    rollup(ctx, &pro, week).await;
    assert_tsa_only_receipt(ctx, &pro, week, "planned calendar maintenance").await;

    // Calendars answering does not end an operator's tsa-only ...
    workers::outage::calendars_answered(ctx).await.unwrap();
    assert_eq!(global(ctx).await.unwrap(), operator);
    // ... nor does an outage rewrite it as the automation's.
    for _ in 0..3 {
        workers::outage::calendars_failed(ctx, "test")
            .await
            .unwrap();
    }
    assert_eq!(global(ctx).await.unwrap(), operator);
    assert!(!workers::outage::auto_tsa_only(ctx).await.unwrap());

    // The deferred root waits: catch-up respects the operator and contacts no calendar.
    assert!(fleet.tick().await.catch_up, "a deferred run exists");
    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, 0);
    assert_eq!(global(ctx).await.unwrap(), operator);
    assert!(
        common::receipt_version_bytes(ctx, &pro, week, 2)
            .await
            .is_none()
    );
    let run_id = common::run_id(&pro, week);
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Complete
    );

    // Once the operator sets normal again, the catch-up stamps the root into OTS.
    ctx.store
        .set_kill_switch(&KillState {
            mode: KillMode::Normal,
            reason: "maintenance over".into(),
            at: Utc::now(),
            ..operator.clone()
        })
        .await
        .unwrap();
    workers::catchup::job(ctx).await.unwrap();
    assert_eq!(submissions(&cal).await, 1);
    let v2 = common::receipt(ctx, &pro, week, 2).await;
    assert_eq!(v2.supersedes, Some(1));
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Anchored
    );
    assert_eq!(global(ctx).await.unwrap().actor, "admin:alice");
}
