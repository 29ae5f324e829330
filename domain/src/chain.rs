//! The hash-chained run-summary ledger: pure verification of an exported chain.
//!
//! An export is JSONL: one summary's exact bytes per line (its RFC 8785 form, signature
//! included), lines separated by `\n`, the final `\n` optional. One chain per tenant.
//!
//! The rules follow seed 004 ("Validation Rules"), adapted to run summaries. Each line is
//! checked in this order, and verification stops at the **first** bad line with
//! [`DomainError::Chain`] naming the 1-based line and the rule:
//!
//! | rule        | the line must …                                                          |
//! |-------------|--------------------------------------------------------------------------|
//! | `json`      | be one I-JSON object (no duplicate names) of the summary's shape          |
//! | `canonical` | be byte for byte the RFC 8785 form of itself — `prev` hashes exact bytes, so a re-indented or re-ordered line would break the next link while looking the same |
//! | `version`   | have `format` `c2c.run-summary.v1` and `alg` `ES256` (seed 004: "`v` must be 1") |
//! | `seq`       | have `seq` equal to its line number (seed 004: "`seq` must equal line number in file", "No gaps in sequence numbers") |
//! | `prev`      | have `prev` `"genesis"` on line 1, else the SHA-256 hex of the previous line's exact bytes (seed 004: "`prev` must match SHA-256 of previous line (or \"genesis\" for seq=1)") |
//! | `ts`        | have a valid UTC timestamp (seed 004: "`ts` must be valid ISO 8601 UTC timestamp") strictly later than the previous line's ("Timestamps must be monotonically increasing"; two runs of one tenant never share a millisecond, so equal is a copy) |
//! | `tenant`    | name the tenant of line 1 (seed 004: "All agent IDs must match")         |
//! | `key`       | name a `kid` the JWKS holds                                              |
//! | `signature` | carry a `sig` that verifies with that key (seed 004: "`sig` must verify against registered public key") |
//!
//! The order is the cheapest sensible one: the `json` shape check runs after `version` (so a
//! future format is reported as a version, not as a shape error), except that an unreadable
//! `ts` is reported under `ts` before the shape is decoded. Empty input is rule `empty`
//! (line 0: no line at all).
//!
//! Seed 004's third chain-wide rule, "No timestamp gap >48h (chain break)", does **not**
//! apply: runs are daily, weekly or monthly per plan, and a paused tenant or a period with no
//! run leaves gaps of weeks that are not breaks. Missing runs show up as missing periods, not
//! as a break in the chain.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, Result};
use crate::formats::{
    GENESIS, RunSummary, parse_object, read_ts, require_canonical, require_version, sha256_hex,
    show,
};
use crate::ids::TenantId;
use crate::keys::Jwks;

/// What a valid chain holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub tenant: TenantId,
    /// Number of summaries (the last `seq`).
    pub lines: usize,
    /// SHA-256 hex of the last line's bytes: what the next summary's `prev` must be.
    pub head_hash: String,
    pub first_ts: DateTime<Utc>,
    pub last_ts: DateTime<Utc>,
}

fn broken(line: usize, rule: &'static str, detail: impl Into<String>) -> DomainError {
    DomainError::Chain {
        line,
        rule,
        detail: detail.into(),
    }
}

/// The detail of an error without the variant's prefix or the `c2c.run-summary.v1: ` one.
fn detail(e: &DomainError) -> String {
    let s = match e {
        DomainError::Format(s) | DomainError::Signature(s) | DomainError::Key(s) => s.clone(),
        other => other.to_string(),
    };
    s.strip_prefix(RunSummary::FORMAT)
        .and_then(|r| r.strip_prefix(": "))
        .map_or_else(|| s.clone(), str::to_owned)
}

