//! Validated identifiers. Every blob key and every query parameter is built from these types,
//! so a value from a URL or a body is checked once, at the edge, and cannot smuggle a `/`, a
//! `..` or an SQL fragment further in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DomainError, Result};

/// A tenant id: a slug of 1 to 63 characters `[a-z0-9-]`, starting and ending with a letter
/// or digit (a DNS label, so it is safe in keys, URLs and bucket prefixes alike).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(s: &str) -> Result<TenantId> {
        let bad = |reason: &str| Err(DomainError::invalid("tenant id", s, reason));
        if s.is_empty() || s.len() > 63 {
            return bad("must be 1 to 63 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("only lowercase letters, digits and '-' are allowed");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return bad("must start and end with a letter or digit");
        }
        Ok(TenantId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl FromStr for TenantId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<TenantId> {
        TenantId::new(s)
    }
}

/// Whether `url` is an `http://` or `https://` URL with a host and no whitespace: the one rule
/// for the URLs tenants and operators hand in to be called (webhooks, time-stamping
/// authorities, reserve webhooks).
pub fn is_http_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|r| {
            !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace)
        })
}

/// An OpenTimestamps calendar as named in metrics, incidents and the canary table: its
/// `http(s)://` base URL without user information (`user:password@` is dropped, never kept)
/// and without a trailing `/`, at most 2048 characters, no whitespace or control characters.
/// The same calendar configured with and without credentials is one calendar here.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarUrl(String);

impl CalendarUrl {
    pub const MAX_CHARS: usize = 2048;

    /// The public name of the calendar at `url` (credentials dropped).
    pub fn new(url: &str) -> Result<CalendarUrl> {
        let bad = |reason: &str| {
            Err(DomainError::invalid(
                "calendar url",
                &crate::redact::redact_url(url),
                reason,
            ))
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return bad("must be an http:// or https:// URL");
        };
        if scheme != "http" && scheme != "https" {
            return bad("must be an http:// or https:// URL");
        }
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() {
            return bad("has no host");
        }
        let out = format!("{scheme}://{host}{}", path.trim_end_matches('/'));
        if out.chars().count() > CalendarUrl::MAX_CHARS {
            return bad("is longer than 2048 characters");
        }
        if out.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain whitespace or control characters");
        }
        Ok(CalendarUrl(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CalendarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CalendarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CalendarUrl({})", self.0)
    }
}

/// How often a tenant's digests are rolled up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Daily,
    Weekly,
    Monthly,
}

impl Cadence {
    pub const ALL: [Cadence; 3] = [Cadence::Daily, Cadence::Weekly, Cadence::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cadence {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Cadence> {
        Cadence::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| DomainError::invalid("cadence", s, "expected daily, weekly or monthly"))
    }
}

/// A tenant's plan (DESIGN.md "Scheduling policy").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Starter,
    Pro,
    Enterprise,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Plan> {
        [Plan::Starter, Plan::Pro, Plan::Enterprise]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::invalid("plan", s, "expected starter, pro or enterprise"))
    }
}

/// A UTC period: a day `2026-11-22`, an ISO week `2026-W47`, or a month `2026-11`. The
/// written form is the only form: `FromStr` accepts exactly what `Display` writes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Day(NaiveDate),
    /// Stored as the Monday that starts the ISO week.
    Week(NaiveDate),
    /// Stored as the first day of the month.
    Month(NaiveDate),
}

impl Period {
    /// The period of `cadence` that contains the instant `t`.
    pub fn containing(cadence: Cadence, t: DateTime<Utc>) -> Period {
        let d = t.date_naive();
        match cadence {
            Cadence::Daily => Period::Day(d),
            Cadence::Weekly => {
                Period::Week(d - Duration::days(i64::from(d.weekday().num_days_from_monday())))
            }
            Cadence::Monthly => Period::Month(d.with_day(1).expect("day 1 exists")),
        }
    }

