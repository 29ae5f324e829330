//! Operations state: backfills, the kill switch and its history, incidents, signing keys.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::model::{
    Backfill, BackfillStatus, Incident, KeyRow, KillMode, KillScope, KillState, NewBackfill,
};
use super::{Store, conflict_or, matched, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{
    MAX_NAME_CHARS, MAX_TEXT_CHARS, TenantId, check_day, check_text, epoch_day, from_epoch_day,
    from_millis, to_millis,
};
use crate::keys::{Jwks, PublicJwk};

const BACKFILL_COLUMNS: &str = "id, tenant, from_day, to_day, manifests_per_hour, \
     cost_ceiling_micro_usd, status, periods_total, periods_done, manifests_done, \
     cost_spent_micro_usd, reason, created_at, updated_at";

macro_rules! backfill_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<Backfill, LedgerError>(Backfill {
            id: r.try_get("id")?,
            tenant: TenantId::new(&r.try_get::<String, _>("tenant")?)?,
            from: from_epoch_day(r.try_get("from_day")?),
            to: from_epoch_day(r.try_get("to_day")?),
            manifests_per_hour: to_u64(r.try_get("manifests_per_hour")?),
            cost_ceiling_micro_usd: to_u64(r.try_get("cost_ceiling_micro_usd")?),
            status: r
                .try_get::<String, _>("status")?
                .parse::<BackfillStatus>()?,
            periods_total: to_u64(r.try_get("periods_total")?),
            periods_done: to_u64(r.try_get("periods_done")?),
            manifests_done: to_u64(r.try_get("manifests_done")?),
            cost_spent_micro_usd: to_u64(r.try_get("cost_spent_micro_usd")?),
            reason: r.try_get("reason")?,
            created_at: from_millis(r.try_get("created_at")?),
            updated_at: from_millis(r.try_get("updated_at")?),
        })
    }};
}

macro_rules! kill_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<KillState, LedgerError>(KillState {
            scope: KillScope::parse_key(&r.try_get::<String, _>("scope")?)?,
            mode: r.try_get::<String, _>("mode")?.parse::<KillMode>()?,
            reason: r.try_get("reason")?,
            actor: r.try_get("actor")?,
            at: from_millis(r.try_get("at")?),
        })
    }};
}

/// Progress to add to a backfill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackfillProgress {
    pub periods_total: Option<u64>,
    pub periods_done: u64,
    pub manifests_done: u64,
    pub cost_spent_micro_usd: u64,
}

