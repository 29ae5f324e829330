//! Operator commands: `anchor tenants | manifests | kill-switch | incidents | backfill`.
//!
//! Each command opens the configured SQL store (`--config FILE`, then `LEDGER_*` variables,
//! then the embedded SQLite under `./anchor-data`), does one thing through the `ledger`
//! crate's public API, prints its result and closes the store.
//!
//! - `tenants add TENANT --plan P` creates a tenant with a fresh API token
//!   (`ledger::sql::new_token`) and prints `{"tenant","plan","token","consent"}`. Only the
//!   token's SHA-256 is stored, so this is the one time anybody sees it (stderr says so);
//!   nothing else ever prints a token or its hash. With `--opt-in` the consent log gets an
//!   `opt_in` entry at once. If that entry cannot be written, the token is still printed (the
//!   tenant exists and its token would otherwise be lost) and the command fails.
//! - `tenants list | show | set | consent` read and change tenants; `consent` only appends to
//!   the consent log (which the store keeps append-only): opting out stops new anchors and
//!   keeps every receipt and every earlier entry.
//! - `manifests add --tenant T FILE` reads 64-hex digests one per line (blank lines and `#`
//!   comments allowed), a JSON array whose elements are manifest objects or 64-hex digest
//!   strings, or one JSON manifest object, telling them apart by the first non-space byte.
//!   Manifests are canonicalised here exactly as `anchor digest` does
//!   (`merkle::canon::manifest_digest` over the element's own bytes, so the I-JSON rules on
//!   duplicate names and inexact integers apply). The whole file is validated before anything
//!   is stored: one bad line or element fails the command naming its line or array index,
//!   and nothing of that file is inserted. The digests then go in in batches of 50 000, one
//!   transaction each; should the store fail between batches, running the command again is
//!   safe (what is already stored counts as `duplicate`).
//! - `kill-switch set | show | history`, `incidents list | resolve`, `backfill create | show
//!   | list | cancel | resume`: the operations state the scheduler and the workers obey.
//!   Backfill ids are `bf-` and 12 random hex digits; the scheduler paces them.
//!
//! Decisions:
//!
//! - Only the SQL store is opened, never the blob store or the KV: an operator must be able to
//!   flip a kill switch or pause a tenant while Redis or S3 is the thing that is down.
//! - Money is typed in dollars (`--cost-ceiling-usd 12.50`) and parsed exactly, as decimal
//!   text, into integer micro-USD (at most six decimals); no float ever holds an amount.
//! - Single objects are printed as one line of JSON (for `jq`); lists are a table, or a JSON
//!   array with `--json`. Timestamps are RFC 3339 UTC with milliseconds.
//! - A cancelled backfill stays cancelled (the ledger refuses to move it), so `backfill
//!   resume` restarts only a `stopped` one; a cancelled range is re-run by creating a new
//!   backfill.
//!
//! Exit codes: 0 done; 2 bad input — arguments, files, configuration, and the store's
//! `Invalid`, `NotFound` and `Conflict` (unknown tenant, existing tenant, resolved incident);
//! 1 anything else (the database could not be reached or failed).

mod manifests;
mod ops;
mod tenants;

use std::fmt::Write as _;

use clap::Subcommand;
use ledger::LedgerError;
use ledger::sql::Store;

use crate::ledger_cmd::ConfigArg;
use crate::{Failure, Outcome, write_stdout};

pub use manifests::ManifestsCmd;
pub use ops::{BackfillCmd, IncidentsCmd, KillSwitchCmd};
pub use tenants::TenantsCmd;

/// The operator commands, flattened into `anchor`'s top level.
#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Tenants: add (prints the API token, once), list, show, set, consent.
    #[command(subcommand)]
    Tenants(TenantsCmd),
    /// Submit a tenant's manifest digests (or manifests) from a file.
    #[command(subcommand)]
    Manifests(ManifestsCmd),
    /// The kill switch, global or per tenant: set, show, history.
    #[command(subcommand)]
    KillSwitch(KillSwitchCmd),
    /// Incidents (failed sample verifications and the like): list, resolve.
    #[command(subcommand)]
    Incidents(IncidentsCmd),
    /// Backfills of past days: create, show, list, cancel, resume.
    #[command(subcommand)]
    Backfill(BackfillCmd),
}

