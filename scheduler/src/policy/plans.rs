//! Plans: which cadences a tenant's digests are rolled up at, and which anchors each root gets.

use std::fmt;
use std::str::FromStr;

use domain::ids::{Cadence, Plan};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SchedulerError};

/// The anchors a root gets: OpenTimestamps (Bitcoin), RFC 3161 (a TSA), both, or none.
///
/// Two flags rather than an enum because the governor combines them (a plan's wish, minus what
/// the kill switch allows, plus TSA as the fallback) and the costs add up per flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Anchors {
    pub ots: bool,
    pub tsa: bool,
}

impl Anchors {
    pub const NONE: Anchors = Anchors {
        ots: false,
        tsa: false,
    };
    pub const OTS: Anchors = Anchors {
        ots: true,
        tsa: false,
    };
    pub const TSA: Anchors = Anchors {
        ots: false,
        tsa: true,
    };
    pub const BOTH: Anchors = Anchors {
        ots: true,
        tsa: true,
    };

    pub fn is_empty(self) -> bool {
        !self.ots && !self.tsa
    }

    pub fn as_str(self) -> &'static str {
        match (self.ots, self.tsa) {
            (true, true) => "ots+tsa",
            (true, false) => "ots",
            (false, true) => "tsa",
            (false, false) => "none",
        }
    }
}

impl fmt::Display for Anchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepts exactly what `Display` writes (`ots+tsa`, not `tsa+ots`): one written form, as
/// for ledger's periods, so a configured value reads the same in logs.
impl FromStr for Anchors {
    type Err = SchedulerError;
    fn from_str(s: &str) -> Result<Anchors> {
        [Anchors::BOTH, Anchors::OTS, Anchors::TSA, Anchors::NONE]
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                SchedulerError::invalid("anchor set", s, "expected ots, tsa, ots+tsa or none")
            })
    }
}

/// One cadence of a plan and the anchors its roots get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub cadence: Cadence,
    pub anchors: Anchors,
}

/// Written as in a plan spec: `weekly:ots+tsa`.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.cadence, self.anchors)
    }
}

/// Every plan's schedules. One field per plan (not a map) so every plan always has an entry:
/// a lookup cannot miss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plans {
    starter: Vec<Schedule>,
    pro: Vec<Schedule>,
    enterprise: Vec<Schedule>,
}

impl Plans {
    /// DESIGN.md: starter monthly TSA; pro weekly OTS+TSA; enterprise daily OTS and weekly TSA.
    pub fn standard() -> Plans {
        let s = |cadence, anchors| Schedule { cadence, anchors };
        Plans {
            starter: vec![s(Cadence::Monthly, Anchors::TSA)],
            pro: vec![s(Cadence::Weekly, Anchors::BOTH)],
            enterprise: vec![
                s(Cadence::Daily, Anchors::OTS),
                s(Cadence::Weekly, Anchors::TSA),
            ],
        }
    }

    /// The plan's schedules, ordered by cadence (daily first), each cadence at most once.
    pub fn schedules(&self, plan: Plan) -> &[Schedule] {
        match plan {
            Plan::Starter => &self.starter,
            Plan::Pro => &self.pro,
            Plan::Enterprise => &self.enterprise,
        }
    }

    /// Parse one plan's spec like `daily:ots,weekly:tsa`, `monthly:tsa` or `weekly:ots+tsa`.
    /// Items are separated by commas (spaces around them are ignored) and come back ordered by
    /// cadence, so two spellings of the same plan compare equal.
    ///
    /// Errors: an empty spec or item, an unknown cadence, an unknown anchor set, `none` (a
    /// cadence that anchors nothing is a plan mistake, not a plan), a cadence listed twice
    /// (which of the two would win is a guess the operator should not have to make).
    pub fn parse_spec(spec: &str) -> Result<Vec<Schedule>> {
        parse_spec_as("plan spec", spec)
    }

    /// Replace a plan's schedules. Pass the output of [`Plans::parse_spec`]: `set` does not
    /// validate again (it cannot fail, by the agreed signature), and the governor holds a run
    /// whose schedule wants no anchors rather than stamping nothing.
    pub fn set(&mut self, plan: Plan, schedules: Vec<Schedule>) {
        match plan {
            Plan::Starter => self.starter = schedules,
            Plan::Pro => self.pro = schedules,
            Plan::Enterprise => self.enterprise = schedules,
        }
    }
}

