//! The calendar canary (issue 17): calendars that answer 200 to a submission and then never
//! anchor it.
//!
//! A public calendar can accept stamps for weeks without committing them to Bitcoin; the
//! m-of-n submission and the outage switch ([`crate::outage`]) see only refused submissions.
//! So each canary cycle (a [`crate::Job::Canary`] the tick enqueues about once a minute)
//! does, for every configured calendar:
//!
//! 1. **Follow up** its pending canaries (the oldest and the newest; at most once per
//!    [`CHECK_EVERY`] each): ask the calendar for the upgrade with the same client as the
//!    upgrade job; a Bitcoin attestation is checked against the header source the upgrade
//!    job uses (`LEDGER_ESPLORA_URL`, same network and epoch rules) and the canary becomes
//!    `confirmed`. **Without a header source** a Bitcoin attestation makes it `unverified`,
//!    which counts as anchored: the canary asks whether the *calendar* anchors, and checking
//!    headers is this fleet's part (receipts stay pending without it anyway). An attestation
//!    that does not verify against the headers leaves the canary pending (with the finding
//!    as its detail), so a calendar answering with bogus blocks is late like a silent one.
//!    When a canary settles, every older one of the same calendar still pending becomes
//!    `superseded`: the calendar anchors again and lost those.
//! 2. **Stamp a new canary** when due ([`due`]): when the calendar has none, or its newest
//!    was submitted at least the interval (`LEDGER_CANARY_INTERVAL`, default 1 h) ago and is
//!    settled or already past the deadline. So a healthy calendar has at most one canary
//!    outstanding, and a late one gets one more per interval (the one whose confirmation
//!    will show it recovered). A KV lease per calendar and interval slot
//!    (`lease:canary-submit:{calendar hash}:{slot}`) keeps two schedulers, or a calendar
//!    refusing submissions, to one submission per interval. The digest ([`canary_digest`]) is SHA-256 of a domain-separated string
//!    naming the calendar and the instant, so it is never a tenant's root (those are
//!    SHA-256 of an RFC 9162 root, whose input starts with 0x00 or 0x01) and the calendar
//!    cannot tell it from any other submission. Canaries never count as OTS submissions for
//!    the outage switch.
//! 3. **Measure** the oldest stamp still pending at the calendar: its oldest pending canary
//!    and its oldest pending tenant stamp (runs whose OTS anchor is pending and whose stored
//!    `.ots` holds a pending attestation of that calendar; the [`TENANT_SCAN`] oldest such
//!    runs are read). Exported as `calendar_pending_oldest_seconds{calendar}` (0 when
//!    nothing is pending), `calendar` being the URL without user information.
//! 4. **Incident**: at or past the deadline (`LEDGER_CANARY_DEADLINE`, default 24 h) a
//!    `calendar-pending` incident naming the calendar is opened (at most one open per
//!    calendar); once nothing at the calendar is pending past the deadline it is resolved
//!    with actor-less resolution text saying so.
//!
//! Off by default on the embedded defaults (the dev calendars mine only on request, so a
//! canary there would only ever be late); on in a fleet; `LEDGER_CANARY_INTERVAL=off` turns
//! it off, any interval turns it on (embedded too).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::kv::KvKey;
use ledger::sql::{Canary, CanaryStatus};
use ledger::{AnchorKind, AnchorStatus, CalendarUrl};
use sha2::{Digest as _, Sha256};
use stamp::DetachedTimestamp;
use stamp::calendar::{CalendarConfig, CalendarOutcome};

use crate::ctx::Ctx;
use crate::error::Result;

/// A pending canary is asked for its upgrade at most this often.
pub const CHECK_EVERY: chrono::Duration = chrono::Duration::minutes(10);
/// At most this many of the oldest runs with a pending OTS anchor are read per cycle to find
/// each calendar's oldest pending tenant stamp.
pub const TENANT_SCAN: usize = 50;
/// The domain separator of canary digests.
pub const DOMAIN: &str = "ledger-anchors.calendar-canary.v1";

pub use crate::ctx::CanaryPolicy;

/// The digest a canary of `calendar` stamped at `at` submits: SHA-256 of
/// `"{DOMAIN}|{calendar}|{at}"`, `at` written by [`ledger::ids::format_ts`] (RFC 3339,
/// milliseconds, as the store keeps instants).
pub fn canary_digest(calendar: &CalendarUrl, at: DateTime<Utc>) -> [u8; 32] {
    Sha256::digest(format!(
        "{DOMAIN}|{calendar}|{}",
        ledger::ids::format_ts(at)
    ))
    .into()
}

