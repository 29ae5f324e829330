//! Several time-stamping authorities (`LEDGER_TSA_URL=a,b,…`): the first that grants a checked
//! token stamps the root, and the receipt names it; one that answers 500, or is not there,
//! is passed over; when all fail the run fails (and is retried) with the last one's reason.

mod common;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::{AnchorKind, Plan};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::rollup::Rollup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_authority_that_grants_stamps_the_root_and_the_receipt_names_it() {
    let cal = common::dev_calendar().await;
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let fleet = Fleet::start(std::slice::from_ref(&cal), &[]).await;
    let good = fleet.tsa_url.clone();
    let list = format!("http://127.0.0.1:9/tsa, {}/tsa,{good}", broken.uri());
    let ctx = &fleet.reopen(&[("LEDGER_TSA_URL", &list)]).await;
    assert_eq!(ctx.stamping.tsa.as_ref().unwrap().clients.len(), 3);
    let t = common::tenant(
        ctx,
        "failover",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 4).await;
    fleet.tick().await;
    let run = common::run_id(&t, week);
    let out = common::rollup(ctx, &run).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    assert_eq!(
        broken.received_requests().await.unwrap().len(),
        1,
        "the 500 was asked once"
    );
    let receipt = common::receipt(ctx, &t, week, 1).await;
    let tsa = receipt
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .expect("a TSA anchor");
    assert_eq!(
        tsa.tsa_url.as_deref(),
        Some(good.as_str()),
        "the receipt names who granted"
    );
    let row = ctx
        .store
        .anchors(&run)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .unwrap();
    assert_eq!(row.details["url"], good.as_str());
    assert_eq!(row.status, ledger::AnchorStatus::Confirmed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_authority_fails_the_run_fails_with_the_last_reason() {
    let cal = common::dev_calendar().await;
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&broken)
        .await;
    let list = format!("http://127.0.0.1:9/tsa,{}/tsa", broken.uri());
    let fleet = Fleet::start(&[cal], &[("LEDGER_TSA_URL", &list)]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "nobody-grants",
        Plan::Starter,
        Utc::now() - Duration::days(90),
        50_000_000,
        0,
    )
    .await;
    let month =
        ledger::Period::containing(ledger::Cadence::Monthly, Utc::now() - Duration::days(40));
    common::manifests(ctx, &t, month, 2).await;
    fleet.tick().await;
    let err = workers::rollup::rollup(ctx, &common::run_id(&t, month))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(
        common::blob(
            ctx,
            &ledger::blob::BlobKey::root_artifact(&t, &month, ledger::blob::RootArtifact::Tsr)
        )
        .await
        .is_none(),
        "no reply stored"
    );
}
