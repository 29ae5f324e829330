//! The upgrade job (workers/src/upgrade.rs): an OTS proof pending at a calendar reaches a
//! Bitcoin block; the block header is checked through an Esplora API; a new receipt version
//! names the block. A proof still pending is retried with backoff until the horizon, after
//! which an incident is opened.
//!
//! How the Bitcoin side is made consistent: a Bitcoin attestation is checked against a block
//! header whose merkle root must be the attested message and which must carry real proof of
//! work. Mining inside the test is out of the question, so [`HEADER`] was mined once, offline,
//! at Bitcoin's minimum difficulty (about 2^32 hashes) for a fixed commitment path. Mainnet
//! rules refuse it (height 930000's epoch demands far more work: stamp/src/epochs.rs, and
//! the mainnet check at the end of the scenario), so the
//! confirming scenario runs with `LEDGER_BITCOIN_NETWORK=regtest`, whose floor it meets:
//!
//! ```text
//! manifests  D_A1, D_A2, D_B (merkle/tests/golden.rs) -> root R = ROOT_HEX
//! root.ots   sha256(R) -> append NONCE -> sha256 = C, pending at the calendar
//! calendar   GET /timestamp/{C}: C -> prepend BATCH -> sha256 = M, Bitcoin block HEIGHT
//! HEADER     version 0x20000000, merkle root M, time 2026-01-01T00:00:01Z, bits 0x1d00ffff
//! ```
//!
//! A calendar's nonce is random, so the stamp is stored before the rollup, as a first attempt
//! that stamped and then crashed would leave it; the rollup reuses a stored `root.ots`
//! (workers/README.md) and submits nothing.

mod common;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::blob::{BlobKey, RootArtifact};
use ledger::formats::sha256_hex;
use ledger::sql::RunStatus;
use ledger::{AnchorKind, AnchorStatus, Plan};
use merkle::ManifestDigest;
use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{BlockHeader, HeadersFile};
use stamp::verify::{Finding, Verdict};
use stamp::{Attestation, DetachedTimestamp, Entry, Op, Timestamp};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workers::job::Job;
use workers::rollup::Rollup;

const D_A1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
const D_A2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";
const D_B: &str = "2a2ca9ead4dc1547b8bb04f5c3ad6f643f3999e29c1975d6ba8dd4fff7f53791";
const ROOT_HEX: &str = "6c3bc7901b64d4d0be0fe70fa40e46ead3ee0eea18db3a2a771c54d4e0a191fa";
const NONCE: &[u8; 16] = b"behave-ots-nonce";
const BATCH: &[u8] = b"behave-calendar-batch";
const HEIGHT: u64 = 930_000;
/// Mined offline (see the module documentation); its hash has 32 leading zero bits.
const HEADER: &str = "00000020befe461c9f3e6606fe096d93ee8e6494e2c89dfda2128722dafa6a0e6e585297\
                      86291fd4f32d3850101dc76303488967fbd21a6e715caa7516bc8d6549da7cf6\
                      01b95569ffff001da8302a11";
const BLOCK_HASH: &str = "00000000d52574af359cb2aa73a71f27bf60b3a8c98350c8708bcb76eddeac26";
/// 2026-01-01T00:00:01Z, the header's time.
const BLOCK_TIME: i64 = 1_767_225_601;

fn hex(s: &str) -> Vec<u8> {
    merkle::hash::decode_hex("test vector", s).unwrap()
}

/// `root.ots` as stamped by the calendar at `calendar`: sha256(R) → append NONCE → sha256,
/// pending there. Returns the file and the commitment C.
fn stamped_root(calendar: &str) -> (DetachedTimestamp, Vec<u8>) {
    let digest: [u8; 32] = Sha256::digest(hex(ROOT_HEX)).into();
    let mut t = Timestamp::new(digest.to_vec());
    let c = t.push_op(Op::Append(NONCE.to_vec())).push_op(Op::Sha256);
    c.entries.push(Entry::Attestation(Attestation::Pending {
        uri: calendar.to_owned(),
    }));
    let commitment = c.msg.clone();
    (
        DetachedTimestamp {
            file_hash: Op::Sha256,
            timestamp: t,
        },
        commitment,
    )
}

