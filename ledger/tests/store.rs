//! The SQL store's contract suite: every case runs on SQLite and on a real Postgres (a fresh
//! database per test).

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::TestDb;
use ledger::keys::SigningKey;
use ledger::sql::{
    AnchorKind, AnchorRow, AnchorStatus, BackfillProgress, BackfillStatus, CANARY_INCIDENT,
    CanaryStatus, Consent, ConsentAction, ConsentEntry, KillMode, KillScope, KillState,
    NewBackfill, NewTenant, RunFilter, RunOutcome, RunStatus, TenantPatch, TenantStatus, Trigger,
    Visibility, hash_token, new_token, token_matches,
};
use ledger::{CalendarUrl, LedgerError, Period, Plan, TenantId};
use merkle::{Hash, ManifestDigest, Root};
use sqlx::Connection as _;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap()
}

fn tid(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn digest(i: u64) -> ManifestDigest {
    let mut d = [0u8; 32];
    // Spread the bytes so that insertion order and byte order differ.
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    d[..8].copy_from_slice(&h.to_be_bytes());
    d[24..].copy_from_slice(&i.to_be_bytes());
    ManifestDigest(d)
}

async fn add_tenant(db: &TestDb, id: &str) -> TenantId {
    let t = NewTenant {
        id: tid(id),
        plan: Plan::Pro,
        token_hash: hash_token(&format!("token-{id}")),
        max_roots_per_period: 1,
        cost_ceiling_micro_usd: 5_000_000,
    };
    db.store.create_tenant(&t, t0()).await.unwrap();
    tid(id)
}

async fn tenants_are_created_once_updated_by_patch_and_start_opted_out(db: &TestDb) {
    let s = &db.store;
    let token = new_token();
    let t = NewTenant {
        id: tid("acme"),
        plan: Plan::Starter,
        token_hash: hash_token(&token),
        max_roots_per_period: 2,
        cost_ceiling_micro_usd: 1_000_000,
    };
    let created = s.create_tenant(&t, t0()).await.unwrap();
    assert_eq!(created.consent, Consent::OptedOut);
    assert_eq!(created.visibility, Visibility::Private);
    assert_eq!(created.status, TenantStatus::Active);
    assert!(!created.anchoring_enabled());
    assert!(token_matches(&created.token_hash, &token));
    assert!(!token_matches(&created.token_hash, &new_token()));

    let again = s.create_tenant(&t, t0()).await.unwrap_err();
    assert!(
        matches!(again, LedgerError::Conflict { what: "tenant", .. }),
        "{again}"
    );

    let patched = s
        .update_tenant(
            &tid("acme"),
            &TenantPatch {
                plan: Some(Plan::Enterprise),
                cost_ceiling_micro_usd: Some(9),
                ..TenantPatch::default()
            },
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(patched.plan, Plan::Enterprise);
    assert_eq!(patched.cost_ceiling_micro_usd, 9);
    assert_eq!(
        patched.max_roots_per_period, 2,
        "unpatched fields keep their value"
    );
    assert_eq!(patched.updated_at, t0() + Duration::hours(1));

    let missing = s
        .update_tenant(&tid("nobody"), &TenantPatch::default(), t0())
        .await
        .unwrap_err();
    assert!(matches!(missing, LedgerError::NotFound { .. }));
    assert_eq!(s.tenants().await.unwrap().len(), 1);
}

async fn consent_is_logged_in_order_and_the_log_refuses_rewrites(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    let entry = |action, visibility, at| ConsentEntry {
        action,
        visibility,
        signer: "ops@acme.example".into(),
        reason: "board decision 2026-11".into(),
        at,
    };
    let on = s
        .record_consent(&t, &entry(ConsentAction::OptIn, Visibility::Public, t0()))
        .await
        .unwrap();
    assert_eq!(
        (on.consent, on.visibility),
        (Consent::OptedIn, Visibility::Public)
    );
    assert!(on.anchoring_enabled());
    let off = s
        .record_consent(
            &t,
            &entry(
                ConsentAction::OptOut,
                Visibility::Private,
                t0() + Duration::days(1),
            ),
        )
        .await
        .unwrap();
    assert_eq!(off.consent, Consent::OptedOut);
    let log = s.consent_log(&t).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, ConsentAction::OptIn);
    assert_eq!(log[1].at, t0() + Duration::days(1));

    let mut blank = entry(ConsentAction::OptIn, Visibility::Public, t0());
    blank.signer = " ".into();
    assert!(matches!(
        s.record_consent(&t, &blank).await.unwrap_err(),
        LedgerError::Invalid {
            what: "consent signer",
            ..
        }
    ));
    assert_eq!(
        s.consent_log(&t).await.unwrap().len(),
        2,
        "a refused entry adds nothing"
    );

    // The database itself refuses to rewrite history.
    for sql in [
        "UPDATE consent_log SET reason = 'x'",
        "DELETE FROM consent_log",
    ] {
        assert!(raw_execute(db, sql).await.is_err(), "{sql} was allowed");
    }
    assert_eq!(s.consent_log(&t).await.unwrap().len(), 2);
}

/// Runs SQL on the test database over a connection of its own (not through the store).
async fn raw_execute(db: &TestDb, sql: &str) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await?;
        Ok(sqlx::query(sql).execute(&mut c).await?.rows_affected())
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await?;
        Ok(sqlx::query(sql).execute(&mut c).await?.rows_affected())
    }
}

