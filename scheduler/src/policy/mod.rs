//! The scheduling policy: plans, unit costs and the tunables, with DESIGN.md's values as
//! defaults and configuration variables as overrides.

mod money;
mod plans;

use chrono::Duration;
use domain::ids::Plan;

pub use domain::duration::parse_duration;
pub use domain::money::{decimal_usd, format_usd, parse_usd};
pub use money::UnitCosts;
pub use plans::{Anchors, Plans, Schedule};

use crate::error::{Result, SchedulerError};

const PLAN_STARTER: &str = "LEDGER_PLAN_STARTER";
const PLAN_PRO: &str = "LEDGER_PLAN_PRO";
const PLAN_ENTERPRISE: &str = "LEDGER_PLAN_ENTERPRISE";
const GRACE: &str = "LEDGER_GRACE";
const UPGRADE_HORIZON: &str = "LEDGER_UPGRADE_HORIZON";
const TICK: &str = "LEDGER_TICK";
const COST_OTS: &str = "LEDGER_COST_OTS_USD";
const COST_TSA: &str = "LEDGER_COST_TSA_USD";
const OUTAGE_THRESHOLD: &str = "LEDGER_OUTAGE_THRESHOLD";
const SAMPLE_SIZE: &str = "LEDGER_SAMPLE_SIZE";

/// Everything the scheduler and workers tune by. Defaults are DESIGN.md's; see
/// [`Policy::from_vars`] for overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub plans: Plans,
    /// How long after a period closes its late manifests are still waited for (default 1h).
    pub grace: Duration,
    pub costs: UnitCosts,
    /// Consecutive failed OTS attempts after which the kill switch flips to tsa-only
    /// (default 3; at least 1).
    pub outage_threshold: u32,
    /// How long an OTS proof may stay unupgraded before it is an incident (default 48h; more
    /// than zero).
    pub upgrade_horizon: Duration,
    /// Leaves re-proved after each run (default 25; at least 1).
    pub sample_size: usize,
    /// The scheduler's tick interval (default 30s; at least 1s, so it never spins).
    pub tick: std::time::Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::standard()
    }
}

impl Policy {
    /// All variables [`Policy::from_vars`] reads, so the configuration loader can accept them.
    pub const VARIABLES: &'static [&'static str] = &[
        PLAN_STARTER,
        PLAN_PRO,
        PLAN_ENTERPRISE,
        GRACE,
        UPGRADE_HORIZON,
        TICK,
        COST_OTS,
        COST_TSA,
        OUTAGE_THRESHOLD,
        SAMPLE_SIZE,
    ];

    pub fn standard() -> Policy {
        Policy {
            plans: Plans::standard(),
            grace: Duration::hours(1),
            costs: UnitCosts::standard(),
            outage_threshold: 3,
            upgrade_horizon: Duration::hours(48),
            sample_size: 25,
            tick: std::time::Duration::from_secs(30),
        }
    }

    /// The standard policy with overrides from configuration variables. `var` looks one up;
    /// missing, empty or all-space means the default (so an env file can list a variable
    /// without setting it). Values are trimmed. Each error names its variable.
    ///
    /// - `LEDGER_PLAN_STARTER`, `LEDGER_PLAN_PRO`, `LEDGER_PLAN_ENTERPRISE`: plan specs as
    ///   [`Plans::parse_spec`].
    /// - `LEDGER_GRACE`, `LEDGER_UPGRADE_HORIZON`, `LEDGER_TICK`: durations as
    ///   [`parse_duration`]; the horizon must be more than zero and the tick at least `1s`.
    /// - `LEDGER_COST_OTS_USD`, `LEDGER_COST_TSA_USD`: dollars as [`parse_usd`].
    /// - `LEDGER_OUTAGE_THRESHOLD`, `LEDGER_SAMPLE_SIZE`: whole numbers, at least 1.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Policy> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut p = Policy::standard();
        for (name, plan) in [
            (PLAN_STARTER, Plan::Starter),
            (PLAN_PRO, Plan::Pro),
            (PLAN_ENTERPRISE, Plan::Enterprise),
        ] {
            if let Some(spec) = get(name) {
                p.plans.set(plan, plans::parse_spec_as(name, &spec)?);
            }
        }
        if let Some(v) = get(GRACE) {
            p.grace = parse_duration(GRACE, &v)?;
        }
        if let Some(v) = get(UPGRADE_HORIZON) {
            p.upgrade_horizon = parse_duration(UPGRADE_HORIZON, &v)?;
            if p.upgrade_horizon.is_zero() {
                return Err(SchedulerError::invalid(
                    UPGRADE_HORIZON,
                    v,
                    "must be more than zero (every pending proof would be an incident)",
                ));
            }
        }
        if let Some(v) = get(TICK) {
            let tick = parse_duration(TICK, &v)?;
            if tick < Duration::seconds(1) {
                return Err(SchedulerError::invalid(
                    TICK,
                    v,
                    "must be at least 1s (a zero tick spins)",
                ));
            }
            p.tick = tick
                .to_std()
                .map_err(|e| SchedulerError::invalid(TICK, &*v, e.to_string()))?;
        }
        if let Some(v) = get(COST_OTS) {
            p.costs.ots_micro_usd = parse_usd(COST_OTS, &v)?;
        }
        if let Some(v) = get(COST_TSA) {
            p.costs.tsa_micro_usd = parse_usd(COST_TSA, &v)?;
        }
        if let Some(v) = get(OUTAGE_THRESHOLD) {
            p.outage_threshold = positive(OUTAGE_THRESHOLD, &v)?;
        }
        if let Some(v) = get(SAMPLE_SIZE) {
            p.sample_size = positive(SAMPLE_SIZE, &v)?;
        }
        Ok(p)
    }
}