/// The calendar's upgrade answer for C: prepend BATCH → sha256 = the block's merkle root.
fn upgrade_answer(commitment: &[u8]) -> Vec<u8> {
    let mut t = Timestamp::new(commitment.to_vec());
    let m = t.push_op(Op::Prepend(BATCH.to_vec())).push_op(Op::Sha256);
    let header = BlockHeader::from_hex(HEADER).unwrap();
    assert_eq!(m.msg, header.merkle_root(), "the mined header commits to M");
    m.entries
        .push(Entry::Attestation(Attestation::Bitcoin { height: HEIGHT }));
    t.to_bytes().unwrap()
}

/// The calendar (which must not be asked to stamp, and upgrades C to the mined block) and
/// the Esplora API (which serves the mined header), each request expected once.
async fn mount_bitcoin(calendar: &MockServer, esplora: &MockServer, commitment: &[u8]) {
    Mock::given(method("POST"))
        .and(path("/digest"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("no submission: the stored root.ots is reused")
        .mount(calendar)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/timestamp/{}",
            merkle::hash::encode_hex(commitment)
        )))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(upgrade_answer(commitment)))
        .expect(1)
        .mount(calendar)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/block-height/{HEIGHT}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(BLOCK_HASH))
        .expect(1)
        .mount(esplora)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/block/{BLOCK_HASH}/header")))
        .respond_with(ResponseTemplate::new(200).set_body_string(HEADER))
        .expect(1)
        .mount(esplora)
        .await;
}

