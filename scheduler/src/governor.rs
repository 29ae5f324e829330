//! The governor: whether a run that is due may start now, and with which anchors.
//!
//! The checks run in a fixed order, cheapest consequence first: the kill switch (an operator
//! said stop), then the rate limit (wait for the next window), then the cost ceiling (record
//! the run as held). A paused tenant is never reported as over budget, and a run that would be
//! deferred anyway is never held.

use domain::kinds::KillMode;

use crate::policy::{Anchors, UnitCosts, format_usd};

/// What the worker knows when a run is about to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFacts {
    /// The plan's anchors for this cadence.
    pub wanted: Anchors,
    /// The effective kill-switch mode (the stricter of global and tenant).
    pub kill: KillMode,
    /// The reason recorded with that mode, quoted in messages.
    pub kill_reason: String,
    /// Estimates of this tenant's runs started this UTC month, excluding this run.
    pub month_spent_micro_usd: u64,
    /// The tenant's monthly ceiling; 0 means no anchoring budget (every costed run is held).
    pub ceiling_micro_usd: u64,
    /// Roots this tenant already anchored in the current rate window.
    pub roots_in_window: u32,
    /// The tenant's limit per window; 0 means unlimited.
    pub max_roots_per_period: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Stamp with these anchors. `ots_deferred` is true when the plan wanted OTS but the kill
    /// switch is tsa-only: the root gets TSA now (even if the plan had no TSA for this cadence,
    /// because a root must be anchored somewhere) and is stamped into OTS by the catch-up job
    /// later. `estimate_micro_usd` covers the deferred OTS stamp too: the catch-up job spends
    /// it on this run's behalf without asking the governor again.
    Go {
        anchors: Anchors,
        ots_deferred: bool,
        estimate_micro_usd: u64,
    },
    /// Not now, try later; no run outcome is recorded (kill switch paused, rate limit reached).
    Defer { reason: String },
    /// Terminal for this attempt: record the run as held with `reason` in its summary (the
    /// cost ceiling would be crossed, or the schedule wants no anchors at all).
    Hold { reason: String },
}

