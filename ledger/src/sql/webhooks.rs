//! Events and webhooks (migration 0006, issue 22's notifications).
//!
//! **Events** are written by the store itself, in the transaction of the state change they
//! report ([`insert_event!`], used by `finish_run`, `put_anchor`, `open_incident` and
//! `set_kill_switch`): a transactional outbox, so a crash never loses an event nor reports a
//! change that did not commit, and (unique per tenant, kind and subject) a repeated change
//! never repeats its event. Kinds: `run.anchored`, `run.complete`, `run.failed`, `run.held`
//! (a run's outcome), `ots.confirmed` (the run's OTS anchor reached Bitcoin), `incident.opened`,
//! `tenant.paused`. Payloads hold public facts only (ids, statuses, roots, times): never an
//! incident's detail, a kill switch's reason or its account.
//!
//! **Webhooks** receive their tenant's events after the one that was newest when they were
//! registered; [`Store::due_deliveries`] lists what to send now, [`Store::record_delivery`]
//! keeps the outcome (`ok`, or `failed` with the next attempt's time).

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Store, matched, on_pool, to_i64, to_u64};
use crate::error::{LedgerError, Result};
use crate::ids::{TenantId, from_millis, to_millis};

/// Inserts an event in the open transaction `$tx` (idempotent per tenant, kind and subject).
macro_rules! insert_event {
    ($tx:expr, $tenant:expr, $kind:expr, $subject:expr, $payload:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO events (tenant, kind, subject, payload, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, kind, subject) DO NOTHING",
        )
        .bind($tenant)
        .bind($kind)
        .bind($subject)
        .bind($payload)
        .bind($at)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use insert_event;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    pub tenant: TenantId,
    pub kind: String,
    pub subject: String,
    /// The JSON body a webhook receives.
    pub payload: String,
    pub at: DateTime<Utc>,
}

/// A registered webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub tenant: TenantId,
    pub url: String,
    /// The HMAC-SHA256 key of its signatures.
    pub secret: String,
    pub since_event: u64,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Where one event stands for one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event: Event,
    /// `pending` (never tried), `ok` or `failed`.
    pub status: String,
    pub attempts: u64,
    pub next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// An event to send to a webhook now, and how many times it was tried before.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub webhook: Webhook,
    pub event: Event,
    pub attempts: u64,
}

macro_rules! event_from_row {
    ($r:expr, $p:literal) => {{
        let r = $r;
        Ok::<Event, LedgerError>(Event {
            id: to_u64(r.try_get(concat!($p, "id"))?),
            tenant: TenantId::new(&r.try_get::<String, _>(concat!($p, "tenant"))?)?,
            kind: r.try_get(concat!($p, "kind"))?,
            subject: r.try_get(concat!($p, "subject"))?,
            payload: r.try_get(concat!($p, "payload"))?,
            at: from_millis(r.try_get(concat!($p, "at"))?),
        })
    }};
}

macro_rules! webhook_from_row {
    ($r:expr, $p:literal) => {{
        let r = $r;
        Ok::<Webhook, LedgerError>(Webhook {
            id: r.try_get(concat!($p, "id"))?,
            tenant: TenantId::new(&r.try_get::<String, _>(concat!($p, "tenant"))?)?,
            url: r.try_get(concat!($p, "url"))?,
            secret: r.try_get(concat!($p, "secret"))?,
            since_event: to_u64(r.try_get(concat!($p, "since_event"))?),
            created_at: from_millis(r.try_get(concat!($p, "created_at"))?),
            deleted_at: r
                .try_get::<Option<i64>, _>(concat!($p, "deleted_at"))?
                .map(from_millis),
        })
    }};
}

const WEBHOOK_COLUMNS: &str = "id, tenant, url, secret, since_event, created_at, deleted_at";