/// Verifies an exported chain (see the module documentation for the rules).
pub fn verify_jsonl(data: &[u8], jwks: &Jwks) -> Result<ChainReport> {
    if data.is_empty() {
        return Err(broken(0, "empty", "the chain has no lines"));
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut prev: Option<(&[u8], RunSummary)> = None;
    let mut first: Option<(TenantId, DateTime<Utc>)> = None;
    for (i, bytes) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let summary = check_line(line, bytes, prev.as_ref(), jwks)?;
        if first.is_none() {
            first = Some((summary.tenant.clone(), summary.ts));
        }
        prev = Some((bytes, summary));
    }
    let (tenant, first_ts) = first.expect("a non-empty input has a line");
    let (last_bytes, last) = prev.expect("a non-empty input has a line");
    Ok(ChainReport {
        tenant,
        lines: usize::try_from(last.seq).expect("seq equals a line number"),
        head_hash: sha256_hex(last_bytes),
        first_ts,
        last_ts: last.ts,
    })
}

fn check_line(
    line: usize,
    bytes: &[u8],
    prev: Option<&(&[u8], RunSummary)>,
    jwks: &Jwks,
) -> Result<RunSummary> {
    let value = well_formed(line, bytes)?;
    let summary = RunSummary::from_value(&value).map_err(|e| broken(line, "json", detail(&e)))?;

    check_links(line, &summary, prev)?;
    if jwks.get(&summary.kid).is_none() {
        return Err(broken(
            line,
            "key",
            format!("kid {} is not in the JWKS", summary.kid),
        ));
    }
    summary
        .verify_signature(jwks)
        .map_err(|e| broken(line, "signature", detail(&e)))?;
    Ok(summary)
}

/// A line's form: JSON, in its RFC 8785 canonical bytes, of this format's version, with a
/// `ts` that reads as a timestamp.
fn well_formed(line: usize, bytes: &[u8]) -> Result<Value> {
    let value = parse_object(bytes).map_err(|e| broken(line, "json", detail(&e)))?;
    require_canonical(&value, bytes).map_err(|e| {
        let hint = if bytes.ends_with(b"\r") {
            " (it ends in \\r: CRLF line endings?)"
        } else {
            ""
        };
        broken(line, "canonical", format!("{}{hint}", detail(&e)))
    })?;
    require_version(&value).map_err(|e| broken(line, "version", detail(&e)))?;
    match value.get("ts") {
        Some(Value::String(s)) => {
            read_ts(s).map_err(|e| broken(line, "ts", e.to_string()))?;
        }
        other => return Err(broken(line, "ts", format!("ts is {}", show(other)))),
    }
    Ok(value)
}

/// A line's links to the one before: consecutive `seq`, `prev` the SHA-256 of the previous
/// line (or "genesis"), a later `ts`, the same tenant.
fn check_links(
    line: usize,
    summary: &RunSummary,
    prev: Option<&(&[u8], RunSummary)>,
) -> Result<()> {
    if summary.seq != line as u64 {
        return Err(broken(
            line,
            "seq",
            format!(
                "seq is {}, expected {line} (consecutive from 1)",
                summary.seq
            ),
        ));
    }
    let expected_prev = prev.map_or_else(|| GENESIS.to_owned(), |(b, _)| sha256_hex(b));
    if summary.prev != expected_prev {
        let what = if line == 1 {
            "the first line's prev must be \"genesis\"".to_owned()
        } else {
            format!("not the SHA-256 of line {}", line - 1)
        };
        return Err(broken(
            line,
            "prev",
            format!(
                "prev {:?} is {what} (expected {expected_prev})",
                summary.prev
            ),
        ));
    }
    if let Some((_, p)) = prev {
        if summary.ts <= p.ts {
            return Err(broken(
                line,
                "ts",
                format!(
                    "ts {} is not after line {}'s {}",
                    crate::ids::format_ts(summary.ts),
                    line - 1,
                    crate::ids::format_ts(p.ts)
                ),
            ));
        }
        if summary.tenant != p.tenant {
            return Err(broken(
                line,
                "tenant",
                format!(
                    "tenant {} in a chain of tenant {}",
                    summary.tenant, p.tenant
                ),
            ));
        }
    }
    Ok(())
}