/// Whether a calendar whose newest canary is `latest` gets a new one at `now` (pure; see
/// the module documentation, step 2).
pub fn due(policy: &CanaryPolicy, latest: Option<&Canary>, now: DateTime<Utc>) -> bool {
    let Some(c) = latest else { return true };
    let age = now - c.submitted_at;
    age >= policy.interval && (c.status != CanaryStatus::Pending || age >= policy.deadline)
}

/// What one cycle found at one calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarCheck {
    pub calendar: CalendarUrl,
    /// The canary stamped this cycle, if any.
    pub stamped: Option<u64>,
    /// Canaries that settled this cycle, with their new status.
    pub settled: Vec<(u64, CanaryStatus)>,
    /// The age of the oldest stamp pending at the calendar (canary or tenant), if any.
    pub oldest_pending: Option<chrono::Duration>,
    /// The open incident naming the calendar after this cycle, if any.
    pub incident: Option<u64>,
}

/// One canary cycle at `now` over every configured calendar (a calendar that fails is
/// logged and the others go on). Does nothing when the canary is off.
pub async fn cycle(ctx: &Ctx, now: DateTime<Utc>) -> Result<Vec<CalendarCheck>> {
    let Some(policy) = ctx.canary else {
        return Ok(Vec::new());
    };
    let tenants = tenant_pending(ctx).await?;
    let mut out = Vec::new();
    for url in &ctx.stamping.calendars.calendars {
        let calendar = CalendarUrl::new(url)?;
        let cfg = CalendarConfig {
            calendars: vec![url.clone()],
            min_ok: 1,
            ..ctx.stamping.calendars.clone()
        };
        let check = one_calendar(ctx, &policy, &cfg, calendar, tenants.get(url), now).await?;
        out.push(check);
    }
    Ok(out)
}

/// The four steps of the module documentation, in order, for one calendar.
async fn one_calendar(
    ctx: &Ctx,
    policy: &CanaryPolicy,
    cfg: &CalendarConfig,
    calendar: CalendarUrl,
    tenant_oldest: Option<&(DateTime<Utc>, String)>,
    now: DateTime<Utc>,
) -> Result<CalendarCheck> {
    let settled = follow_pending(ctx, cfg, &calendar, now).await?;
    let stamped = stamp_canary(ctx, policy, cfg, &calendar, now).await?;
    let oldest = oldest_pending(ctx, &calendar, tenant_oldest, now).await?;
    let age = oldest
        .as_ref()
        .map(|(at, _)| (now - *at).max(chrono::Duration::zero()));
    let incident = open_or_resolve_incident(ctx, policy, &calendar, oldest, age, now).await?;
    Ok(CalendarCheck {
        calendar,
        stamped,
        settled,
        oldest_pending: age,
        incident,
    })
}

/// Step 1: follows up the oldest and the newest pending canary (each at most every
/// [`CHECK_EVERY`]); returns those that settled.
async fn follow_pending(
    ctx: &Ctx,
    cfg: &CalendarConfig,
    calendar: &CalendarUrl,
    now: DateTime<Utc>,
) -> Result<Vec<(u64, CanaryStatus)>> {
    let pending = ctx.store.canaries(calendar, true).await?;
    let mut follow: Vec<&Canary> = pending.first().into_iter().collect();
    if let Some(oldest) = pending.last()
        && pending.len() > 1
    {
        follow.push(oldest);
    }
    let mut settled = Vec::new();
    for c in follow {
        if c.checked_at.is_some_and(|t| now - t < CHECK_EVERY) {
            continue;
        }
        if let Some(status) = follow_up(ctx, cfg, c, now).await? {
            metrics::counter!("calendar_canaries_total", "calendar" => calendar.to_string(), "outcome" => status.as_str()).increment(1);
            settled.push((c.id, status));
        }
    }
    Ok(settled)
}