/// A whole number of at least 1, digits only (no sign: `+3` is refused like `-3`).
fn positive<T>(what: &'static str, s: &str) -> Result<T>
where
    T: std::str::FromStr + Default + PartialEq,
{
    let bad = |reason: &str| SchedulerError::invalid(what, s, reason);
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected a whole number of at least 1"));
    }
    let n: T = s.parse().map_err(|_| bad("too large"))?;
    if n == T::default() {
        return Err(bad("must be at least 1"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use domain::ids::Cadence;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn failing_variable(pairs: &[(&str, &str)]) -> &'static str {
        match Policy::from_vars(vars(pairs)).unwrap_err() {
            SchedulerError::Invalid { what, .. } => what,
        }
    }

    #[test]
    fn no_variables_give_the_standard_policy() {
        assert_eq!(Policy::from_vars(|_| None).unwrap(), Policy::standard());
        let all_empty: Vec<(&str, &str)> = Policy::VARIABLES.iter().map(|v| (*v, " ")).collect();
        assert_eq!(
            Policy::from_vars(vars(&all_empty)).unwrap(),
            Policy::standard()
        );
    }

    #[test]
    fn standard_policy_has_the_documented_defaults() {
        let p = Policy::standard();
        assert_eq!(p.grace, Duration::hours(1));
        assert_eq!(p.costs.ots_micro_usd, 1_000);
        assert_eq!(p.costs.tsa_micro_usd, 20_000);
        assert_eq!(p.outage_threshold, 3);
        assert_eq!(p.upgrade_horizon, Duration::hours(48));
        assert_eq!(p.sample_size, 25);
        assert_eq!(p.tick, std::time::Duration::from_secs(30));
    }

    #[test]
    fn every_variable_overrides_its_field() {
        let p = Policy::from_vars(vars(&[
            (PLAN_STARTER, "weekly:tsa"),
            (PLAN_PRO, "daily:ots+tsa"),
            (PLAN_ENTERPRISE, "daily:ots+tsa,monthly:tsa"),
            (GRACE, "15m"),
            (UPGRADE_HORIZON, "3d"),
            (TICK, "5s"),
            (COST_OTS, "0"),
            (COST_TSA, " 0.05 "),
            (OUTAGE_THRESHOLD, "5"),
            (SAMPLE_SIZE, "100"),
        ]))
        .unwrap();
        assert_eq!(p.plans.schedules(Plan::Starter)[0].cadence, Cadence::Weekly);
        assert_eq!(p.plans.schedules(Plan::Pro)[0].anchors, Anchors::BOTH);
        assert_eq!(p.plans.schedules(Plan::Enterprise).len(), 2);
        assert_eq!(p.grace, Duration::minutes(15));
        assert_eq!(p.upgrade_horizon, Duration::days(3));
        assert_eq!(p.tick, std::time::Duration::from_secs(5));
        assert_eq!(p.costs.ots_micro_usd, 0);
        assert_eq!(p.costs.tsa_micro_usd, 50_000);
        assert_eq!(p.outage_threshold, 5);
        assert_eq!(p.sample_size, 100);
    }

    #[test]
    fn zero_grace_is_allowed() {
        let p = Policy::from_vars(vars(&[(GRACE, "0s")])).unwrap();
        assert!(p.grace.is_zero());
    }

    #[test]
    fn each_error_names_its_variable() {
        for (name, value) in [
            (PLAN_STARTER, "monthly:none"),
            (PLAN_PRO, "weekly"),
            (PLAN_ENTERPRISE, "daily:ots,daily:tsa"),
            (GRACE, "1w"),
            (UPGRADE_HORIZON, "0h"),
            (TICK, "0s"),
            (TICK, "soon"),
            (COST_OTS, "-1"),
            (COST_TSA, "0.0000001"),
            (OUTAGE_THRESHOLD, "0"),
            (OUTAGE_THRESHOLD, "+3"),
            (OUTAGE_THRESHOLD, "4294967296"),
            (SAMPLE_SIZE, "0"),
            (SAMPLE_SIZE, "many"),
        ] {
            assert_eq!(failing_variable(&[(name, value)]), name, "{name}={value}");
        }
    }

    #[test]
    fn variables_lists_each_name_once() {
        let mut names = Policy::VARIABLES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 10);
        assert!(names.iter().all(|n| n.starts_with("LEDGER_")));
    }
}
