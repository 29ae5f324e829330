//! Runs (one per tenant and period) and their anchors.

use chrono::{DateTime, Utc};
use merkle::{Hash, Root};
use sqlx::Row as _;

use super::model::{
    AnchorKind, AnchorRow, AnchorStatus, Run, RunFilter, RunOutcome, RunStatus, Trigger, bytes32,
};
use super::{Store, matched, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{Period, TenantId, from_millis, to_millis};

const RUN_COLUMNS: &str = "id, tenant, period, run_trigger, status, root, tree_size, \
     estimated_cost_micro_usd, errors, attempt, created_at, started_at, finished_at, not_before";

macro_rules! run_from_row {
    ($r:expr) => {{
        let r = $r;
        let root: Option<Vec<u8>> = r.try_get("root")?;
        let errors: String = r.try_get("errors")?;
        Ok::<Run, LedgerError>(Run {
            id: r.try_get("id")?,
            tenant: TenantId::new(&r.try_get::<String, _>("tenant")?)?,
            period: r.try_get::<String, _>("period")?.parse::<Period>()?,
            trigger: r.try_get::<String, _>("run_trigger")?.parse::<Trigger>()?,
            status: r.try_get::<String, _>("status")?.parse::<RunStatus>()?,
            root: root
                .map(|b| bytes32("root", &b).map(|h| Root(Hash(h))))
                .transpose()?,
            tree_size: r.try_get::<Option<i64>, _>("tree_size")?.map(to_u64),
            estimated_cost_micro_usd: to_u64(r.try_get("estimated_cost_micro_usd")?),
            errors: serde_json::from_str(&errors)
                .map_err(|e| LedgerError::Format(format!("runs.errors: {e}")))?,
            attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(u32::MAX),
            created_at: from_millis(r.try_get("created_at")?),
            started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_millis),
            finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(from_millis),
            not_before: r.try_get::<Option<i64>, _>("not_before")?.map(from_millis),
        })
    }};
}

impl Store {
    /// Creates the run of (tenant, period) in `queued`, or returns the one that exists:
    /// `(run, true)` when this call created it. Enqueueing a period twice is therefore
    /// harmless; the run id is [`Run::id_for`].
    pub async fn create_run(
        &self,
        tenant: &TenantId,
        period: Period,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<(Run, bool)> {
        let id = Run::id_for(tenant, period);
        let created = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO runs (id, tenant, cadence, period, run_trigger, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(tenant.as_str())
            .bind(period.cadence().as_str())
            .bind(period.to_string())
            .bind(trigger.as_str())
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        });
        Ok((self.run(&id).await?, created))
    }

