//! The per-tenant receipt log's rows (migration 0005): the order in which a tenant's receipt
//! versions were published, which is the leaf order of its log tree
//! ([`domain::receipt_log`]).
//!
//! An append takes the tenant's write lock like the chain append does (`SELECT … FOR UPDATE`
//! on the tenant row on Postgres, `BEGIN IMMEDIATE` on SQLite), so two writers never give
//! two receipts one index, and it is idempotent: appending a receipt version already logged
//! returns its index (the same bytes) or a `Conflict` (other bytes: a receipt version must
//! never change).

use chrono::{DateTime, Utc};
use domain::receipt_log::LogEntry;
use sqlx::Row as _;

use super::{Db, Store, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{TenantId, to_millis};

fn not_found(tenant: &TenantId) -> LedgerError {
    LedgerError::NotFound {
        what: "tenant",
        key: tenant.to_string(),
    }
}

/// In the open transaction `$tx` holding the tenant's lock: the entry's index, appending it
/// when it is new.
macro_rules! append_in {
    ($tx:ident, $lock_sql:expr, $tenant:expr, $entry:expr, $now:expr) => {{
        let exists = sqlx::query($lock_sql)
            .bind($tenant.as_str())
            .fetch_optional(&mut *$tx)
            .await?
            .is_some();
        if !exists {
            return Err(not_found($tenant));
        }
        let period = $entry.period.to_string();
        let version = i64::from($entry.version);
        let bytes = $entry.to_bytes();
        let found = sqlx::query(
            "SELECT idx, entry FROM receipt_log WHERE tenant = $1 AND period = $2 AND version = $3",
        )
        .bind($tenant.as_str())
        .bind(&period)
        .bind(version)
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some(r) = found {
            let logged: Vec<u8> = r.try_get("entry")?;
            if logged != bytes {
                return Err(LedgerError::Conflict {
                    what: "receipt log entry",
                    key: format!("{} {period} v{version}", $tenant),
                    reason: "logged with other bytes: a receipt version never changes".into(),
                });
            }
            to_u64(r.try_get("idx")?)
        } else {
            let size: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM receipt_log WHERE tenant = $1")
                    .bind($tenant.as_str())
                    .fetch_one(&mut *$tx)
                    .await?;
            sqlx::query(
                "INSERT INTO receipt_log (tenant, idx, period, version, entry, logged_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind($tenant.as_str())
            .bind(size)
            .bind(&period)
            .bind(version)
            .bind(bytes.as_slice())
            .bind(to_millis($now))
            .execute(&mut *$tx)
            .await?;
            $tx.commit().await?;
            to_u64(size)
        }
    }};
}

impl Store {
    /// Appends `entry` to `tenant`'s receipt log (or finds it there) and returns its index.
    pub async fn append_receipt_log(
        &self,
        tenant: &TenantId,
        entry: &LogEntry,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        Ok(match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                append_in!(
                    tx,
                    "SELECT 1 FROM tenants WHERE id = $1",
                    tenant,
                    entry,
                    now
                )
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                append_in!(
                    tx,
                    "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE",
                    tenant,
                    entry,
                    now
                )
            }
        })
    }

    /// The first `limit` entries of `tenant`'s receipt log (all of them with `None`), in leaf
    /// order.
    pub async fn receipt_log(
        &self,
        tenant: &TenantId,
        limit: Option<u64>,
    ) -> Result<Vec<LogEntry>> {
        let limit = to_i64("receipt log limit", limit.unwrap_or(i64::MAX as u64))?;
        let rows: Vec<Vec<u8>> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT entry FROM receipt_log WHERE tenant = $1 ORDER BY idx LIMIT $2",
            )
            .bind(tenant.as_str())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.iter().map(|b| Ok(LogEntry::parse(b)?)).collect()
    }
}