    pub fn cadence(self) -> Cadence {
        match self {
            Period::Day(_) => Cadence::Daily,
            Period::Week(_) => Cadence::Weekly,
            Period::Month(_) => Cadence::Monthly,
        }
    }

    /// The first day of the period.
    pub fn first_day(self) -> NaiveDate {
        match self {
            Period::Day(d) | Period::Week(d) | Period::Month(d) => d,
        }
    }

    /// The first day after the period.
    pub fn end_day(self) -> NaiveDate {
        match self {
            Period::Day(d) => d + Duration::days(1),
            Period::Week(d) => d + Duration::days(7),
            Period::Month(d) => d
                .checked_add_months(chrono::Months::new(1))
                .expect("months after a valid period exist"),
        }
    }

    /// The period's first instant (inclusive).
    pub fn start(self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.first_day().and_time(chrono::NaiveTime::MIN))
    }

    /// The instant the period closes (exclusive end).
    pub fn end(self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.end_day().and_time(chrono::NaiveTime::MIN))
    }

    /// The period that follows this one, of the same cadence.
    #[must_use]
    pub fn next(self) -> Period {
        Period::containing(self.cadence(), self.end())
    }

    /// Days since 1970-01-01 of the first day and of the end day (half-open): the range of
    /// the `day` column that holds this period's manifests.
    pub fn day_range(self) -> (i64, i64) {
        (epoch_day(self.first_day()), epoch_day(self.end_day()))
    }
}

/// The first day any period, backfill or date may name: 0001-01-01.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01");
/// The last: 9999-12-31 (periods are written with four-digit years).
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("9999-12-31");

/// Refuses a day outside [`FIRST_DAY`]..=[`LAST_DAY`]: year 0 and negative years (which
/// `chrono` reads happily) and five-digit years, whose periods could not be written back.
pub fn check_day(what: &'static str, d: NaiveDate) -> Result<()> {
    if (FIRST_DAY..=LAST_DAY).contains(&d) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            what,
            &d.to_string(),
            "must be between 0001-01-01 and 9999-12-31",
        ))
    }
}

/// The longest signer or actor name accepted (characters): an e-mail address or a person's
/// name with room to spare (RFC 5321 caps an address at 254 octets).
pub const MAX_NAME_CHARS: usize = 256;
/// The longest reason, detail or resolution accepted (characters): a paragraph. Longer text
/// belongs in a ticket the reason names.
pub const MAX_TEXT_CHARS: usize = 1024;

/// Checks a free-text field that becomes evidence (consent signer and reason, kill-switch
/// actor and reason, incident resolution): not blank, at most `max_chars` characters, and no
/// control characters (a tab or line break is allowed in text longer than a name, i.e. when
/// `max_chars` > [`MAX_NAME_CHARS`]). The error names the field, the length found and the
/// bound, and shows at most 80 characters of the value.
pub fn check_text(what: &'static str, value: &str, max_chars: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(what, value, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max_chars {
        return Err(DomainError::invalid(
            what,
            value,
            format!("{n} characters; at most {max_chars}"),
        ));
    }
    let multiline = max_chars > MAX_NAME_CHARS;
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        return Err(DomainError::invalid(
            what,
            value,
            format!("control character {c:?} is not allowed"),
        ));
    }
    Ok(())
}

/// Days since 1970-01-01 (the `day` column of manifests).
pub fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce() - 719_163)
}

/// The inverse of [`epoch_day`].
pub fn from_epoch_day(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + Duration::days(day)
}