/// Step 2: a new canary when one is due and this process holds the submission lease; returns
/// its id when the calendar accepted it.
async fn stamp_canary(
    ctx: &Ctx,
    policy: &CanaryPolicy,
    cfg: &CalendarConfig,
    calendar: &CalendarUrl,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    let latest = ctx.store.latest_canary(calendar).await?;
    if !due(policy, latest.as_ref(), now) || !submit_lease(ctx, calendar, policy, now).await? {
        return Ok(None);
    }
    let digest = canary_digest(calendar, now);
    match stamp::calendar::stamp(&ctx.stamping.http, cfg, digest).await {
        Ok((file, _)) => {
            let c = ctx
                .store
                .insert_canary(calendar, digest, &file.to_bytes()?, now)
                .await?;
            tracing::info!(calendar = %calendar, canary = c.id, "canary stamped");
            metrics::counter!("calendar_canaries_total", "calendar" => calendar.to_string(), "outcome" => "submitted").increment(1);
            Ok(Some(c.id))
        }
        Err(e) => {
            tracing::warn!(calendar = %calendar, error = %e, "canary submission refused");
            metrics::counter!("calendar_canaries_total", "calendar" => calendar.to_string(), "outcome" => "refused").increment(1);
            Ok(None)
        }
    }
}

/// Step 3: the oldest stamp pending at the calendar, a canary's or a tenant's (when, and what
/// it is), also set as the `calendar_pending_oldest_seconds` gauge.
async fn oldest_pending(
    ctx: &Ctx,
    calendar: &CalendarUrl,
    tenant_oldest: Option<&(DateTime<Utc>, String)>,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, String)>> {
    let oldest_canary = ctx
        .store
        .canaries(calendar, true)
        .await?
        .last()
        .map(|c| (c.submitted_at, format!("canary {}", c.id)));
    let oldest = match (oldest_canary, tenant_oldest.cloned()) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    #[allow(clippy::cast_precision_loss)] // seconds: far below 2^52
    let seconds = oldest.as_ref().map_or(0.0, |(at, _)| {
        (now - *at).max(chrono::Duration::zero()).num_milliseconds() as f64 / 1000.0
    });
    metrics::gauge!("calendar_pending_oldest_seconds", "calendar" => calendar.to_string())
        .set(seconds);
    Ok(oldest)
}

/// Step 4: opens the calendar's incident when its oldest pending stamp is past the deadline,
/// resolves it otherwise; returns the open incident's id.
async fn open_or_resolve_incident(
    ctx: &Ctx,
    policy: &CanaryPolicy,
    calendar: &CalendarUrl,
    oldest: Option<(DateTime<Utc>, String)>,
    age: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    if let (Some((at, what)), Some(age)) = (oldest, age)
        && age >= policy.deadline
    {
        let detail = format!(
            "calendar {calendar}: {what}, submitted {}, is still pending after {} (deadline {} h, LEDGER_CANARY_DEADLINE): the calendar accepted it and has not anchored it in Bitcoin",
            ledger::ids::format_ts(at),
            human(age),
            policy.deadline.num_hours()
        );
        let (id, opened) = ctx
            .store
            .open_calendar_incident(calendar, &detail, now)
            .await?;
        if opened {
            tracing::error!(calendar = %calendar, incident = id, "{detail}");
        }
        return Ok(Some(id));
    }
    if let Some(id) = ctx
        .store
        .resolve_calendar_incident(
            calendar,
            &format!("calendar {calendar} anchors again: nothing pending there past the deadline"),
            now,
        )
        .await?
    {
        tracing::warn!(calendar = %calendar, incident = id, "calendar anchors again: incident resolved");
    }
    Ok(None)
}

