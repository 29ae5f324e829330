//! `anchor proof`: one manifest's inclusion proof (`c2c.proof.v1`) or per-manifest `.ots`,
//! derived from the period's stored tree in the configured blob store (`proofs::period`).
//!
//! What a tenant downloads before the API exists, and what an operator uses to answer a
//! tenant: the proof checks with `anchor verify proof` or any RFC 9162 verifier, the `.ots`
//! with the OpenTimestamps client (`ots verify -d DIGEST FILE`). Exit 2 for a digest that is
//! not in the period's tree, a period never anchored, or an `.ots` asked of a period without
//! an OTS anchor.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use ledger::{Period, TenantId};
use merkle::ManifestDigest;
use proofs::PeriodProofs;
use proofs::ProofsError;

use crate::ledger_cmd::ConfigArg;
use crate::{Failure, Outcome, write_stdout};

/// `--tenant T --period P --digest HEX`: one manifest of an anchored period, as `anchor proof`
/// and `anchor bundle` name it.
#[derive(Args, Debug)]
pub struct ManifestArgs {
    #[arg(long)]
    pub tenant: String,
    /// `2026-11-22`, `2026-W47` or `2026-11`.
    #[arg(long)]
    pub period: String,
    /// The manifest digest (64 hex).
    #[arg(long)]
    pub digest: String,
}

impl ManifestArgs {
    /// The three values, each checked (exit 2 naming the bad one).
    pub fn parse(&self) -> Result<(TenantId, Period, ManifestDigest), Failure> {
        let tenant = TenantId::new(&self.tenant).map_err(input)?;
        let period: Period = self.period.parse().map_err(input)?;
        let digest = ManifestDigest::from_hex(&self.digest).map_err(input)?;
        Ok((tenant, period, digest))
    }
}

#[derive(Args, Debug)]
pub struct ProofArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// The per-manifest OpenTimestamps proof instead of the JSON inclusion proof.
    #[arg(long)]
    pub ots: bool,
    /// Write here (create-only) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("{e}"))
}

pub fn run(args: &ProofArgs) -> Outcome {
    let (tenant, period, digest) = args.manifest.parse()?;
    let config = args.config.load().map_err(Failure::Input)?;
    let bytes = crate::ots::runtime()?.block_on(async {
        let backends = config.open().await.map_err(anyhow::Error::new)?;
        let stored = PeriodProofs::load(&backends.blobs, &tenant, period)
            .await
            .map_err(|e| match e {
                ProofsError::Invalid(m) => Failure::Input(anyhow!(
                    "{tenant} {period} has no anchored tree to prove from: {m}"
                )),
                e => Failure::Check(e.into()),
            })?;
        let proof = stored.proof(&digest).map_err(input)?;
        if !args.ots {
            return Ok::<_, Failure>(proof.to_json_pretty().into_bytes());
        }
        let file = stored
            .manifest_ots(&digest)
            .map_err(input)?
            .ok_or_else(|| input(format!("{tenant} {period} has no OpenTimestamps anchor")))?;
        Ok(file.to_bytes().map_err(anyhow::Error::new)?)
    })?;
    match &args.out {
        Some(path) => crate::ots::write_atomically(path, &bytes, false).map_err(Failure::Input),
        None => Ok(write_stdout(&bytes)?),
    }
}
