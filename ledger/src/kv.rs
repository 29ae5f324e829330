//! Small shared state: the last-anchor pointer per tenant, idempotency keys (set-if-absent with
//! a time to live) and fixed-window rate counters. Redis in the fleet; the SQL store (table
//! `kv`) when embedded. Both pass one contract suite (`ledger/tests/kv.rs`).
//!
//! Expiry uses the backend's clock: Redis's own for Redis, the caller's wall clock for SQL.
//! An expired SQL entry is invisible at once and deleted by [`Kv::purge_expired`].

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use redis::aio::ConnectionManager;
use sqlx::Row as _;

use crate::error::{LedgerError, Result};
use crate::ids::{TenantId, to_millis};
use crate::redact::{endpoint, redact_url};
use crate::sql::{Store, on_pool, to_u64};

/// A KV key, built only from validated parts: `last-anchor:{tenant}`,
/// `idem:{scope}:{key}`, `rate:{subject}:{window}`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KvKey(String);

fn check_part(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 200 {
        return Err(LedgerError::invalid(what, s, "must be 1 to 200 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(LedgerError::invalid(
            what,
            s,
            "only ASCII letters, digits and - _ . : are allowed",
        ));
    }
    Ok(())
}

impl KvKey {
    /// Where the last anchored period of a tenant is recorded.
    pub fn last_anchor(tenant: &TenantId) -> KvKey {
        KvKey(format!("last-anchor:{tenant}"))
    }

    /// An idempotency key in a scope (e.g. `manifests:acme` and a client's `Idempotency-Key`).
    pub fn idempotency(scope: &str, key: &str) -> Result<KvKey> {
        check_part("idempotency scope", scope)?;
        check_part("idempotency key", key)?;
        Ok(KvKey(format!("idem:{scope}:{key}")))
    }

    /// A rate counter for `subject` (a tenant, a token hash prefix) in a named window.
    pub fn rate(subject: &str, window: &str) -> Result<KvKey> {
        check_part("rate subject", subject)?;
        check_part("rate window", window)?;
        Ok(KvKey(format!("rate:{subject}:{window}")))
    }

    /// A lease (a run being worked on, the scheduler's tick): whoever sets it first holds it
    /// until it expires or is released.
    pub fn lease(name: &str) -> Result<KvKey> {
        check_part("lease name", name)?;
        Ok(KvKey(format!("lease:{name}")))
    }

    /// A named piece of operational state (e.g. consecutive calendar failures).
    pub fn state(name: &str) -> Result<KvKey> {
        check_part("state name", name)?;
        Ok(KvKey(format!("state:{name}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KvKey({})", self.0)
    }
}

/// The KV backend.
#[derive(Clone)]
pub enum Kv {
    /// The SQL store's `kv` table.
    Sql(Store),
    /// Redis, every key under `prefix`.
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
}

impl fmt::Debug for Kv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kv::Sql(s) => write!(f, "Kv::Sql({:?})", s.backend()),
            Kv::Redis { prefix, .. } => write!(f, "Kv::Redis(prefix {prefix:?})"),
        }
    }
}

/// Increments a counter and starts its window on the first increment, atomically.
const INCR_SCRIPT: &str = "local v = redis.call('INCR', KEYS[1]) \
     if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return v";

fn ttl_ms(ttl: Duration) -> Result<i64> {
    let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    if ms <= 0 {
        return Err(LedgerError::invalid(
            "ttl",
            &format!("{ttl:?}"),
            "must be at least 1 ms",
        ));
    }
    Ok(ms)
}

impl Kv {
    /// Connects to `redis://…` (reconnecting on failure); keys go under `prefix` (e.g.
    /// `ledger-anchors:`), so one Redis can serve several deployments.
    ///
    /// A URL Redis cannot parse is a `Config` error naming the variable (never the URL: it may
    /// hold a password); a server that cannot be reached is `Unavailable` naming `host:port`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Kv> {
        let client = redis::Client::open(url)
            .map_err(|e| LedgerError::Config(format!("LEDGER_KV {}: {e}", redact_url(url))))?;
        let unavailable = |e: redis::RedisError| LedgerError::Unavailable {
            what: "Redis KV (LEDGER_KV)",
            endpoint: endpoint(url),
            cause: redis_cause(&e),
        };
        // One plain connection first: the manager retries a refused connection for seconds
        // before it reports; a closed port should be named at once.
        drop(
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(unavailable)?,
        );
        let conn = client.get_connection_manager().await.map_err(unavailable)?;
        Ok(Kv::Redis {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn redis_key(prefix: &str, key: &KvKey) -> String {
        format!("{prefix}{key}")
    }

    /// Answers when the backend does (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Kv::Sql(store) => store.ping().await,
            Kv::Redis { conn, .. } => {
                let mut c = conn.clone();
                let _: String = redis::cmd("PING").query_async(&mut c).await?;
                Ok(())
            }
        }
    }

