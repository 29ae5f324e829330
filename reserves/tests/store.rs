//! The reserves store on SQLite and on a fresh Postgres database: registry CRUD with soft
//! delete and policy history, append-only snapshots and latest-per-asset queries, stored
//! attestations byte for byte, listing, and webhook delivery with retries (wiremock).

mod common;

use chrono::Duration;
use common::*;
use ledger::keys::SigningKey;
use reserves::ReserveError;
use reserves::asset::AssetPatch;
use reserves::publisher::{Publisher, parse_webhooks};
use reserves::sql::{AssetFilter, AttestationFilter, PublicationStatus, ReserveStore};
use reserves::types::{AssetId, AttestationId, Bps};
use sqlx::Connection as _;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Db {
    store: ReserveStore,
    url: String,
    _pg: Option<testkit::pg::PgDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.sqlite").display());
        // The reserves tables share the ledger's database: both migration sets apply.
        let ledger = ledger::sql::Store::connect(&url).await.unwrap();
        let store = ReserveStore::connect(&url).await.unwrap();
        ledger.migrate().await.unwrap();
        ledger.close().await;
        Db {
            store,
            url,
            _pg: None,
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<Db> {
        let pg = testkit::pg::PgDatabase::create("reserves_test").await?;
        let url = pg.url.clone();
        let ledger = ledger::sql::Store::connect(&url).await.unwrap();
        let store = ReserveStore::connect(&url).await.unwrap();
        ReserveStore::connect(&url).await.unwrap().close().await;
        ledger.close().await;
        Some(Db {
            store,
            url,
            _pg: Some(pg),
            _dir: None,
        })
    }

    /// Closes the pool, then drops the Postgres database (as dropping a `Db` does).
    async fn finish(self) {
        self.store.close().await;
    }

    /// Runs raw SQL on a connection of its own (to prove what triggers refuse).
    async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        if self.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .map(|_| ())
        } else {
            let mut c = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .map(|_| ())
        }
    }
}

macro_rules! contract {
    ($($name:ident => $case:path;)+) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::Db::sqlite().await;
                    $case(&db).await;
                    db.finish().await;
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::Db::postgres().await else { return };
                    $case(&db).await;
                    db.finish().await;
                }
            )+
        }
    };
}

contract! {
    registry_crud_soft_deletes_and_keeps_the_policy_history => super::registry;
    snapshots_are_append_only_and_latest_per_asset_feeds_the_computation => super::snapshots;
    attestations_are_stored_byte_for_byte_listed_and_paged => super::attestations;
    the_outbox_delivers_to_webhooks_and_retries_failures => super::delivery;
    the_background_service_delivers_without_an_operator_and_stops_on_shutdown => super::background;
}

