//! The per-tenant receipt log: an append-only RFC 9162 tree whose leaves are the tenant's
//! receipt versions, in the order they were published, with signed checkpoints
//! ([`crate::note`]). A tenant's monitor (`anchor monitor`) keeps the last checkpoint it
//! verified and checks that every later one extends it, so an operator cannot drop, rewrite
//! or reorder a receipt it once published, nor show two tenants two histories, without the
//! monitor seeing it.
//!
//! **Entry** (the leaf input; the leaf hash is RFC 9162's `SHA-256(0x00 || entry)`):
//!
//! ```text
//! c2c.receipt-log.v1|<period>|<version>|<hex SHA-256 of the receipt version's exact bytes>
//! ```
//!
//! for `receipts/{tenant}/{period}/v{version}.json`. The tenant is the log's (its origin), so
//! it is not repeated. Decision: the period and version are in the entry, not only the hash,
//! so a monitor can name what is missing and fetch each receipt it checks without an index.
//!
//! **Origin** `c2c.receipt-log/<tenant>`; the key name is the origin (tlog-checkpoint: "The
//! log's key name in its signature line SHOULD match the origin line"), so each tenant's log
//! has its own verifier key string though one key signs them all.

use std::fmt;

use merkle::hash::{decode_hex, encode_hex};

use crate::error::{DomainError, Result};
use crate::ids::{Period, TenantId};

const PREFIX: &str = "c2c.receipt-log.v1";

/// The origin line (and key name) of `tenant`'s receipt log.
pub fn origin(tenant: &TenantId) -> String {
    format!("c2c.receipt-log/{tenant}")
}

/// One leaf of a tenant's receipt log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogEntry {
    pub period: Period,
    pub version: u32,
    pub sha256: [u8; 32],
}

impl LogEntry {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parses an entry, refusing any other spelling of the same fields (so two byte strings
    /// never name one receipt).
    pub fn parse(bytes: &[u8]) -> Result<LogEntry> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DomainError::Format("receipt log entry: not UTF-8".into()))?;
        let wrong = |reason: &str| DomainError::invalid("receipt log entry", text, reason);
        let mut fields = text.split('|');
        let (Some(PREFIX), Some(period), Some(version), Some(hash), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(wrong("expected c2c.receipt-log.v1|period|version|sha256"));
        };
        let period: Period = period.parse().map_err(|_| wrong("bad period"))?;
        let version: u32 = version
            .parse()
            .ok()
            .filter(|v| *v >= 1 && !version.starts_with('0'))
            .ok_or_else(|| wrong("the version is a decimal from 1, without leading zeroes"))?;
        if hash.len() != 64 || hash.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(wrong("the hash is 64 lowercase hex digits"));
        }
        let sha256: [u8; 32] = decode_hex("receipt log entry", hash)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| wrong("the hash is 64 lowercase hex digits"))?;
        let entry = LogEntry {
            period,
            version,
            sha256,
        };
        if entry.to_string() != text {
            return Err(wrong("not in canonical form"));
        }
        Ok(entry)
    }
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}|{}|{}|{}",
            self.period,
            self.version,
            encode_hex(&self.sha256)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LogEntry {
        LogEntry {
            period: "2026-11-22".parse().unwrap(),
            version: 2,
            sha256: [0xab; 32],
        }
    }

    #[test]
    fn an_entry_round_trips_through_its_bytes() {
        let bytes = entry().to_bytes();
        assert!(bytes.starts_with(b"c2c.receipt-log.v1|2026-11-22|2|abab"));
        assert_eq!(LogEntry::parse(&bytes).unwrap(), entry());
    }

    #[test]
    fn other_spellings_of_an_entry_are_refused() {
        let good = entry().to_string();
        for bad in [
            good.replace("|2|", "|02|"),
            good.replace("|2|", "|0|"),
            good.replace("abab", "ABAB"),
            good.replace("c2c.receipt-log.v1", "c2c.receipt-log.v2"),
            format!("{good}|x"),
            good[..good.len() - 2].to_owned(),
        ] {
            assert!(LogEntry::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_origin_names_the_tenant() {
        let t = TenantId::new("acme").unwrap();
        assert_eq!(origin(&t), "c2c.receipt-log/acme");
    }
}
