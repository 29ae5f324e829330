//! The OpenTimestamps calendar protocol, client side.
//!
//! - **Submit**: `POST {calendar}/digest` with the raw digest as the body (≤ 64 bytes),
//!   `Accept: application/vnd.opentimestamps.v1`; the answer is a bare timestamp of that
//!   digest, usually ending in a pending attestation naming the calendar.
//! - **Upgrade**: `GET {calendar}/timestamp/{hex of the message at the pending attestation}`;
//!   `404` while the calendar has not yet anchored it, `200` with a bare timestamp (ending in a
//!   Bitcoin attestation) once it has.
//!
//! As the reference client does, a 16-byte random nonce is appended to the digest and the
//! result hashed before anything is sent, so calendars learn nothing about the data. The
//! submission goes to every configured calendar in parallel, each with a timeout and a cap on
//! the response size, and succeeds when at least `m` of them answer with a valid timestamp
//! (default: 2, or all of them when fewer than 2 are configured). Every calendar's outcome and
//! latency is logged (`tracing`, target `stamp::calendar`) and recorded as metrics
//! (`ots_calendar_requests_total{calendar,op,outcome}`,
//! `ots_calendar_latency_seconds{calendar,op}`). Upgrades follow only the configured calendars'
//! URIs: a proof cannot make us fetch from an address we did not choose.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::RngCore as _;
use reqwest::StatusCode;

use crate::error::{Result, StampError};
use crate::ots::{DetachedTimestamp, Op, Timestamp};

pub const ACCEPT: &str = "application/vnd.opentimestamps.v1";
/// The reference client's default calendars.
pub const DEFAULT_CALENDARS: [&str; 4] = [
    "https://a.pool.opentimestamps.org",
    "https://b.pool.opentimestamps.org",
    "https://a.pool.eternitywall.com",
    "https://ots.btc.catallaxy.com",
];
/// The reference client reads at most this much of a calendar's answer.
pub const DEFAULT_MAX_RESPONSE: usize = 10_000;

/// Which calendars to use and how.
#[derive(Clone, Debug)]
pub struct CalendarConfig {
    /// Base URLs, e.g. `https://a.pool.opentimestamps.org`. Also the upgrade whitelist.
    pub calendars: Vec<String>,
    /// How many must accept a submission.
    pub min_ok: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest answer accepted, in bytes.
    pub max_response: usize,
}

impl CalendarConfig {
    /// [`CalendarConfig::new`] over `calendars`, or over [`DEFAULT_CALENDARS`] when none are
    /// given.
    pub fn or_defaults(calendars: Vec<String>) -> CalendarConfig {
        if calendars.is_empty() {
            CalendarConfig::new(DEFAULT_CALENDARS.iter().map(|c| (*c).to_owned()).collect())
        } else {
            CalendarConfig::new(calendars)
        }
    }

    /// `m` defaults to 2, or to the number of calendars when fewer are configured.
    pub fn new(calendars: Vec<String>) -> CalendarConfig {
        let calendars: Vec<String> = calendars
            .into_iter()
            .map(|c| c.trim_end_matches('/').to_owned())
            .collect();
        CalendarConfig {
            min_ok: calendars.len().min(2),
            calendars,
            timeout: Duration::from_secs(10),
            max_response: DEFAULT_MAX_RESPONSE,
        }
    }

    fn whitelisted(&self, uri: &str) -> bool {
        self.calendars
            .iter()
            .any(|c| c == uri.trim_end_matches('/'))
    }
}

/// An HTTP client for calendars. Installs the ring TLS provider for this process if none is
/// installed yet (reqwest is built without a default provider).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("ledger-anchors/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StampError::Calendar(format!("building the HTTP client: {e}")))
}

/// One calendar's answer to a submission or upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarOutcome {
    /// A valid timestamp was merged.
    Ok,
    /// Upgrade: the calendar has not anchored this yet (404).
    Pending,
    /// The reason it failed.
    Failed(String),
}

