//! The calendar client against wiremock calendars (partial outages, slow, oversized and
//! malformed answers, upgrades 404 then 200) and against the project's own dev calendar.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use stamp::calendar::{CalendarConfig, CalendarOutcome, http_client, stamp, upgrade};
use stamp::{Attestation, DetachedTimestamp, Entry, Op, Timestamp};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A calendar's answer: salt, sha256, pending at `uri`. Independent of the submitted digest,
/// because a bare timestamp does not repeat its message.
fn pending_answer(uri: &str, salt: u8) -> Vec<u8> {
    let mut t = Timestamp::new(vec![0; 32]);
    t.push_op(Op::Append(vec![salt; 8]))
        .push_op(Op::Sha256)
        .entries
        .push(Entry::Attestation(Attestation::Pending { uri: uri.into() }));
    t.to_bytes().unwrap()
}

/// `POST /digest` as the protocol sends it, answered with `answer`.
fn digest_mock(answer: ResponseTemplate) -> Mock {
    Mock::given(method("POST"))
        .and(path("/digest"))
        .and(header("accept", "application/vnd.opentimestamps.v1"))
        .respond_with(answer)
}

async fn calendar(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    digest_mock(answer).mount(&server).await;
    server
}

/// A calendar that accepts exactly one submission, answering a pending attestation that names
/// itself.
async fn accepting_calendar(salt: u8) -> MockServer {
    let server = MockServer::start().await;
    digest_mock(ok(&server.uri(), salt))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn ok(server_uri: &str, salt: u8) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_bytes(pending_answer(server_uri, salt))
}

fn cfg(servers: &[&MockServer]) -> CalendarConfig {
    let mut c = CalendarConfig::new(servers.iter().map(|s| s.uri()).collect());
    c.timeout = Duration::from_millis(500);
    c
}

const DIGEST: [u8; 32] = [0x42; 32];

#[tokio::test]
async fn two_of_three_calendars_suffice_and_both_answers_are_merged() {
    let (a, b) = (accepting_calendar(1).await, accepting_calendar(2).await);
    let down = calendar(ResponseTemplate::new(503)).await;
    let client = http_client(Duration::from_secs(2)).unwrap();
    let (file, report) = stamp(&client, &cfg(&[&a, &b, &down]), DIGEST)
        .await
        .unwrap();
    assert_eq!(report.ok_count(), 2);
    assert!(
        report
            .outcomes
            .iter()
            .any(|(_, o, _)| *o == CalendarOutcome::Failed("HTTP 503 Service Unavailable".into()))
    );
    assert_eq!(file.digest(), DIGEST);
    let pending: Vec<String> = file
        .timestamp
        .pending()
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(pending.len(), 2);
    assert!(pending.contains(&a.uri()) && pending.contains(&b.uri()));
    // What goes over the wire is the nonce-blinded commitment, never the digest itself.
    for s in [&a, &b] {
        let body = &s.received_requests().await.unwrap()[0].body;
        assert_eq!(body.len(), 32);
        assert_ne!(body.as_slice(), DIGEST.as_slice());
    }
    let bytes = file.to_bytes().unwrap();
    assert_eq!(DetachedTimestamp::from_bytes(&bytes).unwrap(), file);
}

#[tokio::test]
async fn one_of_three_is_not_enough_and_every_failure_is_named() {
    let a =
        calendar(ResponseTemplate::new(200).set_body_bytes(pending_answer("https://x.example", 1)))
            .await;
    let malformed = calendar(ResponseTemplate::new(200).set_body_bytes(vec![0xee; 5])).await;
    let oversized = calendar(ResponseTemplate::new(200).set_body_bytes(vec![0; 20_000])).await;
    let client = http_client(Duration::from_secs(2)).unwrap();
    let err = stamp(&client, &cfg(&[&a, &malformed, &oversized]), DIGEST)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("1 of 3 calendars accepted, 2 needed"), "{msg}");
    assert!(msg.contains("malformed timestamp"), "{msg}");
    assert!(msg.contains("larger than 10000"), "{msg}");
}

