//! The reserves store, in the style of `ledger::sql`: SQLite embedded or Postgres, runtime
//! queries compiled natively per backend (no `sqlx::Any`), instants as BIGINT Unix
//! milliseconds, amounts as decimal strings. Migrations live in `reserves/migrations/` and are
//! recorded in their own table `_reserves_migrations`, so the reserves tables can share the
//! ledger's database (the normal case) without the two migration sets seeing each other.
//!
//! Append-only by trigger: snapshots, the policy history, and every signed column of an
//! attestation (only its publication state changes).

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::ids::{from_millis, to_millis};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

use crate::asset::{AssetPatch, NewAsset, NewSnapshot, ReserveAsset, Snapshot};
use crate::attestation::SignedAttestation;
use crate::compute::{Computation, Liabilities, compute};
use crate::error::{ReserveError, Result};
use crate::types::{Amount, AssetId, AttestationId, Bps, Label, SnapshotId, StalenessWindow};

macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The reserves tables. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct ReserveStore {
    db: Db,
}

const SQLITE: &str = include_str!("../migrations/sqlite/0001_reserves.sql");
const POSTGRES: &str = include_str!("../migrations/postgres/0001_reserves.sql");

fn migrator(sql: &'static str) -> Migrator {
    let mut m = Migrator::with_migrations(vec![Migration::new(
        1,
        "reserves".into(),
        MigrationType::Simple,
        sqlx::AssertSqlSafe(sql).into_sql_str(),
        false,
    )]);
    m.dangerous_set_table_name("_reserves_migrations");
    m
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn sql_err(e: sqlx::Error) -> ReserveError {
    ReserveError::Store(e.to_string())
}

fn conflict_or(e: sqlx::Error, what: &'static str, key: &str, reason: &str) -> ReserveError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return ReserveError::Conflict {
            what,
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
    }
    sql_err(e)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn json_map(what: &'static str, s: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(s) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ReserveError::invalid(
            what,
            s,
            "stored value is not a JSON object",
        )),
    }
}

fn map_text(m: &Map<String, Value>) -> String {
    Value::Object(m.clone()).to_string()
}

/// Seed 001's `broadcast_status`: 0 pending, 1 ok, 2 failed (retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicationStatus {
    Pending,
    Ok,
    Failed,
}

impl PublicationStatus {
    pub fn code(self) -> i64 {
        match self {
            PublicationStatus::Pending => 0,
            PublicationStatus::Ok => 1,
            PublicationStatus::Failed => 2,
        }
    }

    pub fn from_code(c: i64) -> Result<PublicationStatus> {
        match c {
            0 => Ok(PublicationStatus::Pending),
            1 => Ok(PublicationStatus::Ok),
            2 => Ok(PublicationStatus::Failed),
            _ => Err(ReserveError::invalid(
                "publication status",
                c.to_string(),
                "must be 0, 1 or 2",
            )),
        }
    }
}

impl std::str::FromStr for PublicationStatus {
    type Err = ReserveError;
    fn from_str(s: &str) -> Result<PublicationStatus> {
        match s {
            "pending" | "0" => Ok(PublicationStatus::Pending),
            "ok" | "1" => Ok(PublicationStatus::Ok),
            "failed" | "2" => Ok(PublicationStatus::Failed),
            _ => Err(ReserveError::invalid(
                "publication status",
                s,
                "must be pending, ok or failed",
            )),
        }
    }
}

/// One policy state of an asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyChange {
    pub change: String,
    pub eligible: bool,
    pub haircut_bps: Bps,
    pub max_age_seconds: StalenessWindow,
    #[serde(with = "crate::asset::ts")]
    pub at: DateTime<Utc>,
}

/// Filters of the registry listing.
#[derive(Clone, Debug, Default)]
pub struct AssetFilter {
    pub provider: Option<Label>,
    pub asset_type: Option<Label>,
    pub eligible: Option<bool>,
    pub include_deleted: bool,
}

