//! Properties over random inputs: backfill pacing never outruns the bucket nor crosses the
//! ceiling, `wait_for` is exact, dollars round-trip, and `due_periods` agrees with `is_due`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ids::{Cadence, Period};
use proptest::prelude::*;
use scheduler::backfill::UNITS_PER_MANIFEST;
use scheduler::policy::{format_usd, parse_usd};
use scheduler::{
    BackfillFacts, BackfillStep, Candidate, TokenBucket, due_periods, is_due, plan_backfill,
};

fn t0() -> DateTime<Utc> {
    domain::ids::parse_ts("2026-11-23T00:00:00Z").unwrap()
}

fn candidates(specs: &[(u64, u64)]) -> Vec<Candidate> {
    let mut period = Period::Day(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    specs
        .iter()
        .map(|&(manifests, estimate_micro_usd)| {
            let c = Candidate {
                period,
                manifests,
                estimate_micro_usd,
            };
            period = period.next();
            c
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the candidates and however the caller's ticks are spaced, the manifests
    /// enqueued by any instant are at most one hour's budget plus the refill since the start
    /// (or a single oversized period in place of that first hour), the committed cost never
    /// exceeds the ceiling, and order is kept.
    #[test]
    fn backfill_never_outruns_the_bucket_nor_crosses_the_ceiling(
        per_hour in 1u64..500,
        specs in prop::collection::vec((0u64..1_500, 0u64..50_000), 0..40),
        ceiling in 0u64..1_000_000,
        gaps_secs in prop::collection::vec(0i64..10_800, 1..60),
    ) {
        let all = candidates(&specs);
        let mut remaining = all.as_slice();
        let mut bucket = TokenBucket::full(per_hour, t0()).unwrap();
        let mut committed = 0u64;
        let mut enqueued = 0u64;
        let mut largest = 0u64;
        let mut now = t0();
        let mut finished = false;
        for gap in gaps_secs {
            now += Duration::seconds(gap);
            loop {
                let facts = BackfillFacts { cost_ceiling_micro_usd: ceiling, committed_micro_usd: committed };
                match plan_backfill(&facts, &mut bucket, remaining, now) {
                    BackfillStep::Enqueue(periods) => {
                        prop_assert!(!periods.is_empty());
                        prop_assert!(periods.len() <= remaining.len());
                        for (p, c) in periods.iter().zip(remaining) {
                            prop_assert_eq!(*p, c.period);
                            committed += c.estimate_micro_usd;
                            enqueued += c.manifests;
                            largest = largest.max(c.manifests);
                        }
                        remaining = &remaining[periods.len()..];
                        prop_assert!(committed <= ceiling);
                        let elapsed = i128::from((now - t0()).num_nanoseconds().unwrap());
                        let allowed = i128::from(per_hour) * elapsed
                            + i128::from(per_hour.max(largest)) * UNITS_PER_MANIFEST;
                        prop_assert!(
                            i128::from(enqueued) * UNITS_PER_MANIFEST <= allowed,
                            "{} manifests enqueued by {:?}", enqueued, now - t0()
                        );
                    }
                    BackfillStep::Wait { until } => {
                        prop_assert!(until > now);
                        break;
                    }
                    BackfillStep::Stop { .. } => {
                        prop_assert!(committed + remaining[0].estimate_micro_usd > ceiling);
                        finished = true;
                        break;
                    }
                    BackfillStep::Done => {
                        prop_assert!(remaining.is_empty());
                        finished = true;
                        break;
                    }
                }
            }
            if finished {
                break;
            }
        }
    }

    /// At `now + wait_for(n)` a take of `n` succeeds; one nanosecond earlier it fails.
    #[test]
    fn wait_for_is_the_exact_instant_a_take_succeeds(
        per_hour in 1u64..100_000,
        first in 0u64..200_000,
        n in 0u64..200_000,
        after_nanos in 0i64..7_200_000_000_000,
    ) {
        let mut bucket = TokenBucket::full(per_hour, t0()).unwrap();
        prop_assert!(bucket.try_take(first, t0()));
        let now = t0() + Duration::nanoseconds(after_nanos);
        let wait = bucket.wait_for(n, now);
        prop_assert!(wait >= Duration::zero());
        if wait > Duration::zero() {
            let mut early = bucket.clone();
            prop_assert!(!early.try_take(n, now + wait - Duration::nanoseconds(1)));
        }
        prop_assert!(bucket.try_take(n, now + wait));
    }

    /// Formatting micro-dollars and parsing them back is the identity.
    #[test]
    fn dollars_round_trip(micro in any::<u64>()) {
        let s = format_usd(micro);
        prop_assert_eq!(parse_usd("x", &s[1..]).unwrap(), micro);
    }

    /// `due_periods` is exactly the due, post-creation periods of the days, deduplicated and
    /// sorted.
    #[test]
    fn due_periods_are_the_sorted_set_of_due_periods_after_creation(
        day_offsets in prop::collection::vec(0i64..400, 0..30),
        since_hours in 0i64..9_600,
        now_hours in 0i64..9_600,
        grace_mins in 0i64..3_000,
        cadence in prop::sample::select(Cadence::ALL.to_vec()),
    ) {
        let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days: Vec<NaiveDate> = day_offsets.iter().map(|d| base + Duration::days(*d)).collect();
        let start = domain::ids::parse_ts("2026-01-01T00:00:00Z").unwrap();
        let since = start + Duration::hours(since_hours);
        let now = start + Duration::hours(now_hours);
        let grace = Duration::minutes(grace_mins);
        let got = due_periods(cadence, &days, since, now, grace);
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
        let mut expected: Vec<Period> = days
            .iter()
            .map(|d| Period::containing(cadence, d.and_hms_opt(0, 0, 0).unwrap().and_utc()))
            .filter(|p| p.end() > since && is_due(*p, now, grace))
            .collect();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(got, expected);
    }
}
