//! `anchor bundle --tenant T --period P --digest HEX --out FILE`: one manifest's
//! `c2c.bundle.v1` (format in `proofs::bundle` and docs/bundle.md) from the configured
//! stores — the same bytes `GET /anchor/bundle/{tenant}/{period}/{digest}` serves — for
//! `anchor verify bundle`. The output is create-only. Exit 2 for a period never anchored, a
//! digest not in its tree, or an existing output file.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use proofs::PeriodProofs;
use proofs::ProofsError;

use crate::ledger_cmd::ConfigArg;
use crate::proof_cmd::ManifestArgs;
use crate::{Failure, Outcome};

#[derive(Args, Debug)]
pub struct BundleArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Where to write the bundle (refused if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub config: ConfigArg,
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("{e}"))
}

pub fn run(args: &BundleArgs) -> Outcome {
    let (tenant, period, digest) = args.manifest.parse()?;
    if args.out.exists() {
        return Err(input(format!(
            "{} exists; refusing to overwrite",
            args.out.display()
        )));
    }
    let config = args.config.load().map_err(Failure::Input)?;
    let bytes = crate::ots::runtime()?.block_on(async {
        let backends = config.open().await.map_err(anyhow::Error::new)?;
        let unanchored = |e: ProofsError| match e {
            ProofsError::Invalid(m) | ProofsError::NotFound(m) => {
                Failure::Input(anyhow!("{tenant} {period}: no bundle to assemble: {m}"))
            }
            e => Failure::Check(e.into()),
        };
        let proofs = PeriodProofs::load(&backends.blobs, &tenant, period)
            .await
            .map_err(unanchored)?;
        let bundle = proofs::assemble(
            &backends.blobs,
            &backends.store,
            proofs.proof(&digest).map_err(unanchored)?,
            &tenant,
            period,
            &digest,
        )
        .await
        .map_err(unanchored)?;
        Ok::<_, Failure>(bundle.to_json())
    })?;
    crate::ots::write_atomically(&args.out, &bytes, false).map_err(Failure::Input)
}
