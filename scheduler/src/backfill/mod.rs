//! Backfill pacing: which of a tenant's unanchored past periods to enqueue now.
//!
//! A backfill can be years of periods. Two limits apply (DESIGN.md): manifests per hour, so a
//! backfill does not starve scheduled runs, and the tenant's cost ceiling, which a backfill
//! stops *before* crossing rather than holding runs one by one. The caller keeps the bucket
//! and the committed total between calls and asks again when `Wait` says.

mod bucket;

use chrono::{DateTime, Utc};
use domain::ids::Period;

pub use bucket::{TokenBucket, UNITS_PER_MANIFEST};

use crate::policy::format_usd;

/// One period a backfill may enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub period: Period,
    /// Manifests in the period: what the bucket is charged.
    pub manifests: u64,
    /// What anchoring it is estimated to cost: what the ceiling is charged.
    pub estimate_micro_usd: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackfillFacts {
    /// The tenant's cost ceiling for this backfill.
    pub cost_ceiling_micro_usd: u64,
    /// Estimates of the periods this backfill already enqueued.
    pub committed_micro_usd: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackfillStep {
    /// Enqueue these periods now, oldest first. Never empty.
    Enqueue(Vec<Period>),
    /// Nothing can go until `until` (the bucket is refilling).
    Wait { until: DateTime<Utc> },
    /// The next candidate would cross the cost ceiling: stop the backfill with this reason.
    Stop { reason: String },
    /// No candidates remain.
    Done,
}

/// Take candidates in order (the caller passes the periods with manifests and no run yet,
/// oldest first) while the bucket allows and the ceiling is not crossed; reaching the ceiling
/// exactly is allowed. Mutates the bucket only for what it enqueues.
///
/// The ceiling is checked before the bucket, so a period that cannot be afforded never costs
/// tokens. If some periods fit and then the ceiling would be crossed, this returns
/// `Enqueue(those)`; the next call (with `committed_micro_usd` raised by their estimates and
/// those periods gone from `candidates`) returns `Stop`. Order is kept strictly: a small period
/// is never taken ahead of a large one that is waiting for tokens.
pub fn plan_backfill(
    facts: &BackfillFacts,
    bucket: &mut TokenBucket,
    candidates: &[Candidate],
    now: DateTime<Utc>,
) -> BackfillStep {
    let mut committed = facts.committed_micro_usd;
    let mut taken = Vec::new();
    for c in candidates {
        let total = committed
            .checked_add(c.estimate_micro_usd)
            .filter(|t| *t <= facts.cost_ceiling_micro_usd);
        let Some(total) = total else {
            if !taken.is_empty() {
                break;
            }
            return BackfillStep::Stop {
                reason: format!(
                    "cost ceiling: period {} (estimate {}) after {} already committed would \
                     exceed the ceiling of {}",
                    c.period,
                    format_usd(c.estimate_micro_usd),
                    format_usd(committed),
                    format_usd(facts.cost_ceiling_micro_usd),
                ),
            };
        };
        if !bucket.try_take(c.manifests, now) {
            if !taken.is_empty() {
                break;
            }
            let wait = bucket.wait_for(c.manifests, now);
            return BackfillStep::Wait {
                until: now
                    .checked_add_signed(wait)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            };
        }
        committed = total;
        taken.push(c.period);
    }
    if taken.is_empty() {
        BackfillStep::Done
    } else {
        BackfillStep::Enqueue(taken)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};
    use domain::ids::Cadence;

    use super::*;

    fn t0() -> DateTime<Utc> {
        domain::ids::parse_ts("2026-11-23T00:00:00Z").unwrap()
    }

    /// Consecutive days from 2025-01-01, one per entry of `manifests`, at `estimate` each.
    fn days(manifests: &[u64], estimate: u64) -> Vec<Candidate> {
        let mut period = Period::Day(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        manifests
            .iter()
            .map(|&m| {
                let c = Candidate {
                    period,
                    manifests: m,
                    estimate_micro_usd: estimate,
                };
                period = period.next();
                c
            })
            .collect()
    }

    fn facts(ceiling: u64) -> BackfillFacts {
        BackfillFacts {
            cost_ceiling_micro_usd: ceiling,
            committed_micro_usd: 0,
        }
    }

    fn periods(cs: &[Candidate]) -> Vec<Period> {
        cs.iter().map(|c| c.period).collect()
    }

    #[test]
    fn no_candidates_is_done() {
        let mut b = TokenBucket::full(10, t0()).unwrap();
        assert_eq!(
            plan_backfill(&facts(1), &mut b, &[], t0()),
            BackfillStep::Done
        );
    }

    #[test]
    fn a_full_bucket_enqueues_one_hours_budget_in_order() {
        let cs = days(&[40, 40, 40, 40], 0);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs, t0()),
            BackfillStep::Enqueue(periods(&cs[..2]))
        );
        assert_eq!(b.manifests(), 20);
    }

    #[test]
    fn pacing_over_simulated_hours_enqueues_at_the_hourly_rate() {
        // 10 days of 50 manifests at 100 per hour: 2 at once, then 2 more each hour.
        let mut cs = days(&[50; 10], 0);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        let mut now = t0();
        let mut log = Vec::new();
        loop {
            match plan_backfill(&facts(0), &mut b, &cs, now) {
                BackfillStep::Enqueue(ps) => {
                    log.push((now - t0(), ps.len()));
                    cs.drain(..ps.len());
                }
                BackfillStep::Wait { until } => {
                    assert!(until > now);
                    now = until;
                }
                BackfillStep::Done => break,
                BackfillStep::Stop { reason } => panic!("stopped: {reason}"),
            }
        }
        // Each wait is for the first waiting period only (50 manifests = 30 minutes), so
        // periods go one per half hour after the initial burst.
        let expected: Vec<(Duration, usize)> = std::iter::once((Duration::zero(), 2))
            .chain((1..=8).map(|i| (Duration::minutes(30 * i), 1)))
            .collect();
        assert_eq!(log, expected);
    }

    #[test]
    fn waiting_reports_the_exact_instant_the_next_period_fits() {
        let cs = days(&[100, 30], 0);
        let mut b = TokenBucket::full(60, t0()).unwrap();
        // 100 > 60: oversized, goes from the full bucket and leaves 40 manifests of debt.
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs, t0()),
            BackfillStep::Enqueue(periods(&cs[..1]))
        );
        // 30 more at 60 per hour after paying 40 back: 70 minutes.
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs[1..], t0()),
            BackfillStep::Wait {
                until: t0() + Duration::minutes(70)
            }
        );
        let before = t0() + Duration::minutes(70) - Duration::nanoseconds(1);
        assert!(matches!(
            plan_backfill(&facts(0), &mut b, &cs[1..], before),
            BackfillStep::Wait { .. }
        ));
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs[1..], t0() + Duration::minutes(70)),
            BackfillStep::Enqueue(periods(&cs[1..]))
        );
    }

    #[test]
    fn a_large_period_is_not_overtaken_by_smaller_ones_behind_it() {
        let cs = days(&[60, 50, 1], 0);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs, t0()),
            BackfillStep::Enqueue(periods(&cs[..1]))
        );
    }

    #[test]
    fn the_ceiling_is_reached_exactly_then_the_backfill_stops() {
        let cs = days(&[1, 1, 1, 1], 20_000);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        let f = facts(50_000);
        assert_eq!(
            plan_backfill(&f, &mut b, &cs, t0()),
            BackfillStep::Enqueue(periods(&cs[..2]))
        );
        let f = BackfillFacts {
            committed_micro_usd: 40_000,
            ..f
        };
        let step = plan_backfill(&f, &mut b, &cs[2..], t0());
        assert_eq!(
            step,
            BackfillStep::Stop {
                reason: "cost ceiling: period 2025-01-03 (estimate $0.02) after $0.04 already \
                         committed would exceed the ceiling of $0.05"
                    .to_owned()
            }
        );
        let exact = BackfillFacts {
            cost_ceiling_micro_usd: 60_000,
            ..f
        };
        assert_eq!(
            plan_backfill(&exact, &mut b, &cs[2..], t0()),
            BackfillStep::Enqueue(periods(&cs[2..3]))
        );
    }

    #[test]
    fn an_unaffordable_period_costs_no_tokens() {
        let cs = days(&[10], 1);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        let before = b.clone();
        assert!(matches!(
            plan_backfill(&facts(0), &mut b, &cs, t0()),
            BackfillStep::Stop { .. }
        ));
        assert_eq!(b, before);
    }

    #[test]
    fn a_waiting_backfill_takes_no_tokens() {
        let cs = days(&[10], 0);
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert!(b.try_take(95, t0()));
        let before = b.clone();
        let step = plan_backfill(&facts(0), &mut b, &cs, t0());
        assert_eq!(
            step,
            BackfillStep::Wait {
                until: t0() + Duration::minutes(3)
            }
        );
        assert_eq!(b.level, before.level);
    }

    #[test]
    fn weekly_and_monthly_candidates_pace_the_same_way() {
        let week = Period::containing(Cadence::Weekly, t0());
        let month = Period::containing(Cadence::Monthly, t0());
        let cs = [
            Candidate {
                period: month,
                manifests: 80,
                estimate_micro_usd: 0,
            },
            Candidate {
                period: week,
                manifests: 30,
                estimate_micro_usd: 0,
            },
        ];
        let mut b = TokenBucket::full(100, t0()).unwrap();
        assert_eq!(
            plan_backfill(&facts(0), &mut b, &cs, t0()),
            BackfillStep::Enqueue(vec![month])
        );
    }
}