    /// The value, unless absent or expired.
    pub async fn get(&self, key: &KvKey) -> Result<Option<String>> {
        match self {
            Kv::Sql(store) => on_pool!(store, pool => {
                let row = sqlx::query(
                    "SELECT value FROM kv WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(key.as_str())
                .bind(to_millis(Utc::now()))
                .fetch_optional(pool)
                .await?;
                Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
            }),
            Kv::Redis { conn, prefix } => {
                let mut c = conn.clone();
                Ok(redis::cmd("GET")
                    .arg(Self::redis_key(prefix, key))
                    .query_async(&mut c)
                    .await?)
            }
        }
    }

    /// Sets a value with no expiry (the last-anchor pointer).
    pub async fn set(&self, key: &KvKey, value: &str) -> Result<()> {
        match self {
            Kv::Sql(store) => on_pool!(store, pool => {
                sqlx::query(
                    "INSERT INTO kv (name, value, expires_at) VALUES ($1, $2, NULL) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires_at = NULL",
                )
                .bind(key.as_str())
                .bind(value)
                .execute(pool)
                .await?;
                Ok(())
            }),
            Kv::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let () = redis::cmd("SET")
                    .arg(Self::redis_key(prefix, key))
                    .arg(value)
                    .query_async(&mut c)
                    .await?;
                Ok(())
            }
        }
    }

    /// Sets `key` to `value` for `ttl` unless it holds a live value; `true` when this call
    /// set it. Two concurrent callers: exactly one gets `true`.
    pub async fn set_if_absent(&self, key: &KvKey, value: &str, ttl: Duration) -> Result<bool> {
        let ms = ttl_ms(ttl)?;
        match self {
            Kv::Sql(store) => {
                let now = to_millis(Utc::now());
                on_pool!(store, pool => {
                    let n = sqlx::query(
                        "INSERT INTO kv (name, value, expires_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                         expires_at = excluded.expires_at \
                         WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= $4",
                    )
                    .bind(key.as_str())
                    .bind(value)
                    .bind(now.saturating_add(ms))
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            }
            Kv::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let set: Option<String> = redis::cmd("SET")
                    .arg(Self::redis_key(prefix, key))
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut c)
                    .await?;
                Ok(set.is_some())
            }
        }
    }

    /// Adds one to a fixed-window counter and returns the new count; the window (`ttl`)
    /// starts at the first increment and the count restarts from 1 after it.
    pub async fn incr(&self, key: &KvKey, window: Duration) -> Result<u64> {
        let ms = ttl_ms(window)?;
        match self {
            Kv::Sql(store) => {
                let now = to_millis(Utc::now());
                on_pool!(store, pool => {
                    let v: String = sqlx::query(
                        "INSERT INTO kv (name, value, expires_at) VALUES ($1, '1', $2) \
                         ON CONFLICT (name) DO UPDATE SET \
                         value = CASE WHEN kv.expires_at IS NOT NULL AND kv.expires_at <= $3 \
                           THEN '1' ELSE CAST(CAST(kv.value AS BIGINT) + 1 AS TEXT) END, \
                         expires_at = CASE WHEN kv.expires_at IS NOT NULL AND kv.expires_at <= $3 \
                           THEN excluded.expires_at ELSE kv.expires_at END \
                         RETURNING value",
                    )
                    .bind(key.as_str())
                    .bind(now.saturating_add(ms))
                    .bind(now)
                    .fetch_one(pool)
                    .await?
                    .try_get(0)?;
                    v.parse::<i64>()
                        .map(to_u64)
                        .map_err(|_| LedgerError::Format(format!("counter {key} holds {v:?}")))
                })
            }
            Kv::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let v: i64 = redis::cmd("EVAL")
                    .arg(INCR_SCRIPT)
                    .arg(1)
                    .arg(Self::redis_key(prefix, key))
                    .arg(ms)
                    .query_async(&mut c)
                    .await?;
                Ok(to_u64(v))
            }
        }
    }

    /// Removes a key (absent is fine).
    pub async fn delete(&self, key: &KvKey) -> Result<()> {
        match self {
            Kv::Sql(store) => on_pool!(store, pool => {
                sqlx::query("DELETE FROM kv WHERE name = $1")
                    .bind(key.as_str())
                    .execute(pool)
                    .await?;
                Ok(())
            }),
            Kv::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let _: i64 = redis::cmd("DEL")
                    .arg(Self::redis_key(prefix, key))
                    .query_async(&mut c)
                    .await?;
                Ok(())
            }
        }
    }

    /// Deletes expired SQL entries and returns how many (Redis expires its own: 0).
    pub async fn purge_expired(&self) -> Result<u64> {
        match self {
            Kv::Sql(store) => on_pool!(store, pool => {
                Ok(sqlx::query("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= $1")
                    .bind(to_millis(Utc::now()))
                    .execute(pool)
                    .await?
                    .rows_affected())
            }),
            Kv::Redis { .. } => Ok(0),
        }
    }
}

/// The innermost reason of a Redis connection error, once (the client's own text repeats
/// the I/O error's).
pub fn redis_cause(e: &redis::RedisError) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    cause.to_string()
}