#[tokio::test]
async fn a_slow_calendar_times_out_without_holding_up_the_others() {
    let (a, b) = (accepting_calendar(1).await, accepting_calendar(2).await);
    let slow = calendar(ok("https://slow.example", 3).set_delay(Duration::from_secs(5))).await;
    let client = http_client(Duration::from_secs(10)).unwrap();
    let started = std::time::Instant::now();
    let (_, report) = stamp(&client, &cfg(&[&a, &b, &slow]), DIGEST)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.ok_count(), 2);
    assert!(
        report
            .outcomes
            .iter()
            .any(|(_, o, _)| *o == CalendarOutcome::Failed("timed out".into()))
    );
}

#[tokio::test]
async fn upgrade_waits_on_404_then_merges_the_bitcoin_attestation() {
    let cal = accepting_calendar(7).await;
    let client = http_client(Duration::from_secs(2)).unwrap();
    let config = cfg(&[&cal]);
    let (mut file, _) = stamp(&client, &config, DIGEST).await.unwrap();
    let (_, pending_msg) = file.timestamp.pending().remove(0);
    let upgrade_path = format!("/timestamp/{}", merkle::hash::encode_hex(&pending_msg));

    let not_yet = Mock::given(method("GET"))
        .and(path(upgrade_path.clone()))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount_as_scoped(&cal)
        .await;
    let outcomes = upgrade(&client, &config, &mut file).await.unwrap();
    assert_eq!(outcomes, vec![(cal.uri(), CalendarOutcome::Pending)]);
    assert!(!file.timestamp.has_bitcoin());
    drop(not_yet);

    let mut done = Timestamp::new(pending_msg.clone());
    done.push_op(Op::Prepend(vec![9; 32]))
        .push_op(Op::Sha256)
        .entries
        .push(Entry::Attestation(Attestation::Bitcoin { height: 900_001 }));
    Mock::given(method("GET"))
        .and(path(upgrade_path))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(done.to_bytes().unwrap()))
        .mount(&cal)
        .await;
    let outcomes = upgrade(&client, &config, &mut file).await.unwrap();
    assert_eq!(outcomes, vec![(cal.uri(), CalendarOutcome::Ok)]);
    assert!(file.timestamp.has_bitcoin());
    let round = DetachedTimestamp::from_bytes(&file.to_bytes().unwrap()).unwrap();
    assert!(round.timestamp.has_bitcoin());
}

#[tokio::test]
async fn upgrade_never_contacts_a_calendar_outside_the_whitelist() {
    let stranger = MockServer::start().await;
    Mock::given(path_regex("/timestamp/.*"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&stranger)
        .await;
    let mut t = Timestamp::new(DIGEST.to_vec());
    t.entries.push(Entry::Attestation(Attestation::Pending {
        uri: stranger.uri(),
    }));
    let mut file = DetachedTimestamp {
        file_hash: Op::Sha256,
        timestamp: t,
    };
    let client = http_client(Duration::from_secs(2)).unwrap();
    let config = CalendarConfig::new(vec!["https://a.pool.opentimestamps.org".into()]);
    let outcomes = upgrade(&client, &config, &mut file).await.unwrap();
    assert!(matches!(&outcomes[0].1, CalendarOutcome::Failed(r) if r.contains("whitelist")));
}

#[tokio::test]
async fn the_dev_calendar_answers_the_protocol_and_never_claims_bitcoin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = stamp::devcal::router(&url);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = http_client(Duration::from_secs(2)).unwrap();
    let config = CalendarConfig::new(vec![url.clone()]);
    let data_digest: [u8; 32] = Sha256::digest(b"hello").into();
    let (mut file, report) = stamp(&client, &config, data_digest).await.unwrap();
    assert_eq!(report.ok_count(), 1);
    assert_eq!(file.timestamp.pending()[0].0, url);
    let outcomes = upgrade(&client, &config, &mut file).await.unwrap();
    assert_eq!(outcomes, vec![(url.clone(), CalendarOutcome::Pending)]);
    assert!(!file.timestamp.has_bitcoin());

    let too_long = client
        .post(format!("{url}/digest"))
        .body(vec![0u8; 65])
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
}
