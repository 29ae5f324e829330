//! The run-summary ledger on the SQL store: appends link into a chain that `verify_jsonl`
//! accepts, concurrent writers never fork it, and a writer killed mid-append leaves a chain
//! that still verifies. Every case runs on SQLite and on Postgres.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::TestDb;
use ledger::chain::verify_jsonl;
use ledger::formats::{AnchorOutcome, Counts, Coverage, GENESIS, SummaryBody, Toggles, sha256_hex};
use ledger::keys::{Jwks, SigningKey};
use ledger::sql::{NewTenant, Store, hash_token};
use ledger::{AnchorKind, AnchorStatus, KillMode, LedgerError, Period, Plan, TenantId, Trigger};
use merkle::{Hash, Root};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_pem(include_str!("../../domain/tests/golden/signing-key.pem")).unwrap()
}

fn jwks() -> Jwks {
    Jwks::new(vec![key().public_jwk()]).unwrap()
}

fn body(tenant: &TenantId, n: u32) -> SummaryBody {
    let period = Period::containing(ledger::Cadence::Daily, t0() + Duration::days(i64::from(n)));
    SummaryBody {
        tenant: tenant.clone(),
        period,
        cadence: period.cadence(),
        run_id: format!("{tenant}:{period}"),
        trigger: Trigger::Scheduled,
        root: Some(Root(Hash([u8::try_from(n % 251).unwrap(); 32]))),
        tree_size: 3,
        anchors: vec![AnchorOutcome {
            kind: AnchorKind::Tsa,
            status: AnchorStatus::Confirmed,
        }],
        counts: Counts {
            manifests: 3,
            proofs: 3,
        },
        coverage: Coverage {
            sampled: 3,
            verified: 3,
        },
        estimated_cost_micro_usd: 10_000,
        errors: vec![],
        toggles: Toggles {
            plan: Plan::Pro,
            kill_switch: KillMode::Normal,
        },
    }
}

async fn add_tenant(store: &Store, id: &str) -> TenantId {
    let t = TenantId::new(id).unwrap();
    store
        .create_tenant(
            &NewTenant {
                id: t.clone(),
                plan: Plan::Pro,
                token_hash: hash_token(id),
                max_roots_per_period: 1,
                cost_ceiling_micro_usd: 0,
            },
            t0(),
        )
        .await
        .unwrap();
    t
}

