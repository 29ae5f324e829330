//! `anchor ledger`: the hash-chained run-summary ledger.
//!
//! `verify` checks an exported chain (JSONL, one summary's exact bytes per line) against a
//! JWKS with `verifier::chain` (`domain::chain::verify_jsonl`'s rules): exit 0 and one line (tenant, summaries, time
//! span, head hash) when valid; exit 1 naming the first bad line and the rule it breaks
//! (`line 3: prev: …`); exit 2 when a file cannot be read or the JWKS is malformed.
//!
//! `export` writes a tenant's chain from the configured store (the same bytes, one per line,
//! that `verify` checks) to stdout or, create-only, to a file.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use ledger::TenantId;
use ledger::keys::Jwks;
use verifier::report::Status;

use crate::{Failure, Outcome, read_input, write_stdout};

/// `--config FILE`: the environment file that selects the backends (`ledger::config`);
/// without it, `LEDGER_*` variables and then the embedded defaults under `./anchor-data`.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArg {
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    pub fn load(&self) -> anyhow::Result<ledger::config::Config> {
        ledger::config::Config::load(self.config.as_deref()).context("configuration")
    }
}

/// Creates the data directory when the SQL store is embedded SQLite, whose file lives there
/// (`Store::connect` creates the file, not its directory), for commands that open the store
/// alone rather than every backend through `Config::open`.
pub fn ensure_sqlite_dir(config: &ledger::config::Config) -> anyhow::Result<()> {
    if config.database_url.starts_with("sqlite:") {
        ledger::private::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum LedgerCmd {
    /// Write a tenant's run-summary chain as JSONL (exit 2 for an unknown tenant).
    Export {
        #[arg(long)]
        tenant: String,
        /// Write here (create-only) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
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
        LedgerCmd::Export {
            tenant,
            out,
            config,
        } => export(&tenant, out.as_ref(), &config),
    }
}

fn export(tenant: &str, out: Option<&PathBuf>, config: &ConfigArg) -> Outcome {
    let tenant = TenantId::new(tenant).map_err(anyhow::Error::new)?;
    let config = config.load()?;
    let jsonl = crate::ots::runtime()?.block_on(async {
        let store = config.open_store().await?;
        store.tenant(&tenant).await?;
        let jsonl = store.export_jsonl(&tenant).await?;
        store.close().await;
        anyhow::Ok(jsonl)
    })?;
    match out {
        Some(path) => {
            crate::ots::write_atomically(path, &jsonl, false)?;
            eprintln!(
                "wrote {} summaries of {tenant} to {}",
                jsonl
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count(),
                path.display()
            );
            Ok(())
        }
        None => Ok(write_stdout(&jsonl)?),
    }
}

fn verify(file: &PathBuf, jwks_path: &PathBuf) -> Outcome {
    let jwks = Jwks::from_json(&read_input(jwks_path)?)
        .with_context(|| format!("{} is not a usable JWKS", jwks_path.display()))?;
    let data = read_input(file)?;
    let report =
        verifier::chain::check(&data, &jwks).map_err(|e| Failure::Input(anyhow::Error::new(e)))?;
    match report.0.iter().find(|c| c.status == Status::Failed) {
        Some(failed) => Err(Failure::Check(anyhow!(
            "{} is NOT a valid chain: {}",
            file.display(),
            failed.detail
        ))),
        None => Ok(write_stdout(verifier::chain::stdout(&report).as_bytes())?),
    }
}
