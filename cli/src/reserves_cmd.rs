//! `anchor reserves`: reserve attestations (reserves/README.md).
//!
//! `verify FILE --jwks K` is the auditor's check of a served attestation: the payload
//! re-canonicalised (RFC 8785) and its ES256 signature checked with the key `kid` names in
//! K, `payload_hash`, every total and the ratio re-derived from the breakdown with seed 001's
//! I3 rule, `balance_digest`, and the embedded run summary (signature, hash) with the
//! inclusion proof of the balances to the anchored root. Exit 0 valid, 1 a check failed,
//! 2 a file could not be read or the JWKS is malformed.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use ledger::keys::Jwks;

use crate::{Failure, Outcome, read_input};

#[derive(Subcommand, Debug)]
pub enum ReservesCmd {
    /// Verify a served reserve attestation (`-` reads stdin) against the operator's JWKS.
    Verify {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        jwks: PathBuf,
    },
}

pub fn run(cmd: ReservesCmd) -> Outcome {
    match cmd {
        ReservesCmd::Verify { file, jwks } => verify(&file, &jwks),
    }
}

fn verify(file: &PathBuf, jwks: &PathBuf) -> Outcome {
    let bytes = read_input(file)?;
    let jwks = Jwks::from_json(&read_input(jwks)?)
        .with_context(|| format!("reading the JWKS {}", jwks.display()))?;
    let (served, summary) = reserves::attestation::verify(&bytes, &jwks)
        .map_err(|e| Failure::Check(anyhow!(e).context("reserve attestation is NOT valid")))?;
    let a = &served.payload.attestation;
    let c = &a.balances.computation;
    println!(
        "attestation {} VALID: signed by {}, coverage {} bps (min {} bps), fully backed: {}",
        a.id, served.kid, c.coverage_ratio_bps, a.balances.min_reserve_ratio_bps, c.fully_backed
    );
    println!(
        "balances {} anchored by tenant {} period {} run {} (summary seq {}, {}), root {}",
        a.balance_digest,
        summary.tenant,
        summary.period,
        summary.run_id,
        summary.seq,
        ledger::ids::format_ts(summary.ts),
        a.anchor.root
    );
    if !c.missing.is_empty() || !c.stale.is_empty() {
        println!(
            "counted as 0: missing {:?}, stale {:?}",
            c.missing
                .iter()
                .map(reserves::types::AssetId::as_str)
                .collect::<Vec<_>>(),
            c.stale
                .iter()
                .map(reserves::types::AssetId::as_str)
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}
