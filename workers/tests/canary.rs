//! The calendar canary (workers/src/canary.rs, issue 17): a calendar that accepts stamps and
//! never anchors them is named by an incident once its canary is pending past the deadline,
//! and its `calendar_pending_oldest_seconds` gauge says how long; a calendar that anchors (the
//! dev calendar, mined on request) confirms its canary against the header source and opens
//! nothing.
//!
//! Real parts: the SQLite store and directory blobs of the embedded fleet, or Postgres (a
//! fresh database) and Redis as the KV; calendars are wiremock servers or a dev calendar over
//! loopback HTTP. Cycles run at chosen instants (`cycle(ctx, now)`), so the deadline passes
//! without waiting for it.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::CalendarUrl;
use ledger::sql::{CANARY_INCIDENT, CanaryStatus};
use metrics::{Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use stamp::{Attestation, DetachedTimestamp, Entry, Timestamp};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::canary::cycle;
use workers::job::Job;

/// The gauges recorded by this test binary, by name and `calendar` label.
fn gauges() -> &'static Mutex<HashMap<(String, String), f64>> {
    static GAUGES: OnceLock<Mutex<HashMap<(String, String), f64>>> = OnceLock::new();
    GAUGES.get_or_init(|| Mutex::new(HashMap::new()))
}

struct Slot((String, String));

impl GaugeFn for Slot {
    fn increment(&self, value: f64) {
        *gauges().lock().unwrap().entry(self.0.clone()).or_default() += value;
    }
    fn decrement(&self, value: f64) {
        *gauges().lock().unwrap().entry(self.0.clone()).or_default() -= value;
    }
    fn set(&self, value: f64) {
        gauges().lock().unwrap().insert(self.0.clone(), value);
    }
}

/// Records gauges into [`gauges`]; counters and histograms go nowhere.
struct GaugeRecorder;

impl metrics::Recorder for GaugeRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let calendar = key
            .labels()
            .find(|l| l.key() == "calendar")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        Gauge::from_arc(Arc::new(Slot((key.name().to_owned(), calendar))))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// Installs [`GaugeRecorder`] for this test binary (before any metric is registered).
fn record_gauges() {
    static INSTALL: OnceLock<()> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let _ = metrics::set_global_recorder(GaugeRecorder);
    });
}

/// The `calendar_pending_oldest_seconds` gauge of `calendar` as last set.
fn pending_gauge(calendar: &str) -> Option<f64> {
    gauges()
        .lock()
        .unwrap()
        .get(&(
            "calendar_pending_oldest_seconds".to_owned(),
            calendar.to_owned(),
        ))
        .copied()
}

/// A calendar that accepts every submission (pending at itself) and answers every upgrade
/// request 404, as a calendar that never anchors does.
async fn silent_calendar() -> MockServer {
    let server = MockServer::start().await;
    common::calendar_up(&server).await;
    Mock::given(method("GET"))
        .and(path_regex("^/timestamp/"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Pending confirmation"))
        .mount(&server)
        .await;
    server
}

async fn upgrade_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with("/timestamp/"))
        .count()
}

const CANARY_VARS: [(&str, &str); 2] = [
    ("LEDGER_CANARY_INTERVAL", "1h"),
    ("LEDGER_CANARY_DEADLINE", "2h"),
];

/// A fresh Postgres database (dropped when the returned value drops) and a Redis KV prefix of
/// its own, as fleet variables; `None` when either server is missing (skipped, or failed under
/// CI).
async fn postgres_and_redis() -> Option<(Vec<(String, String)>, testkit::pg::PgDatabase)> {
    let redis = testkit::redis::server_or_skip()?;
    let pg = testkit::pg::PgDatabase::create("canary_test").await?;
    Some((
        vec![
            ("LEDGER_DATABASE_URL".into(), pg.url.clone()),
            ("LEDGER_KV".into(), redis),
            ("LEDGER_KV_PREFIX".into(), format!("{}:", pg.name())),
        ],
        pg,
    ))
}