/// What `stamp` did, per calendar.
#[derive(Clone, Debug)]
pub struct StampReport {
    pub outcomes: Vec<(String, CalendarOutcome, Duration)>,
}

impl StampReport {
    pub fn ok_count(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o, _)| *o == CalendarOutcome::Ok)
            .count()
    }

    /// A line per calendar, as `anchor ots stamp` prints them: `✓ URL (N ms)` accepted,
    /// `… URL` pending, `✗ URL: reason` failed.
    pub fn text(&self) -> String {
        let mut lines = String::new();
        for (calendar, outcome, took) in &self.outcomes {
            let line = match outcome {
                CalendarOutcome::Ok => format!("✓ {calendar} ({} ms)\n", took.as_millis()),
                CalendarOutcome::Pending => format!("… {calendar}\n"),
                CalendarOutcome::Failed(r) => format!("✗ {calendar}: {r}\n"),
            };
            lines.push_str(&line);
        }
        lines
    }
}

/// What [`upgrade_file`] did, per pending attestation.
#[derive(Clone, Debug)]
pub struct UpgradeReport {
    /// The calendar each pending attestation names, and its answer ([`upgrade`]).
    pub outcomes: Vec<(String, CalendarOutcome)>,
    /// Whether the proof now has a Bitcoin attestation ([`Timestamp::has_bitcoin`]).
    pub complete: bool,
}

impl UpgradeReport {
    /// Whether some calendar's answer was merged, so the proof changed.
    pub fn changed(&self) -> bool {
        self.outcomes.iter().any(|(_, o)| *o == CalendarOutcome::Ok)
    }

    /// Whether some calendar failed (or was not in the whitelist).
    pub fn any_failed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| matches!(o, CalendarOutcome::Failed(_)))
    }

    /// A line per pending attestation, as `anchor ots upgrade` prints them: `✓ URL: upgraded`,
    /// `… URL: not yet anchored`, `✗ URL: reason`.
    pub fn text(&self) -> String {
        let mut lines = String::new();
        for (calendar, outcome) in &self.outcomes {
            let line = match outcome {
                CalendarOutcome::Ok => format!("✓ {calendar}: upgraded\n"),
                CalendarOutcome::Pending => format!("… {calendar}: not yet anchored\n"),
                CalendarOutcome::Failed(r) => format!("✗ {calendar}: {r}\n"),
            };
            lines.push_str(&line);
        }
        lines
    }
}

/// [`upgrade`] with a client of its own (timeout `cfg.timeout`): `file` is upgraded in place
/// and the report says whether it changed and is complete.
pub async fn upgrade_file(
    cfg: &CalendarConfig,
    file: &mut DetachedTimestamp,
) -> Result<UpgradeReport> {
    let client = http_client(cfg.timeout)?;
    let outcomes = upgrade(&client, cfg, file).await?;
    Ok(UpgradeReport {
        outcomes,
        complete: file.timestamp.has_bitcoin(),
    })
}