/// A stored attestation: the signed bytes and the publication state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredAttestation {
    pub id: AttestationId,
    #[serde(with = "crate::asset::ts")]
    pub period_start: DateTime<Utc>,
    #[serde(with = "crate::asset::ts")]
    pub period_end: DateTime<Utc>,
    #[serde(with = "crate::asset::ts")]
    pub issued_at: DateTime<Utc>,
    pub coverage_ratio_bps: Amount,
    pub fully_backed: bool,
    pub balance_digest: String,
    #[serde(skip)]
    pub payload_canonical: Vec<u8>,
    pub payload_hash: String,
    pub signature: String,
    pub signature_alg: String,
    pub key_id: String,
    #[serde(skip)]
    pub served_json: String,
    pub status: PublicationStatus,
    pub attempts: u64,
    #[serde(with = "crate::asset::ts")]
    pub next_attempt_at: DateTime<Utc>,
    #[serde(with = "crate::asset::ts")]
    pub updated_at: DateTime<Utc>,
}

/// Filters and page of the attestation listing (seed 001: newest period first; `limit`
/// default 20, at most 100).
#[derive(Clone, Debug, Default)]
pub struct AttestationFilter {
    pub status: Option<PublicationStatus>,
    pub period_end_min: Option<DateTime<Utc>>,
    pub period_end_max: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// One webhook delivery of the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub attestation_id: AttestationId,
    pub webhook: String,
    pub status: String,
    pub attempts: u64,
    pub last_error: Option<String>,
}

const ASSET_COLUMNS: &str = "id, asset_type, provider, name, unit, eligible, haircut_bps, \
     max_age_seconds, provider_metadata, created_at, updated_at, deleted_at";
const SNAPSHOT_COLUMNS: &str =
    "id, asset_id, observed_at, fetched_at, raw_amount, source, source_ref, metadata";
const ATTESTATION_COLUMNS: &str = "id, period_start, period_end, issued_at, coverage_ratio_bps, \
     fully_backed, balance_digest, payload_canonical, payload_hash, signature, signature_alg, \
     key_id, served_json, status, attempts, next_attempt_at, updated_at";

macro_rules! record_policy {
    ($ex:expr, $a:expr, $change:expr, $at:expr) => {{
        let a: &ReserveAsset = $a;
        sqlx::query(
            "INSERT INTO reserve_asset_policy_history (asset_id, change, eligible, haircut_bps, \
             max_age_seconds, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(a.id.as_str())
        .bind($change)
        .bind(i64::from(a.eligible))
        .bind(i64::from(a.haircut_bps.get()))
        .bind(to_i64(a.max_age_seconds.secs()))
        .bind($at)
        .execute($ex)
        .await
        .map_err(sql_err)?;
    }};
}

macro_rules! asset_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let text = |c: &str| row.try_get::<String, _>(c).map_err(sql_err);
        let int = |c: &str| row.try_get::<i64, _>(c).map_err(sql_err);
        Ok::<ReserveAsset, ReserveError>(ReserveAsset {
            id: AssetId::new(&text("id")?)?,
            asset_type: Label::new(&text("asset_type")?)?,
            provider: Label::new(&text("provider")?)?,
            name: text("name")?,
            unit: Label::new(&text("unit")?)?,
            eligible: int("eligible")? == 1,
            haircut_bps: Bps::new(to_u64(int("haircut_bps")?))?,
            max_age_seconds: StalenessWindow::from_secs(to_u64(int("max_age_seconds")?))?,
            provider_metadata: json_map("provider_metadata", &text("provider_metadata")?)?,
            created_at: from_millis(int("created_at")?),
            updated_at: from_millis(int("updated_at")?),
            deleted_at: row
                .try_get::<Option<i64>, _>("deleted_at")
                .map_err(sql_err)?
                .map(from_millis),
        })
    }};
}

macro_rules! snapshot_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let text = |c: &str| row.try_get::<String, _>(c).map_err(sql_err);
        let int = |c: &str| row.try_get::<i64, _>(c).map_err(sql_err);
        Ok::<Snapshot, ReserveError>(Snapshot {
            id: SnapshotId::new(&text("id")?)?,
            asset_id: AssetId::new(&text("asset_id")?)?,
            observed_at: from_millis(int("observed_at")?),
            fetched_at: from_millis(int("fetched_at")?),
            raw_amount: text("raw_amount")?.parse()?,
            source: Label::new(&text("source")?)?,
            source_ref: row
                .try_get::<Option<String>, _>("source_ref")
                .map_err(sql_err)?,
            metadata: json_map("snapshot metadata", &text("metadata")?)?,
        })
    }};
}