pub fn run(cmd: AdminCmd) -> Outcome {
    match cmd {
        AdminCmd::Tenants(cmd) => tenants::run(cmd),
        AdminCmd::Manifests(cmd) => manifests::run(cmd),
        AdminCmd::KillSwitch(cmd) => ops::kill_switch(cmd),
        AdminCmd::Incidents(cmd) => ops::incidents(cmd),
        AdminCmd::Backfill(cmd) => ops::backfill(cmd),
    }
}

/// Runs `f` against the configured SQL store, closing the store afterwards.
fn with_store<T>(
    config: &ConfigArg,
    f: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> Result<T, Failure> {
    let config = config.load().map_err(Failure::Input)?;
    let rt = crate::ots::runtime().map_err(Failure::Check)?;
    rt.block_on(async {
        crate::ledger_cmd::ensure_sqlite_dir(&config)?;
        // The error names the database (host:port, no credentials) and the cause, or says
        // that it has no schema and to run `anchor migrate`.
        let store = config.open_store().await?;
        let out = f(&store).await;
        store.close().await;
        out
    })
    .map_err(classify)
}

/// Exit 2 for bad input (including the store's `Invalid`, `NotFound`, `Conflict` and
/// `Config`), exit 1 when the store itself failed.
fn classify(e: anyhow::Error) -> Failure {
    if crate::is_unavailable(&e) {
        return Failure::Unavailable(e);
    }
    let backend_failed = e
        .chain()
        .find_map(|c| {
            c.downcast_ref::<LedgerError>()
                .or_else(|| match c.downcast_ref() {
                    Some(service::ServiceError::Ledger(l)) => Some(l),
                    _ => None,
                })
        })
        .is_some_and(|l| {
            !matches!(
                l,
                LedgerError::Invalid { .. }
                    | LedgerError::NotFound { .. }
                    | LedgerError::Conflict { .. }
                    | LedgerError::Config(_)
                    | LedgerError::Schema(_)
            )
        });
    if backend_failed {
        Failure::Check(e)
    } else {
        Failure::Input(e)
    }
}

/// Prints one JSON value on one line.
fn print_json(v: &serde_json::Value) -> Outcome {
    Ok(write_stdout(format!("{v}\n").as_bytes())?)
}

/// Prints rows under a header, columns padded to their widest cell.
/// A listing: with `--json` an array of `to_json` of each item, otherwise a table of
/// `header` and one `to_row` per item.
fn print_list<T>(
    json: bool,
    items: &[T],
    to_json: impl Fn(&T) -> serde_json::Value,
    header: &[&str],
    to_row: impl Fn(&T) -> Vec<String>,
) -> Outcome {
    if json {
        return print_json(&serde_json::Value::Array(
            items.iter().map(to_json).collect(),
        ));
    }
    let rows: Vec<Vec<String>> = items.iter().map(to_row).collect();
    print_table(header, &rows)
}

fn print_table(header: &[&str], rows: &[Vec<String>]) -> Outcome {
    let cells: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect())
        .chain(rows.iter().map(|r| {
            r.iter()
                .map(|c| c.replace(['\n', '\r', '\t'], " "))
                .collect()
        }))
        .collect();
    let mut widths = vec![0usize; header.len()];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                write!(line, "{c:<w$}  ").expect("writing to a String");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(write_stdout(out.as_bytes())?)
}

/// Parses a dollar amount (`50`, `12.5`, `0.000001`) exactly into micro-USD, as the
/// scheduler's policy and the API do, and within what the store keeps (a BIGINT).
pub(crate) fn parse_usd(s: &str) -> Result<u64, String> {
    scheduler::policy::parse_usd("dollar amount", s)
        .map_err(|e| e.to_string())?
        .try_into()
        .map(|v: i64| v.unsigned_abs())
        .map_err(|_| format!("dollar amount {s:?}: too large"))
}

pub(crate) use scheduler::policy::decimal_usd as usd;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_amounts_parse_exactly_into_micro_usd_and_print_back() {
        for (text, micro, shown) in [
            ("50", 50_000_000, "50.00"),
            ("0", 0, "0.00"),
            ("12.5", 12_500_000, "12.50"),
            ("0.000001", 1, "0.000001"),
            ("1234.567891", 1_234_567_891, "1234.567891"),
            ("007.10", 7_100_000, "7.10"),
        ] {
            assert_eq!(parse_usd(text), Ok(micro), "{text}");
            assert_eq!(usd(micro), shown, "{text}");
        }
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "+1",
            "1e3",
            "1.0000001",
            "1,5",
            " 1",
            "$5",
            "99999999999999999999",
            "9223372036855",
        ] {
            assert!(parse_usd(bad).is_err(), "{bad} accepted");
        }
    }
}