async fn manifests_are_deduplicated_per_day_and_read_sorted_and_distinct_per_period(db: &TestDb) {
    let s = &db.store;
    let acme = add_tenant(db, "acme").await;
    let other = add_tenant(db, "other").await;
    let monday = t0(); // 2026-11-16 is the Monday of 2026-W47.
    let batch: Vec<ManifestDigest> = (0..100).map(digest).collect();
    let first = s.insert_manifests(&acme, &batch, monday).await.unwrap();
    assert_eq!((first.accepted, first.duplicate), (100, 0));

    // Same day again, plus repeats inside the batch: all duplicates but two new ones.
    let mut again: Vec<ManifestDigest> = (0..50).map(digest).collect();
    again.extend([digest(500), digest(500), digest(501)]);
    let second = s
        .insert_manifests(&acme, &again, monday + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!((second.accepted, second.duplicate), (2, 51));

    // Another day of the same week: stored, but read once in the weekly period.
    let wed = s
        .insert_manifests(&acme, &[digest(1), digest(900)], monday + Duration::days(2))
        .await
        .unwrap();
    assert_eq!((wed.accepted, wed.duplicate), (2, 0));
    // Another tenant's digests never leak into acme's periods.
    s.insert_manifests(&other, &[digest(7777)], monday)
        .await
        .unwrap();

    let week: Period = "2026-W47".parse().unwrap();
    let digests = s.period_digests(&acme, week).await.unwrap();
    let mut expected: Vec<ManifestDigest> = (0..100).chain([500, 501, 900]).map(digest).collect();
    merkle::leaf::sort_and_dedup(&mut expected);
    assert_eq!(
        digests, expected,
        "sorted by bytes, distinct, this tenant only"
    );
    assert_eq!(s.count_period_manifests(&acme, week).await.unwrap(), 103);
    let monday_only: Period = "2026-11-16".parse().unwrap();
    assert_eq!(
        s.count_period_manifests(&acme, monday_only).await.unwrap(),
        102
    );
    let next_week: Period = "2026-W48".parse().unwrap();
    assert!(s.period_digests(&acme, next_week).await.unwrap().is_empty());

    let days = s
        .manifest_days(
            &acme,
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        days,
        vec![
            (NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), 102),
            (NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(), 2)
        ]
    );

    let unknown = s
        .insert_manifests(&tid("nobody"), &batch, monday)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, LedgerError::NotFound { what: "tenant", .. }),
        "{unknown}"
    );
}

