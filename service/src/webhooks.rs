//! Tenants' webhooks (issue 22's notifications): registering, listing, deleting, and what was
//! delivered. The events and the outbox are the store's (`ledger::sql` webhooks module); the
//! delivery is the scheduler tick's (`workers::webhooks`).
//!
//! Decisions:
//! - **HMAC, not the operator's ES256 key.** A receiver checks `X-Ledger-Signature` with the
//!   secret it was given at registration and any HMAC library, with no key-set fetch and no
//!   JOSE parsing; the secret is 256 random bits, shown once (like a tenant token).
//! - **`http://` is accepted** beside `https://` (private networks, tests); the URL must have a
//!   host and no whitespace. At most [`MAX_WEBHOOKS`] live webhooks per tenant.

use chrono::{DateTime, Utc};
use ledger::TenantId;
use ledger::ids::format_ts;
use ledger::sql::{Delivery, Store, Webhook};
use serde::Serialize;

use crate::error::{Result, ServiceError};

/// Live webhooks a tenant may have.
pub const MAX_WEBHOOKS: usize = 10;

/// A webhook as its tenant sees it (the secret only at registration).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    pub tenant: String,
    pub url: String,
    pub created_at: String,
    /// The HMAC-SHA256 key of `X-Ledger-Signature`: in the registration's answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    fn of(w: &Webhook, with_secret: bool) -> WebhookView {
        WebhookView {
            id: w.id.clone(),
            tenant: w.tenant.to_string(),
            url: w.url.clone(),
            created_at: format_ts(w.created_at),
            secret: with_secret.then(|| w.secret.clone()),
        }
    }
}

/// One event's delivery to a webhook.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub event: u64,
    pub kind: String,
    pub subject: String,
    /// `pending`, `ok` or `failed`.
    pub status: String,
    pub attempts: u64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> DeliveryView {
        DeliveryView {
            event: d.event.id,
            kind: d.event.kind.clone(),
            subject: d.event.subject.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_at.map(format_ts),
            last_error: d.last_error.clone(),
        }
    }
}

fn check_url(url: &str) -> Result<()> {
    if ledger::ids::is_http_url(url) && url.len() <= 2048 {
        Ok(())
    } else {
        Err(ServiceError::Unprocessable(format!(
            "url: {url:?} is not an http:// or https:// URL with a host (at most 2048 characters)"
        )))
    }
}

/// Registers a webhook for the tenant's events from now on; the answer holds its secret.
pub async fn register(
    store: &Store,
    tenant: &TenantId,
    url: &str,
    now: DateTime<Utc>,
) -> Result<WebhookView> {
    check_url(url)?;
    if store.webhooks(tenant).await?.len() >= MAX_WEBHOOKS {
        return Err(ServiceError::Unprocessable(format!(
            "{tenant} has {MAX_WEBHOOKS} webhooks already: delete one first"
        )));
    }
    let id = format!("wh-{}", &ledger::sql::new_backfill_id()[3..]);
    let secret = format!("whsec_{}", &ledger::sql::new_token()[3..]);
    let w = store.add_webhook(tenant, &id, url, &secret, now).await?;
    Ok(WebhookView::of(&w, true))
}

/// The tenant's live webhooks, without their secrets.
pub async fn list(store: &Store, tenant: &TenantId) -> Result<Vec<WebhookView>> {
    Ok(store
        .webhooks(tenant)
        .await?
        .iter()
        .map(|w| WebhookView::of(w, false))
        .collect())
}

/// Deletes a webhook (`NotFound` when it is not the tenant's, or already deleted).
pub async fn delete(store: &Store, tenant: &TenantId, id: &str, now: DateTime<Utc>) -> Result<()> {
    Ok(store.delete_webhook(tenant, id, now).await?)
}

/// The newest `limit` events since the webhook's registration, each with its delivery.
pub async fn deliveries(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    limit: u64,
) -> Result<Vec<DeliveryView>> {
    let w = store.webhook(tenant, id).await?;
    Ok(store
        .deliveries(&w, limit)
        .await?
        .iter()
        .map(DeliveryView::from)
        .collect())
}
