//! Manifest digests: bulk ingest and reading a period's sorted distinct digests.
//!
//! A row is (tenant, UTC day of receipt, digest). The day is the finest cadence, so every
//! period is a union of days, and a digest submitted twice on one day is a duplicate. A digest
//! submitted on two days of one week is stored twice and read once: the period read is
//! `DISTINCT`, which is also what the tree needs (leaves are sorted and de-duplicated).

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt as _;
use merkle::ManifestDigest;
use serde::Serialize;
use sqlx::Row as _;

use super::model::bytes32;
use super::{Db, Store, on_pool, to_u64};
use crate::error::Result;
use crate::ids::{Period, TenantId, day_of, epoch_day, from_epoch_day, to_millis};

/// What an ingest did: `accepted` new rows, `duplicate` digests already stored for that day
/// (or repeated within the batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestCounts {
    pub accepted: u64,
    pub duplicate: u64,
}

/// Digests per SQLite statement (one JSON-array parameter).
const SQLITE_CHUNK: usize = 50_000;
/// Digests per Postgres statement (one `bytea[]` parameter).
const POSTGRES_CHUNK: usize = 50_000;

impl Store {
    /// Stores `digests` for `tenant` as received at `received_at`, in one transaction (all or
    /// nothing). Duplicates are counted, not errors. The tenant must exist.
    pub async fn insert_manifests(
        &self,
        tenant: &TenantId,
        digests: &[ManifestDigest],
        received_at: DateTime<Utc>,
    ) -> Result<IngestCounts> {
        self.tenant(tenant).await?;
        let day = day_of(received_at);
        let at = to_millis(received_at);
        // In key order and without repeats, the B-tree insert walks the index forward instead
        // of jumping around it (on both backends), and repeats are never sent.
        let mut sorted = digests.to_vec();
        merkle::leaf::sort_and_dedup(&mut sorted);
        let mut accepted = 0u64;
        match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for chunk in sorted.chunks(SQLITE_CHUNK) {
                    accepted += sqlx::query(
                        "INSERT OR IGNORE INTO manifests (tenant, day, digest, received_at) \
                         SELECT $1, $2, unhex(value), $3 FROM json_each($4)",
                    )
                    .bind(tenant.as_str())
                    .bind(day)
                    .bind(at)
                    .bind(hex_json_array(chunk))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in sorted.chunks(POSTGRES_CHUNK) {
                    let arr: Vec<Vec<u8>> = chunk.iter().map(|d| d.0.to_vec()).collect();
                    accepted += sqlx::query(
                        "INSERT INTO manifests (tenant, day, digest, received_at) \
                         SELECT $1, $2, d, $3 FROM UNNEST($4::bytea[]) AS t(d) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(day)
                    .bind(at)
                    .bind(arr)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
            }
        }
        Ok(IngestCounts {
            accepted,
            duplicate: digests.len() as u64 - accepted,
        })
    }

    /// Calls `f` with each distinct digest of `tenant` in `period`, in ascending byte order
    /// (the leaf order), streaming: the database sorts, nothing is held here. Returns how
    /// many digests were passed.
    pub async fn for_each_period_digest(
        &self,
        tenant: &TenantId,
        period: Period,
        mut f: impl FnMut(ManifestDigest) -> Result<()>,
    ) -> Result<u64> {
        let (from, to) = period.day_range();
        let mut n = 0u64;
        on_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT DISTINCT digest FROM manifests \
                 WHERE tenant = $1 AND day >= $2 AND day < $3 ORDER BY digest",
            )
            .bind(tenant.as_str())
            .bind(from)
            .bind(to)
            .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let bytes: Vec<u8> = row.try_get(0)?;
                f(ManifestDigest(bytes32("digest", &bytes)?))?;
                n += 1;
            }
        });
        Ok(n)
    }

    /// The distinct digests of `tenant` in `period`, sorted (see
    /// [`Store::for_each_period_digest`] for large periods).
    pub async fn period_digests(
        &self,
        tenant: &TenantId,
        period: Period,
    ) -> Result<Vec<ManifestDigest>> {
        let mut out = Vec::new();
        self.for_each_period_digest(tenant, period, |d| {
            out.push(d);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// How many distinct digests `tenant` has in `period`.
    pub async fn count_period_manifests(&self, tenant: &TenantId, period: Period) -> Result<u64> {
        let (from, to) = period.day_range();
        on_pool!(self, pool => {
            let n: i64 = sqlx::query(
                "SELECT COUNT(DISTINCT digest) FROM manifests \
                 WHERE tenant = $1 AND day >= $2 AND day < $3",
            )
            .bind(tenant.as_str())
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
            Ok(to_u64(n))
        })
    }

    /// The days in `from..=to` on which `tenant` has manifests, with the count of each day.
    pub async fn manifest_days(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, u64)>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT day, COUNT(*) AS n FROM manifests \
                 WHERE tenant = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day",
            )
            .bind(tenant.as_str())
            .bind(epoch_day(from))
            .bind(epoch_day(to))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let day: i64 = r.try_get("day")?;
                    let n: i64 = r.try_get("n")?;
                    Ok((from_epoch_day(day), to_u64(n)))
                })
                .collect()
        })
    }
}

/// `["<64 hex>",…]`: the one parameter of the SQLite bulk insert. A single parameter keeps the
/// statement text constant (prepared once, cached) and clear of SQLite's parameter limit;
/// `json_each` and `unhex` unpack it inside SQLite.
fn hex_json_array(digests: &[ManifestDigest]) -> String {
    let mut s = String::with_capacity(2 + digests.len() * 67);
    s.push('[');
    for (i, d) in digests.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(&d.to_hex());
        s.push('"');
    }
    s.push(']');
    s
}
