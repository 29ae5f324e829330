//! Sample verification from a source independent of the tree (issue 22): the manifests the
//! SQL store accepted for the period must be exactly the stored tree's leaves, and the sample
//! is re-proved against `root.bin`. A tree that lacks a manifest, a tree holding a leaf the
//! store never accepted, and a corrupted stored tree each open an incident and pause the
//! tenant; a manifest backdated into an anchored period is refused before it is stored.

mod common;

use chrono::{Duration, Utc};
use common::Fleet;
use ledger::blob::{BlobKey, RootArtifact};
use ledger::sql::KillScope;
use ledger::{KillMode, Period, Plan, TenantId};
use merkle::ManifestDigest;
use workers::rollup::Rollup;

/// A fleet with one pro tenant whose week three weeks ago is anchored (8 manifests).
async fn anchored() -> (Fleet, TenantId, Period) {
    let cal = common::dev_calendar().await;
    let fleet = Fleet::start(&[cal], &[]).await;
    let ctx = &fleet.ctx;
    let t = common::tenant(
        ctx,
        "sampled-co",
        Plan::Pro,
        Utc::now() - Duration::days(40),
        50_000_000,
        0,
    )
    .await;
    let week = common::week_ago(3);
    common::manifests(ctx, &t, week, 8).await;
    fleet.tick().await;
    let out = common::rollup(ctx, &common::run_id(&t, week)).await;
    assert!(matches!(out, Rollup::Anchored { .. }), "{out:?}");
    (fleet, t, week)
}

/// Runs the sample-verify job and returns the detail of the one incident it opened, after
/// checking that the tenant is paused by it.
async fn sample_fails(fleet: &Fleet, t: &TenantId, week: Period) -> String {
    let ctx = &fleet.ctx;
    workers::sample::job(ctx, &common::run_id(t, week))
        .await
        .unwrap();
    let open = ctx.store.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].kind, "sample-verify");
    assert_eq!(open[0].tenant.as_ref(), Some(t));
    let kill = ctx
        .store
        .kill_switch(&KillScope::Tenant(t.clone()))
        .await
        .unwrap()
        .expect("the tenant's kill switch is set");
    assert_eq!(kill.mode, KillMode::Paused);
    assert_eq!(kill.actor, workers::sample::ACTOR);
    open[0].detail.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_period_passes_its_sample_verification_with_no_incident() {
    let (fleet, t, week) = anchored().await;
    workers::sample::job(&fleet.ctx, &common::run_id(&t, week))
        .await
        .unwrap();
    assert!(fleet.ctx.store.incidents(true).await.unwrap().is_empty());
    assert_eq!(
        fleet.ctx.store.effective_kill_mode(&t).await.unwrap(),
        KillMode::Normal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_the_store_accepted_but_the_tree_lacks_opens_an_incident_and_pauses_the_tenant()
{
    let (fleet, t, week) = anchored().await;
    // As if the rollup had dropped it: stored for the period behind the service's back.
    let dropped = ManifestDigest([0x11; 32]);
    fleet
        .ctx
        .store
        .insert_manifests(&t, &[dropped], week.start() + Duration::hours(2))
        .await
        .unwrap();
    let detail = sample_fails(&fleet, &t, week).await;
    assert!(
        detail.contains(&format!("manifest {dropped} is not in the stored tree")),
        "{detail}"
    );
    assert!(detail.contains("accepted 9 manifests") && detail.contains("holds 8 leaves"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_leaf_the_store_never_accepted_opens_an_incident_and_pauses_the_tenant() {
    let (fleet, t, week) = anchored().await;
    // The store loses one manifest row: the tree now holds a leaf it cannot account for.
    let gone = common::digests(&t, &week.to_string(), 8)[3];
    let url = format!(
        "sqlite://{}",
        std::path::Path::new(&fleet.vars["LEDGER_DATA_DIR"])
            .join("ledger.sqlite")
            .display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let deleted = sqlx::query("DELETE FROM manifests WHERE tenant = ?1 AND digest = ?2")
        .bind(t.as_str())
        .bind(gone.0.as_slice())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(deleted.rows_affected(), 1);
    let detail = sample_fails(&fleet, &t, week).await;
    assert!(
        detail.contains(&format!("leaf {gone} is no manifest the store accepted")),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_stored_tree_opens_an_incident_and_pauses_the_tenant() {
    let (fleet, t, week) = anchored().await;
    let key = BlobKey::root_artifact(&t, &week, RootArtifact::Levels);
    let path = std::path::Path::new(&fleet.vars["LEDGER_DATA_DIR"])
        .join("blobs")
        .join(key.as_str());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    // Create-only blobs are read-only files: replace the file, as damage on disk would.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let detail = sample_fails(&fleet, &t, week).await;
    assert!(detail.contains("levels.bin"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_backdated_into_an_anchored_period_is_refused_naming_the_run() {
    let (fleet, t, week) = anchored().await;
    let ctx = &fleet.ctx;
    let tenant = ctx.store.tenant(&t).await.unwrap();
    let at = week.start() + Duration::hours(3);
    let late = ManifestDigest([0x22; 32]);
    let err = service::manifests::submit(&ctx.store, &tenant, &[late], at, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, service::ServiceError::Conflict(_)), "{err:?}");
    let said = err.to_string();
    assert!(
        said.contains(&format!("run {} is ", common::run_id(&t, week)))
            && said.contains("would never be anchored"),
        "{said}"
    );
    assert_eq!(
        ctx.store.period_digests(&t, week).await.unwrap().len(),
        8,
        "nothing stored"
    );
    // A period with no run yet still takes a backdated manifest.
    let earlier = common::week_ago(5);
    let counts = service::manifests::submit(
        &ctx.store,
        &tenant,
        &[late],
        earlier.start() + Duration::hours(3),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(counts.accepted, 1);
}