/// Decide one run. Order: paused → `Defer`; anchors per kill mode; rate limit → `Defer`;
/// cost ceiling → `Hold`. The ceiling is never crossed, but reaching it exactly is allowed.
pub fn decide(facts: &RunFacts, costs: &UnitCosts) -> Decision {
    let (anchors, ots_deferred) = match facts.kill {
        KillMode::Paused => {
            return Decision::Defer {
                reason: format!("kill switch paused: {}", facts.kill_reason),
            };
        }
        KillMode::Normal => (facts.wanted, false),
        KillMode::TsaOnly => (Anchors::TSA, facts.wanted.ots),
    };
    if facts.wanted.is_empty() {
        return Decision::Hold {
            reason: "the plan's schedule for this cadence wants no anchors".to_owned(),
        };
    }
    if facts.max_roots_per_period > 0 && facts.roots_in_window >= facts.max_roots_per_period {
        return Decision::Defer {
            reason: format!(
                "rate limit: {} of max {} roots already anchored in this window",
                facts.roots_in_window, facts.max_roots_per_period
            ),
        };
    }
    let charged = if ots_deferred { Anchors::BOTH } else { anchors };
    let estimate = costs.estimate(charged);
    let within = facts
        .month_spent_micro_usd
        .checked_add(estimate)
        .is_some_and(|total| total <= facts.ceiling_micro_usd);
    if !within {
        return Decision::Hold {
            reason: format!(
                "cost ceiling: estimate {} plus {} already spent this month would exceed the \
                 monthly ceiling of {}",
                format_usd(estimate),
                format_usd(facts.month_spent_micro_usd),
                format_usd(facts.ceiling_micro_usd),
            ),
        };
    }
    Decision::Go {
        anchors,
        ots_deferred,
        estimate_micro_usd: estimate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(wanted: Anchors, kill: KillMode) -> RunFacts {
        RunFacts {
            wanted,
            kill,
            kill_reason: "calendar outage".to_owned(),
            month_spent_micro_usd: 0,
            ceiling_micro_usd: 1_000_000,
            roots_in_window: 0,
            max_roots_per_period: 0,
        }
    }

    fn go(anchors: Anchors, ots_deferred: bool, estimate_micro_usd: u64) -> Decision {
        Decision::Go {
            anchors,
            ots_deferred,
            estimate_micro_usd,
        }
    }

    fn costs() -> UnitCosts {
        UnitCosts::standard()
    }

    #[test]
    fn normal_mode_stamps_what_the_plan_wants() {
        for (wanted, estimate) in [
            (Anchors::BOTH, 21_000),
            (Anchors::OTS, 1_000),
            (Anchors::TSA, 20_000),
        ] {
            let d = decide(&facts(wanted, KillMode::Normal), &costs());
            assert_eq!(d, go(wanted, false, estimate));
        }
    }

    #[test]
    fn paused_defers_with_the_recorded_reason() {
        let d = decide(&facts(Anchors::BOTH, KillMode::Paused), &costs());
        assert_eq!(
            d,
            Decision::Defer {
                reason: "kill switch paused: calendar outage".to_owned()
            }
        );
    }

    #[test]
    fn paused_wins_over_rate_limit_and_ceiling() {
        let mut f = facts(Anchors::BOTH, KillMode::Paused);
        f.ceiling_micro_usd = 0;
        f.max_roots_per_period = 1;
        f.roots_in_window = 5;
        assert!(
            matches!(decide(&f, &costs()), Decision::Defer { reason } if reason.starts_with("kill switch paused"))
        );
    }

    #[test]
    fn tsa_only_with_an_ots_only_schedule_stamps_tsa_and_defers_ots() {
        let d = decide(&facts(Anchors::OTS, KillMode::TsaOnly), &costs());
        assert_eq!(d, go(Anchors::TSA, true, 21_000));
    }

    #[test]
    fn tsa_only_with_both_wanted_stamps_tsa_and_defers_ots() {
        let d = decide(&facts(Anchors::BOTH, KillMode::TsaOnly), &costs());
        assert_eq!(d, go(Anchors::TSA, true, 21_000));
    }

    #[test]
    fn tsa_only_with_a_tsa_schedule_defers_nothing() {
        let d = decide(&facts(Anchors::TSA, KillMode::TsaOnly), &costs());
        assert_eq!(d, go(Anchors::TSA, false, 20_000));
    }

    #[test]
    fn a_schedule_wanting_no_anchors_is_held_not_stamped() {
        for kill in [KillMode::Normal, KillMode::TsaOnly] {
            let d = decide(&facts(Anchors::NONE, kill), &costs());
            assert!(matches!(d, Decision::Hold { .. }), "{kill}: {d:?}");
        }
    }

    #[test]
    fn rate_limit_defers_at_the_limit_and_not_below_it() {
        let mut f = facts(Anchors::TSA, KillMode::Normal);
        f.max_roots_per_period = 3;
        f.roots_in_window = 2;
        assert!(matches!(decide(&f, &costs()), Decision::Go { .. }));
        f.roots_in_window = 3;
        assert_eq!(
            decide(&f, &costs()),
            Decision::Defer {
                reason: "rate limit: 3 of max 3 roots already anchored in this window".to_owned()
            }
        );
    }

    #[test]
    fn zero_max_roots_means_unlimited() {
        let mut f = facts(Anchors::TSA, KillMode::Normal);
        f.roots_in_window = u32::MAX;
        assert!(matches!(decide(&f, &costs()), Decision::Go { .. }));
    }

    #[test]
    fn rate_limit_defers_before_the_ceiling_holds() {
        let mut f = facts(Anchors::TSA, KillMode::Normal);
        f.max_roots_per_period = 1;
        f.roots_in_window = 1;
        f.ceiling_micro_usd = 0;
        assert!(matches!(decide(&f, &costs()), Decision::Defer { .. }));
    }

    #[test]
    fn reaching_the_ceiling_exactly_is_allowed() {
        let mut f = facts(Anchors::BOTH, KillMode::Normal);
        f.month_spent_micro_usd = 979_000;
        f.ceiling_micro_usd = 1_000_000;
        assert_eq!(decide(&f, &costs()), go(Anchors::BOTH, false, 21_000));
    }

    #[test]
    fn one_micro_dollar_over_the_ceiling_is_held_with_the_amounts_in_dollars() {
        let mut f = facts(Anchors::BOTH, KillMode::Normal);
        f.month_spent_micro_usd = 979_001;
        f.ceiling_micro_usd = 1_000_000;
        assert_eq!(
            decide(&f, &costs()),
            Decision::Hold {
                reason: "cost ceiling: estimate $0.021 plus $0.979001 already spent this month \
                         would exceed the monthly ceiling of $1"
                    .to_owned()
            }
        );
    }

    #[test]
    fn zero_ceiling_holds_every_costed_run_but_not_a_free_one() {
        let mut f = facts(Anchors::OTS, KillMode::Normal);
        f.ceiling_micro_usd = 0;
        assert!(matches!(decide(&f, &costs()), Decision::Hold { .. }));
        let free = UnitCosts {
            ots_micro_usd: 0,
            tsa_micro_usd: 0,
        };
        assert_eq!(decide(&f, &free), go(Anchors::OTS, false, 0));
    }

    #[test]
    fn the_deferred_ots_stamp_counts_against_the_ceiling() {
        let mut f = facts(Anchors::OTS, KillMode::TsaOnly);
        f.ceiling_micro_usd = 20_000;
        assert!(matches!(decide(&f, &costs()), Decision::Hold { .. }));
        f.ceiling_micro_usd = 21_000;
        assert_eq!(decide(&f, &costs()), go(Anchors::TSA, true, 21_000));
    }

    #[test]
    fn spending_that_would_overflow_is_over_the_ceiling() {
        let mut f = facts(Anchors::TSA, KillMode::Normal);
        f.month_spent_micro_usd = u64::MAX;
        f.ceiling_micro_usd = u64::MAX;
        assert!(matches!(decide(&f, &costs()), Decision::Hold { .. }));
    }
}
