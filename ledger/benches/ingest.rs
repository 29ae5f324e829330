//! Manifest ingest throughput into SQLite and Postgres: `cargo bench -p ledger --bench ingest`.
//!
//! Subject: `Store::insert_manifests` in batches of 10 000 digests (the API's batch size),
//! 200 000 digests per backend. Baseline, in the same run and on the same database: one
//! `INSERT` per digest inside one transaction (what a naive ingest does). Targets (issue 4):
//! ≥ 100 000 digests/s on SQLite, ≥ 50 000 digests/s on Postgres.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)] // rates and small indices

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use ledger::sql::{NewTenant, Store, hash_token};
use ledger::{Plan, TenantId};
use merkle::ManifestDigest;

const TOTAL: u64 = 200_000;
const BATCH: usize = 10_000;
const BASELINE_ROWS: u64 = 20_000;

fn digest(i: u64, salt: u64) -> ManifestDigest {
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&(i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    d[8..16].copy_from_slice(&salt.to_be_bytes());
    d[24..].copy_from_slice(&i.to_be_bytes());
    ManifestDigest(d)
}

async fn tenant(store: &Store, id: &str) -> TenantId {
    let t = TenantId::new(id).unwrap();
    store
        .create_tenant(
            &NewTenant {
                id: t.clone(),
                plan: Plan::Enterprise,
                token_hash: hash_token(id),
                max_roots_per_period: 1,
                cost_ceiling_micro_usd: 0,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    t
}

/// Digests per second through `insert_manifests`.
async fn batched(store: &Store) -> f64 {
    let t = tenant(store, "bench-batched").await;
    let day = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let all: Vec<ManifestDigest> = (0..TOTAL).map(|i| digest(i, 1)).collect();
    let start = Instant::now();
    for (n, chunk) in all.chunks(BATCH).enumerate() {
        let c = store
            .insert_manifests(&t, chunk, day + Duration::seconds(n as i64))
            .await
            .unwrap();
        assert_eq!(c.accepted, chunk.len() as u64);
    }
    TOTAL as f64 / start.elapsed().as_secs_f64()
}

/// Digests per second with one INSERT per digest in one transaction, on its own connection.
async fn row_at_a_time(db: &common::TestDb) -> f64 {
    use sqlx::Connection as _;
    let digests: Vec<Vec<u8>> = (0..BASELINE_ROWS)
        .map(|i| digest(i, 2).0.to_vec())
        .collect();
    let sql = "INSERT INTO manifests (tenant, day, digest, received_at) VALUES ($1, $2, $3, $4) \
               ON CONFLICT DO NOTHING";
    // The same loop on each driver's own connection type.
    macro_rules! insert_each {
        ($conn:ty) => {{
            let mut c = <$conn>::connect(&db.url).await.unwrap();
            let mut tx = c.begin().await.unwrap();
            for d in &digests {
                sqlx::query(sql)
                    .bind("bench-naive")
                    .bind(20_780_i64)
                    .bind(d.as_slice())
                    .bind(0_i64)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    let start = Instant::now();
    if db.url.starts_with("sqlite:") {
        insert_each!(sqlx::SqliteConnection);
    } else {
        insert_each!(sqlx::PgConnection);
    }
    BASELINE_ROWS as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    println!("ledger ingest bench — {}", testkit::machine());
    println!(
        "{TOTAL} digests in batches of {BATCH}; baseline: {BASELINE_ROWS} single-row INSERTs in one transaction\n"
    );
    println!(
        "| backend | insert_manifests (digests/s) | row-at-a-time baseline (digests/s) | ratio | target |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut dbs = vec![("SQLite", common::TestDb::sqlite().await, 100_000.0)];
    if let Some(pg) = common::TestDb::postgres().await {
        dbs.push(("Postgres", pg, 50_000.0));
    }
    for (name, db, target) in dbs {
        let base = row_at_a_time(&db).await;
        let subject = batched(&db.store).await;
        let verdict = if subject >= target { "met" } else { "MISSED" };
        println!(
            "| {name} | {subject:.0} | {base:.0} | {:.1}× | ≥ {target:.0} ({verdict}) |",
            subject / base
        );
        db.finish().await;
    }
}