    /// The run, or `NotFound`.
    pub async fn run(&self, id: &str) -> Result<Run> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let row = on_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(run_from_row!(&r)?),
                None => None,
            }
        });
        row.ok_or_else(|| LedgerError::NotFound {
            what: "run",
            key: id.to_owned(),
        })
    }

    /// The run of (tenant, period), if any.
    pub async fn find_run(&self, tenant: &TenantId, period: Period) -> Result<Option<Run>> {
        match self.run(&Run::id_for(tenant, period)).await {
            Ok(r) => Ok(Some(r)),
            Err(LedgerError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs matching `filter`, newest first (at most `limit`, default 100).
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 IS NULL OR tenant = $1) \
             AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3"
        );
        let limit = i64::from(filter.limit.unwrap_or(100));
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.tenant.as_ref().map(TenantId::as_str))
                .bind(filter.status.map(RunStatus::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| run_from_row!(r))
                .collect()
        })
    }

    /// Marks a run `running` and counts the attempt. Refuses a run that is already
    /// `anchored` or `complete` (a retry of a finished run must not redo it).
    pub async fn start_run(&self, id: &str, now: DateTime<Utc>) -> Result<Run> {
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'running', attempt = attempt + 1, started_at = $2 \
                 WHERE id = $1 AND status NOT IN ('anchored', 'complete')",
            )
            .bind(id)
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        let run = self.run(id).await?;
        if n == 0 {
            return Err(LedgerError::Conflict {
                what: "run",
                key: id.to_owned(),
                reason: format!("already {}", run.status),
            });
        }
        Ok(run)
    }

    /// Records that a deferred run may not run again before `until` (the reaper leaves it
    /// alone until then).
    pub async fn defer_run(&self, id: &str, until: DateTime<Utc>) -> Result<()> {
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE runs SET not_before = $2 WHERE id = $1")
                .bind(id)
                .bind(to_millis(until))
                .execute(pool)
                .await?
                .rows_affected()
        });
        matched(n, "run", id)
    }

    /// Records how a run ended (or why it was held).
    pub async fn finish_run(&self, id: &str, o: &RunOutcome, now: DateTime<Utc>) -> Result<Run> {
        let errors = serde_json::to_string(&o.errors).expect("strings serialise");
        let size = o.tree_size.map(|s| to_i64("tree size", s)).transpose()?;
        let cost = to_i64("estimated cost", o.estimated_cost_micro_usd)?;
        let kind = format!("run.{}", o.status.as_str());
        let n = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE runs SET status = $2, root = $3, tree_size = $4, \
                 estimated_cost_micro_usd = $5, errors = $6, finished_at = $7 WHERE id = $1 \
                 RETURNING tenant, period",
            )
            .bind(id)
            .bind(o.status.as_str())
            .bind(o.root.map(|r| r.0 .0.to_vec()))
            .bind(size)
            .bind(cost)
            .bind(errors)
            .bind(to_millis(now))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = &updated {
                let tenant: String = r.try_get("tenant")?;
                // The run's public facts: its errors stay in the operator's record.
                let payload = serde_json::json!({
                    "event": kind, "tenant": tenant, "period": r.try_get::<String, _>("period")?,
                    "run": id, "status": o.status.as_str(),
                    "root": o.root.map(|r| r.to_string()), "tree_size": o.tree_size,
                    "at": crate::ids::format_ts(now),
                })
                .to_string();
                super::webhooks::insert_event!(tx, &tenant, &kind, id, payload, to_millis(now));
            }
            tx.commit().await?;
            u64::from(updated.is_some())
        });
        matched(n, "run", id)?;
        self.run(id).await
    }

    /// Inserts or replaces the anchor of `kind` for a run.
    pub async fn put_anchor(&self, a: &AnchorRow) -> Result<()> {
        let details = serde_json::to_string(&a.details).expect("a Value serialises");
        let confirmed = a.kind == AnchorKind::Ots && a.status == AnchorStatus::Confirmed;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO anchors (run_id, kind, status, details, artifact_key, \
                 artifact_sha256, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (run_id, kind) DO UPDATE SET status = excluded.status, \
                 details = excluded.details, artifact_key = excluded.artifact_key, \
                 artifact_sha256 = excluded.artifact_sha256, updated_at = excluded.updated_at",
            )
            .bind(&a.run_id)
            .bind(a.kind.as_str())
            .bind(a.status.as_str())
            .bind(details)
            .bind(a.artifact_key.as_deref())
            .bind(a.artifact_sha256.map(|h| h.to_vec()))
            .bind(to_millis(a.updated_at))
            .execute(&mut *tx)
            .await?;
            if confirmed
                && let Some(r) = sqlx::query("SELECT tenant, period FROM runs WHERE id = $1")
                    .bind(&a.run_id)
                    .fetch_optional(&mut *tx)
                    .await?
            {
                let tenant: String = r.try_get("tenant")?;
                let payload = serde_json::json!({
                    "event": "ots.confirmed", "tenant": tenant,
                    "period": r.try_get::<String, _>("period")?, "run": a.run_id,
                    "at": crate::ids::format_ts(a.updated_at),
                })
                .to_string();
                super::webhooks::insert_event!(
                    tx, &tenant, "ots.confirmed", &a.run_id, payload, to_millis(a.updated_at)
                );
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The anchors of a run, OTS before TSA.
    pub async fn anchors(&self, run_id: &str) -> Result<Vec<AnchorRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT run_id, kind, status, details, artifact_key, artifact_sha256, updated_at \
                 FROM anchors WHERE run_id = $1 ORDER BY kind",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let details: String = r.try_get("details")?;
                    let sha: Option<Vec<u8>> = r.try_get("artifact_sha256")?;
                    Ok(AnchorRow {
                        run_id: r.try_get("run_id")?,
                        kind: r.try_get::<String, _>("kind")?.parse::<AnchorKind>()?,
                        status: r.try_get::<String, _>("status")?.parse::<AnchorStatus>()?,
                        details: serde_json::from_str(&details)
                            .map_err(|e| LedgerError::Format(format!("anchors.details: {e}")))?,
                        artifact_key: r.try_get("artifact_key")?,
                        artifact_sha256: sha.map(|s| bytes32("artifact_sha256", &s)).transpose()?,
                        updated_at: from_millis(r.try_get("updated_at")?),
                    })
                })
                .collect()
        })
    }
}