/// `Publisher::run_until`, what `anchor up` and `anchor worker` run: a pending attestation
/// reaches its webhook with nobody running a command, and the service ends when told to.
async fn background(db: &Db) {
    let s = &db.store;
    let key = SigningKey::generate();
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let a = signed_at(&key, as_of());
    let hooks = parse_webhooks(&format!("{}/in", hook.uri())).unwrap();
    s.publish(&a, &hooks, chrono::Utc::now()).await.unwrap();
    let p = Publisher::new(std::time::Duration::from_secs(5)).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = {
        let s = s.clone();
        tokio::spawn(async move {
            p.run_until(&s, std::time::Duration::from_millis(50), async {
                let _ = stopped.await;
            })
            .await;
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.attestation(a.id()).await.unwrap().status != PublicationStatus::Ok {
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered in 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), service)
        .await
        .expect("the service stops when told to")
        .unwrap();
}

async fn seed(s: &ReserveStore) {
    for a in new_assets() {
        s.create_asset(a, created()).await.unwrap();
    }
}

fn id(s: &str) -> AssetId {
    AssetId::new(s).unwrap()
}

async fn registry(db: &Db) {
    let s = &db.store;
    seed(s).await;
    let err = s
        .create_asset(new_assets().remove(0), created())
        .await
        .unwrap_err();
    assert!(matches!(err, ReserveError::Conflict { .. }), "{err}");

    let all = s.assets(&AssetFilter::default()).await.unwrap();
    let mut expected = assets();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        all, expected,
        "stored as the pure constructor builds them, ordered by id"
    );
    let gemini = s
        .assets(&AssetFilter {
            provider: Some("gemini".parse().unwrap()),
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(gemini.len(), 1);
    assert_eq!(gemini[0].provider_metadata["credits_per_unit"], 1000);

    let t1 = created() + Duration::days(1);
    let name_only = AssetPatch {
        name: Some("Gemini k".into()),
        ..AssetPatch::default()
    };
    s.update_asset(&id("ras_compute_gemini_k"), &name_only, t1)
        .await
        .unwrap();
    let policy = AssetPatch {
        haircut_bps: Some(Bps::new(8000).unwrap()),
        eligible: Some(false),
        ..AssetPatch::default()
    };
    let updated = s
        .update_asset(&id("ras_compute_gemini_k"), &policy, t1)
        .await
        .unwrap();
    assert_eq!(updated.name, "Gemini k");
    assert_eq!(s.asset(&id("ras_compute_gemini_k")).await.unwrap(), updated);
    let ineligible = s
        .assets(&AssetFilter {
            eligible: Some(false),
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ineligible.len(), 1);

    let t2 = t1 + Duration::days(1);
    let deleted = s
        .delete_asset(&id("ras_compute_gemini_k"), t2)
        .await
        .unwrap();
    assert_eq!(deleted.deleted_at, Some(t2));
    assert_eq!(
        s.asset(&id("ras_compute_gemini_k"))
            .await
            .unwrap()
            .deleted_at,
        Some(t2)
    );
    assert_eq!(s.assets(&AssetFilter::default()).await.unwrap().len(), 2);
    let with = s
        .assets(&AssetFilter {
            include_deleted: true,
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(with.len(), 3);
    let err = s
        .update_asset(&id("ras_compute_gemini_k"), &name_only, t2)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deleted"), "{err}");

    let h = s.policy_history(&id("ras_compute_gemini_k")).await.unwrap();
    let changes: Vec<_> = h
        .iter()
        .map(|c| (c.change.as_str(), c.eligible, c.haircut_bps.get()))
        .collect();
    assert_eq!(
        changes,
        [
            ("create", true, 5000),
            ("update", false, 8000),
            ("delete", false, 8000)
        ]
    );
    assert_eq!(h[1].at, t1);
    assert!(
        db.raw("DELETE FROM reserve_asset_policy_history")
            .await
            .is_err(),
        "append-only"
    );
}

async fn snapshots(db: &Db) {
    let s = &db.store;
    seed(s).await;
    for f in snapshot_fixtures() {
        s.add_snapshot(&id(&f.asset_id), new_snapshot(&f), ts(&f.fetched_at))
            .await
            .unwrap();
    }
    let latest = s
        .latest_snapshot(&id("ras_compute_gemini_k"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.raw_amount.get(), 12_000);
    assert_eq!(latest.metadata["packs"], "12");
    assert_eq!(
        s.snapshots(&id("ras_compute_gemini_k"), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.latest_snapshot(&id("ras_manual_credit")).await.unwrap(),
        None
    );

    let at = s.latest_snapshots(as_of()).await.unwrap();
    assert_eq!(
        at.iter()
            .map(|x| (x.asset_id.as_str(), x.raw_amount.get()))
            .collect::<Vec<_>>(),
        [
            ("ras_compute_fal_halfk", 12_500),
            ("ras_compute_gemini_k", 12_000)
        ]
    );
    let earlier = s
        .latest_snapshots(ts("2026-11-22T12:00:00.000Z"))
        .await
        .unwrap();
    assert_eq!(
        earlier[1].raw_amount.get(),
        10_000,
        "the 11-23 snapshot did not exist yet"
    );

    let mut c = s
        .compute(
            liabilities(5000, &[("fal", 2000), ("gemini", 3000)]),
            as_of(),
        )
        .await
        .unwrap();
    let mut pure = fixture_computation();
    for l in c.reserves.iter_mut().chain(pure.reserves.iter_mut()) {
        l.snapshot_id = None; // generated at ingestion
    }
    assert_eq!(c, pure);

    assert!(
        db.raw("UPDATE reserve_asset_snapshots SET raw_amount = '1'")
            .await
            .is_err()
    );
    assert!(db.raw("DELETE FROM reserve_asset_snapshots").await.is_err());
    let err = s.asset(&id("ras_nope")).await.unwrap_err().to_string();
    assert_eq!(err, "reserve asset \"ras_nope\" not found");
    s.delete_asset(&id("ras_manual_credit"), as_of())
        .await
        .unwrap();
    let f = &snapshot_fixtures()[0];
    let err = s
        .add_snapshot(&id("ras_manual_credit"), new_snapshot(f), as_of())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deleted"), "{err}");
}

async fn attestations(db: &Db) {
    let s = &db.store;
    let key = SigningKey::generate();
    let ends = [
        as_of(),
        as_of() + Duration::hours(1),
        as_of() + Duration::hours(2),
    ];
    let mut signed = Vec::new();
    for end in ends {
        let a = signed_at(&key, end);
        s.publish(&a, &[], end).await.unwrap();
        signed.push(a);
    }
    let err = s.publish(&signed[0], &[], as_of()).await.unwrap_err();
    assert!(matches!(err, ReserveError::Conflict { .. }), "{err}");

    let got = s.attestation(signed[1].id()).await.unwrap();
    assert_eq!(got.payload_canonical, signed[1].canonical);
    assert_eq!(got.served_json, signed[1].served_json);
    assert_eq!(got.payload_hash, signed[1].served.payload_hash);
    assert_eq!(got.signature, signed[1].served.sig);
    assert_eq!(got.key_id, key.key_id().as_str());
    assert_eq!(got.status, PublicationStatus::Pending);
    assert_eq!(got.coverage_ratio_bps.get(), 12_000);
    // What is served verifies as it was signed.
    reserves::attestation::verify(got.served_json.as_bytes(), &jwks(&key)).unwrap();

    let (page, n) = s
        .attestations(&AttestationFilter {
            limit: Some(2),
            ..AttestationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        page.iter().map(|a| &a.id).collect::<Vec<_>>(),
        [signed[2].id(), signed[1].id()]
    );
    let (page, _) = s
        .attestations(&AttestationFilter {
            limit: Some(2),
            offset: Some(2),
            ..AttestationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|a| &a.id).collect::<Vec<_>>(),
        [signed[0].id()]
    );
    let (page, n) = s
        .attestations(&AttestationFilter {
            period_end_max: Some(ends[1]),
            period_end_min: Some(ends[1]),
            ..AttestationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((n, page[0].id.clone()), (1, signed[1].id().clone()));
    let (_, n) = s
        .attestations(&AttestationFilter {
            status: Some(PublicationStatus::Ok),
            ..AttestationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(n, 0);

    assert_eq!(&s.latest_attestation().await.unwrap().id, signed[2].id());
    let missing = AttestationId::generate();
    let err = s.attestation(&missing).await.unwrap_err().to_string();
    assert_eq!(err, format!("reserve_attestation_not_found: {missing}"));

    assert!(
        db.raw("UPDATE reserve_attestations SET served_json = '{}'")
            .await
            .is_err()
    );
    assert!(
        db.raw("UPDATE reserve_attestations SET payload_hash = 'x'")
            .await
            .is_err()
    );
    assert!(db.raw("DELETE FROM reserve_attestations").await.is_err());
}

async fn delivery(db: &Db) {
    let s = &db.store;
    let empty = s.latest_attestation().await.unwrap_err().to_string();
    assert_eq!(empty, "reserve_attestation_not_found");
    let key = SigningKey::generate();
    let good = MockServer::start().await;
    let flaky = MockServer::start().await;
    let a = signed_at(&key, as_of());
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("x-reserve-attestation-id", a.id().as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&good)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&flaky)
        .await;
    let hooks = parse_webhooks(&format!("{}/hook, {}/in", good.uri(), flaky.uri())).unwrap();
    let t0 = as_of() + Duration::days(1);
    s.publish(&a, &hooks, t0).await.unwrap();

    let p = Publisher::new(std::time::Duration::from_secs(5)).unwrap();
    let out = p.run_once(s, t0, 10).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, PublicationStatus::Failed);
    assert!(out[0].errors[0].contains("HTTP 503"), "{:?}", out[0].errors);
    let got = s.attestation(a.id()).await.unwrap();
    assert_eq!(got.status, PublicationStatus::Failed);
    assert_eq!(got.next_attempt_at, t0 + p.retry_base);
    // Failed is not "latest" (pending or ok only).
    assert!(s.latest_attestation().await.is_err());

    // Not due before the retry time.
    assert!(
        p.run_once(s, t0 + Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let t1 = t0 + p.retry_base;
    let out = p.run_once(s, t1, 10).await.unwrap();
    assert_eq!(out[0].status, PublicationStatus::Ok, "{:?}", out[0].errors);
    let d = s.deliveries(a.id()).await.unwrap();
    let attempts = |w: &str| {
        d.iter()
            .find(|d| d.webhook == w)
            .map(|d| (d.status.as_str(), d.attempts))
    };
    assert_eq!(attempts(&hooks[0]), Some(("ok", 1)));
    assert_eq!(attempts(&hooks[1]), Some(("ok", 2)));
    assert_eq!(
        s.latest_attestation().await.unwrap().status,
        PublicationStatus::Ok
    );
    // The good hook got exactly one POST (expect(1)); the body is the served JSON.
    let bodies = flaky.received_requests().await.unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1].body, a.served_json.as_bytes());
    assert!(
        p.run_once(s, t1 + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(parse_webhooks("ftp://x").is_err());
}
