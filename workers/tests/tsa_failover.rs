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

/// CA bundle rotation without a restart: the running worker re-reads `LEDGER_TSA_CA_FILE` when
/// it changes. A bundle that no longer holds the TSA's CA fails the next stamp (the chain),
/// and putting it back makes the one after pass — the same process throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_ca_bundle_is_read_again_without_a_restart() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let ca_file = std::path::PathBuf::from(&fleet.vars["LEDGER_TSA_CA_FILE"]);
    let original = std::fs::read(&ca_file).unwrap();
    let t = common::tenant(
        ctx,
        "rotating",
        Plan::Starter,
        Utc::now() - Duration::days(200),
        50_000_000,
        0,
    )
    .await;
    let months: Vec<ledger::Period> = [40, 70, 100]
        .into_iter()
        .map(|d| {
            ledger::Period::containing(ledger::Cadence::Monthly, Utc::now() - Duration::days(d))
        })
        .collect();
    for m in &months {
        common::manifests(ctx, &t, *m, 2).await;
    }
    fleet.tick().await;
    let rollup = |m: ledger::Period| {
        let run = common::run_id(&t, m);
        async move { workers::rollup::rollup(ctx, &run).await }
    };
    let replace = |bytes: &[u8], bump: u64| {
        std::fs::write(&ca_file, bytes).unwrap();
        // A modification time that surely differs, whatever the file system's resolution.
        let at = std::time::SystemTime::now() + std::time::Duration::from_secs(bump);
        std::fs::File::options()
            .write(true)
            .open(&ca_file)
            .unwrap()
            .set_modified(at)
            .unwrap();
    };
    assert!(matches!(
        rollup(months[0]).await.unwrap(),
        Rollup::Anchored { .. }
    ));

    let stranger = stamp::tsp::devca::make(Utc::now()).ca_cert.to_pem();
    replace(stranger.as_bytes(), 10);
    let err = rollup(months[1]).await.unwrap_err();
    assert!(err.to_string().contains("pinned CA"), "{err}");

    replace(&original, 20);
    assert!(matches!(
        rollup(months[1]).await.unwrap(),
        Rollup::Anchored { .. }
    ));
    assert!(matches!(
        rollup(months[2]).await.unwrap(),
        Rollup::Anchored { .. }
    ));
}

/// A tenant's own authority (`anchor tenants tsa`): its runs are stamped there, checked
/// against its CA bundle and policy, and its receipts name it; other tenants keep the fleet's.
/// A bundle its authority does not chain to, or a policy it does not issue, fails the stamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_tsa_stamps_its_runs_and_its_ca_and_policy_are_enforced() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let own_dir = fleet.dir.path().join("own");
    std::fs::create_dir_all(&own_dir).unwrap();
    let (own_url, own_ca) = common::dev_tsa(&own_dir).await;
    let own_pem = std::fs::read_to_string(&own_ca).unwrap();
    let fleet_pem = std::fs::read_to_string(&fleet.vars["LEDGER_TSA_CA_FILE"]).unwrap();
    let created = Utc::now() - Duration::days(90);
    let month =
        ledger::Period::containing(ledger::Cadence::Monthly, Utc::now() - Duration::days(40));
    let mut run_of = Vec::new();
    for (name, tsa) in [
        ("own", Some((own_pem.as_str(), None))),
        ("plain", None),
        ("wrong-ca", Some((fleet_pem.as_str(), None))),
        ("wrong-policy", Some((own_pem.as_str(), Some("1.2.3.4.5")))),
    ] {
        let t = common::tenant(ctx, name, Plan::Starter, created, 50_000_000, 0).await;
        if let Some((pem, policy)) = tsa {
            let set = ledger::sql::TenantTsa {
                url: own_url.clone(),
                policy: policy.map(str::to_owned),
                ca_pem: Some(pem.to_owned()),
            };
            service::tenants::set_tsa(&ctx.store, &t, Some(set), Utc::now())
                .await
                .unwrap();
        }
        common::manifests(ctx, &t, month, 2).await;
        run_of.push((name, t));
    }
    fleet.tick().await;
    let url_of = |r: &ledger::formats::Receipt| {
        r.anchors
            .iter()
            .find(|a| a.kind == AnchorKind::Tsa)
            .and_then(|a| a.tsa_url.clone())
    };
    for (name, t) in &run_of {
        let out = workers::rollup::rollup(ctx, &common::run_id(t, month)).await;
        match *name {
            "own" | "plain" => {
                assert!(
                    matches!(out, Ok(Rollup::Anchored { .. })),
                    "{name}: {out:?}"
                );
                let r = common::receipt(ctx, t, month, 1).await;
                let want = if *name == "own" {
                    &own_url
                } else {
                    &fleet.tsa_url
                };
                assert_eq!(url_of(&r).as_deref(), Some(want.as_str()), "{name}");
            }
            "wrong-ca" => {
                let e = out.unwrap_err().to_string();
                assert!(e.contains("pinned CA"), "{name}: {e}");
            }
            _ => {
                let e = out.unwrap_err().to_string();
                assert!(e.contains("polic"), "{name}: {e}");
            }
        }
    }
    let bad = service::tenants::set_tsa(
        &ctx.store,
        &run_of[0].1,
        Some(ledger::sql::TenantTsa {
            url: "ftp://x".into(),
            policy: None,
            ca_pem: None,
        }),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("not an http"), "{bad}");
}
