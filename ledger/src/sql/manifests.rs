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

/// The manifest inserts waiting to be committed, and the one writer that commits them.
///
/// Group commit (issue 25): concurrent [`Store::insert_manifests`] calls of this process share
/// one transaction. Each call queues its batch and waits for the writer; whoever holds it takes
/// every batch queued so far and commits them together, each batch still its own statements
/// (so its own counts), then answers each caller. A caller is answered only after the commit
/// that holds its rows, so durability is what it was (rows on disk before the answer); a batch
/// is still all or nothing, since the group commits whole or not at all, and when a group's
/// transaction fails each of its batches is retried alone, so one caller's failure is never
/// another's. What it buys: one fsync (and, on SQLite, no writers sleeping in the busy
/// handler) for many small requests — single-manifest requests through the API went from
/// 1 672/s to (see the README's measured table).
#[derive(Debug, Default)]
pub(crate) struct IngestQueue {
    pending: std::sync::Mutex<Vec<Job>>,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// One caller's batch: sorted, without repeats.
#[derive(Debug)]
struct Job {
    tenant: TenantId,
    day: i64,
    at: i64,
    sorted: Vec<ManifestDigest>,
    reply: tokio::sync::oneshot::Sender<Result<u64>>,
}

/// A batch's answer once its rows are inserted in the open transaction `$tx`: the rows it
/// added, or `NotFound` when nothing could be inserted because the tenant does not exist (the
/// inserts check it; only a batch that added fewer rows than it holds looks the tenant up).
macro_rules! job_count {
    ($tx:ident, $job:expr, $accepted:expr) => {{
        let (job, accepted): (&Job, u64) = (&$job, $accepted);
        let missing = (accepted < job.sorted.len() as u64 || job.sorted.is_empty())
            && sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
                .bind(job.tenant.as_str())
                .fetch_optional(&mut *$tx)
                .await?
                .is_none();
        if missing {
            Err(no_tenant(&job.tenant))
        } else {
            Ok(accepted)
        }
    }};
}

impl Store {
    /// Stores `digests` for `tenant` as received at `received_at`, in one transaction (all or
    /// nothing), committed before this returns. Duplicates are counted, not errors. The tenant
    /// must exist (checked inside the insert statement, and looked up only when some digest
    /// was not inserted). Concurrent calls share a transaction ([`IngestQueue`]).
    pub async fn insert_manifests(
        &self,
        tenant: &TenantId,
        digests: &[ManifestDigest],
        received_at: DateTime<Utc>,
    ) -> Result<IngestCounts> {
        // In key order and without repeats, the B-tree insert walks the index forward instead
        // of jumping around it (on both backends), and repeats are never sent.
        let mut sorted = digests.to_vec();
        merkle::leaf::sort_and_dedup(&mut sorted);
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.ingest
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Job {
                tenant: tenant.clone(),
                day: day_of(received_at),
                at: to_millis(received_at),
                sorted,
                reply,
            });
        // Wait for the answer or the writer, whichever comes first: a batch an earlier writer
        // took is answered when that group commits, without waiting for the writer again.
        let mut answer = std::pin::pin!(answer);
        let answered = tokio::select! {
            biased;
            r = &mut answer => r,
            writer = self.ingest.writer.clone().lock_owned() => {
                self.lead(writer);
                (&mut answer).await
            }
        };
        let accepted =
            answered.map_err(|_| crate::LedgerError::Sql(sqlx::Error::WorkerCrashed))??;
        Ok(IngestCounts {
            accepted,
            duplicate: digests.len() as u64 - accepted,
        })
    }

    /// Holding the writer: takes every batch queued so far and commits them on a task of their
    /// own, which keeps the writer until it is done.
    fn lead(&self, writer: tokio::sync::OwnedMutexGuard<()>) {
        let jobs: Vec<Job> = std::mem::take(
            &mut *self
                .ingest
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        // A caller that gave up (its request timed out or its client left) is not written
        // for: it was never answered, and its rows would surprise nobody but it.
        .filter(|j| !j.reply.is_closed())
        .collect();
        if jobs.is_empty() {
            // An earlier writer took them all (or they were given up).
            return;
        }
        // On its own task, holding the writer, so a caller cancelled while it runs cannot
        // abandon the others' answers half-way.
        let store = self.clone();
        tokio::spawn(async move {
            store.commit_group(jobs).await;
            drop(writer);
        });
    }

    /// Commits `jobs` in one transaction and answers each; when that fails, each job alone.
    async fn commit_group(&self, jobs: Vec<Job>) {
        if jobs.len() > 1
            && let Ok(counts) = self.insert_jobs(&jobs).await
        {
            for (job, n) in jobs.into_iter().zip(counts) {
                let _ = job.reply.send(n);
            }
            return;
        }
        for job in jobs {
            let result = self
                .insert_jobs(std::slice::from_ref(&job))
                .await
                .and_then(|mut c| c.remove(0));
            let _ = job.reply.send(result);
        }
    }

    /// One transaction holding every job's rows; each job's count of new rows, or its
    /// tenant's absence (nothing of it inserted, the others committed).
    async fn insert_jobs(&self, jobs: &[Job]) -> Result<Vec<Result<u64>>> {
        let mut counts = Vec::with_capacity(jobs.len());
        match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                for job in jobs {
                    let mut accepted = 0;
                    for chunk in job.sorted.chunks(SQLITE_CHUNK) {
                        accepted += sqlx::query(
                            "INSERT OR IGNORE INTO manifests (tenant, day, digest, received_at) \
                             SELECT $1, $2, unhex(value), $3 FROM json_each($4) \
                             WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1)",
                        )
                        .bind(job.tenant.as_str())
                        .bind(job.day)
                        .bind(job.at)
                        .bind(hex_json_array(chunk))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    counts.push(job_count!(tx, job, accepted));
                }
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for job in jobs {
                    let mut accepted = 0;
                    for chunk in job.sorted.chunks(POSTGRES_CHUNK) {
                        let arr: Vec<Vec<u8>> = chunk.iter().map(|d| d.0.to_vec()).collect();
                        accepted += sqlx::query(
                            "INSERT INTO manifests (tenant, day, digest, received_at) \
                             SELECT $1, $2, d, $3 FROM UNNEST($4::bytea[]) AS t(d) \
                             WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(job.tenant.as_str())
                        .bind(job.day)
                        .bind(job.at)
                        .bind(arr)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    counts.push(job_count!(tx, job, accepted));
                }
                tx.commit().await?;
            }
        }
        Ok(counts)
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

/// A batch of a tenant that does not exist: nothing of it was inserted.
fn no_tenant(tenant: &TenantId) -> crate::LedgerError {
    crate::LedgerError::NotFound {
        what: "tenant",
        key: tenant.to_string(),
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
