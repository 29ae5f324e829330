//! Tenants, their API tokens, and the append-only consent log.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use subtle::ConstantTimeEq as _;

use super::model::{
    Consent, ConsentAction, ConsentEntry, NewTenant, Tenant, TenantPatch, TenantStatus, TenantTsa,
    bytes32,
};
use super::{Store, conflict_or, matched, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{Plan, TenantId, from_millis, to_millis};

/// A fresh API token: 32 random bytes as 64 lowercase hex characters, prefixed `la_` so that
/// secret scanners can recognise a leaked one. Shown to the operator once; only
/// [`hash_token`] of it is stored.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("la_{}", merkle::Hash(bytes).to_hex())
}

/// A fresh backfill id: `bf-` and 12 random lowercase hex digits (48 bits: ids name
/// operator requests, they are not secrets).
pub fn new_backfill_id() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("bf-{}", &merkle::Hash(bytes).to_hex()[..12])
}

/// SHA-256 of a token. A plain hash (not a password hash) is right here: tokens are 256 random
/// bits, so there is nothing for a slow hash to protect.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares a presented token with a stored hash in constant time.
pub fn token_matches(stored: &[u8; 32], presented: &str) -> bool {
    hash_token(presented).ct_eq(stored).into()
}

const TENANT_COLUMNS: &str = "id, plan, consent, visibility, token_hash, max_roots_per_period, \
     cost_ceiling_micro_usd, status, created_at, updated_at, tsa_url, tsa_policy, tsa_ca_pem";

macro_rules! tenant_from_row {
    ($row:expr) => {{
        let row = $row;
        let text = |c: &str| row.try_get::<String, _>(c);
        let int = |c: &str| row.try_get::<i64, _>(c);
        Ok::<Tenant, LedgerError>(Tenant {
            id: TenantId::new(&text("id")?)?,
            plan: text("plan")?.parse()?,
            consent: text("consent")?.parse()?,
            visibility: text("visibility")?.parse()?,
            token_hash: bytes32("token_hash", &row.try_get::<Vec<u8>, _>("token_hash")?)?,
            max_roots_per_period: u32::try_from(int("max_roots_per_period")?).unwrap_or(u32::MAX),
            cost_ceiling_micro_usd: to_u64(int("cost_ceiling_micro_usd")?),
            status: text("status")?.parse()?,
            created_at: from_millis(int("created_at")?),
            updated_at: from_millis(int("updated_at")?),
            tsa: match row.try_get::<Option<String>, _>("tsa_url")? {
                Some(url) => Some(TenantTsa {
                    url,
                    policy: row.try_get("tsa_policy")?,
                    ca_pem: row.try_get("tsa_ca_pem")?,
                }),
                None => None,
            },
        })
    }};
}

