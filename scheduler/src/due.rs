//! When a period is anchored, and which missed periods to catch up after downtime.
//!
//! Both rules are functions of the clock the caller passes, not of when the scheduler last
//! ticked: a scheduler that was down for a week sees every period it missed on its first tick,
//! and sees each of them again on every tick until a run exists for it. That (plus the store's
//! one-run-per-period rule) is what makes catch-up happen exactly once.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::ids::{Cadence, Period};

/// A period is due once it has closed plus the grace for late manifests:
/// `now >= period.end() + grace`. The boundary instant itself is due. An instant beyond
/// chrono's range is never reached, so such a period is never due.
pub fn is_due(period: Period, now: DateTime<Utc>, grace: Duration) -> bool {
    period
        .end()
        .checked_add_signed(grace)
        .is_some_and(|due_at| now >= due_at)
}

/// The distinct periods of `cadence` that contain at least one of `manifest_days`, are due,
/// and end after `since` (the tenant's creation instant: periods wholly before it are
/// backfill's business, not the scheduler's). Sorted oldest first.
///
/// This is the catch-up rule: after any downtime every missed period appears here until a run
/// exists for it (the caller filters out periods that already have a run). A period without
/// manifests never appears: there is nothing to anchor.
pub fn due_periods(
    cadence: Cadence,
    manifest_days: &[NaiveDate],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<Period> {
    let periods: BTreeSet<Period> = manifest_days
        .iter()
        .map(|d| Period::containing(cadence, Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))))
        .filter(|p| p.end() > since && is_due(*p, now, grace))
        .collect();
    periods.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        domain::ids::parse_ts(s).unwrap()
    }

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const MS: Duration = Duration::milliseconds(1);

    #[test]
    fn day_is_due_exactly_at_its_end_plus_grace_and_not_a_millisecond_before() {
        let grace = Duration::hours(1);
        let due_at = at("2026-11-23T01:00:00Z");
        assert!(is_due(p("2026-11-22"), due_at, grace));
        assert!(!is_due(p("2026-11-22"), due_at - MS, grace));
        assert!(is_due(p("2026-11-22"), due_at + MS, grace));
    }

    #[test]
    fn weekly_period_is_not_due_before_grace_ends() {
        // 2026-W47 is Monday 2026-11-16 to Sunday 2026-11-22.
        let grace = Duration::hours(1);
        assert!(!is_due(
            p("2026-W47"),
            at("2026-11-23T00:59:59.999Z"),
            grace
        ));
        assert!(is_due(p("2026-W47"), at("2026-11-23T01:00:00Z"), grace));
    }

    #[test]
    fn iso_week_53_crosses_the_year_and_is_due_after_its_sunday_in_january() {
        // 2026 has 53 ISO weeks: W53 is Monday 2026-12-28 to Sunday 2027-01-03.
        let w53 = Period::containing(Cadence::Weekly, at("2027-01-03T23:59:59.999Z"));
        assert_eq!(w53.to_string(), "2026-W53");
        assert_eq!(w53.first_day(), day("2026-12-28"));
        assert_eq!(w53.next().to_string(), "2027-W01");
        let grace = Duration::hours(1);
        assert!(!is_due(w53, at("2027-01-04T00:59:59.999Z"), grace));
        assert!(is_due(w53, at("2027-01-04T01:00:00Z"), grace));
    }

    #[test]
    fn month_is_due_after_its_last_day_whatever_its_length() {
        let grace = Duration::hours(1);
        assert!(!is_due(p("2028-02"), at("2028-03-01T00:59:59.999Z"), grace));
        assert!(is_due(p("2028-02"), at("2028-03-01T01:00:00Z"), grace));
        assert!(!is_due(p("2026-12"), at("2027-01-01T00:59:59.999Z"), grace));
        assert!(is_due(p("2026-12"), at("2027-01-01T01:00:00Z"), grace));
    }

    #[test]
    fn zero_grace_makes_a_period_due_the_instant_it_closes() {
        assert!(is_due(
            p("2026-11-22"),
            at("2026-11-23T00:00:00Z"),
            Duration::zero()
        ));
        assert!(!is_due(
            p("2026-11-22"),
            at("2026-11-22T23:59:59.999Z"),
            Duration::zero()
        ));
    }

    #[test]
    fn a_grace_beyond_the_calendar_is_never_due() {
        assert!(!is_due(
            p("2026-11-22"),
            DateTime::<Utc>::MAX_UTC,
            Duration::MAX
        ));
    }

    #[test]
    fn due_periods_dedup_and_sort_oldest_first() {
        let days = [
            day("2026-11-20"),
            day("2026-11-03"),
            day("2026-11-19"),
            day("2026-11-20"),
            day("2026-11-02"),
        ];
        let got = due_periods(
            Cadence::Weekly,
            &days,
            at("2026-01-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            Duration::hours(1),
        );
        assert_eq!(got, [p("2026-W45"), p("2026-W47")]);
    }

    #[test]
    fn due_periods_leave_out_the_open_period_and_the_grace() {
        let days = [day("2026-11-21"), day("2026-11-22"), day("2026-11-23")];
        let got = due_periods(
            Cadence::Daily,
            &days,
            at("2026-01-01T00:00:00Z"),
            at("2026-11-23T00:30:00Z"),
            Duration::hours(1),
        );
        assert_eq!(got, [p("2026-11-21")]);
    }

    #[test]
    fn due_periods_leave_periods_ending_at_or_before_creation_to_backfill() {
        let days = [
            day("2026-11-20"),
            day("2026-11-21"),
            day("2026-11-22"),
            day("2026-11-23"),
        ];
        // Created mid-day on the 22nd: the 21st ended before the tenant existed; the 22nd is
        // its first period even though it started earlier.
        let got = due_periods(
            Cadence::Daily,
            &days,
            at("2026-11-22T10:00:00Z"),
            at("2026-11-25T00:00:00Z"),
            Duration::hours(1),
        );
        assert_eq!(got, [p("2026-11-22"), p("2026-11-23")]);
        // A period ending exactly at creation is wholly before it.
        let got = due_periods(
            Cadence::Daily,
            &days,
            at("2026-11-22T00:00:00Z"),
            at("2026-11-25T00:00:00Z"),
            Duration::hours(1),
        );
        assert_eq!(got, [p("2026-11-22"), p("2026-11-23")]);
    }

    #[test]
    fn due_periods_after_downtime_list_every_missed_period() {
        let days: Vec<NaiveDate> = (1..=30)
            .map(|d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap())
            .collect();
        let got = due_periods(
            Cadence::Daily,
            &days,
            at("2026-10-01T00:00:00Z"),
            at("2026-12-01T01:00:00Z"),
            Duration::hours(1),
        );
        assert_eq!(got.len(), 30);
        assert_eq!(got[0], p("2026-11-01"));
        assert_eq!(got[29], p("2026-11-30"));
        let monthly = due_periods(
            Cadence::Monthly,
            &days,
            at("2026-10-01T00:00:00Z"),
            at("2026-12-01T01:00:00Z"),
            Duration::hours(1),
        );
        assert_eq!(monthly, [p("2026-11")]);
    }

    #[test]
    fn due_periods_of_no_manifests_are_none() {
        let got = due_periods(
            Cadence::Daily,
            &[],
            at("2026-01-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            Duration::hours(1),
        );
        assert!(got.is_empty());
    }
}