/// The scenario of a calendar that accepts and never anchors, on the fleet started with
/// `extra` variables; then it anchors (answers with a Bitcoin attestation; no header source is
/// configured, so the canary is `unverified`) and the incident is resolved.
#[allow(clippy::too_many_lines)] // one scenario, its steps in order
async fn silent_calendar_scenario(extra: &[(&str, &str)]) {
    record_gauges();
    let silent = silent_calendar().await;
    let mut vars: Vec<(&str, &str)> = CANARY_VARS.to_vec();
    vars.extend_from_slice(extra);
    let fleet = Fleet::start(&[silent.uri()], &vars).await;
    let ctx = &fleet.ctx;
    let calendar = CalendarUrl::new(&silent.uri()).unwrap();
    // Whole milliseconds, as the store keeps instants.
    let t0 = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();

    let first = cycle(ctx, t0).await.unwrap();
    assert_eq!(first.len(), 1);
    let canary_id = first[0].stamped.expect("a canary was stamped");
    assert_eq!(
        common::submissions(&silent).await,
        1,
        "{:?}",
        silent.received_requests().await
    );
    assert_eq!(first[0].incident, None);

    // An hour later: still pending, no second canary (one outstanding), no incident yet.
    let later = cycle(ctx, t0 + Duration::hours(1)).await.unwrap();
    assert_eq!(later[0].stamped, None);
    assert_eq!(later[0].oldest_pending, Some(Duration::hours(1)));
    assert_eq!(later[0].incident, None);
    assert!(
        upgrade_requests(&silent).await >= 1,
        "the calendar was asked"
    );
    assert!(ctx.store.incidents(true).await.unwrap().is_empty());
    assert_eq!(
        ctx.store.canary(canary_id).await.unwrap().status,
        CanaryStatus::Pending
    );

    // Past the deadline: an incident names the calendar; the gauge says how long.
    let late = t0 + Duration::hours(2) + Duration::seconds(1);
    let checks = cycle(ctx, late).await.unwrap();
    let incident = checks[0].incident.expect("an incident is open");
    let fresh = checks[0]
        .stamped
        .expect("a late canary gets a successor, whose confirmation will show recovery");
    assert!(checks[0].oldest_pending.unwrap() >= Duration::hours(2));
    let open = ctx.store.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].id, incident);
    assert_eq!(open[0].kind, CANARY_INCIDENT);
    assert!(
        open[0].detail.contains(calendar.as_str()),
        "{}",
        open[0].detail
    );
    let gauge = pending_gauge(calendar.as_str()).expect("the gauge is exported");
    assert!(gauge >= 7200.0, "{gauge}");
    // Another cycle keeps the one incident.
    let again = cycle(ctx, late + Duration::minutes(11)).await.unwrap();
    assert_eq!(again[0].incident, Some(incident));
    assert_eq!(ctx.store.incidents(true).await.unwrap().len(), 1);

    // The calendar anchors at last: the first canary is upgraded (no header source, so
    // `unverified`), nothing is pending past the deadline, the incident is resolved.
    let stored =
        DetachedTimestamp::from_bytes(&ctx.store.canary(canary_id).await.unwrap().ots).unwrap();
    let (_, commitment) = stored.timestamp.pending().into_iter().next().unwrap();
    let answer = Timestamp {
        msg: commitment.clone(),
        entries: vec![Entry::Attestation(Attestation::Bitcoin { height: 7 })],
    };
    silent.reset().await;
    common::calendar_up(&silent).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/timestamp/{}",
            merkle::hash::encode_hex(&commitment)
        )))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(answer.to_bytes().unwrap()))
        .mount(&silent)
        .await;
    let recovered = cycle(ctx, late + Duration::minutes(30)).await.unwrap();
    assert_eq!(
        recovered[0].settled,
        vec![(canary_id, CanaryStatus::Unverified)]
    );
    assert_eq!(recovered[0].incident, None);
    assert!(ctx.store.incidents(true).await.unwrap().is_empty());
    let resolved = ctx.store.incidents(false).await.unwrap();
    assert!(resolved[0].resolved_at.is_some());
    // What is left pending is the fresh canary, stamped 30 minutes ago.
    assert_eq!(
        ctx.store.canary(fresh).await.unwrap().status,
        CanaryStatus::Pending
    );
    assert_eq!(recovered[0].oldest_pending, Some(Duration::minutes(30)));
    assert_eq!(pending_gauge(calendar.as_str()), Some(1800.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_that_accepts_and_never_anchors_has_an_incident_naming_it_after_the_deadline_on_sqlite()
 {
    silent_calendar_scenario(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_that_accepts_and_never_anchors_has_an_incident_naming_it_after_the_deadline_on_postgres_and_redis()
 {
    let Some((vars, db)) = postgres_and_redis().await else {
        return;
    };
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    silent_calendar_scenario(&vars).await;
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_that_anchors_confirms_its_canary_against_the_headers_and_opens_no_incident() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dev = stamp::devcal::DevCalendar::new(&url);
    let router = dev.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut vars: Vec<(&str, &str)> = CANARY_VARS.to_vec();
    vars.extend([
        ("LEDGER_ESPLORA_URL", url.as_str()),
        ("LEDGER_BITCOIN_NETWORK", "regtest"),
        // A tick a minute: every tick enqueues a canary cycle.
        ("LEDGER_TICK", "60s"),
    ]);
    let fleet = Fleet::start(std::slice::from_ref(&url), &vars).await;
    let ctx = &fleet.ctx;

    // The tick enqueues a canary cycle when the canary is on.
    let report = fleet.tick().await;
    assert!(report.canary);
    assert!(
        fleet
            .queued_jobs()
            .await
            .iter()
            .any(|(j, _)| matches!(j, Job::Canary { .. }))
    );

    let t0 = Utc::now();
    let first = cycle(ctx, t0).await.unwrap();
    let id = first[0].stamped.expect("a canary was stamped");
    let block = dev.mine().expect("the canary's commitment is mined");
    let checks = cycle(ctx, t0 + Duration::minutes(1)).await.unwrap();
    assert_eq!(checks[0].settled, vec![(id, CanaryStatus::Confirmed)]);
    let canary = ctx.store.canary(id).await.unwrap();
    assert_eq!(canary.status, CanaryStatus::Confirmed);
    assert!(
        canary
            .detail
            .as_deref()
            .unwrap()
            .contains(&format!("block {} {}", block.height, block.block_hash)),
        "{:?}",
        canary.detail
    );
    assert_eq!(checks[0].oldest_pending, None);
    assert_eq!(checks[0].incident, None);

    // Well past the deadline: a confirmed canary is no reason for an incident, and the next
    // canary goes out (the interval has passed).
    let next = cycle(ctx, t0 + Duration::hours(3)).await.unwrap();
    assert!(next[0].stamped.is_some());
    assert_eq!(next[0].incident, None);
    assert!(ctx.store.incidents(true).await.unwrap().is_empty());
}
