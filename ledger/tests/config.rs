//! `Config::open` on both deployments: the embedded default (nothing configured) and the
//! fleet (Postgres, S3 and Redis chosen by variables in an environment file), each backend
//! exercised through what `open` returned.

mod common;

use std::collections::BTreeMap;

use chrono::Utc;
use ledger::blob::{BlobKey, BlobStore, PutOutcome, RootArtifact};
use ledger::config::{Backends, Config};
use ledger::kv::{Kv, KvKey};
use ledger::sql::{Backend, NewTenant, hash_token};
use ledger::{Period, Plan, TenantId};

async fn exercise(b: &Backends) {
    let acme = TenantId::new("acme").unwrap();
    b.store
        .create_tenant(
            &NewTenant {
                id: acme.clone(),
                plan: Plan::Starter,
                token_hash: hash_token("x"),
                max_roots_per_period: 1,
                cost_ceiling_micro_usd: 0,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let period: Period = "2026-11".parse().unwrap();
    let key = BlobKey::root_artifact(&acme, &period, RootArtifact::Bin);
    assert_eq!(
        b.blobs.put_new(&key, &[7; 32]).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(b.blobs.get(&key).await.unwrap().unwrap(), vec![7; 32]);
    let pointer = KvKey::last_anchor(&acme);
    b.kv.set(&pointer, "2026-11").await.unwrap();
    assert_eq!(
        b.kv.get(&pointer).await.unwrap().as_deref(),
        Some("2026-11")
    );
}

#[tokio::test]
async fn nothing_configured_opens_sqlite_a_directory_and_the_sql_kv_under_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("anchor-data");
    let env = BTreeMap::from([("LEDGER_DATA_DIR".to_owned(), data.display().to_string())]);
    let b = Config::from_sources(None, &env)
        .unwrap()
        .open()
        .await
        .unwrap();
    assert_eq!(b.store.backend(), Backend::Sqlite);
    assert!(matches!(b.blobs, BlobStore::Dir(_)));
    assert!(matches!(b.kv, Kv::Sql(_)));
    exercise(&b).await;
    assert!(data.join("ledger.sqlite").exists());
    assert!(data.join("blobs/roots/acme/2026-11/root.bin").exists());
}

#[tokio::test]
async fn an_env_file_selects_postgres_s3_and_redis() {
    let Some(pg) = common::TestDb::postgres().await else {
        return;
    };
    let Some(endpoint) = testkit::s3_endpoint("the S3 server for the fleet configuration test")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3-secret");
    std::fs::write(&secret, "test-secret-key\n").unwrap();
    let bucket = format!("ledger-cfg-{:08x}", rand::random::<u32>());
    let file = format!(
        "# a fleet deployment\n\
         LEDGER_DATABASE_URL={}\n\
         LEDGER_BLOBS=s3://{bucket}\n\
         LEDGER_S3_ENDPOINT={endpoint}\n\
         LEDGER_S3_ACCESS_KEY_ID=test-access-key\n\
         LEDGER_S3_SECRET_ACCESS_KEY_FILE={}\n\
         LEDGER_KV={}\n\
         LEDGER_KV_PREFIX={}:\n",
        pg.url,
        secret.display(),
        testkit::redis::server(),
        testkit::unique("cfg"),
    );
    let config = Config::from_sources(Some(&file), &BTreeMap::new()).unwrap();
    let s3 = config.s3_config().unwrap().unwrap();
    assert_eq!(
        (s3.bucket.as_str(), s3.secret_access_key.as_str()),
        (bucket.as_str(), "test-secret-key")
    );
    ledger::blob::S3Store::new(&s3)
        .unwrap()
        .create_bucket_if_missing()
        .await
        .unwrap();
    let b = config.open().await.unwrap();
    assert_eq!(b.store.backend(), Backend::Postgres);
    assert!(matches!(b.blobs, BlobStore::S3(_)));
    assert!(matches!(b.kv, Kv::Redis { .. }));
    exercise(&b).await;
    b.store.close().await;
    pg.finish().await;
}
