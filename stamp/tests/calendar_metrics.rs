//! The calendar client's telemetry: every request to a calendar is counted by calendar,
//! operation and outcome (`ots_calendar_requests_total`) and timed
//! (`ots_calendar_latency_seconds`), as the fleet's `/metrics` exposes them. A Prometheus
//! recorder local to the test renders exactly what this test's requests recorded.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use stamp::calendar::{CalendarConfig, http_client, stamp, upgrade};
use stamp::{Attestation, Entry, Op, Timestamp};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A calendar's pending answer naming `uri`.
fn pending_answer(uri: &str) -> Vec<u8> {
    let mut t = Timestamp::new(vec![0; 32]);
    t.push_op(Op::Append(vec![7; 8]))
        .push_op(Op::Sha256)
        .entries
        .push(Entry::Attestation(Attestation::Pending { uri: uri.into() }));
    t.to_bytes().unwrap()
}

#[test]
fn each_calendar_request_is_counted_by_calendar_operation_and_outcome_and_timed() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (up, down) = runtime.block_on(async {
        let up = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/digest"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(pending_answer(&up.uri())))
            .mount(&up)
            .await;
        // Not yet in a block: the upgrade stays pending.
        Mock::given(method("GET"))
            .and(path_regex("^/timestamp/"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&up)
            .await;
        let down = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&down)
            .await;
        (up, down)
    });
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let client = http_client(Duration::from_secs(2)).unwrap();
            let mut cfg = CalendarConfig::new(vec![up.uri(), down.uri()]);
            cfg.min_ok = 1;
            let (mut file, _) = stamp(&client, &cfg, [0x42; 32]).await.unwrap();
            upgrade(&client, &cfg, &mut file).await.unwrap();
        });
    });
    let text = handle.render();
    let count = |calendar: &str, op: &str, outcome: &str| {
        let series = format!(
            "ots_calendar_requests_total{{calendar=\"{calendar}\",op=\"{op}\",outcome=\"{outcome}\"}} 1"
        );
        assert!(text.contains(&series), "no {series} in\n{text}");
    };
    count(&up.uri(), "submit", "ok");
    count(&down.uri(), "submit", "failed");
    count(&up.uri(), "upgrade", "pending");
    for (calendar, op) in [
        (up.uri(), "submit"),
        (down.uri(), "submit"),
        (up.uri(), "upgrade"),
    ] {
        let timed =
            format!("ots_calendar_latency_seconds_count{{calendar=\"{calendar}\",op=\"{op}\"}} 1");
        assert!(text.contains(&timed), "no {timed} in\n{text}");
    }
}
