//! Calendar canaries and the per-calendar incident (migration 0004).
//!
//! The workers decide when to stamp a canary and what it proves (workers/src/canary.rs); this
//! module keeps the record: one row per canary, settled once (a settled canary never goes
//! back to `pending`), and at most one open [`CANARY_INCIDENT`] per calendar, whose id is
//! kept in `calendar_incidents` while it is open.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::model::{Canary, CanaryStatus};
use super::{Store, matched, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{CalendarUrl, MAX_TEXT_CHARS, check_text, from_millis, to_millis};

/// The kind of the incident opened for a calendar whose stamps stay pending past the deadline.
pub const CANARY_INCIDENT: &str = "calendar-pending";

const COLUMNS: &str =
    "id, calendar, digest, ots, status, submitted_at, checked_at, settled_at, detail";

macro_rules! canary_from_row {
    ($r:expr) => {{
        let r = $r;
        let digest: Vec<u8> = r.try_get("digest")?;
        Ok::<Canary, LedgerError>(Canary {
            id: to_u64(r.try_get("id")?),
            calendar: CalendarUrl::new(&r.try_get::<String, _>("calendar")?)?,
            digest: digest.try_into().map_err(|_| {
                LedgerError::Format("calendar_canaries.digest: not 32 bytes".into())
            })?,
            ots: r.try_get("ots")?,
            status: r.try_get::<String, _>("status")?.parse::<CanaryStatus>()?,
            submitted_at: from_millis(r.try_get("submitted_at")?),
            checked_at: r.try_get::<Option<i64>, _>("checked_at")?.map(from_millis),
            settled_at: r.try_get::<Option<i64>, _>("settled_at")?.map(from_millis),
            detail: r.try_get("detail")?,
        })
    }};
}

/// At most this many characters of a canary's detail are kept (a finding, not a log).
const MAX_DETAIL: usize = 1024;

fn clip(detail: &str) -> String {
    detail.chars().take(MAX_DETAIL).collect()
}

impl Store {
    /// Records a canary the calendar accepted at `now` (status `pending`).
    pub async fn insert_canary(
        &self,
        calendar: &CalendarUrl,
        digest: [u8; 32],
        ots: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Canary> {
        let id: i64 = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO calendar_canaries (calendar, digest, ots, status, submitted_at) \
                 VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
            )
            .bind(calendar.as_str())
            .bind(digest.as_slice())
            .bind(ots)
            .bind(to_millis(now))
            .fetch_one(pool)
            .await?
            .try_get(0)?
        });
        self.canary(to_u64(id)).await
    }

    /// The canary, or `NotFound`.
    pub async fn canary(&self, id: u64) -> Result<Canary> {
        let sql = format!("SELECT {COLUMNS} FROM calendar_canaries WHERE id = $1");
        let found = on_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(to_i64("canary id", id)?)
                .fetch_optional(pool)
                .await?
            {
                Some(r) => Some(canary_from_row!(&r)?),
                None => None,
            }
        });
        found.ok_or_else(|| LedgerError::NotFound {
            what: "canary",
            key: id.to_string(),
        })
    }

    /// A calendar's canaries, newest first; only the pending ones when `pending_only`.
    pub async fn canaries(
        &self,
        calendar: &CalendarUrl,
        pending_only: bool,
    ) -> Result<Vec<Canary>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calendar_canaries WHERE calendar = $1 \
             AND ($2 = 0 OR status = 'pending') ORDER BY id DESC"
        );
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(calendar.as_str())
                .bind(i64::from(pending_only))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| canary_from_row!(r))
                .collect()
        })
    }

    /// The calendar's newest canary, if it ever had one.
    pub async fn latest_canary(&self, calendar: &CalendarUrl) -> Result<Option<Canary>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calendar_canaries WHERE calendar = $1 ORDER BY id DESC LIMIT 1"
        );
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(calendar.as_str())
                .fetch_optional(pool)
                .await?
                .map(|r| canary_from_row!(&r))
                .transpose()
        })
    }

    /// Records an upgrade request of a pending canary at `now`: the proof as it is now (what
    /// the calendar answered merged in) and the finding. A settled canary is left as it is
    /// (`Conflict`).
    pub async fn check_canary(
        &self,
        id: u64,
        ots: &[u8],
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE calendar_canaries SET ots = $2, detail = $3, checked_at = $4 \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(to_i64("canary id", id)?)
            .bind(ots)
            .bind(clip(detail))
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.settled_conflict(n, id).await
    }

    /// Settles a pending canary as `status` (anything but `pending`) with its final proof and
    /// finding; every older canary of the same calendar still pending becomes `superseded`
    /// (the calendar anchors again: it lost those). Returns how many were superseded.
    pub async fn settle_canary(
        &self,
        id: u64,
        status: CanaryStatus,
        ots: &[u8],
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        if status == CanaryStatus::Pending {
            return Err(LedgerError::invalid(
                "canary status",
                status.as_str(),
                "settling needs a final status",
            ));
        }
        let canary = self.canary(id).await?;
        let at = to_millis(now);
        let key = to_i64("canary id", id)?;
        let (n, superseded) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE calendar_canaries SET status = $2, ots = $3, detail = $4, \
                 checked_at = $5, settled_at = $5 WHERE id = $1 AND status = 'pending'",
            )
            .bind(key)
            .bind(status.as_str())
            .bind(ots)
            .bind(clip(detail))
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let superseded = if n == 0 {
                0
            } else {
                sqlx::query(
                    "UPDATE calendar_canaries SET status = 'superseded', settled_at = $3, \
                     detail = $4 WHERE calendar = $1 AND id < $2 AND status = 'pending'",
                )
                .bind(canary.calendar.as_str())
                .bind(key)
                .bind(at)
                .bind(format!("canary {id}, submitted later, settled first ({status})"))
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            tx.commit().await?;
            (n, superseded)
        });
        self.settled_conflict(n, id).await?;
        Ok(superseded)
    }

    async fn settled_conflict(&self, rows: u64, id: u64) -> Result<()> {
        if rows == 0 {
            let c = self.canary(id).await?;
            return Err(LedgerError::Conflict {
                what: "canary",
                key: id.to_string(),
                reason: format!("already {}", c.status),
            });
        }
        Ok(())
    }

    /// The open [`CANARY_INCIDENT`] of `calendar`, if any.
    pub async fn calendar_incident(&self, calendar: &CalendarUrl) -> Result<Option<u64>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT c.incident_id FROM calendar_incidents c JOIN incidents i \
                 ON i.id = c.incident_id WHERE c.calendar = $1 AND i.resolved_at IS NULL",
            )
            .bind(calendar.as_str())
            .fetch_optional(pool)
            .await?
        })
        .map(to_u64))
    }

    /// Opens a [`CANARY_INCIDENT`] naming `calendar` unless one is open; returns its id and
    /// whether this call opened it. An incident an operator resolved by hand (`anchor
    /// incidents resolve`) no longer counts as open, so a calendar still late gets a new one.
    pub async fn open_calendar_incident(
        &self,
        calendar: &CalendarUrl,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(u64, bool)> {
        check_text("incident detail", detail, MAX_TEXT_CHARS)?;
        let opened = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let open: Option<i64> = sqlx::query_scalar(
                "SELECT c.incident_id FROM calendar_incidents c JOIN incidents i \
                 ON i.id = c.incident_id WHERE c.calendar = $1 AND i.resolved_at IS NULL",
            )
            .bind(calendar.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = open {
                tx.commit().await?;
                (id, false)
            } else {
                let id: i64 = sqlx::query(
                    "INSERT INTO incidents (tenant, run_id, kind, detail, opened_at) \
                     VALUES (NULL, NULL, $1, $2, $3) RETURNING id",
                )
                .bind(CANARY_INCIDENT)
                .bind(detail)
                .bind(to_millis(now))
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                sqlx::query(
                    "INSERT INTO calendar_incidents (calendar, incident_id) VALUES ($1, $2) \
                     ON CONFLICT (calendar) DO UPDATE SET incident_id = excluded.incident_id",
                )
                .bind(calendar.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                (id, true)
            }
        });
        Ok((to_u64(opened.0), opened.1))
    }

    /// Resolves the open [`CANARY_INCIDENT`] of `calendar` with `resolution`; returns its id
    /// (`None`: none was open).
    pub async fn resolve_calendar_incident(
        &self,
        calendar: &CalendarUrl,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        let Some(id) = self.calendar_incident(calendar).await? else {
            return Ok(None);
        };
        self.resolve_incident(id, resolution, now).await?;
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM calendar_incidents WHERE calendar = $1 AND incident_id = $2")
                .bind(calendar.as_str())
                .bind(to_i64("incident id", id)?)
                .execute(pool)
                .await?
                .rows_affected()
        });
        matched(n, "calendar incident", calendar.as_str())?;
        Ok(Some(id))
    }
}
