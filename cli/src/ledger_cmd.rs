//! `anchor ledger`: the hash-chained run-summary ledger.
//!
//! `verify` checks an exported chain (JSONL, one summary's exact bytes per line) against a
//! JWKS with `ledger::chain::verify_jsonl`: exit 0 and one line (tenant, summaries, time
//! span, head hash) when valid; exit 1 naming the first bad line and the rule it breaks
//! (`line 3: prev: …`); exit 2 when a file cannot be read or the JWKS is malformed.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use ledger::LedgerError;
use ledger::ids::format_ts;
use ledger::keys::Jwks;

use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum LedgerCmd {
    /// Verify an exported run-summary chain: 0 valid, 1 a rule broken (the first bad line is
    /// named), 2 unreadable files or a malformed JWKS.
    Verify {
        /// The chain: JSONL, one run summary per line (`-` for stdin).
        #[arg(value_name = "CHAIN.jsonl")]
        file: PathBuf,
        /// The operator's public keys (a JWKS, e.g. `jwks.json` from `anchor keys generate`).
        #[arg(long, value_name = "JWKS.json")]
        jwks: PathBuf,
    },
}

pub fn run(cmd: LedgerCmd) -> Outcome {
    match cmd {
        LedgerCmd::Verify { file, jwks } => verify(&file, &jwks),
    }
}

fn verify(file: &PathBuf, jwks_path: &PathBuf) -> Outcome {
    let jwks = Jwks::from_json(&read_input(jwks_path)?)
        .with_context(|| format!("{} is not a usable JWKS", jwks_path.display()))?;
    let data = read_input(file)?;
    let report = ledger::chain::verify_jsonl(&data, &jwks).map_err(|e| match e {
        LedgerError::Chain { .. } => Failure::Check(
            anyhow::Error::new(e).context(format!("{} is NOT a valid chain", file.display())),
        ),
        other => Failure::Input(anyhow::Error::new(other)),
    })?;
    let line = format!(
        "valid: tenant {}, {} summaries ({} to {}), head {}\n",
        report.tenant,
        report.lines,
        format_ts(report.first_ts),
        format_ts(report.last_ts),
        report.head_hash
    );
    Ok(write_stdout(line.as_bytes())?)
}
