//! Webhook delivery (issue 22's notifications): every scheduler tick POSTs the due events
//! ([`ledger::sql::Store::due_deliveries`]) to their tenants' webhooks and records each
//! outcome.
//!
//! One webhook's events are sent one at a time, oldest first; different webhooks concurrently.
//!
//! The request: `POST {url}` with the event's JSON payload as the body and
//! `Content-Type: application/json`, `X-Ledger-Event: {kind}`, `X-Ledger-Delivery: {event id}`
//! (the same for every retry: receivers deduplicate on it, delivery being at least once) and
//! `X-Ledger-Signature: sha256={hex HMAC-SHA256 of the body under the webhook's secret}`
//! (`domain::hmac`). A 2xx answer is `ok`; anything else (status, timeout, refused) is
//! `failed`, retried after 30 s doubling per attempt up to 1 h ([`backoff`]), for as long as
//! the webhook exists.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::hmac;
use ledger::sql::DueDelivery;
use merkle::hash::encode_hex;

use crate::ctx::Ctx;
use crate::error::Result;

/// Deliveries sent per tick at most (the rest wait for the next tick), [`IN_FLIGHT`] at a
/// time: with the 15 s client timeout a tick spends at most a minute on slow receivers.
const PER_TICK: u64 = 64;
const IN_FLIGHT: usize = 16;

/// The wait before attempt `attempts + 1` after `attempts` failures: 30 s doubling, at most 1 h.
pub fn backoff(attempts: u64) -> Duration {
    let secs = 30u64.saturating_mul(1 << (attempts.clamp(1, 8) - 1));
    Duration::from_secs(secs.min(3600))
}

/// What one round of deliveries did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub ok: u64,
    pub failed: u64,
}

/// Sends every delivery due at `now` (up to [`PER_TICK`]) and records the outcomes.
pub async fn deliver(ctx: &Ctx, now: DateTime<Utc>) -> Result<Delivered> {
    use futures_util::StreamExt as _;
    // One webhook's events go one at a time, oldest first (a receiver sees them in order);
    // different webhooks are served concurrently.
    let mut by_hook: Vec<Vec<DueDelivery>> = Vec::new();
    for d in ctx.store.due_deliveries(now, PER_TICK).await? {
        match by_hook.iter_mut().find(|g| g[0].webhook.id == d.webhook.id) {
            Some(g) => g.push(d),
            None => by_hook.push(vec![d]),
        }
    }
    let sent: Vec<Vec<(DueDelivery, std::result::Result<(), String>)>> =
        futures_util::stream::iter(by_hook.into_iter().map(|hook| async move {
            let mut out = Vec::with_capacity(hook.len());
            for d in hook {
                let outcome = post(&ctx.stamping.http, &d).await;
                out.push((d, outcome));
            }
            out
        }))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let sent = sent.into_iter().flatten();
    let mut done = Delivered::default();
    for (due, outcome) in sent {
        let failed = outcome.is_err();
        let retry = |e: String| {
            let wait = chrono::Duration::from_std(backoff(due.attempts + 1)).unwrap_or_default();
            (e, now + wait)
        };
        ctx.store
            .record_delivery(&due.webhook.id, due.event.id, outcome.map_err(retry), now)
            .await?;
        let label = if failed { "failed" } else { "ok" };
        metrics::counter!("webhook_deliveries_total", "outcome" => label).increment(1);
        if failed {
            done.failed += 1;
        } else {
            done.ok += 1;
        }
    }
    Ok(done)
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        encode_hex(&hmac::sha256(secret.as_bytes(), body))
    )
}

async fn post(http: &reqwest::Client, due: &DueDelivery) -> std::result::Result<(), String> {
    let body = due.event.payload.clone().into_bytes();
    let response = http
        .post(&due.webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Ledger-Event", &due.event.kind)
        .header("X-Ledger-Delivery", due.event.id.to_string())
        .header("X-Ledger-Signature", signature(&due.webhook.secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST failed: {}", e.without_url()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_30_s_doubling_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