/// Sends `request` and reads at most `max` bytes of the answer (shared with [`crate::headers`]).
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    max: usize,
) -> std::result::Result<(StatusCode, Vec<u8>), String> {
    let mut response = request.send().await.map_err(|e| describe_reqwest(&e))?;
    let status = response.status();
    if let Some(len) = response.content_length()
        && len > max as u64
    {
        return Err(format!("response of {len} bytes is larger than {max}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe_reqwest(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(format!("response is larger than {max} bytes"));
        }
    }
    Ok((status, body))
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

fn record(calendar: &str, op: &'static str, outcome: &CalendarOutcome, took: Duration) {
    let label = match outcome {
        CalendarOutcome::Ok => "ok",
        CalendarOutcome::Pending => "pending",
        CalendarOutcome::Failed(_) => "failed",
    };
    metrics::counter!("ots_calendar_requests_total", "calendar" => calendar.to_owned(), "op" => op, "outcome" => label).increment(1);
    metrics::histogram!("ots_calendar_latency_seconds", "calendar" => calendar.to_owned(), "op" => op).record(took.as_secs_f64());
    let latency_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    if let CalendarOutcome::Failed(reason) = outcome {
        tracing::warn!(
            target: "stamp::calendar", calendar, op, outcome = label, latency_ms,
            reason = %reason, "calendar request failed"
        );
    } else {
        tracing::info!(
            target: "stamp::calendar", calendar, op, outcome = label, latency_ms,
            "calendar request"
        );
    }
}

async fn submit_one(
    client: &reqwest::Client,
    cfg: &CalendarConfig,
    calendar: &str,
    commitment: &[u8],
) -> (std::result::Result<Timestamp, String>, Duration) {
    let started = Instant::now();
    let request = client
        .post(format!("{calendar}/digest"))
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .timeout(cfg.timeout)
        .body(commitment.to_vec());
    let result = match fetch(request, cfg.max_response).await {
        Ok((status, body)) if status == StatusCode::OK => {
            Timestamp::from_bytes_for(commitment.to_vec(), &body)
                .map_err(|e| format!("malformed timestamp in the answer: {e}"))
        }
        Ok((status, _)) => Err(format!("HTTP {status}")),
        Err(e) => Err(e),
    };
    (result, started.elapsed())
}

/// Stamps `digest` (a SHA-256) through the configured calendars. Returns the detached
/// timestamp (nonce, hash, then every accepting calendar's answer merged) and the report; fails
/// when fewer than `min_ok` calendars accepted, naming each failure.
pub async fn stamp(
    client: &reqwest::Client,
    cfg: &CalendarConfig,
    digest: [u8; 32],
) -> Result<(DetachedTimestamp, StampReport)> {
    if cfg.calendars.is_empty() || cfg.min_ok == 0 || cfg.min_ok > cfg.calendars.len() {
        return Err(StampError::Calendar(format!(
            "need 1 <= m <= n calendars, have m = {} of n = {}",
            cfg.min_ok,
            cfg.calendars.len()
        )));
    }
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let mut root = Timestamp::new(digest.to_vec());
    let commitment_node = root.push_op(Op::Append(nonce.to_vec())).push_op(Op::Sha256);
    let commitment = commitment_node.msg.clone();

    let answers = futures_join_all(cfg.calendars.iter().map(|c| {
        let commitment = commitment.clone();
        async move { (c.clone(), submit_one(client, cfg, c, &commitment).await) }
    }))
    .await;

    let mut outcomes = Vec::new();
    for (calendar, (result, took)) in answers {
        let outcome = match result {
            Ok(t) => match commitment_node.merge(t) {
                Ok(()) => CalendarOutcome::Ok,
                Err(e) => CalendarOutcome::Failed(e.to_string()),
            },
            Err(reason) => CalendarOutcome::Failed(reason),
        };
        record(&calendar, "submit", &outcome, took);
        outcomes.push((calendar, outcome, took));
    }
    let report = StampReport { outcomes };
    if report.ok_count() < cfg.min_ok {
        let failures: Vec<String> = report
            .outcomes
            .iter()
            .filter_map(|(c, o, _)| match o {
                CalendarOutcome::Failed(r) => Some(format!("{c}: {r}")),
                _ => None,
            })
            .collect();
        return Err(StampError::Calendar(crate::error::redact_userinfo(
            &format!(
                "{} of {} calendars accepted, {} needed ({})",
                report.ok_count(),
                cfg.calendars.len(),
                cfg.min_ok,
                failures.join("; ")
            ),
        )));
    }
    Ok((
        DetachedTimestamp {
            file_hash: Op::Sha256,
            timestamp: root,
        },
        report,
    ))
}

/// Asks each whitelisted calendar named by a pending attestation for its upgrade and merges
/// what it answers. Returns one outcome per pending attestation (URIs outside the whitelist are
/// reported as failed and never contacted). The proof is complete once it has a Bitcoin
/// attestation ([`Timestamp::has_bitcoin`]).
pub async fn upgrade(
    client: &reqwest::Client,
    cfg: &CalendarConfig,
    file: &mut DetachedTimestamp,
) -> Result<Vec<(String, CalendarOutcome)>> {
    let mut out = Vec::new();
    for (uri, msg) in file.timestamp.pending() {
        if !cfg.whitelisted(&uri) {
            out.push((
                uri,
                CalendarOutcome::Failed("calendar not in the whitelist".into()),
            ));
            continue;
        }
        let started = Instant::now();
        let request = client
            .get(format!(
                "{}/timestamp/{}",
                uri.trim_end_matches('/'),
                merkle::hash::encode_hex(&msg)
            ))
            .header(reqwest::header::ACCEPT, ACCEPT)
            .timeout(cfg.timeout);
        let outcome = match fetch(request, cfg.max_response).await {
            Ok((StatusCode::OK, body)) => match Timestamp::from_bytes_for(msg.clone(), &body) {
                Ok(t) => match file.timestamp.merge_at(t) {
                    Ok(true) => CalendarOutcome::Ok,
                    Ok(false) => CalendarOutcome::Failed("answer for an unknown message".into()),
                    Err(e) => CalendarOutcome::Failed(e.to_string()),
                },
                Err(e) => {
                    CalendarOutcome::Failed(format!("malformed timestamp in the answer: {e}"))
                }
            },
            Ok((StatusCode::NOT_FOUND, _)) => CalendarOutcome::Pending,
            Ok((status, _)) => CalendarOutcome::Failed(format!("HTTP {status}")),
            Err(e) => CalendarOutcome::Failed(e),
        };
        record(&uri, "upgrade", &outcome, started.elapsed());
        out.push((uri, outcome));
    }
    Ok(out)
}

/// Runs futures concurrently and returns their outputs in order (a small `join_all`, so this
/// crate needs no `futures` dependency).
async fn futures_join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: Future<Output = T>,
{
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<T>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in set.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_calendars_given_means_the_reference_clients_four_and_m_of_2() {
        let cfg = CalendarConfig::or_defaults(vec![]);
        assert_eq!(cfg.calendars, DEFAULT_CALENDARS.map(str::to_owned).to_vec());
        assert_eq!(cfg.min_ok, 2);
        let one = CalendarConfig::or_defaults(vec!["http://c/".into()]);
        assert_eq!(
            (one.calendars, one.min_ok),
            (vec!["http://c".to_owned()], 1)
        );
    }

    #[test]
    fn the_stamp_and_upgrade_texts_are_a_line_per_calendar() {
        let stamp = StampReport {
            outcomes: vec![
                ("a".into(), CalendarOutcome::Ok, Duration::from_millis(12)),
                ("b".into(), CalendarOutcome::Pending, Duration::ZERO),
                (
                    "c".into(),
                    CalendarOutcome::Failed("x".into()),
                    Duration::ZERO,
                ),
            ],
        };
        assert_eq!(stamp.text(), "✓ a (12 ms)\n… b\n✗ c: x\n");
        let pending = UpgradeReport {
            outcomes: vec![("b".into(), CalendarOutcome::Pending)],
            complete: false,
        };
        assert!(!pending.changed() && !pending.any_failed());
        assert_eq!(pending.text(), "… b: not yet anchored\n");
        let mixed = UpgradeReport {
            outcomes: vec![
                ("a".into(), CalendarOutcome::Ok),
                ("c".into(), CalendarOutcome::Failed("x".into())),
            ],
            complete: true,
        };
        assert!(mixed.changed() && mixed.any_failed());
        assert_eq!(mixed.text(), "✓ a: upgraded\n✗ c: x\n");
    }
}