async fn appends_link_each_summary_to_the_exact_bytes_of_the_one_before(db: &TestDb) {
    let s = &db.store;
    let acme = add_tenant(s, "acme").await;
    let other = add_tenant(s, "other").await;
    let first = s
        .append_summary(body(&acme, 0), &key(), t0())
        .await
        .unwrap();
    assert_eq!(
        (first.summary.seq, first.summary.prev.as_str()),
        (1, GENESIS)
    );
    s.append_summary(body(&other, 0), &key(), t0())
        .await
        .unwrap();
    // The clock stepped back: the next ts is still after the previous one.
    let second = s
        .append_summary(body(&acme, 1), &key(), t0() - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(second.summary.seq, 2);
    assert_eq!(second.summary.prev, sha256_hex(&first.bytes));
    assert_eq!(second.summary.ts, t0() + Duration::milliseconds(1));
    let third = s
        .append_summary(body(&acme, 2), &key(), t0() + Duration::days(1))
        .await
        .unwrap();

    let rows = s.summaries(&acme).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        rows[2].bytes, third.bytes,
        "stored bytes are the signed bytes"
    );
    assert_eq!(
        s.latest_summary(&acme).await.unwrap().unwrap().hash,
        third.hash
    );
    let export = s.export_jsonl(&acme).await.unwrap();
    // The store's own published key set verifies it: appending registered the key.
    let report = verify_jsonl(&export, &s.jwks(false).await.unwrap()).unwrap();
    assert_eq!(report.lines, 3);
    assert_eq!(
        s.summaries(&other).await.unwrap().len(),
        1,
        "one chain per tenant"
    );

    let unknown = s
        .append_summary(body(&TenantId::new("nobody").unwrap(), 0), &key(), t0())
        .await;
    assert!(matches!(
        unknown.unwrap_err(),
        LedgerError::NotFound { what: "tenant", .. }
    ));
    assert!(
        s.latest_summary(&TenantId::new("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_appends_never_fork_a_chain(db: &TestDb) {
    let acme = add_tenant(&db.store, "acme").await;
    let writers = 8;
    let each = 6;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = db.store.clone();
            let acme = acme.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    store
                        .append_summary(body(&acme, w * 100 + i), &key(), Utc::now())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rows = db.store.summaries(&acme).await.unwrap();
    assert_eq!(rows.len(), (writers * each) as usize);
    let report = verify_jsonl(&db.store.export_jsonl(&acme).await.unwrap(), &jwks()).unwrap();
    assert_eq!(report.lines, (writers * each) as usize);
}

/// Stores opened on the same database by other processes append too: no fork either. The
/// child is this test binary (see `child_appends_until_killed_when_asked`), appending until it is killed.
async fn a_writer_killed_mid_append_leaves_a_chain_that_verifies(db: &TestDb) {
    let acme = add_tenant(&db.store, "acme").await;
    let exe = std::env::current_exe().unwrap();
    let mut appended = 0;
    for round in 0..4u64 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "child_appends_until_killed_when_asked",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("LEDGER_CHAIN_CRASH_CHILD", &db.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Two writers at once: the killed child and this process.
        for i in 0..5 {
            db.store
                .append_summary(
                    body(&acme, 1000 + u32::try_from(round * 10 + i).unwrap()),
                    &key(),
                    Utc::now(),
                )
                .await
                .unwrap();
            appended += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150 + 100 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let rows = db.store.summaries(&acme).await.unwrap();
    assert!(
        rows.len() > appended,
        "the child appended too ({} rows)",
        rows.len()
    );
    let report = verify_jsonl(&db.store.export_jsonl(&acme).await.unwrap(), &jwks()).unwrap();
    assert_eq!(report.lines, rows.len());
    // And the chain goes on after the crashes.
    db.store
        .append_summary(body(&acme, 5000), &key(), Utc::now())
        .await
        .unwrap();
    verify_jsonl(&db.store.export_jsonl(&acme).await.unwrap(), &jwks()).unwrap();
}

/// The child half of the crash test: appends to tenant `acme` until killed. Does nothing
/// unless `LEDGER_CHAIN_CRASH_CHILD` names a database.
#[tokio::test]
async fn child_appends_until_killed_when_asked() {
    let Ok(url) = std::env::var("LEDGER_CHAIN_CRASH_CHILD") else {
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    let acme = TenantId::new("acme").unwrap();
    for i in 0.. {
        store
            .append_summary(body(&acme, 2000 + i), &key(), Utc::now())
            .await
            .unwrap();
    }
}

/// Runs `sql` on the database behind the store, past the store's API.
async fn raw(url: &str, sql: &'static str) -> Result<(), sqlx::Error> {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        sqlx::query(sql).execute(&pool).await.map(drop)
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::query(sql).execute(&pool).await.map(drop)
    }
}

/// The receipt log: appends number entries 0, 1, 2, … under the tenant's lock (never two at
/// one index, even from concurrent writers), a repeated append finds its entry, the same
/// receipt version with other bytes is a conflict, and the rows can be neither changed nor
/// removed.
async fn receipt_log_appends_are_ordered_idempotent_and_append_only(db: &TestDb) {
    use ledger::receipt_log::LogEntry;
    let s = &db.store;
    let acme = add_tenant(s, "acme").await;
    let entry = |v: u32| LogEntry {
        period: "2026-11-01".parse().unwrap(),
        version: v,
        sha256: Hash::sha256(&v.to_be_bytes()).0,
    };
    assert_eq!(
        s.append_receipt_log(&acme, &entry(1), t0()).await.unwrap(),
        0
    );
    assert_eq!(
        s.append_receipt_log(&acme, &entry(2), t0()).await.unwrap(),
        1
    );
    assert_eq!(
        s.append_receipt_log(&acme, &entry(1), t0()).await.unwrap(),
        0,
        "a repeated append finds the entry"
    );
    let mut changed = entry(2);
    changed.sha256[0] ^= 1;
    let err = s
        .append_receipt_log(&acme, &changed, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    let nobody = TenantId::new("nobody").unwrap();
    let err = s
        .append_receipt_log(&nobody, &entry(1), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotFound { .. }), "{err}");

    let tasks: Vec<_> = (3..43)
        .map(|v| {
            let store = s.clone();
            let acme = acme.clone();
            tokio::spawn(async move { store.append_receipt_log(&acme, &entry(v), t0()).await })
        })
        .collect();
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.push(t.await.unwrap().unwrap());
    }
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (2..42).collect::<Vec<u64>>(),
        "one index each, none twice"
    );
    let logged = s.receipt_log(&acme, None).await.unwrap();
    assert_eq!(logged.len(), 42);
    assert_eq!(logged[..2], [entry(1), entry(2)]);
    assert_eq!(s.receipt_log(&acme, Some(5)).await.unwrap().len(), 5);

    for sql in [
        "UPDATE receipt_log SET version = 7",
        "DELETE FROM receipt_log",
    ] {
        assert!(raw(&db.url, sql).await.is_err(), "{sql} was allowed");
    }
    assert_eq!(s.receipt_log(&acme, None).await.unwrap().len(), 42);
}

contract! {
    receipt_log_appends_are_ordered_idempotent_and_append_only => super::receipt_log_appends_are_ordered_idempotent_and_append_only;
    appends_link_each_summary_to_the_exact_bytes_of_the_one_before => super::appends_link_each_summary_to_the_exact_bytes_of_the_one_before;
    concurrent_appends_never_fork_a_chain => super::concurrent_appends_never_fork_a_chain;
    a_writer_killed_mid_append_leaves_a_chain_that_verifies => super::a_writer_killed_mid_append_leaves_a_chain_that_verifies;
}
