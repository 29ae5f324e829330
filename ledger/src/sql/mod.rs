//! The SQL store: SQLite embedded (one file, no server) or Postgres for the fleet.
//!
//! Every query is a runtime query (`sqlx::query`, no macros), so the crate builds without a
//! database. Each query is compiled natively against each driver (no `sqlx::Any`): the
//! crate-private [`on_pool!`] seam expands one body for `SqlitePool` and one for `PgPool` where
//! the SQL is the same text on both, and the few places where the backends differ have their
//! own code per backend — bulk manifest ingest (multi-row `VALUES` on SQLite, `UNNEST` arrays on
//! Postgres) and the chain append lock (`BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on
//! the tenant row on Postgres).
//!
//! Conventions shared by both schemas (`ledger/migrations/{sqlite,postgres}/`): instants are
//! BIGINT Unix milliseconds in UTC, days are days since 1970-01-01, money is integer micro-USD,
//! digests and roots are 32 raw bytes. Append-only tables (consent log, run summaries, kill
//! switch history) refuse UPDATE and DELETE with a trigger, so not even a bug in this crate
//! can rewrite history.

mod canaries;
mod chain;
mod manifests;
mod model;
mod ops;
mod receipt_log;
mod runs;
mod tenants;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{LedgerError, Result};

pub use canaries::CANARY_INCIDENT;
pub use manifests::IngestCounts;
pub use model::*;
pub use ops::BackfillProgress;
pub use tenants::{hash_token, new_backfill_id, new_token, token_matches};
pub use webhooks::{Delivery, DueDelivery, Event, Webhook};

/// Expands `$body` once per backend with `$pool` bound to the concrete pool type, so one text
/// of SQL is compiled against each driver natively.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::sql::Db::Sqlite($pool) => $body,
            $crate::sql::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which SQL backend a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether opening a store may create or migrate its schema.
///
/// Only `anchor migrate` (and every command on the embedded defaults, where the data
/// directory holds the store, the queue and the blobs together, so no process on it can
/// act on another fleet's queue) migrates. Every other role [`Schema::Require`]s the current
/// schema and refuses to start on an empty or outdated database: a worker pointed at the
/// wrong database must not create tables there and then drop the fleet's jobs as "not found".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// Create or migrate the schema to this build's version.
    Migrate,
    /// Refuse unless the schema is exactly this build's version.
    Require,
}

/// The system of record. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    /// Manifest inserts waiting for the next group commit (`manifests.rs`).
    pub(crate) ingest: std::sync::Arc<manifests::IngestQueue>,
}

/// The connection options every SQLite system of record opens with (the ledger's store and
/// the reserves store): created if missing, WAL, `synchronous=FULL` (an accepted record must
/// survive a power cut, which WAL's usual NORMAL does not promise for the last
/// transactions), foreign keys on, a 5 s busy timeout.
pub fn durable_sqlite(url: &str) -> std::result::Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5)))
}

