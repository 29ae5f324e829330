//! Appending to a tenant's run-summary chain, and reading it back.
//!
//! The append reads the chain head, signs the next summary over it and inserts it in ONE
//! transaction that holds the tenant's write lock for its whole length, so two writers (two
//! workers, two processes, two machines) can never both extend the same head: on Postgres
//! the tenant's row is locked with `SELECT … FOR UPDATE`; on SQLite the transaction begins
//! `IMMEDIATE`, taking the database's single write lock before the head is read. The primary
//! key (tenant, seq) is the second line of defence: a fork would be a duplicate key.

use chrono::{DateTime, Utc};
use merkle::Hash;
use sqlx::Row as _;

use super::model::{SummaryRow, bytes32};
use super::{Db, Store, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::formats::{GENESIS, RunSummary, SignedSummary, SummaryBody, sha256_hex};
use crate::ids::{TenantId, from_millis, to_millis};
use crate::keys::SigningKey;

macro_rules! summary_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<SummaryRow, LedgerError>(SummaryRow {
            tenant: TenantId::new(&r.try_get::<String, _>("tenant")?)?,
            seq: to_u64(r.try_get("seq")?),
            bytes: r.try_get("bytes")?,
            hash: bytes32("hash", &r.try_get::<Vec<u8>, _>("hash")?)?,
            prev: r.try_get("prev")?,
            ts: from_millis(r.try_get("ts")?),
            key_id: r.try_get("key_id")?,
            run_id: r.try_get("run_id")?,
        })
    }};
}

/// The head of a chain as the append needs it.
struct Head {
    seq: u64,
    hash: [u8; 32],
    ts_ms: i64,
}

macro_rules! read_head {
    ($tx:expr, $tenant:expr) => {{
        let row = sqlx::query(
            "SELECT seq, hash, ts FROM run_summaries WHERE tenant = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind($tenant)
        .fetch_optional(&mut *$tx)
        .await?;
        match row {
            Some(r) => Some(Head {
                seq: to_u64(r.try_get("seq")?),
                hash: bytes32("hash", &r.try_get::<Vec<u8>, _>("hash")?)?,
                ts_ms: r.try_get("ts")?,
            }),
            None => None,
        }
    }};
}

macro_rules! insert_summary {
    ($tx:expr, $s:expr) => {{
        let s: &SignedSummary = $s;
        sqlx::query(
            "INSERT INTO run_summaries (tenant, seq, bytes, hash, prev, ts, signature, key_id, run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.summary.tenant.as_str())
        .bind(to_i64("seq", s.summary.seq)?)
        .bind(s.bytes.as_slice())
        .bind(s.hash.as_slice())
        .bind(&s.summary.prev)
        .bind(to_millis(s.summary.ts))
        .bind(&s.summary.sig)
        .bind(s.summary.kid.as_str())
        .bind(&s.summary.run_id)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// In the open transaction `$tx`: takes the tenant's lock with `$lock_sql` (`NotFound`
/// when there is no such tenant), reads the head, signs the next summary over it, inserts it
/// and commits.
macro_rules! append_in {
    ($tx:ident, $lock_sql:expr, $tenant:expr, $body:expr, $key:expr, $now:expr) => {{
        let exists = sqlx::query($lock_sql)
            .bind($tenant.as_str())
            .fetch_optional(&mut *$tx)
            .await?
            .is_some();
        if !exists {
            return Err(not_found(&$tenant));
        }
        let head = read_head!($tx, $tenant.as_str());
        let signed = next_summary(head.as_ref(), $body, $key, $now)?;
        insert_summary!($tx, &signed);
        $tx.commit().await?;
        signed
    }};
}

/// Signs the summary that follows `head`. Its `ts` is `now`, or one millisecond after the
/// head's when the clock has not moved past it (a chain's times strictly increase; a clock
/// that stepped back must not break it, and the summary never claims an earlier time than
/// the previous one).
fn next_summary(
    head: Option<&Head>,
    body: SummaryBody,
    key: &SigningKey,
    now: DateTime<Utc>,
) -> Result<SignedSummary> {
    let (seq, prev, min_ms) = match head {
        Some(h) => (h.seq + 1, Hash(h.hash).to_hex(), h.ts_ms + 1),
        None => (1, GENESIS.to_owned(), i64::MIN),
    };
    let ts = from_millis(to_millis(now).max(min_ms));
    Ok(RunSummary::sign(body, seq, &prev, ts, key)?)
}

impl Store {
    /// Appends the next signed run summary to the chain of `body.tenant` (see the module
    /// documentation for why two concurrent appends cannot fork it) and returns it. The
    /// signing key's public half is registered first, so the published JWKS always holds
    /// every key a chain needs.
    pub async fn append_summary(
        &self,
        body: SummaryBody,
        key: &SigningKey,
        now: DateTime<Utc>,
    ) -> Result<SignedSummary> {
        let tenant = body.tenant.clone();
        self.register_key(&key.public_jwk(), now).await?;
        // The two backends differ only in how the transaction takes the tenant's write lock.
        let signed = match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                append_in!(
                    tx,
                    "SELECT 1 FROM tenants WHERE id = $1",
                    tenant,
                    body,
                    key,
                    now
                )
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                append_in!(
                    tx,
                    "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE",
                    tenant,
                    body,
                    key,
                    now
                )
            }
        };
        debug_assert_eq!(sha256_hex(&signed.bytes), Hash(signed.hash).to_hex());
        Ok(signed)
    }

    /// The summaries a run appended, oldest first (a run appends one per outcome: held,
    /// failed, anchored; a worker retrying a run looks here before appending again).
    pub async fn run_summaries(&self, tenant: &TenantId, run_id: &str) -> Result<Vec<SummaryRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT tenant, seq, bytes, hash, prev, ts, key_id, run_id FROM run_summaries \
                 WHERE tenant = $1 AND run_id = $2 ORDER BY seq",
            )
            .bind(tenant.as_str())
            .bind(run_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| summary_from_row!(r)).collect()
        })
    }

    /// The tenant's chain, oldest first.
    pub async fn summaries(&self, tenant: &TenantId) -> Result<Vec<SummaryRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT tenant, seq, bytes, hash, prev, ts, key_id, run_id FROM run_summaries \
                 WHERE tenant = $1 ORDER BY seq",
            )
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| summary_from_row!(r)).collect()
        })
    }

    /// The latest summary of the tenant's chain, if any.
    pub async fn latest_summary(&self, tenant: &TenantId) -> Result<Option<SummaryRow>> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT tenant, seq, bytes, hash, prev, ts, key_id, run_id FROM run_summaries \
                 WHERE tenant = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(tenant.as_str())
            .fetch_optional(pool)
            .await?;
            row.map(|r| summary_from_row!(&r)).transpose()
        })
    }

    /// The chain as JSONL: each summary's exact bytes followed by `\n` — the file
    /// `anchor ledger verify` checks.
    pub async fn export_jsonl(&self, tenant: &TenantId) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for s in self.summaries(tenant).await? {
            out.extend_from_slice(&s.bytes);
            out.push(b'\n');
        }
        Ok(out)
    }
}

fn not_found(tenant: &TenantId) -> LedgerError {
    LedgerError::NotFound {
        what: "tenant",
        key: tenant.to_string(),
    }
}