/// The UTC day of an instant, as [`epoch_day`].
pub fn day_of(t: DateTime<Utc>) -> i64 {
    epoch_day(t.date_naive())
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Period::Week(d) => {
                let w = d.iso_week();
                write!(f, "{:04}-W{:02}", w.year(), w.week())
            }
            Period::Month(d) => write!(f, "{:04}-{:02}", d.year(), d.month()),
        }
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl FromStr for Period {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Period> {
        let bad = || {
            DomainError::invalid(
                "period",
                s,
                "expected a UTC day YYYY-MM-DD, an ISO week YYYY-Www or a month YYYY-MM",
            )
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let num = |t: &str| -> Result<u32> {
            if digits(t) {
                t.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let b = s.as_bytes();
        // ASCII only, so every byte offset below is a char boundary (`2026-\u{bd}1` must be
        // an error, not a panic on slicing inside a multibyte char).
        if !s.is_ascii() || b.len() < 7 || !digits(&s[..4]) || b[4] != b'-' {
            return Err(bad());
        }
        let year = i32::try_from(num(&s[..4])?).map_err(|_| bad())?;
        if year < 1 {
            return Err(DomainError::invalid(
                "period",
                s,
                "years start at 0001 (a period must fall within 0001-01-01 to 9999-12-31)",
            ));
        }
        let rest = &s[5..];
        let period = match rest.len() {
            2 => Period::Month(NaiveDate::from_ymd_opt(year, num(rest)?, 1).ok_or_else(bad)?),
            3 if rest.starts_with('W') => {
                let week = num(&rest[1..])?;
                Period::Week(NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?)
            }
            5 if rest.as_bytes()[2] == b'-' => Period::Day(
                NaiveDate::from_ymd_opt(year, num(&rest[..2])?, num(&rest[3..])?)
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        };
        // `0001-W01` starts on 0001-01-01; no ISO week of year 1 reaches back before it, but
        // the check keeps the rule in one place whatever the calendar arithmetic does.
        check_day("period", period.first_day())?;
        Ok(period)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        TenantId::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Timestamps in every document: RFC 3339, UTC, millisecond precision, `Z` suffix
/// (`2026-11-23T09:00:00.000Z`). One width for all, so they also sort as strings.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a document timestamp: RFC 3339 in UTC (`Z`); other offsets are refused, because a
/// chain's monotonic-time rule compares them.
pub fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    if !s.ends_with('Z') {
        return Err(DomainError::invalid(
            "timestamp",
            s,
            "must be RFC 3339 in UTC with a 'Z' suffix",
        ));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DomainError::invalid("timestamp", s, e.to_string()))
}

/// Milliseconds since the Unix epoch (how SQL rows store instants, identically on both
/// backends).
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`].
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_calendar_url_drops_user_information_and_the_trailing_slash() {
        let c = CalendarUrl::new("https://user:pw@cal.example:8443/ots/").unwrap();
        assert_eq!(c.as_str(), "https://cal.example:8443/ots");
        assert_eq!(
            CalendarUrl::new("http://127.0.0.1:9/").unwrap().as_str(),
            "http://127.0.0.1:9"
        );
        for bad in [
            "ftp://cal.example",
            "cal.example",
            "https://",
            "https://a b",
        ] {
            assert!(CalendarUrl::new(bad).is_err(), "{bad}");
        }
        let e = CalendarUrl::new("ftp://u:secret@x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    use super::*;

    #[test]
    fn periods_round_trip_in_their_only_written_form() {
        for s in [
            "2026-11-22",
            "2026-W47",
            "2026-11",
            "2020-W53",
            "2024-02-29",
        ] {
            let p: Period = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        for s in [
            "2026-11-2",
            "2026-W7",
            "2026-13",
            "2026-02-30",
            "2021-W53",
            "26-11-22",
            "2026/11/22",
            "2026-11-22T00",
            "2026-w47",
            "2026-1a",
            "",
            "Q\u{bd}\u{a1}\u{fd}\u{c3}\u{e7}",
            "2026-\u{bd}1",
            "2026-W\u{bd}",
            "2026-1\u{bd}2",
            "0\u{80}\u{10000}",
        ] {
            assert!(s.parse::<Period>().is_err(), "{s} accepted");
        }
    }

    #[test]
    fn iso_weeks_cross_years_and_months_have_their_lengths() {
        let p: Period = "2026-W01".parse().unwrap();
        assert_eq!(
            p.first_day(),
            NaiveDate::from_ymd_opt(2025, 12, 29).unwrap()
        );
        assert_eq!(p.end_day() - p.first_day(), Duration::days(7));
        let feb: Period = "2024-02".parse().unwrap();
        assert_eq!(feb.end_day() - feb.first_day(), Duration::days(29));
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(Period::containing(Cadence::Weekly, t), p);
        assert_eq!(
            Period::containing(Cadence::Weekly, t).to_string(),
            "2026-W01"
        );
        assert_eq!(p.next().to_string(), "2026-W02");
        assert_eq!(
            "2026-12".parse::<Period>().unwrap().next().to_string(),
            "2027-01"
        );
    }

    #[test]
    fn epoch_day_zero_is_1970_01_01() {
        assert_eq!(epoch_day(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        assert_eq!(
            epoch_day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
            20_780
        );
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(from_epoch_day(epoch_day(d)), d);
    }

    #[test]
    fn periods_before_year_1_are_refused_naming_the_bound() {
        for s in ["0000-W01", "0000-01", "0000-01-01", "0000-W52"] {
            let err = s.parse::<Period>().unwrap_err().to_string();
            assert!(err.contains("0001"), "{s}: {err}");
        }
        let first: Period = "0001-W01".parse().unwrap();
        assert_eq!(first.first_day(), FIRST_DAY);
        assert_eq!(
            "0001-01-01".parse::<Period>().unwrap().to_string(),
            "0001-01-01"
        );
        assert_eq!("9999-12".parse::<Period>().unwrap().to_string(), "9999-12");
    }

    #[test]
    fn days_outside_years_1_to_9999_are_refused() {
        let before = NaiveDate::from_ymd_opt(0, 12, 31).unwrap();
        let err = check_day("backfill from", before).unwrap_err().to_string();
        assert!(
            err.contains("backfill from") && err.contains("0001-01-01"),
            "{err}"
        );
        assert!(check_day("d", NaiveDate::from_ymd_opt(-5, 1, 1).unwrap()).is_err());
        assert!(check_day("d", NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap()).is_err());
        check_day("d", FIRST_DAY).unwrap();
        check_day("d", LAST_DAY).unwrap();
    }

    #[test]
    fn free_text_is_bounded_and_the_error_does_not_echo_it() {
        let huge = "x".repeat(7 * 1024 * 1024);
        let err = check_text("consent signer", &huge, MAX_NAME_CHARS)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("7340032 characters; at most 256"),
            "{}",
            &err[..200.min(err.len())]
        );
        assert!(
            err.len() < 300,
            "the value is not echoed: {} bytes",
            err.len()
        );
        check_text("consent signer", &"é".repeat(256), MAX_NAME_CHARS).unwrap();
        assert!(check_text("consent signer", &"é".repeat(257), MAX_NAME_CHARS).is_err());
        check_text("kill-switch reason", &"r".repeat(1024), MAX_TEXT_CHARS).unwrap();
        assert!(check_text("kill-switch reason", &"r".repeat(1025), MAX_TEXT_CHARS).is_err());
        assert!(check_text("consent signer", "  ", MAX_NAME_CHARS).is_err());
        assert!(check_text("consent signer", "a\nb", MAX_NAME_CHARS).is_err());
        check_text("consent reason", "line 1\nline 2", MAX_TEXT_CHARS).unwrap();
        assert!(check_text("consent reason", "bell\u{7}", MAX_TEXT_CHARS).is_err());
    }

    #[test]
    fn tenant_ids_are_dns_labels() {
        for ok in ["acme", "a", "acme-2", "0x1"] {
            TenantId::new(ok).unwrap();
        }
        for bad in ["", "-a", "a-", "Acme", "a/b", "..", "a_b", &"a".repeat(64)] {
            assert!(TenantId::new(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn timestamps_are_utc_milliseconds() {
        let t = parse_ts("2026-11-23T09:00:00.5Z").unwrap();
        assert_eq!(format_ts(t), "2026-11-23T09:00:00.500Z");
        assert!(parse_ts("2026-11-23T09:00:00+01:00").is_err());
        assert_eq!(from_millis(to_millis(t)), t);
    }
}