impl Store {
    /// Creates a tenant (opted out, private, active). An existing id is a `Conflict`.
    pub async fn create_tenant(&self, t: &NewTenant, now: DateTime<Utc>) -> Result<Tenant> {
        let now_ms = to_millis(now);
        let ceiling = to_i64("cost ceiling", t.cost_ceiling_micro_usd)?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO tenants (id, plan, token_hash, max_roots_per_period, \
                 cost_ceiling_micro_usd, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(t.id.as_str())
            .bind(t.plan.as_str())
            .bind(t.token_hash.to_vec())
            .bind(i64::from(t.max_roots_per_period))
            .bind(ceiling)
            .bind(now_ms)
            .execute(pool)
            .await
            .map_err(|e| conflict_or(e, "tenant", t.id.as_str(), "a tenant with this id exists"))?;
        });
        self.tenant(&t.id).await
    }

    /// The tenant, or `NotFound`.
    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.find_tenant(id)
            .await?
            .ok_or_else(|| LedgerError::NotFound {
                what: "tenant",
                key: id.to_string(),
            })
    }

    /// The tenant, or `None`.
    pub async fn find_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
                .map(|r| tenant_from_row!(&r))
                .transpose()
        })
    }

    /// The tenant whose API token hashes to `token_hash`, or `None`. The lookup is by the
    /// SHA-256 of a 256-bit random token, so how long it takes tells nobody anything about a
    /// token they do not already hold; callers still compare the found hash in constant time.
    pub async fn tenant_by_token_hash(&self, token_hash: &[u8; 32]) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE token_hash = $1");
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(token_hash.to_vec())
                .fetch_optional(pool)
                .await?
                .map(|r| tenant_from_row!(&r))
                .transpose()
        })
    }

    /// Every tenant, by id.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id");
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| tenant_from_row!(r))
                .collect()
        })
    }

    /// Applies the `Some` fields of `patch`.
    pub async fn update_tenant(
        &self,
        id: &TenantId,
        patch: &TenantPatch,
        now: DateTime<Utc>,
    ) -> Result<Tenant> {
        let ceiling = patch
            .cost_ceiling_micro_usd
            .map(|c| to_i64("cost ceiling", c))
            .transpose()?;
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE tenants SET plan = COALESCE($2, plan), \
                 max_roots_per_period = COALESCE($3, max_roots_per_period), \
                 cost_ceiling_micro_usd = COALESCE($4, cost_ceiling_micro_usd), \
                 status = COALESCE($5, status), token_hash = COALESCE($6, token_hash), \
                 updated_at = $7 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(patch.plan.map(Plan::as_str))
            .bind(patch.max_roots_per_period.map(i64::from))
            .bind(ceiling)
            .bind(patch.status.map(TenantStatus::as_str))
            .bind(patch.token_hash.map(|h| h.to_vec()))
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        matched(done, "tenant", id.as_str())?;
        self.tenant(id).await
    }

    /// Sets the tenant's own time-stamping authority (`None`: back to the fleet's).
    pub async fn set_tenant_tsa(
        &self,
        id: &TenantId,
        tsa: Option<&TenantTsa>,
        now: DateTime<Utc>,
    ) -> Result<Tenant> {
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE tenants SET tsa_url = $2, tsa_policy = $3, tsa_ca_pem = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(tsa.map(|t| t.url.as_str()))
            .bind(tsa.and_then(|t| t.policy.as_deref()))
            .bind(tsa.and_then(|t| t.ca_pem.as_deref()))
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        matched(done, "tenant", id.as_str())?;
        self.tenant(id).await
    }

    /// Appends to the consent log and sets the tenant's consent and visibility, in one
    /// transaction. `signer` and `reason` must not be empty, nor longer than
    /// [`crate::ids::MAX_NAME_CHARS`] / [`crate::ids::MAX_TEXT_CHARS`]: the log is evidence.
    pub async fn record_consent(&self, id: &TenantId, entry: &ConsentEntry) -> Result<Tenant> {
        crate::ids::check_text("consent signer", &entry.signer, crate::ids::MAX_NAME_CHARS)?;
        crate::ids::check_text("consent reason", &entry.reason, crate::ids::MAX_TEXT_CHARS)?;
        let consent = match entry.action {
            ConsentAction::OptIn => Consent::OptedIn,
            ConsentAction::OptOut => Consent::OptedOut,
        };
        let at = to_millis(entry.at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE tenants SET consent = $2, visibility = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(consent.as_str())
            .bind(entry.visibility.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            matched(n, "tenant", id.as_str())?;
            sqlx::query(
                "INSERT INTO consent_log (tenant, action, visibility, signer, reason, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_str())
            .bind(entry.action.as_str())
            .bind(entry.visibility.as_str())
            .bind(&entry.signer)
            .bind(&entry.reason)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.tenant(id).await
    }

    /// The tenant's consent log, oldest first.
    pub async fn consent_log(&self, id: &TenantId) -> Result<Vec<ConsentEntry>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT action, visibility, signer, reason, at FROM consent_log \
                 WHERE tenant = $1 ORDER BY id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(ConsentEntry {
                        action: r.try_get::<String, _>("action")?.parse()?,
                        visibility: r.try_get::<String, _>("visibility")?.parse()?,
                        signer: r.try_get("signer")?,
                        reason: r.try_get("reason")?,
                        at: from_millis(r.try_get("at")?),
                    })
                })
                .collect()
        })
    }
}
