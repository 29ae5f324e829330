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
            ReserveError::Request(format!(
                "{TENANT} is not set: name the ledger tenant whose runs anchor reserve balances"
            ))
        })
    }
}

/// `90s`, `15m`, `1h`, `2d`: a positive whole number and one unit.
pub fn parse_age(what: &'static str, s: &str) -> Result<Duration> {
    let bad = || {
        ReserveError::invalid(
            what,
            s,
            "expected a positive whole number and a unit s, m, h or d, like 36h",
        )
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let per: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n = &s[..s.len() - 1];
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    n.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(per))
        .and_then(Duration::try_seconds)
        .ok_or_else(bad)
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
        assert!(parse_age(MAX_SUMMARY_AGE, "1w").is_err());
    }
}