/// [`Plans::parse_spec`], with errors attributed to `what` (a configuration variable).
pub(crate) fn parse_spec_as(what: &'static str, spec: &str) -> Result<Vec<Schedule>> {
    let bad = |reason: String| SchedulerError::invalid(what, spec, reason);
    if spec.trim().is_empty() {
        return Err(bad("empty: expected items like daily:ots,weekly:tsa".into()));
    }
    let mut out: Vec<Schedule> = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(bad("empty item between commas".into()));
        }
        let Some((cadence, anchors)) = item.split_once(':') else {
            return Err(bad(format!(
                "item {item:?} is not cadence:anchors (like weekly:ots+tsa)"
            )));
        };
        let cadence: Cadence = cadence.trim().parse().map_err(|_| {
            bad(format!(
                "unknown cadence {:?}: expected daily, weekly or monthly",
                cadence.trim()
            ))
        })?;
        let anchors: Anchors = anchors.trim().parse().map_err(|_| {
            bad(format!(
                "unknown anchor set {:?}: expected ots, tsa or ots+tsa",
                anchors.trim()
            ))
        })?;
        if anchors.is_empty() {
            return Err(bad(format!(
                "{cadence}:none anchors nothing; leave the cadence out instead"
            )));
        }
        if out.iter().any(|s| s.cadence == cadence) {
            return Err(bad(format!("cadence {cadence} is listed twice")));
        }
        out.push(Schedule { cadence, anchors });
    }
    out.sort_by_key(|s| s.cadence);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(spec: &str) -> String {
        match Plans::parse_spec(spec).unwrap_err() {
            SchedulerError::Invalid { reason, .. } => reason,
        }
    }

    #[test]
    fn standard_plans_match_the_design_table() {
        let p = Plans::standard();
        let s = |cadence, anchors| Schedule { cadence, anchors };
        assert_eq!(
            p.schedules(Plan::Starter),
            [s(Cadence::Monthly, Anchors::TSA)]
        );
        assert_eq!(p.schedules(Plan::Pro), [s(Cadence::Weekly, Anchors::BOTH)]);
        assert_eq!(
            p.schedules(Plan::Enterprise),
            [
                s(Cadence::Daily, Anchors::OTS),
                s(Cadence::Weekly, Anchors::TSA)
            ]
        );
    }

    #[test]
    fn standard_plans_are_what_their_specs_say() {
        let p = Plans::standard();
        for (plan, spec) in [
            (Plan::Starter, "monthly:tsa"),
            (Plan::Pro, "weekly:ots+tsa"),
            (Plan::Enterprise, "daily:ots,weekly:tsa"),
        ] {
            assert_eq!(p.schedules(plan), Plans::parse_spec(spec).unwrap());
        }
    }

    #[test]
    fn anchors_have_one_written_form_each() {
        for a in [Anchors::BOTH, Anchors::OTS, Anchors::TSA, Anchors::NONE] {
            assert_eq!(a.to_string().parse::<Anchors>().unwrap(), a);
        }
        assert_eq!(Anchors::BOTH.to_string(), "ots+tsa");
        assert_eq!(Anchors::NONE.to_string(), "none");
        for bad in ["tsa+ots", "OTS", "", "ots+", "rfc3161"] {
            assert!(bad.parse::<Anchors>().is_err(), "{bad} accepted");
        }
        assert!(Anchors::NONE.is_empty());
        assert!(!Anchors::TSA.is_empty());
    }

    #[test]
    fn spec_items_come_back_ordered_by_cadence_whatever_the_spelling() {
        assert_eq!(
            Plans::parse_spec(" weekly:tsa , daily:ots ").unwrap(),
            Plans::parse_spec("daily:ots,weekly:tsa").unwrap()
        );
        let one = Plans::parse_spec("monthly:ots+tsa").unwrap();
        assert_eq!(one[0].to_string(), "monthly:ots+tsa");
    }

    #[test]
    fn spec_errors_name_the_problem() {
        assert!(reason("").starts_with("empty"));
        assert!(reason("   ").starts_with("empty"));
        assert!(reason("daily:ots,").contains("empty item"));
        assert!(reason("daily").contains("not cadence:anchors"));
        assert!(reason("hourly:ots").contains("unknown cadence \"hourly\""));
        assert!(reason("daily:btc").contains("unknown anchor set \"btc\""));
        assert!(reason("daily:tsa+ots").contains("unknown anchor set"));
        assert!(reason("daily:none").contains("anchors nothing"));
        assert!(reason("daily:ots,daily:tsa").contains("daily is listed twice"));
    }

    #[test]
    fn spec_errors_carry_the_whole_spec_and_the_field() {
        let err = Plans::parse_spec("daily:ots,weekly:x").unwrap_err();
        let SchedulerError::Invalid { what, value, .. } = &err;
        assert_eq!(*what, "plan spec");
        assert_eq!(value, "daily:ots,weekly:x");
        assert!(
            err.to_string()
                .starts_with("invalid plan spec \"daily:ots,weekly:x\": ")
        );
    }

    #[test]
    fn set_replaces_only_the_named_plan() {
        let mut p = Plans::standard();
        p.set(Plan::Pro, Plans::parse_spec("daily:tsa").unwrap());
        assert_eq!(p.schedules(Plan::Pro).len(), 1);
        assert_eq!(p.schedules(Plan::Pro)[0].cadence, Cadence::Daily);
        assert_eq!(
            p.schedules(Plan::Starter),
            Plans::standard().schedules(Plan::Starter)
        );
    }
}