/// Asks the calendar for `c`'s upgrade and records what it answered; returns the new status
/// when the canary settled. A calendar or header source that cannot be reached leaves it
/// pending, with the reason as its detail.
async fn follow_up(
    ctx: &Ctx,
    cfg: &CalendarConfig,
    c: &Canary,
    now: DateTime<Utc>,
) -> Result<Option<CanaryStatus>> {
    let mut file = DetachedTimestamp::from_bytes(&c.ots)?;
    let outcomes = match stamp::calendar::upgrade(&ctx.stamping.http, cfg, &mut file).await {
        Ok(o) => o,
        Err(e) => {
            ctx.store
                .check_canary(c.id, &c.ots, &format!("upgrade failed: {e}"), now)
                .await?;
            return Ok(None);
        }
    };
    let bytes = file.to_bytes()?;
    if !file.timestamp.has_bitcoin() {
        let said: Vec<String> = outcomes
            .iter()
            .map(|(_, o)| match o {
                CalendarOutcome::Ok => "answered without a Bitcoin attestation".to_owned(),
                CalendarOutcome::Pending => "pending (404)".to_owned(),
                CalendarOutcome::Failed(why) => format!("failed: {why}"),
            })
            .collect();
        ctx.store
            .check_canary(c.id, &bytes, &format!("upgrade: {}", said.join("; ")), now)
            .await?;
        return Ok(None);
    }
    let Some(source) = &ctx.stamping.headers else {
        let heights: Vec<String> = file
            .timestamp
            .bitcoin_heights()
            .iter()
            .map(u64::to_string)
            .collect();
        let detail = format!(
            "Bitcoin attestation at height {}; not checked: no header source (LEDGER_ESPLORA_URL)",
            heights.join(", ")
        );
        ctx.store
            .settle_canary(c.id, CanaryStatus::Unverified, &bytes, &detail, now)
            .await?;
        return Ok(Some(CanaryStatus::Unverified));
    };
    match crate::upgrade::verified_block(ctx, source, &file, &c.digest).await {
        Ok(Some(block)) => {
            let detail = format!(
                "block {} {} at {}",
                block.height,
                block.block_hash,
                ledger::ids::format_ts(block.time)
            );
            ctx.store
                .settle_canary(c.id, CanaryStatus::Confirmed, &bytes, &detail, now)
                .await?;
            tracing::info!(calendar = %c.calendar, canary = c.id, height = block.height, "canary confirmed");
            Ok(Some(CanaryStatus::Confirmed))
        }
        Ok(None) => {
            ctx.store
                .check_canary(
                    c.id,
                    &bytes,
                    "a Bitcoin attestation that does not verify against the header source",
                    now,
                )
                .await?;
            Ok(None)
        }
        Err(e) => {
            ctx.store
                .check_canary(c.id, &bytes, &format!("header source: {e}"), now)
                .await?;
            Ok(None)
        }
    }
}

/// Takes the calendar's submission lease for the interval slot `now` falls in (false: a
/// submission was made or tried in this slot, by this or another scheduler). The slot is
/// `now` divided by the interval, so the lease follows the cycle's clock.
async fn submit_lease(
    ctx: &Ctx,
    calendar: &CalendarUrl,
    policy: &CanaryPolicy,
    now: DateTime<Utc>,
) -> Result<bool> {
    let name: String = merkle::hash::encode_hex(&Sha256::digest(calendar.as_str()))
        .chars()
        .take(32)
        .collect();
    let slot = now
        .timestamp()
        .div_euclid(policy.interval.num_seconds().max(1));
    let key = KvKey::lease(&format!("canary-submit:{name}:{slot}"))?;
    let ttl = policy.interval.to_std().unwrap_or(Duration::from_hours(1));
    Ok(ctx.kv.set_if_absent(&key, &ctx.worker_id, ttl).await?)
}

/// For each calendar URL (as its pending attestations name it), the oldest tenant stamp
/// pending there: when its OTS anchor became pending, and which run.
async fn tenant_pending(ctx: &Ctx) -> Result<BTreeMap<String, (DateTime<Utc>, String)>> {
    let runs = crate::ctx::anchored_runs(ctx).await?;
    let mut pending = Vec::new();
    for run in runs {
        if let Some(a) = ctx
            .store
            .anchors(&run.id)
            .await?
            .into_iter()
            .find(|a| a.kind == AnchorKind::Ots && a.status == AnchorStatus::Pending)
        {
            pending.push((a.updated_at, run, a.artifact_key.unwrap_or_default()));
        }
    }
    pending.sort_by_key(|(at, run, _)| (*at, run.id.clone()));
    let mut out: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    for (at, run, named) in pending.into_iter().take(TENANT_SCAN) {
        let key = proofs::root_ots_key(&run.tenant, run.period, &named)?;
        let Some(bytes) = ctx.blobs.get(&key).await? else {
            continue;
        };
        let Ok(file) = DetachedTimestamp::from_bytes(&bytes) else {
            continue;
        };
        for (uri, _) in file.timestamp.pending() {
            let uri = uri.trim_end_matches('/').to_owned();
            out.entry(uri)
                .or_insert_with(|| (at, format!("the OTS stamp of run {}", run.id)));
        }
    }
    // Configured URLs may carry credentials the attestations do not: key by both spellings.
    for url in &ctx.stamping.calendars.calendars {
        if let Ok(public) = CalendarUrl::new(url)
            && let Some(found) = out.get(public.as_str()).cloned()
        {
            out.entry(url.clone()).or_insert(found);
        }
    }
    Ok(out)
}