impl Store {
    /// Connects to `sqlite://PATH` (created if missing; WAL, `synchronous=FULL`, foreign keys
    /// on, 5 s busy timeout) or `postgres://…`, and applies the migrations.
    ///
    /// `synchronous=FULL` rather than WAL's usual NORMAL: an accepted manifest must survive a
    /// power cut, which NORMAL does not promise for the last transactions.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::open(url, Schema::Migrate).await
    }

    /// Connects like [`Store::connect`]; with [`Schema::Require`] checks instead of migrating
    /// (see [`Schema`]), with an error that names the database and says what to run.
    pub async fn open(url: &str, schema: Schema) -> Result<Store> {
        let store = if url.starts_with("sqlite:") {
            let opts = durable_sqlite(url)
                .map_err(|e| LedgerError::Config(format!("sqlite url {url:?}: {e}")))?
                // 64 MiB of page cache per connection (the default is 2 MiB): bulk ingest
                // into the manifests B-tree stays in memory until commit.
                .pragma("cache_size", "-65536")
                // Checkpoint the WAL every 16 MiB rather than every 4 MiB: fewer pauses (and
                // fsyncs) during bulk ingest; a crash still loses nothing committed.
                .pragma("wal_autocheckpoint", "4096");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?;
            Store {
                db: Db::Sqlite(pool),
                ingest: std::sync::Arc::default(),
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| LedgerError::Config(format!("postgres url: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Store {
                db: Db::Postgres(pool),
                ingest: std::sync::Arc::default(),
            }
        } else {
            return Err(LedgerError::Config(format!(
                "database url must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            )));
        };
        match schema {
            Schema::Migrate => store.migrate().await?,
            Schema::Require => store.require_schema(url).await?,
        }
        Ok(store)
    }

    /// The newest migration applied to this database (`None`: no schema at all).
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        let exists: bool = match &self.db {
            Db::Sqlite(pool) => sqlx::query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(pool)
            .await?
            .is_some(),
            Db::Postgres(pool) => {
                sqlx::query_scalar::<_, bool>("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(pool)
                    .await?
            }
        };
        if !exists {
            return Ok(None);
        }
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// The schema version this build migrates to.
    pub fn expected_schema_version(&self) -> i64 {
        let set = match self.db {
            Db::Sqlite(_) => SQLITE_MIGRATIONS,
            Db::Postgres(_) => POSTGRES_MIGRATIONS,
        };
        set.iter().map(|&(v, _, _)| v).max().unwrap_or(0)
    }

    async fn require_schema(&self, url: &str) -> Result<()> {
        let want = self.expected_schema_version();
        let db = crate::config::redact_url(url);
        match self.schema_version().await? {
            Some(have) if have == want => Ok(()),
            None => Err(LedgerError::Schema(format!(
                "database {db} has no Ledger Anchors schema: run `anchor migrate` against it \
                 (is this the fleet's database?)"
            ))),
            Some(have) if have < want => Err(LedgerError::Schema(format!(
                "database {db} is at schema version {have}, this build needs {want}: run \
                 `anchor migrate`"
            ))),
            Some(have) => Err(LedgerError::Schema(format!(
                "database {db} is at schema version {have}, newer than this build's {want}: \
                 upgrade this process"
            ))),
        }
    }

    /// The id of the fleet this database belongs to (made when its schema was created).
    pub async fn fleet_id(&self) -> Result<String> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT id FROM fleet WHERE singleton = 1")
                .fetch_one(pool)
                .await?
        }))
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend (idempotent; concurrent callers are
    /// serialised by sqlx's migration lock).
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pool) => migrator(SQLITE_MIGRATIONS).run(pool).await?,
            Db::Postgres(pool) => migrator(POSTGRES_MIGRATIONS).run(pool).await?,
        }
        Ok(())
    }

    /// Answers when the database does (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "token_index",
        include_str!("../../migrations/sqlite/0002_token_index.sql"),
    ),
    (
        3,
        "fleet_and_deferral",
        include_str!("../../migrations/sqlite/0003_fleet_and_deferral.sql"),
    ),
    (
        4,
        "calendar_canaries",
        include_str!("../../migrations/sqlite/0004_calendar_canaries.sql"),
    ),
    (
        5,
        "receipt_log",
        include_str!("../../migrations/sqlite/0005_receipt_log.sql"),
    ),
    (
        6,
        "webhooks",
        include_str!("../../migrations/sqlite/0006_webhooks.sql"),
    ),
    (
        7,
        "tenant_tsa",
        include_str!("../../migrations/sqlite/0007_tenant_tsa.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "token_index",
        include_str!("../../migrations/postgres/0002_token_index.sql"),
    ),
    (
        3,
        "fleet_and_deferral",
        include_str!("../../migrations/postgres/0003_fleet_and_deferral.sql"),
    ),
    (
        4,
        "calendar_canaries",
        include_str!("../../migrations/postgres/0004_calendar_canaries.sql"),
    ),
    (
        5,
        "receipt_log",
        include_str!("../../migrations/postgres/0005_receipt_log.sql"),
    ),
    (
        6,
        "webhooks",
        include_str!("../../migrations/postgres/0006_webhooks.sql"),
    ),
    (
        7,
        "tenant_tsa",
        include_str!("../../migrations/postgres/0007_tenant_tsa.sql"),
    ),
];

fn migrator(set: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        set.iter()
            .map(|&(version, name, sql)| {
                Migration::new(
                    version,
                    name.into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Maps a unique-constraint violation to [`LedgerError::Conflict`], any other error to `Sql`.
pub(crate) fn conflict_or(
    e: sqlx::Error,
    what: &'static str,
    key: &str,
    reason: &str,
) -> LedgerError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return LedgerError::Conflict {
            what,
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
    }
    LedgerError::Sql(e)
}

/// An UPDATE that matched no row means the row does not exist: `NotFound` naming it.
pub(crate) fn matched(rows: u64, what: &'static str, key: &str) -> Result<()> {
    if rows == 0 {
        return Err(LedgerError::NotFound {
            what,
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// `u64` → BIGINT, refusing values SQL cannot hold.
pub(crate) fn to_i64(what: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| LedgerError::invalid(what, &v.to_string(), "exceeds 2^63-1"))
}

/// BIGINT → `u64` for columns whose CHECK keeps them non-negative.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