async fn a_large_ingest_spans_statement_chunks_and_counts_exactly(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "bulk").await;
    let n = 70_000u64;
    let mut batch: Vec<ManifestDigest> = (0..n).map(digest).collect();
    batch.extend((0..1000).map(digest)); // duplicates in the same call, in a later chunk
    let c = s.insert_manifests(&t, &batch, t0()).await.unwrap();
    assert_eq!((c.accepted, c.duplicate), (n, 1000));
    let day: Period = "2026-11-16".parse().unwrap();
    let mut prev: Option<ManifestDigest> = None;
    let count = s
        .for_each_period_digest(&t, day, |d| {
            assert!(prev.is_none_or(|p| p.0 < d.0), "strictly ascending");
            prev = Some(d);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(count, n);
}

/// Concurrent callers share group commits (issue 25) and still each get their own batch's
/// counts, and each is answered only once its rows are committed (visible to another
/// connection when its call returns).
async fn concurrent_ingests_each_count_their_own_batch(db: &TestDb) {
    let tenants = [
        add_tenant(db, "many-a").await,
        add_tenant(db, "many-b").await,
    ];
    let day: Period = "2026-11-16".parse().unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for k in 0..40u64 {
        let (s, t) = (db.store.clone(), tenants[(k % 2) as usize].clone());
        // Each batch overlaps the next one of its tenant by 40 digests and repeats one.
        let j = k / 2;
        let mut batch: Vec<ManifestDigest> = (j * 60..j * 60 + 100).map(digest).collect();
        batch.push(digest(j * 60));
        calls.spawn(async move {
            let c = s.insert_manifests(&t, &batch, t0()).await.unwrap();
            let stored = s.period_digests(&t, day).await.unwrap();
            assert!(
                batch.iter().all(|d| stored.binary_search(d).is_ok()),
                "answered before its rows were committed"
            );
            (k % 2, c)
        });
    }
    let mut accepted = [0u64; 2];
    while let Some(r) = calls.join_next().await {
        let (t, c) = r.unwrap();
        assert_eq!(c.accepted + c.duplicate, 101, "{c:?}");
        assert!(c.duplicate >= 1, "the repeat within the batch: {c:?}");
        accepted[t as usize] += c.accepted;
    }
    // 20 batches of 100 per tenant, each overlapping the next by 40: 19 × 60 + 100 distinct.
    for (t, n) in tenants.iter().zip(accepted) {
        assert_eq!(n, 1240, "{t}");
        assert_eq!(db.store.count_period_manifests(t, day).await.unwrap(), 1240);
    }
}

async fn runs_are_created_once_per_period_and_finished_runs_are_not_restarted(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    let week: Period = "2026-W47".parse().unwrap();
    let (run, created) = s
        .create_run(&t, week, Trigger::Scheduled, t0())
        .await
        .unwrap();
    assert!(created);
    assert_eq!(run.id, "acme:2026-W47");
    assert_eq!(run.status, RunStatus::Queued);
    let (same, created_again) = s.create_run(&t, week, Trigger::Manual, t0()).await.unwrap();
    assert!(!created_again);
    assert_eq!(same.trigger, Trigger::Scheduled, "the first enqueue wins");

    let started = s
        .start_run(&run.id, t0() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!((started.status, started.attempt), (RunStatus::Running, 1));
    let retried = s
        .start_run(&run.id, t0() + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(retried.attempt, 2, "a crashed attempt may be retried");

    let root = Root(Hash([7; 32]));
    let done = s
        .finish_run(
            &run.id,
            &RunOutcome {
                status: RunStatus::Anchored,
                root: Some(root),
                tree_size: Some(103),
                estimated_cost_micro_usd: 30_000,
                errors: vec!["calendar b timed out".into()],
            },
            t0() + Duration::minutes(3),
        )
        .await
        .unwrap();
    assert_eq!(done.root, Some(root));
    assert_eq!(done.tree_size, Some(103));
    assert_eq!(done.errors, vec!["calendar b timed out".to_string()]);
    assert_eq!(done.finished_at, Some(t0() + Duration::minutes(3)));
    let refused = s.start_run(&run.id, t0()).await.unwrap_err();
    assert!(
        matches!(refused, LedgerError::Conflict { what: "run", .. }),
        "{refused}"
    );

    s.create_run(
        &t,
        "2026-W48".parse().unwrap(),
        Trigger::Backfill,
        t0() + Duration::days(7),
    )
    .await
    .unwrap();
    let all = s.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.period.to_string()).collect::<Vec<_>>(),
        ["2026-W48", "2026-W47"]
    );
    let anchored = s
        .runs(&RunFilter {
            status: Some(RunStatus::Anchored),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(anchored.len(), 1);
    let none = s
        .runs(&RunFilter {
            tenant: Some(tid("other")),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(
        s.find_run(&t, "2026-W49".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn anchors_are_one_row_per_type_and_replaced_in_place(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    let week: Period = "2026-W47".parse().unwrap();
    let (run, _) = s
        .create_run(&t, week, Trigger::Scheduled, t0())
        .await
        .unwrap();
    let anchor = |kind, status| AnchorRow {
        run_id: run.id.clone(),
        kind,
        status,
        details: serde_json::json!({"calendars": ["https://a.example"]}),
        artifact_key: Some("roots/acme/2026-W47/root.ots".into()),
        artifact_sha256: Some([9; 32]),
        updated_at: t0(),
    };
    s.put_anchor(&anchor(AnchorKind::Tsa, AnchorStatus::Confirmed))
        .await
        .unwrap();
    s.put_anchor(&anchor(AnchorKind::Ots, AnchorStatus::Pending))
        .await
        .unwrap();
    s.put_anchor(&anchor(AnchorKind::Ots, AnchorStatus::Confirmed))
        .await
        .unwrap();
    let anchors = s.anchors(&run.id).await.unwrap();
    assert_eq!(anchors.len(), 2, "one row per anchor type");
    assert_eq!(anchors[0].kind, AnchorKind::Ots);
    assert_eq!(
        anchors[0].status,
        AnchorStatus::Confirmed,
        "replaced in place"
    );
    assert_eq!(anchors[0].details["calendars"][0], "https://a.example");
}

async fn backfills_record_progress_and_cancelled_ones_stay_cancelled(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
    let nb = NewBackfill {
        id: "bf-1".into(),
        tenant: t.clone(),
        from: day(1),
        to: day(31),
        manifests_per_hour: 10_000,
        cost_ceiling_micro_usd: 2_000_000,
    };
    let b = s.create_backfill(&nb, t0()).await.unwrap();
    assert_eq!(
        (b.status, b.from, b.to),
        (BackfillStatus::Queued, day(1), day(31))
    );
    let dup = s.create_backfill(&nb, t0()).await.unwrap_err();
    assert!(matches!(dup, LedgerError::Conflict { .. }));
    let backwards = NewBackfill {
        id: "bf-2".into(),
        from: day(31),
        to: day(1),
        ..nb.clone()
    };
    assert!(matches!(
        s.create_backfill(&backwards, t0()).await.unwrap_err(),
        LedgerError::Invalid { .. }
    ));

    s.add_backfill_progress(
        "bf-1",
        BackfillProgress {
            periods_total: Some(5),
            periods_done: 1,
            manifests_done: 400,
            cost_spent_micro_usd: 30_000,
        },
        t0(),
    )
    .await
    .unwrap();
    let b = s
        .add_backfill_progress(
            "bf-1",
            BackfillProgress {
                periods_total: None,
                periods_done: 1,
                manifests_done: 100,
                cost_spent_micro_usd: 30_000,
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            b.periods_total,
            b.periods_done,
            b.manifests_done,
            b.cost_spent_micro_usd
        ),
        (5, 2, 500, 60_000)
    );

    let stopped = s
        .set_backfill_status("bf-1", BackfillStatus::Stopped, Some("cost ceiling"), t0())
        .await
        .unwrap();
    assert_eq!(stopped.reason.as_deref(), Some("cost ceiling"));
    s.set_backfill_status("bf-1", BackfillStatus::Running, None, t0())
        .await
        .unwrap();
    s.set_backfill_status("bf-1", BackfillStatus::Cancelled, Some("operator"), t0())
        .await
        .unwrap();
    let again = s
        .set_backfill_status("bf-1", BackfillStatus::Running, None, t0())
        .await
        .unwrap_err();
    assert!(matches!(again, LedgerError::Conflict { .. }), "{again}");
    assert_eq!(s.backfills(Some(&t)).await.unwrap().len(), 1);
    assert!(s.backfills(Some(&tid("other"))).await.unwrap().is_empty());
}

async fn the_kill_switch_keeps_its_history_and_the_stricter_scope_wins(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    assert_eq!(s.effective_kill_mode(&t).await.unwrap(), KillMode::Normal);
    let set = |scope, mode, reason: &str, at| KillState {
        scope,
        mode,
        reason: reason.into(),
        actor: "oncall".into(),
        at,
    };
    s.set_kill_switch(&set(
        KillScope::Global,
        KillMode::TsaOnly,
        "calendar outage",
        t0(),
    ))
    .await
    .unwrap();
    assert_eq!(s.effective_kill_mode(&t).await.unwrap(), KillMode::TsaOnly);
    s.set_kill_switch(&set(
        KillScope::Tenant(t.clone()),
        KillMode::Paused,
        "sample verify failed",
        t0() + Duration::minutes(1),
    ))
    .await
    .unwrap();
    assert_eq!(s.effective_kill_mode(&t).await.unwrap(), KillMode::Paused);
    s.set_kill_switch(&set(
        KillScope::Global,
        KillMode::Normal,
        "calendars back",
        t0() + Duration::minutes(2),
    ))
    .await
    .unwrap();
    assert_eq!(
        s.effective_kill_mode(&t).await.unwrap(),
        KillMode::Paused,
        "the tenant's switch still holds"
    );

    let g = s.kill_switch(&KillScope::Global).await.unwrap().unwrap();
    assert_eq!(
        (g.mode, g.reason.as_str()),
        (KillMode::Normal, "calendars back")
    );
    let history = s.kill_switch_history(None).await.unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].reason, "calendar outage");
    assert_eq!(
        s.kill_switch_history(Some(&KillScope::Global))
            .await
            .unwrap()
            .len(),
        2
    );

    let blank = s
        .set_kill_switch(&set(KillScope::Global, KillMode::Paused, "", t0()))
        .await
        .unwrap_err();
    assert!(matches!(blank, LedgerError::Invalid { .. }));
    let unknown = s
        .set_kill_switch(&set(
            KillScope::Tenant(tid("nobody")),
            KillMode::Paused,
            "x",
            t0(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(unknown, LedgerError::NotFound { .. }));
    assert!(
        raw_execute(db, "DELETE FROM kill_switch_history")
            .await
            .is_err()
    );
}

async fn incidents_open_and_resolve_once(db: &TestDb) {
    let s = &db.store;
    let t = add_tenant(db, "acme").await;
    let id = s
        .open_incident(
            Some(&t),
            Some("acme:2026-W47"),
            "sample-verify",
            "leaf 3 mismatch",
            t0(),
        )
        .await
        .unwrap();
    let other = s
        .open_incident(
            None,
            None,
            "upgrade-horizon",
            "root.ots pending after 48h",
            t0(),
        )
        .await
        .unwrap();
    assert_ne!(id, other);
    assert_eq!(s.incidents(true).await.unwrap().len(), 2);
    s.resolve_incident(id, "re-ran the run", t0() + Duration::hours(1))
        .await
        .unwrap();
    assert!(matches!(
        s.resolve_incident(id, "again", t0()).await.unwrap_err(),
        LedgerError::Conflict { .. }
    ));
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.iter().map(|i| i.id).collect::<Vec<_>>(), [other]);
    let all = s.incidents(false).await.unwrap();
    let resolved = all.iter().find(|i| i.id == id).unwrap();
    assert_eq!(resolved.resolution.as_deref(), Some("re-ran the run"));
    assert_eq!(resolved.tenant.as_ref(), Some(&t));
}

async fn retired_keys_leave_the_published_set_but_are_kept(db: &TestDb) {
    let s = &db.store;
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    assert!(matches!(
        s.jwks(false).await.unwrap_err(),
        LedgerError::NotFound { .. }
    ));
    s.register_key(&a.public_jwk(), t0()).await.unwrap();
    s.register_key(&a.public_jwk(), t0()).await.unwrap();
    s.register_key(&b.public_jwk(), t0() + Duration::days(1))
        .await
        .unwrap();
    s.retire_key(a.key_id().as_str(), t0() + Duration::days(2))
        .await
        .unwrap();
    let published = s.jwks(false).await.unwrap();
    assert_eq!(published.keys().len(), 1);
    assert!(published.get(b.key_id()).is_some());
    assert!(
        published.get(a.key_id()).is_none(),
        "retired keys are not published"
    );
    let all = s.jwks(true).await.unwrap();
    assert!(
        all.get(a.key_id()).is_some(),
        "but they are kept for old chains"
    );
    let rows = s.keys(true).await.unwrap();
    assert_eq!(rows[0].retired_at, Some(t0() + Duration::days(2)));
    assert!(matches!(
        s.retire_key(a.key_id().as_str(), t0()).await.unwrap_err(),
        LedgerError::NotFound { .. }
    ));
}

async fn canaries_settle_once_and_supersede_older_pending_ones_of_their_calendar(db: &TestDb) {
    let s = &db.store;
    let cal = CalendarUrl::new("https://user:secret@cal.example/").unwrap();
    assert_eq!(cal.as_str(), "https://cal.example");
    let other = CalendarUrl::new("https://other.example").unwrap();
    assert!(s.latest_canary(&cal).await.unwrap().is_none());
    let a = s
        .insert_canary(&cal, [1; 32], b"ots-a", t0())
        .await
        .unwrap();
    let b = s
        .insert_canary(&cal, [2; 32], b"ots-b", t0() + Duration::hours(1))
        .await
        .unwrap();
    let c = s
        .insert_canary(&other, [3; 32], b"ots-c", t0())
        .await
        .unwrap();
    assert_eq!(a.status, CanaryStatus::Pending);
    assert_eq!(a.digest, [1; 32]);
    assert_eq!(s.latest_canary(&cal).await.unwrap().unwrap().id, b.id);

    s.check_canary(
        a.id,
        b"ots-a2",
        "pending (404)",
        t0() + Duration::minutes(5),
    )
    .await
    .unwrap();
    let a2 = s.canary(a.id).await.unwrap();
    assert_eq!(a2.ots, b"ots-a2");
    assert_eq!(a2.checked_at, Some(t0() + Duration::minutes(5)));
    assert_eq!(a2.detail.as_deref(), Some("pending (404)"));

    let superseded = s
        .settle_canary(
            b.id,
            CanaryStatus::Confirmed,
            b"ots-b2",
            "block 7",
            t0() + Duration::hours(2),
        )
        .await
        .unwrap();
    assert_eq!(superseded, 1);
    assert_eq!(
        s.canary(a.id).await.unwrap().status,
        CanaryStatus::Superseded
    );
    assert_eq!(
        s.canary(c.id).await.unwrap().status,
        CanaryStatus::Pending,
        "another calendar's canary is untouched"
    );
    assert!(s.canaries(&cal, true).await.unwrap().is_empty());
    assert_eq!(s.canaries(&cal, false).await.unwrap().len(), 2);
    assert!(matches!(
        s.settle_canary(b.id, CanaryStatus::Unverified, b"x", "again", t0())
            .await
            .unwrap_err(),
        LedgerError::Conflict { .. }
    ));
    assert!(matches!(
        s.check_canary(b.id, b"x", "again", t0()).await.unwrap_err(),
        LedgerError::Conflict { .. }
    ));
}

async fn a_calendar_has_at_most_one_open_incident_until_it_is_resolved(db: &TestDb) {
    let s = &db.store;
    let cal = CalendarUrl::new("https://cal.example").unwrap();
    assert_eq!(s.calendar_incident(&cal).await.unwrap(), None);
    let (id, opened) = s
        .open_calendar_incident(&cal, "calendar https://cal.example: late", t0())
        .await
        .unwrap();
    assert!(opened);
    let (again, opened) = s
        .open_calendar_incident(&cal, "calendar https://cal.example: later", t0())
        .await
        .unwrap();
    assert_eq!((again, opened), (id, false));
    let open = s.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, CANARY_INCIDENT);
    assert!(open[0].detail.contains("https://cal.example"));
    assert_eq!(
        s.resolve_calendar_incident(&cal, "anchors again", t0() + Duration::hours(1))
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        s.resolve_calendar_incident(&cal, "anchors again", t0())
            .await
            .unwrap(),
        None
    );
    assert!(s.incidents(true).await.unwrap().is_empty());
    // Resolved by an operator instead: a calendar still late gets a new incident.
    let (second, _) = s.open_calendar_incident(&cal, "late", t0()).await.unwrap();
    s.resolve_incident(second, "by hand", t0()).await.unwrap();
    let (third, opened) = s.open_calendar_incident(&cal, "late", t0()).await.unwrap();
    assert!(opened && third != second);
}

contract! {
    anchors_are_one_row_per_type_and_replaced_in_place => super::anchors_are_one_row_per_type_and_replaced_in_place;
    tenants_are_created_once_updated_by_patch_and_start_opted_out => super::tenants_are_created_once_updated_by_patch_and_start_opted_out;
    consent_is_logged_in_order_and_the_log_refuses_rewrites => super::consent_is_logged_in_order_and_the_log_refuses_rewrites;
    manifests_are_deduplicated_per_day_and_read_sorted_and_distinct_per_period => super::manifests_are_deduplicated_per_day_and_read_sorted_and_distinct_per_period;
    a_large_ingest_spans_statement_chunks_and_counts_exactly => super::a_large_ingest_spans_statement_chunks_and_counts_exactly;
    concurrent_ingests_each_count_their_own_batch => super::concurrent_ingests_each_count_their_own_batch;
    runs_are_created_once_per_period_and_finished_runs_are_not_restarted => super::runs_are_created_once_per_period_and_finished_runs_are_not_restarted;
    backfills_record_progress_and_cancelled_ones_stay_cancelled => super::backfills_record_progress_and_cancelled_ones_stay_cancelled;
    the_kill_switch_keeps_its_history_and_the_stricter_scope_wins => super::the_kill_switch_keeps_its_history_and_the_stricter_scope_wins;
    incidents_open_and_resolve_once => super::incidents_open_and_resolve_once;
    retired_keys_leave_the_published_set_but_are_kept => super::retired_keys_leave_the_published_set_but_are_kept;
    canaries_settle_once_and_supersede_older_pending_ones_of_their_calendar => super::canaries_settle_once_and_supersede_older_pending_ones_of_their_calendar;
    a_calendar_has_at_most_one_open_incident_until_it_is_resolved => super::a_calendar_has_at_most_one_open_incident_until_it_is_resolved;
}