/// `3 d 4 h`, `5 h 2 min`, `42 s`.
fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn canary(status: CanaryStatus, submitted: &str) -> Canary {
        Canary {
            id: 1,
            calendar: CalendarUrl::new("https://cal.example").unwrap(),
            digest: [0; 32],
            ots: Vec::new(),
            status,
            submitted_at: at(submitted),
            checked_at: None,
            settled_at: None,
            detail: None,
        }
    }

    const POLICY: CanaryPolicy = CanaryPolicy {
        interval: chrono::Duration::hours(1),
        deadline: chrono::Duration::hours(24),
    };

    #[test]
    fn a_calendar_without_a_canary_gets_one_at_once() {
        assert!(due(&POLICY, None, at("2026-12-01T00:00:00Z")));
    }

    #[test]
    fn a_settled_canary_is_followed_by_the_next_one_interval_after_its_submission() {
        let c = canary(CanaryStatus::Confirmed, "2026-12-01T00:00:00Z");
        assert!(!due(&POLICY, Some(&c), at("2026-12-01T00:59:59Z")));
        assert!(due(&POLICY, Some(&c), at("2026-12-01T01:00:00Z")));
        let u = canary(CanaryStatus::Unverified, "2026-12-01T00:00:00Z");
        assert!(due(&POLICY, Some(&u), at("2026-12-01T01:00:00Z")));
    }

    #[test]
    fn a_pending_canary_gets_no_successor_until_it_is_past_the_deadline() {
        let c = canary(CanaryStatus::Pending, "2026-12-01T00:00:00Z");
        assert!(!due(&POLICY, Some(&c), at("2026-12-01T23:59:59Z")));
        assert!(due(&POLICY, Some(&c), at("2026-12-02T00:00:00Z")));
    }

    #[test]
    fn canary_digests_are_domain_separated_per_calendar_and_instant() {
        let a = CalendarUrl::new("https://a.example").unwrap();
        let b = CalendarUrl::new("https://b.example").unwrap();
        let t = at("2026-12-01T00:00:00Z");
        assert_ne!(canary_digest(&a, t), canary_digest(&b, t));
        assert_ne!(
            canary_digest(&a, t),
            canary_digest(&a, t + chrono::Duration::milliseconds(1))
        );
        let expected: [u8; 32] = Sha256::digest(format!(
            "ledger-anchors.calendar-canary.v1|https://a.example|{}",
            ledger::ids::format_ts(t)
        ))
        .into();
        assert_eq!(canary_digest(&a, t), expected);
    }

    #[test]
    fn the_canary_is_off_on_the_embedded_defaults_and_on_in_a_fleet_unless_set() {
        let none = |_: &str| None;
        assert_eq!(CanaryPolicy::from_vars(true, none).unwrap(), None);
        assert_eq!(
            CanaryPolicy::from_vars(false, none).unwrap(),
            Some(CanaryPolicy {
                interval: CanaryPolicy::DEFAULT_INTERVAL,
                deadline: CanaryPolicy::DEFAULT_DEADLINE,
            })
        );
        let set = |n: &str| match n {
            "LEDGER_CANARY_INTERVAL" => Some("10m"),
            "LEDGER_CANARY_DEADLINE" => Some("2h"),
            _ => None,
        };
        assert_eq!(
            CanaryPolicy::from_vars(true, set).unwrap(),
            Some(CanaryPolicy {
                interval: chrono::Duration::minutes(10),
                deadline: chrono::Duration::hours(2),
            })
        );
        let off = |n: &str| (n == "LEDGER_CANARY_INTERVAL").then_some("off");
        assert_eq!(CanaryPolicy::from_vars(false, off).unwrap(), None);
    }

    #[test]
    fn a_zero_or_malformed_canary_duration_is_refused_naming_its_variable() {
        let zero = |n: &str| (n == "LEDGER_CANARY_DEADLINE").then_some("0s");
        let e = CanaryPolicy::from_vars(false, zero)
            .unwrap_err()
            .to_string();
        assert!(e.contains("LEDGER_CANARY_DEADLINE"), "{e}");
        let bad = |n: &str| (n == "LEDGER_CANARY_INTERVAL").then_some("soon");
        let e = CanaryPolicy::from_vars(false, bad).unwrap_err().to_string();
        assert!(e.contains("LEDGER_CANARY_INTERVAL"), "{e}");
    }
}