impl Store {
    /// Registers a webhook for `tenant`'s events from now on.
    pub async fn add_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        url: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Webhook> {
        self.tenant(tenant).await?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO webhooks (id, tenant, url, secret, since_event, created_at) \
                 VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(id), 0) FROM events), $5)",
            )
            .bind(id)
            .bind(tenant.as_str())
            .bind(url)
            .bind(secret)
            .bind(to_millis(now))
            .execute(pool)
            .await?;
        });
        self.webhook(tenant, id).await
    }

    /// A tenant's webhook (deleted ones too), or `NotFound`.
    pub async fn webhook(&self, tenant: &TenantId, id: &str) -> Result<Webhook> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND tenant = $2");
        let found = on_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(tenant.as_str())
                .fetch_optional(pool)
                .await?
            {
                Some(r) => Some(webhook_from_row!(&r, "")?),
                None => None,
            }
        });
        found.ok_or_else(|| LedgerError::NotFound {
            what: "webhook",
            key: id.to_owned(),
        })
    }

    /// A tenant's webhooks that are not deleted, oldest first.
    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = $1 AND deleted_at IS NULL \
             ORDER BY created_at, id"
        );
        on_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| webhook_from_row!(r, ""))
                .collect()
        })
    }

    /// Deletes a webhook: nothing more is sent to it; its deliveries stay on record.
    pub async fn delete_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhooks SET deleted_at = $3 WHERE id = $1 AND tenant = $2 \
                 AND deleted_at IS NULL",
            )
            .bind(id)
            .bind(tenant.as_str())
            .bind(to_millis(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        matched(n, "webhook", id)
    }

    /// A tenant's events, oldest first.
    pub async fn events(&self, tenant: &TenantId) -> Result<Vec<Event>> {
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT id, tenant, kind, subject, payload, at FROM events WHERE tenant = $1 \
                 ORDER BY id",
            )
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| event_from_row!(r, ""))
            .collect()
        })
    }

    /// Up to `limit` deliveries due at `now`, oldest event first: every event of a live
    /// webhook's tenant after its `since_event` that has no delivery yet, or a failed one
    /// whose next attempt has come.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueDelivery>> {
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT w.id AS w_id, w.tenant AS w_tenant, w.url AS w_url, \
                 w.secret AS w_secret, w.since_event AS w_since_event, \
                 w.created_at AS w_created_at, w.deleted_at AS w_deleted_at, \
                 e.id AS e_id, e.tenant AS e_tenant, e.kind AS e_kind, \
                 e.subject AS e_subject, e.payload AS e_payload, e.at AS e_at, \
                 COALESCE(d.attempts, 0) AS attempts \
                 FROM webhooks w JOIN events e ON e.tenant = w.tenant AND e.id > w.since_event \
                 LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id AND d.event_id = e.id \
                 WHERE w.deleted_at IS NULL \
                 AND (d.status IS NULL OR (d.status = 'failed' AND d.next_at <= $1)) \
                 ORDER BY e.id, w.id LIMIT $2",
            )
            .bind(to_millis(now))
            .bind(to_i64("delivery limit", limit)?)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    webhook: webhook_from_row!(r, "w_")?,
                    event: event_from_row!(r, "e_")?,
                    attempts: to_u64(r.try_get("attempts")?),
                })
            })
            .collect()
        })
    }

    /// Records an attempt: `Ok(())` delivered, or `Err(reason)` with the next attempt at
    /// `retry_at`.
    pub async fn record_delivery(
        &self,
        webhook_id: &str,
        event_id: u64,
        outcome: std::result::Result<(), (String, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (status, error, next) = match outcome {
            Ok(()) => ("ok", None, None),
            Err((e, at)) => (
                "failed",
                Some(e.chars().take(500).collect::<String>()),
                Some(to_millis(at)),
            ),
        };
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, next_at, \
                 last_error, updated_at) VALUES ($1, $2, $3, 1, $4, $5, $6) \
                 ON CONFLICT (webhook_id, event_id) DO UPDATE SET status = excluded.status, \
                 attempts = webhook_deliveries.attempts + 1, next_at = excluded.next_at, \
                 last_error = excluded.last_error, updated_at = excluded.updated_at",
            )
            .bind(webhook_id)
            .bind(to_i64("event id", event_id)?)
            .bind(status)
            .bind(next)
            .bind(error)
            .bind(to_millis(now))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Where each of the tenant's events since the webhook's registration stands for it,
    /// newest first, at most `limit`.
    pub async fn deliveries(&self, webhook: &Webhook, limit: u64) -> Result<Vec<Delivery>> {
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT e.id, e.tenant, e.kind, e.subject, e.payload, e.at, \
                 COALESCE(d.status, 'pending') AS status, COALESCE(d.attempts, 0) AS attempts, \
                 d.next_at, d.last_error \
                 FROM events e LEFT JOIN webhook_deliveries d \
                 ON d.event_id = e.id AND d.webhook_id = $1 \
                 WHERE e.tenant = $2 AND e.id > $3 ORDER BY e.id DESC LIMIT $4",
            )
            .bind(&webhook.id)
            .bind(webhook.tenant.as_str())
            .bind(to_i64("event id", webhook.since_event)?)
            .bind(to_i64("delivery limit", limit)?)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Delivery {
                    event: event_from_row!(r, "")?,
                    status: r.try_get("status")?,
                    attempts: to_u64(r.try_get("attempts")?),
                    next_at: r.try_get::<Option<i64>, _>("next_at")?.map(from_millis),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
        })
    }
}
