//! The publication service (seed 001's lifecycle): attestations are stored `pending`; each
//! cycle POSTs every due attestation's served JSON to each configured webhook that has not
//! yet accepted it, then marks the attestation `ok` when all have, or `failed` with the next
//! attempt scheduled (exponential backoff from `retry_base`, capped at `retry_max`).
//!
//! Delivery is at least once: a receiver may see an attestation twice (after a crash between
//! the POST and the bookkeeping, or with two publishers running) and deduplicates on the
//! `X-Reserve-Attestation-Id` header. A webhook answering 2xx has accepted it; anything else
//! (other status, timeout, connection error) is a failure recorded with its reason.
//! An attestation with no webhooks becomes `ok` on the first cycle.
//!
//! [`Publisher::run_until`] is the background service (seed 001: "every 15 s"): `anchor up`
//! and `anchor worker` run it, so nothing waits for an operator to re-run a command. Several
//! processes may run it at once: delivery is at least once either way.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{ReserveError, Result};
use crate::sql::{PublicationStatus, ReserveStore};
use crate::types::AttestationId;

/// A webhook target: `http://` or `https://` with a host.
pub fn check_webhook(url: &str) -> Result<String> {
    if !domain::ids::is_http_url(url) {
        return Err(ReserveError::Webhook {
            url: url.to_owned(),
            detail: "must be an http:// or https:// URL with a host".into(),
        });
    }
    Ok(url.to_owned())
}

/// Parses a comma-separated webhook list (`LEDGER_RESERVES_WEBHOOKS`); blanks are skipped.
pub fn parse_webhooks(list: &str) -> Result<Vec<String>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(check_webhook)
        .collect()
}

#[derive(Clone, Debug)]
pub struct Publisher {
    client: reqwest::Client,
    pub retry_base: chrono::Duration,
    pub retry_max: chrono::Duration,
}

/// What a cycle did to one attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub id: AttestationId,
    pub status: PublicationStatus,
    pub errors: Vec<String>,
}

impl Publisher {
    /// `timeout` bounds each POST.
    pub fn new(timeout: Duration) -> Result<Publisher> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ReserveError::Webhook {
                url: String::new(),
                detail: format!("http client: {e}"),
            })?;
        Ok(Publisher {
            client,
            retry_base: chrono::Duration::seconds(30),
            retry_max: chrono::Duration::hours(1),
        })
    }

    /// One cycle over at most `limit` due attestations.
    pub async fn run_once(
        &self,
        store: &ReserveStore,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for id in store.due(now, limit).await? {
            let stored = store.attestation(&id).await?;
            let mut errors = Vec::new();
            for d in store
                .deliveries(&id)
                .await?
                .into_iter()
                .filter(|d| d.status != "ok")
            {
                let result = self
                    .client
                    .post(&d.webhook)
                    .header("content-type", "application/json")
                    .header("x-reserve-attestation-id", id.as_str())
                    .header("x-payload-hash", &stored.payload_hash)
                    .body(stored.served_json.clone())
                    .send()
                    .await;
                let error = match result {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                    Err(e) => Some(e.to_string()),
                };
                store
                    .record_delivery(&id, &d.webhook, error.as_deref(), now)
                    .await?;
                if let Some(e) = error {
                    errors.push(format!("{}: {e}", d.webhook));
                }
            }
            let (status, next) = if errors.is_empty() {
                (PublicationStatus::Ok, now)
            } else {
                let exp = u32::try_from(stored.attempts.min(16)).unwrap_or(16);
                let delay = (self.retry_base * 2i32.pow(exp.min(30))).min(self.retry_max);
                (PublicationStatus::Failed, now + delay)
            };
            store.set_status(&id, status, next, now).await?;
            out.push(Outcome { id, status, errors });
        }
        Ok(out)
    }

    /// Cycles every `every` until `stop` completes: each cycle delivers what is due at its
    /// start ([`Publisher::run_once`], 100 at most). A failed cycle (the store unreachable)
    /// is logged and tried again at the next one.
    pub async fn run_until(
        &self,
        store: &ReserveStore,
        every: Duration,
        stop: impl Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        loop {
            match self.run_once(store, Utc::now(), 100).await {
                Ok(outcomes) => {
                    for o in outcomes.iter().filter(|o| !o.errors.is_empty()) {
                        tracing::warn!(attestation = %o.id.as_str(), errors = ?o.errors,
                            "reserve attestation delivery failed; retried later");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reserve publication cycle failed"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
