//! The KV contract suite: every case runs on Redis, on the SQLite store and on the Postgres
//! store.

mod common;

use std::time::Duration;

use common::TestDb;
use ledger::kv::{Kv, KvKey};
use ledger::{LedgerError, TenantId};

/// The three backends, each fresh; Redis keys go under a unique prefix.
async fn backends() -> Vec<(&'static str, Kv, Option<TestDb>)> {
    let mut out = Vec::new();
    let lite = TestDb::sqlite().await;
    out.push(("sqlite", Kv::Sql(lite.store.clone()), Some(lite)));
    if let Some(pg) = TestDb::postgres().await {
        out.push(("postgres", Kv::Sql(pg.store.clone()), Some(pg)));
    }
    let url = testkit::redis::server();
    match Kv::redis(&url, &testkit::redis::prefix("ledger_test")).await {
        Ok(kv) => match kv.ping().await {
            Ok(()) => out.push(("redis", kv, None)),
            Err(e) => testkit::skip("Redis unavailable", &format!("{url}: {e}")),
        },
        Err(e) => testkit::skip("Redis unavailable", &format!("{url}: {e}")),
    }
    out
}

async fn finish(backends: Vec<(&'static str, Kv, Option<TestDb>)>) {
    for (_, _, db) in backends {
        if let Some(db) = db {
            db.finish().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_anchor_pointer_is_set_read_replaced_and_deleted_on_every_backend() {
    let all = backends().await;
    let key = KvKey::last_anchor(&TenantId::new("acme").unwrap());
    for (name, kv, _) in &all {
        assert_eq!(kv.get(&key).await.unwrap(), None, "{name}");
        kv.set(&key, "2026-W46").await.unwrap();
        kv.set(&key, "2026-W47").await.unwrap();
        assert_eq!(
            kv.get(&key).await.unwrap().as_deref(),
            Some("2026-W47"),
            "{name}"
        );
        kv.delete(&key).await.unwrap();
        kv.delete(&key).await.unwrap();
        assert_eq!(kv.get(&key).await.unwrap(), None, "{name}");
    }
    finish(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_is_taken_once_until_its_ttl_ends_on_every_backend() {
    let all = backends().await;
    let key = KvKey::idempotency("manifests.acme", "req-7f3a").unwrap();
    for (name, kv, _) in &all {
        let ttl = Duration::from_millis(400);
        assert!(
            kv.set_if_absent(&key, "first", ttl).await.unwrap(),
            "{name}"
        );
        assert!(
            !kv.set_if_absent(&key, "second", ttl).await.unwrap(),
            "{name}"
        );
        assert_eq!(
            kv.get(&key).await.unwrap().as_deref(),
            Some("first"),
            "{name}"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(kv.get(&key).await.unwrap(), None, "{name}: expired");
        assert!(
            kv.set_if_absent(&key, "third", ttl).await.unwrap(),
            "{name}"
        );
        assert_eq!(
            kv.get(&key).await.unwrap().as_deref(),
            Some("third"),
            "{name}"
        );
        kv.purge_expired().await.unwrap();
    }
    finish(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_set_if_absent_has_exactly_one_winner_on_every_backend() {
    let all = backends().await;
    for (name, kv, _) in &all {
        let key = KvKey::idempotency("race", name).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let kv = kv.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    kv.set_if_absent(&key, &i.to_string(), Duration::from_mins(1))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap());
        }
        assert_eq!(winners, 1, "{name}");
    }
    finish(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_counter_counts_within_its_window_and_restarts_after_it_on_every_backend() {
    let all = backends().await;
    for (name, kv, _) in &all {
        let key = KvKey::rate("acme", "roots.2026-W47").unwrap();
        let window = Duration::from_millis(500);
        for want in 1..=5 {
            assert_eq!(kv.incr(&key, window).await.unwrap(), want, "{name}");
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            kv.incr(&key, window).await.unwrap(),
            1,
            "{name}: new window"
        );

        let racing = KvKey::rate("acme", "race").unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (kv, key) = (kv.clone(), racing.clone());
                tokio::spawn(async move { kv.incr(&key, Duration::from_mins(1)).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=20).collect::<Vec<u64>>(),
            "{name}: no lost increments"
        );
    }
    finish(all).await;
}

#[test]
fn kv_keys_refuse_separators_and_empty_parts() {
    for (scope, key) in [
        ("a b", "k"),
        ("", "k"),
        ("s", "k/../x"),
        ("s", &"k".repeat(201)),
    ] {
        let err = KvKey::idempotency(scope, key).unwrap_err();
        assert!(matches!(err, LedgerError::Invalid { .. }), "{err}");
    }
    assert_eq!(
        KvKey::rate("acme", "2026-11-23T10").unwrap().as_str(),
        "rate:acme:2026-11-23T10"
    );
}