#[test]
fn the_mined_header_carries_real_proof_of_work() {
    let header = BlockHeader::from_hex(HEADER).unwrap();
    header.check_proof_of_work().unwrap();
    assert_eq!(header.hash_display(), BLOCK_HASH);
    assert_eq!(i64::from(header.time()), BLOCK_TIME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, its steps in order
async fn a_proof_that_reaches_bitcoin_gets_root_v2_ots_a_receipt_v2_naming_the_block_and_a_complete_run()
 {
    let calendar = MockServer::start().await;
    let esplora = MockServer::start().await;
    let (root_ots, commitment) = stamped_root(&calendar.uri());
    mount_bitcoin(&calendar, &esplora, &commitment).await;

    let fleet = Fleet::start(
        &[calendar.uri()],
        &[
            ("LEDGER_ESPLORA_URL", esplora.uri().as_str()),
            ("LEDGER_UPGRADE_HORIZON", "30d"),
            ("LEDGER_BITCOIN_NETWORK", "regtest"),
        ],
    )
    .await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "btc-co",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(2);
    let digests: Vec<ManifestDigest> = [D_A1, D_A2, D_B]
        .iter()
        .map(|d| ManifestDigest::from_hex(d).unwrap())
        .collect();
    ctx.store
        .insert_manifests(&t, &digests, week.start() + Duration::hours(3))
        .await
        .unwrap();
    let root_ots_bytes = root_ots.to_bytes().unwrap();
    let root_ots_key = BlobKey::root_artifact(&t, &week, RootArtifact::Ots);
    ctx.blobs
        .put_new(&root_ots_key, &root_ots_bytes)
        .await
        .unwrap();

    // The rollup: anchored, OTS pending, an upgrade job queued.
    fleet.tick().await;
    let run_id = common::run_id(&t, week);
    let out = common::rollup(ctx, &run_id).await;
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
    let run = ctx.store.run(&run_id).await.unwrap();
    assert_eq!(
        run.root.unwrap().to_string(),
        format!("c2c.merkle.v1:sha256:0x{ROOT_HEX}")
    );
    let v1 = common::receipt(ctx, &t, week, 1).await;
    let ots = v1
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    assert_eq!(ots.status, AnchorStatus::Pending);
    assert_eq!(
        ots.artifact.as_ref().unwrap().sha256,
        sha256_hex(&root_ots_bytes)
    );
    assert!(fleet.queued_jobs().await.iter().any(|(j, _)| *j
        == Job::Upgrade {
            run: run_id.clone(),
            attempt: 0
        }));
    let v1_bytes = common::receipt_version_bytes(ctx, &t, week, 1)
        .await
        .unwrap();

    // The upgrade.
    workers::upgrade::job(ctx, &run_id, 0).await.unwrap();

    let v2_ots_key = BlobKey::root_ots_version(&t, &week, 2).unwrap();
    let v2_ots_bytes = common::blob(ctx, &v2_ots_key).await.expect("root.v2.ots");
    let v2_ots = DetachedTimestamp::from_bytes(&v2_ots_bytes).unwrap();
    assert_eq!(v2_ots.digest(), root_ots.digest());
    assert_eq!(
        v2_ots
            .timestamp
            .bitcoin_heights()
            .into_iter()
            .collect::<Vec<_>>(),
        [HEIGHT]
    );
    assert_eq!(
        common::blob(ctx, &root_ots_key).await.unwrap(),
        root_ots_bytes,
        "root.ots stays the proof as first stamped"
    );
    // Anyone holding root.bin and the header verifies root.v2.ots to the block.
    let root_bin = common::root_artifact(ctx, &t, week, RootArtifact::Bin)
        .await
        .unwrap();
    let mut headers = HeadersFile::default().on_network(stamp::bitcoin::Network::Regtest);
    headers.insert(HEIGHT, BlockHeader::from_hex(HEADER).unwrap());
    let (verdict, findings) =
        stamp::verify::verify_file(&v2_ots, &Sha256::digest(&root_bin), &headers).unwrap();
    assert_eq!(verdict, Verdict::Verified, "{findings:?}");
    // The same header as mainnet's block 930000: refused, naming the epoch's real bits.
    let mut mainnet = HeadersFile::default();
    mainnet.insert(HEIGHT, BlockHeader::from_hex(HEADER).unwrap());
    let (on_mainnet, refused) =
        stamp::verify::verify_file(&v2_ots, &Sha256::digest(&root_bin), &mainnet).unwrap();
    assert_eq!(on_mainnet, Verdict::NotVerified, "{refused:?}");
    assert!(format!("{refused:?}").contains("epoch 461"), "{refused:?}");
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Bitcoin { height: HEIGHT, .. }))
    );

    let v2 = common::receipt(ctx, &t, week, 2).await;
    assert_eq!(v2.supersedes, Some(1));
    assert_eq!((v2.root, v2.anchored_at), (v1.root, v1.anchored_at));
    let ots = v2
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    assert_eq!(ots.status, AnchorStatus::Confirmed);
    let btc = ots.bitcoin.as_ref().unwrap();
    assert_eq!(btc.height, HEIGHT);
    assert_eq!(btc.block_hash, BLOCK_HASH);
    assert_eq!(btc.time.timestamp(), BLOCK_TIME);
    let artifact = ots.artifact.as_ref().unwrap();
    assert_eq!(artifact.key, v2_ots_key.as_str());
    assert_eq!(artifact.sha256, sha256_hex(&v2_ots_bytes));
    let tsa = v2
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Tsa)
        .unwrap();
    assert_eq!(tsa.status, AnchorStatus::Confirmed);
    assert_eq!(
        common::latest_receipt_bytes(ctx, &t, week).await.unwrap(),
        common::receipt_version_bytes(ctx, &t, week, 2)
            .await
            .unwrap()
    );
    assert_eq!(
        common::receipt_version_bytes(ctx, &t, week, 1)
            .await
            .unwrap(),
        v1_bytes
    );

    let run = ctx.store.run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    let anchors = ctx.store.anchors(&run_id).await.unwrap();
    let row = anchors.iter().find(|a| a.kind == AnchorKind::Ots).unwrap();
    assert_eq!(row.status, AnchorStatus::Confirmed);
    assert_eq!(row.artifact_key.as_deref(), Some(v2_ots_key.as_str()));

    // A late delivery of the same job finds the run complete and does nothing more.
    workers::upgrade::job(ctx, &run_id, 0).await.unwrap();
    assert!(
        common::receipt_version_bytes(ctx, &t, week, 3)
            .await
            .is_none()
    );
    assert!(
        !fleet
            .queued_jobs()
            .await
            .iter()
            .any(|(j, _)| matches!(j, Job::Upgrade { attempt: 1, .. })),
        "no retry once confirmed"
    );
}