macro_rules! attestation_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let text = |c: &str| row.try_get::<String, _>(c).map_err(sql_err);
        let int = |c: &str| row.try_get::<i64, _>(c).map_err(sql_err);
        Ok::<StoredAttestation, ReserveError>(StoredAttestation {
            id: AttestationId::new(&text("id")?)?,
            period_start: from_millis(int("period_start")?),
            period_end: from_millis(int("period_end")?),
            issued_at: from_millis(int("issued_at")?),
            coverage_ratio_bps: text("coverage_ratio_bps")?.parse()?,
            fully_backed: int("fully_backed")? == 1,
            balance_digest: text("balance_digest")?,
            payload_canonical: row
                .try_get::<Vec<u8>, _>("payload_canonical")
                .map_err(sql_err)?,
            payload_hash: text("payload_hash")?,
            signature: text("signature")?,
            signature_alg: text("signature_alg")?,
            key_id: text("key_id")?,
            served_json: text("served_json")?,
            status: PublicationStatus::from_code(int("status")?)?,
            attempts: to_u64(int("attempts")?),
            next_attempt_at: from_millis(int("next_attempt_at")?),
            updated_at: from_millis(int("updated_at")?),
        })
    }};
}

impl ReserveStore {
    /// Connects to `sqlite://PATH` (with [`ledger::sql::durable_sqlite`]'s options: created if
    /// missing, WAL, `synchronous=FULL`) or `postgres://…` and applies the reserves migrations.
    pub async fn connect(url: &str) -> Result<ReserveStore> {
        let bad_url = |e: sqlx::Error| {
            ReserveError::invalid(
                "database url",
                ledger::config::redact_url(url),
                e.to_string(),
            )
        };
        let db = if url.starts_with("sqlite:") {
            // The ledger's durable options (synchronous=FULL among them): a published
            // attestation must survive a power cut as an accepted manifest does.
            let opts = ledger::sql::durable_sqlite(url).map_err(bad_url)?;
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await
                    .map_err(sql_err)?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(bad_url)?;
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(sql_err)?,
            )
        } else {
            return Err(ReserveError::invalid(
                "database url",
                ledger::config::redact_url(url),
                "must start with sqlite: or postgres:",
            ));
        };
        let store = ReserveStore { db };
        match &store.db {
            Db::Sqlite(p) => migrator(SQLITE).run(p).await,
            Db::Postgres(p) => migrator(POSTGRES).run(p).await,
        }
        .map_err(|e| ReserveError::Store(format!("reserves migration: {e}")))?;
        Ok(store)
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }

    // -----------------------------------------------------------------------------------
    // Registry

    /// Registers an asset; an existing id (deleted or not) is a `Conflict`.
    pub async fn create_asset(&self, new: NewAsset, now: DateTime<Utc>) -> Result<ReserveAsset> {
        let a = new.into_asset(now)?;
        let now_ms = to_millis(now);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(sql_err)?;
            sqlx::query(
                "INSERT INTO reserve_assets (id, asset_type, provider, name, unit, eligible, \
                 haircut_bps, max_age_seconds, provider_metadata, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(a.id.as_str())
            .bind(a.asset_type.as_str())
            .bind(a.provider.as_str())
            .bind(&a.name)
            .bind(a.unit.as_str())
            .bind(i64::from(a.eligible))
            .bind(i64::from(a.haircut_bps.get()))
            .bind(to_i64(a.max_age_seconds.secs()))
            .bind(map_text(&a.provider_metadata))
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, "reserve asset", a.id.as_str(), "already registered"))?;
            record_policy!(&mut *tx, &a, "create", now_ms);
            tx.commit().await.map_err(sql_err)?;
        });
        Ok(a)
    }

    /// The asset, deleted or not.
    pub async fn asset(&self, id: &AssetId) -> Result<ReserveAsset> {
        let sql = format!("SELECT {ASSET_COLUMNS} FROM reserve_assets WHERE id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
                .map_err(sql_err)?
                .ok_or_else(|| ReserveError::NotFound { what: "reserve asset", key: id.to_string() })?;
            asset_from_row!(row)
        })
    }

    /// The registry, ordered by id.
    pub async fn assets(&self, f: &AssetFilter) -> Result<Vec<ReserveAsset>> {
        let sql = format!(
            "SELECT {ASSET_COLUMNS} FROM reserve_assets WHERE ($1 OR deleted_at IS NULL) \
             AND ($2 IS NULL OR provider = $2) AND ($3 IS NULL OR asset_type = $3) \
             AND ($4 IS NULL OR eligible = $4) ORDER BY id"
        );
        let provider = f.provider.as_ref().map(|l| l.as_str().to_owned());
        let asset_type = f.asset_type.as_ref().map(|l| l.as_str().to_owned());
        let eligible = f.eligible.map(i64::from);
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.include_deleted)
                .bind(provider)
                .bind(asset_type)
                .bind(eligible)
                .fetch_all(pool)
                .await
                .map_err(sql_err)?;
            rows.iter().map(|r| asset_from_row!(r)).collect()
        })
    }

    /// Applies a patch to a live asset; a change of eligibility, haircut or window is added
    /// to the policy history.
    pub async fn update_asset(
        &self,
        id: &AssetId,
        patch: &AssetPatch,
        now: DateTime<Utc>,
    ) -> Result<ReserveAsset> {
        let old = self.live_asset(id).await?;
        let new = patch.apply(&old, now)?;
        let now_ms = to_millis(now);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(sql_err)?;
            let done = sqlx::query(
                "UPDATE reserve_assets SET name = $2, eligible = $3, haircut_bps = $4, \
                 max_age_seconds = $5, provider_metadata = $6, updated_at = $7 \
                 WHERE id = $1 AND deleted_at IS NULL AND updated_at = $8",
            )
            .bind(id.as_str())
            .bind(&new.name)
            .bind(i64::from(new.eligible))
            .bind(i64::from(new.haircut_bps.get()))
            .bind(to_i64(new.max_age_seconds.secs()))
            .bind(map_text(&new.provider_metadata))
            .bind(now_ms)
            .bind(to_millis(old.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
            if done.rows_affected() == 0 {
                return Err(ReserveError::Conflict {
                    what: "reserve asset",
                    key: id.to_string(),
                    reason: "changed or deleted concurrently; read it again".into(),
                });
            }
            if patch.changes_policy(&old) {
                record_policy!(&mut *tx, &new, "update", now_ms);
            }
            tx.commit().await.map_err(sql_err)?;
        });
        Ok(new)
    }

    /// Soft delete: the asset leaves the registry listing and future computations; its
    /// snapshots and history stay.
    pub async fn delete_asset(&self, id: &AssetId, now: DateTime<Utc>) -> Result<ReserveAsset> {
        let mut a = self.live_asset(id).await?;
        let now_ms = to_millis(now);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(sql_err)?;
            sqlx::query("UPDATE reserve_assets SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL")
                .bind(id.as_str())
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
            record_policy!(&mut *tx, &a, "delete", now_ms);
            tx.commit().await.map_err(sql_err)?;
        });
        a.deleted_at = Some(now);
        a.updated_at = now;
        Ok(a)
    }

    async fn live_asset(&self, id: &AssetId) -> Result<ReserveAsset> {
        let a = self.asset(id).await?;
        if a.deleted_at.is_some() {
            return Err(ReserveError::Conflict {
                what: "reserve asset",
                key: id.to_string(),
                reason: "the asset is deleted".into(),
            });
        }
        Ok(a)
    }

    /// Every policy state of the asset, oldest first.
    pub async fn policy_history(&self, id: &AssetId) -> Result<Vec<PolicyChange>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT change, eligible, haircut_bps, max_age_seconds, at FROM \
                 reserve_asset_policy_history WHERE asset_id = $1 ORDER BY id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await
            .map_err(sql_err)?;
            rows.iter()
                .map(|row| {
                    use sqlx::Row as _;
                    let int = |c: &str| row.try_get::<i64, _>(c).map_err(sql_err);
                    Ok(PolicyChange {
                        change: row.try_get("change").map_err(sql_err)?,
                        eligible: int("eligible")? == 1,
                        haircut_bps: Bps::new(to_u64(int("haircut_bps")?))?,
                        max_age_seconds: StalenessWindow::from_secs(to_u64(int("max_age_seconds")?))?,
                        at: from_millis(int("at")?),
                    })
                })
                .collect()
        })
    }

    // -----------------------------------------------------------------------------------
    // Snapshots

    /// Records an observation of a live asset (normalised per [`NewSnapshot::ingest`]).
    pub async fn add_snapshot(
        &self,
        id: &AssetId,
        new: NewSnapshot,
        now: DateTime<Utc>,
    ) -> Result<Snapshot> {
        let asset = self.asset(id).await?;
        let s = new.ingest(&asset, now)?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO reserve_asset_snapshots (id, asset_id, observed_at, fetched_at, \
                 raw_amount, source, source_ref, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(s.id.as_str())
            .bind(s.asset_id.as_str())
            .bind(to_millis(s.observed_at))
            .bind(to_millis(s.fetched_at))
            .bind(s.raw_amount.to_string())
            .bind(s.source.as_str())
            .bind(s.source_ref.clone())
            .bind(map_text(&s.metadata))
            .execute(pool)
            .await
            .map_err(sql_err)?;
        });
        Ok(s)
    }

    /// The asset's snapshots, newest observation first, at most `limit` (1 to 1000).
    pub async fn snapshots(&self, id: &AssetId, limit: u32) -> Result<Vec<Snapshot>> {
        let sql = format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM reserve_asset_snapshots WHERE asset_id = $1 \
             ORDER BY observed_at DESC, id DESC LIMIT $2"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await
                .map_err(sql_err)?;
            rows.iter().map(|r| snapshot_from_row!(r)).collect()
        })
    }

    /// The asset's latest snapshot (by observation time), if any.
    pub async fn latest_snapshot(&self, id: &AssetId) -> Result<Option<Snapshot>> {
        Ok(self.snapshots(id, 1).await?.into_iter().next())
    }

    /// For every asset, its latest snapshot observed at or before `as_of`.
    pub async fn latest_snapshots(&self, as_of: DateTime<Utc>) -> Result<Vec<Snapshot>> {
        let sql = format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM reserve_asset_snapshots s WHERE s.observed_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM reserve_asset_snapshots t WHERE t.asset_id = s.asset_id \
             AND t.observed_at <= $1 AND (t.observed_at > s.observed_at OR \
             (t.observed_at = s.observed_at AND t.id > s.id))) ORDER BY s.asset_id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(to_millis(as_of))
                .fetch_all(pool)
                .await
                .map_err(sql_err)?;
            rows.iter().map(|r| snapshot_from_row!(r)).collect()
        })
    }

    /// The computation over the live registry and the latest snapshots at `as_of`.
    pub async fn compute(
        &self,
        liabilities: Liabilities,
        as_of: DateTime<Utc>,
    ) -> Result<Computation> {
        let assets = self.assets(&AssetFilter::default()).await?;
        let snapshots = self.latest_snapshots(as_of).await?;
        Ok(compute(&assets, &snapshots, liabilities, as_of)?)
    }

    // -----------------------------------------------------------------------------------
    // Attestations and their publication

    /// Stores a signed attestation as pending, with one outbox row per webhook.
    pub async fn publish(
        &self,
        s: &SignedAttestation,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> Result<StoredAttestation> {
        let a = &s.served.payload.attestation;
        let c = &a.balances.computation;
        let now_ms = to_millis(now);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(sql_err)?;
            sqlx::query(
                "INSERT INTO reserve_attestations (id, period_start, period_end, issued_at, \
                 coverage_ratio_bps, fully_backed, balance_digest, payload_canonical, payload_hash, \
                 signature, signature_alg, key_id, served_json, status, attempts, next_attempt_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, $14, $14)",
            )
            .bind(a.id.as_str())
            .bind(to_millis(a.balances.period.start))
            .bind(to_millis(a.balances.period.end))
            .bind(to_millis(a.issued_at))
            .bind(c.coverage_ratio_bps.to_string())
            .bind(i64::from(c.fully_backed))
            .bind(a.balance_digest.to_hex())
            .bind(s.canonical.clone())
            .bind(&s.served.payload_hash)
            .bind(&s.served.sig)
            .bind(&s.served.alg)
            .bind(s.served.kid.as_str())
            .bind(&s.served_json)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, "reserve attestation", a.id.as_str(), "already published"))?;
            for w in webhooks {
                sqlx::query(
                    "INSERT INTO reserve_deliveries (attestation_id, webhook, updated_at) VALUES ($1, $2, $3)",
                )
                .bind(a.id.as_str())
                .bind(w)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "webhook", w, "listed twice"))?;
            }
            tx.commit().await.map_err(sql_err)?;
        });
        self.attestation(&a.id).await
    }

    pub async fn attestation(&self, id: &AttestationId) -> Result<StoredAttestation> {
        let sql = format!("SELECT {ATTESTATION_COLUMNS} FROM reserve_attestations WHERE id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
                .map_err(sql_err)?
                .ok_or_else(|| ReserveError::AttestationNotFound(Some(id.to_string())))?;
            attestation_from_row!(row)
        })
    }

    /// A page of attestations, newest period end first, and the count of all that match.
    pub async fn attestations(
        &self,
        f: &AttestationFilter,
    ) -> Result<(Vec<StoredAttestation>, u64)> {
        let limit = i64::from(f.limit.unwrap_or(20).clamp(1, 100));
        let offset = i64::from(f.offset.unwrap_or(0));
        let filter = "WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR period_end >= $2) \
                      AND ($3 IS NULL OR period_end <= $3)";
        let sql = format!(
            "SELECT {ATTESTATION_COLUMNS} FROM reserve_attestations {filter} \
             ORDER BY period_end DESC, id DESC LIMIT $4 OFFSET $5"
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM reserve_attestations {filter}");
        let status = f.status.map(PublicationStatus::code);
        let min = f.period_end_min.map(to_millis);
        let max = f.period_end_max.map(to_millis);
        on_pool!(self, pool => {
            use sqlx::Row as _;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status).bind(min).bind(max).bind(limit).bind(offset)
                .fetch_all(pool)
                .await
                .map_err(sql_err)?;
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(count_sql))
                .bind(status).bind(min).bind(max)
                .fetch_one(pool)
                .await
                .map_err(sql_err)?
                .try_get("n")
                .map_err(sql_err)?;
            let list = rows.iter().map(|r| attestation_from_row!(r)).collect::<Result<Vec<_>>>()?;
            Ok((list, to_u64(n)))
        })
    }

    /// Seed 001's `get_latest_reserve_attestation`: the latest period end with status
    /// pending or ok.
    pub async fn latest_attestation(&self) -> Result<StoredAttestation> {
        let sql = format!(
            "SELECT {ATTESTATION_COLUMNS} FROM reserve_attestations WHERE status IN (0, 1) \
             ORDER BY period_end DESC, issued_at DESC, id DESC LIMIT 1"
        );
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_optional(pool)
                .await
                .map_err(sql_err)?
                .ok_or(ReserveError::AttestationNotFound(None))?;
            attestation_from_row!(row)
        })
    }

    /// The outbox rows of an attestation, by webhook.
    pub async fn deliveries(&self, id: &AttestationId) -> Result<Vec<Delivery>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT attestation_id, webhook, status, attempts, last_error FROM reserve_deliveries \
                 WHERE attestation_id = $1 ORDER BY webhook",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await
            .map_err(sql_err)?;
            rows.iter()
                .map(|row| {
                    use sqlx::Row as _;
                    Ok(Delivery {
                        attestation_id: AttestationId::new(&row.try_get::<String, _>("attestation_id").map_err(sql_err)?)?,
                        webhook: row.try_get("webhook").map_err(sql_err)?,
                        status: row.try_get("status").map_err(sql_err)?,
                        attempts: to_u64(row.try_get("attempts").map_err(sql_err)?),
                        last_error: row.try_get("last_error").map_err(sql_err)?,
                    })
                })
                .collect()
        })
    }

    /// Attestations due for a delivery attempt (pending, or failed and past their retry time).
    pub(crate) async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<AttestationId>> {
        on_pool!(self, pool => {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM reserve_attestations WHERE status IN (0, 2) AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(sql_err)?;
            rows.into_iter()
                .map(|(id,)| Ok(AttestationId::new(&id)?))
                .collect()
        })
    }

    pub(crate) async fn record_delivery(
        &self,
        id: &AttestationId,
        webhook: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let status = if error.is_some() { "failed" } else { "ok" };
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE reserve_deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
                 updated_at = $5 WHERE attestation_id = $1 AND webhook = $2",
            )
            .bind(id.as_str())
            .bind(webhook)
            .bind(status)
            .bind(error)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map_err(sql_err)?;
        });
        Ok(())
    }

    pub(crate) async fn set_status(
        &self,
        id: &AttestationId,
        status: PublicationStatus,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE reserve_attestations SET status = $2, attempts = attempts + 1, \
                 next_attempt_at = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(status.code())
            .bind(to_millis(next))
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map_err(sql_err)?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_reserves_store_commits_with_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("reserves.db").display());
        let store = ReserveStore::connect(&url).await.unwrap();
        let Db::Sqlite(pool) = &store.db else {
            panic!("a sqlite url opens a sqlite pool")
        };
        let (mode,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, 2, "2 is FULL");
        let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
    }
}
