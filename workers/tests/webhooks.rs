//! Webhooks (issue 22's notifications): a run's outcome, an incident and a pause reach the
//! tenant's webhook, signed with HMAC-SHA256 under its secret (checked with Python's `hmac`,
//! which we did not write); a receiver that fails gets the same delivery again after the
//! backoff, with the same delivery id, and its status is visible; another tenant's events
//! never reach it, and events carry no operator detail.

mod common;

use std::process::Command;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::sql::{KillScope, KillState};
use ledger::{KillMode, Plan};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::rollup::Rollup;

/// Python's own HMAC-SHA256 of `body` under `secret`, hex.
fn python_hmac(secret: &str, body: &[u8]) -> Option<String> {
    use std::io::Write as _;
    let py = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; k=sys.argv[1].encode(); \
             print(hmac.new(k, sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            secret,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    py.stdin.as_ref()?.write_all(body).ok()?;
    let out = py.wait_with_output().ok()?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}

/// A fleet with two tenants, `hooked` with a webhook at a receiver answering 204: the
/// fleet, the two tenants, the receiver, the webhook and its secret.
async fn hooked() -> (
    Fleet,
    ledger::TenantId,
    ledger::TenantId,
    MockServer,
    service::webhooks::WebhookView,
    String,
) {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let created = Utc::now() - Duration::days(40);
    let t = common::tenant(ctx, "hooked", Plan::Pro, created, 50_000_000, 0).await;
    let other = common::tenant(ctx, "other", Plan::Pro, created, 50_000_000, 0).await;

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let hook = service::webhooks::register(
        &ctx.store,
        &t,
        &format!("{}/hook", receiver.uri()),
        Utc::now(),
    )
    .await
    .unwrap();
    let secret = hook
        .secret
        .clone()
        .expect("the secret is shown at registration");
    assert!(
        service::webhooks::list(&ctx.store, &t).await.unwrap()[0]
            .secret
            .is_none(),
        "listing never shows the secret"
    );
    let err = service::webhooks::register(&ctx.store, &t, "ftp://x", Utc::now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not an http:// or https:// URL"),
        "{err}"
    );

    (fleet, t, other, receiver, hook, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_tenants_webhook_signed_and_only_its_own() {
    let (fleet, t, other, receiver, _hook, secret) = hooked().await;
    let ctx = &fleet.ctx;
    // Two anchored weeks, one for each tenant.
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 3).await;
    common::manifests(ctx, &other, week, 3).await;
    fleet.tick().await;
    for tenant in [&t, &other] {
        let out = common::rollup(ctx, &common::run_id(tenant, week)).await;
        assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    }
    // The operator pauses the tenant, with a reason of its own.
    ctx.store
        .set_kill_switch(&KillState {
            scope: KillScope::Tenant(t.clone()),
            mode: KillMode::Paused,
            reason: "canary-reason-webhook".into(),
            actor: "canary-actor-webhook".into(),
            at: Utc::now(),
        })
        .await
        .unwrap();

    let delivered = workers::webhooks::deliver(ctx, Utc::now()).await.unwrap();
    assert_eq!(delivered.failed, 0);
    let requests = receiver.received_requests().await.unwrap();
    let kinds: Vec<String> = requests
        .iter()
        .map(|r| r.headers["x-ledger-event"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["run.anchored", "tenant.paused"],
        "only this tenant's events"
    );
    for r in &requests {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["tenant"], "hooked");
        assert_eq!(body["event"], r.headers["x-ledger-event"].to_str().unwrap());
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains("canary-"), "no operator detail in {text}");
        let sig = r.headers["x-ledger-signature"].to_str().unwrap();
        assert_eq!(sig, workers::webhooks::signature(&secret, &r.body));
        if let Some(theirs) = python_hmac(&secret, &r.body) {
            assert_eq!(sig, format!("sha256={theirs}"), "Python's hmac agrees");
        } else {
            assert!(std::env::var("CI").is_err(), "python3 is needed in CI");
            eprintln!("SKIPPED: the Python HMAC cross-check (no python3)");
        }
    }
    let anchored: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(anchored["period"], week.to_string());
    assert!(
        anchored["root"]
            .as_str()
            .unwrap()
            .starts_with("c2c.merkle.v1:sha256:0x")
    );
    // Delivered once: nothing is due any more.
    let again = workers::webhooks::deliver(ctx, Utc::now()).await.unwrap();
    assert_eq!((again.ok, again.failed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_after_the_backoff_with_the_same_id_and_a_deleted_webhook_gets_nothing()
 {
    let (fleet, t, _other, receiver, hook, _secret) = hooked().await;
    let ctx = &fleet.ctx;
    // A receiver that fails: the event is failed, retried after the backoff, then ok.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let incident = ctx
        .store
        .open_incident(
            Some(&t),
            None,
            "sample-verification",
            "db01.corp.internal said no",
            Utc::now(),
        )
        .await
        .unwrap();
    let now = Utc::now();
    let first = workers::webhooks::deliver(ctx, now).await.unwrap();
    assert_eq!((first.ok, first.failed), (0, 1));
    let views = service::webhooks::deliveries(&ctx.store, &t, &hook.id, 10)
        .await
        .unwrap();
    let failed = &views[0];
    assert_eq!(
        (
            failed.kind.as_str(),
            failed.status.as_str(),
            failed.attempts
        ),
        ("incident.opened", "failed", 1)
    );
    assert_eq!(failed.subject, incident.to_string());
    assert_eq!(
        failed.last_error.as_deref(),
        Some("HTTP 503 Service Unavailable")
    );
    let early = workers::webhooks::deliver(ctx, now + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!((early.ok, early.failed), (0, 0), "not before the backoff");
    let later = workers::webhooks::deliver(ctx, now + Duration::seconds(31))
        .await
        .unwrap();
    assert_eq!((later.ok, later.failed), (1, 0));
    let retried = receiver.received_requests().await.unwrap();
    assert_eq!(retried.len(), 2);
    assert_eq!(
        retried[0].headers["x-ledger-delivery"], retried[1].headers["x-ledger-delivery"],
        "a retry carries the same delivery id"
    );
    assert!(!String::from_utf8_lossy(&retried[1].body).contains("corp.internal"));
    let views = service::webhooks::deliveries(&ctx.store, &t, &hook.id, 10)
        .await
        .unwrap();
    assert_eq!((views[0].status.as_str(), views[0].attempts), ("ok", 2));

    // A deleted webhook gets nothing more.
    service::webhooks::delete(&ctx.store, &t, &hook.id, Utc::now())
        .await
        .unwrap();
    ctx.store
        .open_incident(Some(&t), None, "sample-verification", "x", Utc::now())
        .await
        .unwrap();
    let after = workers::webhooks::deliver(ctx, Utc::now()).await.unwrap();
    assert_eq!((after.ok, after.failed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_change_repeated_after_a_crash_reports_one_event() {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "once",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 2).await;
    fleet.tick().await;
    let run = common::run_id(&t, week);
    let out = common::rollup(ctx, &run).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    // The same outcome recorded again (a worker retrying after the write): one event.
    let row = ctx.store.run(&run).await.unwrap();
    let outcome = ledger::sql::RunOutcome {
        status: row.status,
        root: row.root,
        tree_size: row.tree_size,
        estimated_cost_micro_usd: row.estimated_cost_micro_usd,
        errors: vec![],
    };
    ctx.store
        .finish_run(&run, &outcome, Utc::now())
        .await
        .unwrap();
    let events = ctx.store.events(&t).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["run.anchored"], "{events:#?}");
    assert_eq!(events[0].subject, run);
}