#[test]
fn upgrade_backoff_is_ten_minutes_doubling_to_six_hours() {
    let minutes: Vec<u64> = (0..9)
        .map(|a| workers::upgrade::delay(a).as_secs() / 60)
        .collect();
    assert_eq!(minutes, [10, 20, 40, 80, 160, 320, 360, 360, 360]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_proof_is_retried_with_backoff_until_the_horizon_counted_from_its_submission_then_opens_an_incident()
 {
    let calendar = MockServer::start().await;
    common::calendar_up(&calendar).await;
    Mock::given(method("GET"))
        .and(path_regex("^/timestamp/[0-9a-f]{64}$"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string("Pending confirmation in Bitcoin blockchain"),
        )
        .mount(&calendar)
        .await;
    let fleet = Fleet::start(&[calendar.uri()], &[("LEDGER_UPGRADE_HORIZON", "30d")]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "waiting-co",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    // Ended 7 to 14 days ago, long before the root is submitted.
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 5).await;
    fleet.tick().await;
    let run_id = common::run_id(&t, week);
    common::rollup(ctx, &run_id).await;
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Anchored
    );

    // A pending proof asks for the next attempt after the backoff; the handler pushes it once
    // this delivery has released the run's upgrade key (one upgrade job per run).
    for (attempt, next_in) in [(0u32, 20 * 60), (3, 160 * 60)] {
        let next = workers::upgrade::job(ctx, &run_id, attempt)
            .await
            .unwrap()
            .expect("still pending: a follow-up");
        assert_eq!(
            next.job,
            Job::Upgrade {
                run: run_id.clone(),
                attempt: attempt + 1
            },
            "attempt {attempt} asks for attempt {}",
            attempt + 1
        );
        assert_eq!(
            next.delay,
            std::time::Duration::from_secs(next_in),
            "attempt {} runs {next_in} s later",
            attempt + 1
        );
    }
    assert!(ctx.store.incidents(true).await.unwrap().is_empty());
    assert!(
        common::receipt_version_bytes(ctx, &t, week, 2)
            .await
            .is_none()
    );
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Anchored
    );

    // A worker configured with a 1-day horizon: the period ended longer ago than that, but
    // the root was submitted just now (as for a backfilled or caught-up root), so the horizon
    // has not passed: a retry, no incident.
    let short = fleet.reopen(&[("LEDGER_UPGRADE_HORIZON", "1d")]).await;
    let next = workers::upgrade::job(&short, &run_id, 5).await.unwrap();
    assert!(
        matches!(next, Some(ref f) if f.job == Job::Upgrade { run: run_id.clone(), attempt: 6 }),
        "{next:?}"
    );
    assert!(short.store.incidents(true).await.unwrap().is_empty());
    // Submitted two days ago: past the 1-day horizon.
    backdate_ots_submission(&short, &run_id, Duration::days(2)).await;
    let next = workers::upgrade::job(&short, &run_id, 6).await.unwrap();
    assert_eq!(next, None, "past the horizon: no further attempt");
    let incidents = short.store.incidents(true).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let i = &incidents[0];
    assert_eq!(i.kind, "upgrade-horizon");
    assert_eq!(i.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(i.tenant.as_ref(), Some(&t));
    assert!(i.detail.contains("no Bitcoin attestation"), "{}", i.detail);
    let run = short.store.run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Anchored, "still not complete");
    let upgrades = calendar
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/timestamp/"))
        .count();
    assert_eq!(upgrades, 4, "each attempt asked the calendar");
}

/// Moves the time the run's root was submitted to the calendars `by` into the past.
async fn backdate_ots_submission(ctx: &workers::Ctx, run_id: &str, by: Duration) {
    let mut ots = ctx
        .store
        .anchors(run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    ots.updated_at -= by;
    ctx.store.put_anchor(&ots).await.unwrap();
}

/// A dev calendar on a regtest chain, serving its headers as an Esplora API.
async fn mining_calendar() -> (std::sync::Arc<stamp::devcal::DevCalendar>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cal = stamp::devcal::DevCalendar::new(&url);
    let router = cal.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (cal, url)
}

/// A fleet on regtest whose header source is the first of `calendars` (dev calendars serve
/// their chain as Esplora), and a pro tenant `name` whose week two weeks ago is rolled up:
/// its root stamped at every calendar and pending.
async fn rolled_up_on_regtest(
    calendars: &[String],
    name: &str,
) -> (Fleet, ledger::TenantId, ledger::Period, String) {
    let fleet = Fleet::start(
        calendars,
        &[
            ("LEDGER_ESPLORA_URL", calendars[0].as_str()),
            ("LEDGER_BITCOIN_NETWORK", "regtest"),
            ("LEDGER_UPGRADE_HORIZON", "30d"),
        ],
    )
    .await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        name,
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(2);
    common::manifests(ctx, &t, week, 5).await;
    fleet.tick().await;
    let run_id = common::run_id(&t, week);
    common::rollup(ctx, &run_id).await;
    (fleet, t, week, run_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_the_mining_dev_calendar_an_upgrade_confirms_on_regtest_only_when_the_worker_is_configured_for_regtest()
 {
    let (cal, url) = mining_calendar().await;
    let (fleet, t, week, run_id) =
        rolled_up_on_regtest(std::slice::from_ref(&url), "regtest-co").await;
    let ctx = &fleet.ctx;

    // Nothing mined yet: still pending, retried.
    workers::upgrade::job(ctx, &run_id, 0).await.unwrap();
    assert!(
        common::receipt_version_bytes(ctx, &t, week, 2)
            .await
            .is_none()
    );
    let block = cal
        .mine()
        .expect("the rollup's commitment waits for a block");
    assert_eq!(block.commitments, 1);

    // A worker on the default network refuses the regtest header: no receipt claims it.
    let mainnet = fleet.reopen(&[("LEDGER_BITCOIN_NETWORK", "bitcoin")]).await;
    workers::upgrade::job(&mainnet, &run_id, 1).await.unwrap();
    assert!(
        common::receipt_version_bytes(ctx, &t, week, 2)
            .await
            .is_none(),
        "a main-network worker never confirms a regtest block"
    );
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Anchored
    );

    // The regtest worker confirms it.
    workers::upgrade::job(ctx, &run_id, 2).await.unwrap();
    let v2 = common::receipt(ctx, &t, week, 2).await;
    let ots = v2
        .anchors
        .iter()
        .find(|a| a.kind == AnchorKind::Ots)
        .unwrap();
    assert_eq!(ots.status, AnchorStatus::Confirmed);
    let btc = ots.bitcoin.as_ref().unwrap();
    assert_eq!(
        (btc.height, btc.block_hash.as_str()),
        (block.height, block.block_hash.as_str())
    );
    assert_eq!(btc.time.timestamp(), i64::from(block.time));
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().status,
        RunStatus::Complete
    );
    // The stored proof verifies against the chain's headers file on regtest, not on Bitcoin.
    let v2_ots = DetachedTimestamp::from_bytes(
        &common::blob(ctx, &BlobKey::root_ots_version(&t, &week, 2).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    let root_bin = common::root_artifact(ctx, &t, week, RootArtifact::Bin)
        .await
        .unwrap();
    let json = cal.chain().headers_file().to_json();
    let file = HeadersFile::from_json(json.as_bytes()).unwrap();
    let digest = Sha256::digest(&root_bin);
    let on = |network| {
        stamp::verify::verify_file(&v2_ots, &digest, &file.clone().on_network(network))
            .unwrap()
            .0
    };
    assert_eq!(on(stamp::bitcoin::Network::Regtest), Verdict::Verified);
    assert_eq!(on(stamp::bitcoin::Network::Bitcoin), Verdict::NotVerified);
}

#[test]
fn the_bitcoin_network_is_bitcoin_by_default_regtest_on_request_and_anything_else_an_error() {
    use stamp::bitcoin::Network;
    let stamping = |value: Option<&str>| {
        let vars = value
            .map(|v| ("LEDGER_BITCOIN_NETWORK".to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        let config = ledger::config::Config::from_sources(None, &vars).unwrap();
        workers::ctx::Stamping::from_config(&config)
    };
    assert_eq!(stamping(None).unwrap().network, Network::Bitcoin);
    assert_eq!(stamping(Some("bitcoin")).unwrap().network, Network::Bitcoin);
    assert_eq!(stamping(Some("regtest")).unwrap().network, Network::Regtest);
    let err = stamping(Some("testnet")).unwrap_err().to_string();
    assert!(err.contains("LEDGER_BITCOIN_NETWORK"), "{err}");
    assert!(err.contains("testnet"), "{err}");
}

/// Two dev calendars mining on one regtest chain, each serving it as an Esplora API.
async fn two_calendars_on_one_chain() -> Vec<(std::sync::Arc<stamp::devcal::DevCalendar>, String)> {
    let chain = stamp::devcal::DevChain::new();
    let mut out = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cal = stamp::devcal::DevCalendar::on_chain(&url, chain.clone());
        let router = cal.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        out.push((cal, url));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_calendar_branch_is_followed_after_the_first_confirms_and_the_receipt_names_the_earliest_block_and_its_transaction()
 {
    let cals = two_calendars_on_one_chain().await;
    let urls: Vec<String> = cals.iter().map(|(_, u)| u.clone()).collect();
    let (fleet, t, week, run_id) = rolled_up_on_regtest(&urls, "branches-co").await;
    let ctx = &fleet.ctx;

    // The first calendar confirms: the run completes and the job goes on for the second.
    let first = cals[0]
        .0
        .mine()
        .expect("the first calendar holds the commitment");
    let follow = workers::upgrade::job(ctx, &run_id, 0).await.unwrap();
    assert!(
        follow.is_some(),
        "the second calendar's branch is still pending, so the job follows it"
    );
    let run = ctx.store.run(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    let v2 = common::receipt(ctx, &t, week, 2).await;
    let btc = v2.anchors[0].bitcoin.clone().unwrap();
    assert_eq!(
        (btc.height, btc.txid.as_deref(), btc.network),
        (
            first.height,
            Some(first.txid.as_str()),
            Some(ledger::formats::BitcoinNetwork::Regtest)
        )
    );
    let row = |rows: Vec<ledger::sql::AnchorRow>| {
        rows.into_iter()
            .find(|a| a.kind == AnchorKind::Ots)
            .unwrap()
            .details
    };
    let details = row(ctx.store.anchors(&run_id).await.unwrap());
    assert_eq!(details["attestations"].as_array().unwrap().len(), 1);
    assert_eq!(details["pending"], serde_json::json!([urls[1]]));

    // Nothing new at the second calendar: no new version.
    assert!(
        workers::upgrade::job(ctx, &run_id, 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        common::receipt_version_bytes(ctx, &t, week, 3)
            .await
            .is_none()
    );

    // The second confirms in a later block: a new version with both attestations, the
    // receipt still naming the earliest, the run's finish time unchanged, and the job done.
    let second = cals[1]
        .0
        .mine()
        .expect("the second calendar holds the commitment");
    assert!(second.height > first.height);
    assert_ne!(second.txid, first.txid);
    let follow = workers::upgrade::job(ctx, &run_id, 2).await.unwrap();
    assert!(follow.is_none(), "no branch is pending any more");
    let v3 = common::receipt(ctx, &t, week, 3).await;
    assert_eq!(v3.supersedes, Some(2));
    assert_eq!(v3.anchors[0].bitcoin, Some(btc));
    let details = row(ctx.store.anchors(&run_id).await.unwrap());
    let heights: Vec<u64> = details["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["height"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, vec![first.height, second.height]);
    assert_eq!(details["pending"], serde_json::json!([]));
    assert_eq!(
        ctx.store.run(&run_id).await.unwrap().finished_at,
        run.finished_at
    );
    let v3_ots = DetachedTimestamp::from_bytes(
        &common::blob(ctx, &BlobKey::root_ots_version(&t, &week, 3).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(v3_ots.timestamp.pending().is_empty());
    assert_eq!(v3_ots.timestamp.bitcoin_heights().len(), 2);
}
