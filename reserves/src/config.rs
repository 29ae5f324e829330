//! The reserves' configuration variables, read from the same merged configuration as every
//! other `anchor` process (`ledger::config::Config`; the names are listed in
//! `ledger::config::VARIABLES`, so a config file may set them).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LEDGER_RESERVES_TENANT` | (none: publishing refuses) | the ledger tenant whose runs anchor the balance digests |
//! | `LEDGER_RESERVES_MAX_SUMMARY_AGE` | `48h` | refuse to publish when the binding run summary is older (`90s`, `15m`, `1h`, `2d`) |
//! | `LEDGER_RESERVES_WEBHOOKS` | (none) | comma-separated `http(s)://` URLs the publisher POSTs each attestation to |

use chrono::Duration;
use ledger::TenantId;

use crate::error::{ReserveError, Result};
use crate::publisher::parse_webhooks;

pub const TENANT: &str = "LEDGER_RESERVES_TENANT";
pub const MAX_SUMMARY_AGE: &str = "LEDGER_RESERVES_MAX_SUMMARY_AGE";
pub const WEBHOOKS: &str = "LEDGER_RESERVES_WEBHOOKS";
/// Every variable this module reads.
pub const VARIABLES: &[&str] = &[TENANT, MAX_SUMMARY_AGE, WEBHOOKS];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservesConfig {
    pub tenant: Option<TenantId>,
    pub max_summary_age: Duration,
    pub webhooks: Vec<String>,
}

impl ReservesConfig {
    pub fn from_config(c: &ledger::config::Config) -> Result<ReservesConfig> {
        ReservesConfig::from_lookup(|name| c.var(name).map(str::to_owned))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ReservesConfig> {
        let get = |n: &str| get(n).filter(|v| !v.trim().is_empty());
        Ok(ReservesConfig {
            tenant: get(TENANT)
                .map(|t| {
                    TenantId::new(t.trim())
                        .map_err(|e| ReserveError::invalid(TENANT, t.clone(), e.to_string()))
                })
                .transpose()?,
            max_summary_age: get(MAX_SUMMARY_AGE).map_or(Ok(Duration::hours(48)), |v| {
                parse_age(MAX_SUMMARY_AGE, v.trim())
            })?,
            webhooks: get(WEBHOOKS).map_or(Ok(Vec::new()), |v| parse_webhooks(&v))?,
        })
    }

    /// The tenant, or an error saying which variable to set.
    pub fn require_tenant(&self) -> Result<&TenantId> {
        self.tenant.as_ref().ok_or_else(|| {
            ReserveError::request(format!(
                "{TENANT} is not set: name the ledger tenant whose runs anchor reserve balances"
            ))
        })
    }
}

/// `90s`, `15m`, `1h`, `2d`: the configuration's one duration grammar
/// (`domain::duration::parse_duration`, re-exported as `scheduler::policy::parse_duration`,
/// which every duration variable uses), and positive:
/// a maximum summary age of zero would refuse every attestation.
///
/// Decision (issue 18): this crate once had its own parser with its own wording; there is one
/// grammar, so there is one parser, and this function adds only the rule that is its own.
pub fn parse_age(what: &'static str, s: &str) -> Result<Duration> {
    let (value, reason) = match scheduler::policy::parse_duration(what, s) {
        Ok(d) if d > Duration::zero() => return Ok(d),
        Ok(_) => (s.to_owned(), "must be positive, like 36h".to_owned()),
        Err(ledger::DomainError::Invalid { value, reason, .. }) => (value, reason),
        Err(other) => return Err(other.into()),
    };
    Err(ReserveError::invalid(what, value, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_one_the_ledger_configuration_accepts() {
        for v in VARIABLES {
            assert!(
                ledger::config::VARIABLES.contains(v),
                "{v} missing from ledger::config::VARIABLES"
            );
        }
    }

    #[test]
    fn defaults_and_parsing() {
        let c = ReservesConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.max_summary_age, Duration::hours(48));
        assert!(c.require_tenant().unwrap_err().to_string().contains(TENANT));
        let c = ReservesConfig::from_lookup(|n| match n {
            TENANT => Some("reserves-co".into()),
            MAX_SUMMARY_AGE => Some("36h".into()),
            WEBHOOKS => Some("https://a.example/hook, http://127.0.0.1:9/x".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.require_tenant().unwrap().as_str(), "reserves-co");
        assert_eq!(c.max_summary_age, Duration::hours(36));
        assert_eq!(c.webhooks.len(), 2);
        let err = parse_age(MAX_SUMMARY_AGE, "0h").unwrap_err().to_string();
        assert!(err.contains(MAX_SUMMARY_AGE), "{err}");
        assert!(err.contains("must be positive"), "{err}");
        let err = parse_age(MAX_SUMMARY_AGE, "1w").unwrap_err().to_string();
        assert!(err.contains("unit s, m, h or d"), "{err}");
        assert_eq!(
            parse_age(MAX_SUMMARY_AGE, "90s").unwrap(),
            Duration::seconds(90)
        );
    }
}