impl Store {
    /// Records a backfill request in `queued`. `from` after `to` is `Invalid`; an existing id
    /// is a `Conflict`.
    pub async fn create_backfill(&self, b: &NewBackfill, now: DateTime<Utc>) -> Result<Backfill> {
        check_day("backfill from", b.from)?;
        check_day("backfill to", b.to)?;
        if b.from > b.to {
            return Err(LedgerError::invalid(
                "backfill range",
                &format!("{}..{}", b.from, b.to),
                "from is after to",
            ));
        }
        if b.manifests_per_hour == 0 {
            return Err(LedgerError::invalid(
                "manifests_per_hour",
                "0",
                "must be positive",
            ));
        }
        self.tenant(&b.tenant).await?;
        let rate = to_i64("manifests_per_hour", b.manifests_per_hour)?;
        let ceiling = to_i64("cost ceiling", b.cost_ceiling_micro_usd)?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO backfills (id, tenant, from_day, to_day, manifests_per_hour, \
                 cost_ceiling_micro_usd, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)",
            )
            .bind(&b.id)
            .bind(b.tenant.as_str())
            .bind(epoch_day(b.from))
            .bind(epoch_day(b.to))
            .bind(rate)
            .bind(ceiling)
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map_err(|e| conflict_or(e, "backfill", &b.id, "a backfill with this id exists"))?;
        });
        self.backfill(&b.id).await
    }

    /// The backfill, or `NotFound`.
    pub async fn backfill(&self, id: &str) -> Result<Backfill> {
        let sql = format!("SELECT {BACKFILL_COLUMNS} FROM backfills WHERE id = $1");
        let found = on_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(backfill_from_row!(&r)?),
                None => None,
            }
        });
        found.ok_or_else(|| LedgerError::NotFound {
            what: "backfill",
            key: id.to_owned(),
        })
    }

    /// Backfills, newest first, optionally of one tenant.
    pub async fn backfills(&self, tenant: Option<&TenantId>) -> Result<Vec<Backfill>> {
        let sql = format!(
            "SELECT {BACKFILL_COLUMNS} FROM backfills WHERE ($1 IS NULL OR tenant = $1) \
             ORDER BY created_at DESC, id"
        );
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.map(TenantId::as_str))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| backfill_from_row!(r))
                .collect()
        })
    }

    /// Adds progress to a backfill (counters only grow).
    pub async fn add_backfill_progress(
        &self,
        id: &str,
        p: BackfillProgress,
        now: DateTime<Utc>,
    ) -> Result<Backfill> {
        let total = p
            .periods_total
            .map(|t| to_i64("periods_total", t))
            .transpose()?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE backfills SET periods_total = COALESCE($2, periods_total), \
                 periods_done = periods_done + $3, manifests_done = manifests_done + $4, \
                 cost_spent_micro_usd = cost_spent_micro_usd + $5, updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(total)
            .bind(to_i64("periods_done", p.periods_done)?)
            .bind(to_i64("manifests_done", p.manifests_done)?)
            .bind(to_i64("cost", p.cost_spent_micro_usd)?)
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        matched(n, "backfill", id)?;
        self.backfill(id).await
    }

    /// Raises a stopped backfill's cost ceiling (what lets a backfill stopped at its ceiling
    /// go on when resumed). A ceiling below what it has spent is `Invalid`; a backfill that is
    /// not stopped is `Conflict`.
    pub async fn raise_backfill_ceiling(
        &self,
        id: &str,
        ceiling_micro_usd: u64,
        now: DateTime<Utc>,
    ) -> Result<Backfill> {
        let b = self.backfill(id).await?;
        if ceiling_micro_usd <= b.cost_spent_micro_usd
            || ceiling_micro_usd < b.cost_ceiling_micro_usd
        {
            return Err(LedgerError::invalid(
                "cost ceiling",
                &ceiling_micro_usd.to_string(),
                format!(
                    "must be above the current ceiling {} and the {} already spent (micro-USD)",
                    b.cost_ceiling_micro_usd, b.cost_spent_micro_usd
                ),
            ));
        }
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE backfills SET cost_ceiling_micro_usd = $2, updated_at = $3 \
                 WHERE id = $1 AND status = 'stopped'",
            )
            .bind(id)
            .bind(to_i64("cost ceiling", ceiling_micro_usd)?)
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(LedgerError::Conflict {
                what: "backfill",
                key: id.to_owned(),
                reason: format!(
                    "{}: only a stopped backfill's ceiling can be raised",
                    b.status
                ),
            });
        }
        self.backfill(id).await
    }

    /// Moves a backfill to `status` with an optional reason. A cancelled or done backfill
    /// stays so (`Conflict`); a stopped one may be resumed (`queued`/`running`).
    pub async fn set_backfill_status(
        &self,
        id: &str,
        status: BackfillStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Backfill> {
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE backfills SET status = $2, reason = COALESCE($3, reason), updated_at = $4 \
                 WHERE id = $1 AND status NOT IN ('cancelled', 'done')",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(reason)
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        let b = self.backfill(id).await?;
        if n == 0 {
            return Err(LedgerError::Conflict {
                what: "backfill",
                key: id.to_owned(),
                reason: format!("already {}", b.status),
            });
        }
        Ok(b)
    }

    /// Sets the kill switch of `scope` and appends the change to its history, in one
    /// transaction. `reason` and `actor` must not be empty nor over their bounds
    /// ([`crate::ids::check_text`]).
    pub async fn set_kill_switch(&self, s: &KillState) -> Result<()> {
        check_text("kill-switch reason", &s.reason, MAX_TEXT_CHARS)?;
        check_text("kill-switch actor", &s.actor, MAX_NAME_CHARS)?;
        if let KillScope::Tenant(t) = &s.scope {
            self.tenant(t).await?;
        }
        let scope = s.scope.key();
        let at = to_millis(s.at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO kill_switch (scope, mode, reason, actor, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope) DO UPDATE SET \
                 mode = excluded.mode, reason = excluded.reason, actor = excluded.actor, \
                 updated_at = excluded.updated_at",
            )
            .bind(&scope)
            .bind(s.mode.as_str())
            .bind(&s.reason)
            .bind(&s.actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO kill_switch_history (scope, mode, reason, actor, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&scope)
            .bind(s.mode.as_str())
            .bind(&s.reason)
            .bind(&s.actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if let (KillScope::Tenant(t), KillMode::Paused) = (&s.scope, s.mode) {
                // That it was paused, and when; the reason and the account stay private.
                let payload = serde_json::json!({
                    "event": "tenant.paused", "tenant": t.as_str(),
                    "at": crate::ids::format_ts(s.at),
                })
                .to_string();
                super::webhooks::insert_event!(
                    tx, t.as_str(), "tenant.paused", at.to_string(), payload, at
                );
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The current setting of `scope`; `None` when never set (which means normal).
    pub async fn kill_switch(&self, scope: &KillScope) -> Result<Option<KillState>> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT scope, mode, reason, actor, updated_at AS at FROM kill_switch WHERE scope = $1",
            )
            .bind(scope.key())
            .fetch_optional(pool)
            .await?;
            row.map(|r| kill_from_row!(&r)).transpose()
        })
    }

    /// The effective mode for a tenant: the stricter of the global and the tenant's switch
    /// (paused > tsa-only > normal).
    pub async fn effective_kill_mode(&self, tenant: &TenantId) -> Result<KillMode> {
        let g = self
            .kill_switch(&KillScope::Global)
            .await?
            .map_or(KillMode::Normal, |s| s.mode);
        let t = self
            .kill_switch(&KillScope::Tenant(tenant.clone()))
            .await?
            .map_or(KillMode::Normal, |s| s.mode);
        let rank = |m: KillMode| match m {
            KillMode::Normal => 0,
            KillMode::TsaOnly => 1,
            KillMode::Paused => 2,
        };
        Ok(if rank(g) >= rank(t) { g } else { t })
    }

    /// Every change of every switch, oldest first (of one scope when given).
    pub async fn kill_switch_history(&self, scope: Option<&KillScope>) -> Result<Vec<KillState>> {
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT scope, mode, reason, actor, at FROM kill_switch_history \
                 WHERE ($1 IS NULL OR scope = $1) ORDER BY id",
            )
            .bind(scope.map(KillScope::key))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| kill_from_row!(r))
            .collect()
        })
    }

    /// Opens an incident and returns its id.
    pub async fn open_incident(
        &self,
        tenant: Option<&TenantId>,
        run_id: Option<&str>,
        kind: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO incidents (tenant, run_id, kind, detail, opened_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(tenant.map(TenantId::as_str))
            .bind(run_id)
            .bind(kind)
            .bind(detail)
            .bind(to_millis(now))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if let Some(t) = tenant {
                // The kind is public; the detail stays in the operator's record.
                let payload = serde_json::json!({
                    "event": "incident.opened", "tenant": t.as_str(), "incident": id,
                    "kind": kind, "run": run_id, "at": crate::ids::format_ts(now),
                })
                .to_string();
                super::webhooks::insert_event!(
                    tx, t.as_str(), "incident.opened", id.to_string(), payload, to_millis(now)
                );
            }
            tx.commit().await?;
            Ok(to_u64(id))
        })
    }

    /// Resolves an open incident (`Conflict` when already resolved).
    pub async fn resolve_incident(
        &self,
        id: u64,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        check_text("incident resolution", resolution, MAX_TEXT_CHARS)?;
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE incidents SET resolved_at = $2, resolution = $3 \
                 WHERE id = $1 AND resolved_at IS NULL",
            )
            .bind(to_i64("incident id", id)?)
            .bind(to_millis(now))
            .bind(resolution)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(LedgerError::Conflict {
                what: "incident",
                key: id.to_string(),
                reason: "unknown or already resolved".into(),
            });
        }
        Ok(())
    }

    /// Incidents, newest first; only the open ones when `open_only`.
    pub async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, tenant, run_id, kind, detail, opened_at, resolved_at, resolution \
                 FROM incidents WHERE ($1 = 0 OR resolved_at IS NULL) ORDER BY id DESC",
            )
            .bind(i64::from(open_only))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let tenant: Option<String> = r.try_get("tenant")?;
                    Ok(Incident {
                        id: to_u64(r.try_get("id")?),
                        tenant: tenant.as_deref().map(TenantId::new).transpose()?,
                        run_id: r.try_get("run_id")?,
                        kind: r.try_get("kind")?,
                        detail: r.try_get("detail")?,
                        opened_at: from_millis(r.try_get("opened_at")?),
                        resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(from_millis),
                        resolution: r.try_get("resolution")?,
                    })
                })
                .collect()
        })
    }

    /// Registers a public key (idempotent: the same key again is a no-op). Every key that
    /// signs a run summary is registered by the append itself.
    pub async fn register_key(&self, jwk: &PublicJwk, now: DateTime<Utc>) -> Result<()> {
        let kid = jwk.kid().as_str();
        let jwk_json = serde_json::to_string(jwk).expect("a JWK serialises");
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO signing_keys (kid, jwk, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kid) DO NOTHING",
            )
            .bind(kid)
            .bind(&jwk_json)
            .bind(to_millis(now))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks a key retired: it leaves the published JWKS but stays here, so chains it signed
    /// remain verifiable (`keys(true)`).
    pub async fn retire_key(&self, kid: &str, now: DateTime<Utc>) -> Result<()> {
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL")
                .bind(kid)
                .bind(to_millis(now))
                .execute(pool)
                .await?
                .rows_affected()
        });
        matched(n, "active signing key", kid)?;
        Ok(())
    }

    /// The published key set: every registered key not retired (`include_retired` adds the
    /// retired ones, for verifying old chains). `NotFound` when it would be empty.
    pub async fn jwks(&self, include_retired: bool) -> Result<Jwks> {
        let keys = self
            .keys(include_retired)
            .await?
            .iter()
            .map(|k| {
                serde_json::from_str::<PublicJwk>(&k.jwk)
                    .map_err(|e| LedgerError::Format(format!("signing_keys {}: {e}", k.kid)))
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(LedgerError::NotFound {
                what: "signing key",
                key: if include_retired {
                    "any"
                } else {
                    "any not retired"
                }
                .into(),
            });
        }
        Ok(Jwks::new(keys)?)
    }

    /// Registered keys, oldest first; retired ones only when `include_retired`.
    pub async fn keys(&self, include_retired: bool) -> Result<Vec<KeyRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT kid, jwk, created_at, retired_at FROM signing_keys \
                 WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY created_at, kid",
            )
            .bind(i64::from(include_retired))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(KeyRow {
                        kid: r.try_get("kid")?,
                        jwk: r.try_get("jwk")?,
                        created_at: from_millis(r.try_get("created_at")?),
                        retired_at: r.try_get::<Option<i64>, _>("retired_at")?.map(from_millis),
                    })
                })
                .collect()
        })
    }
}
