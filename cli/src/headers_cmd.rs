//! `anchor headers check`: the Bitcoin mainnet epoch table (shipped, or `--epochs FILE`)
//! compared with a node.
//!
//! For each epoch checked, the node's header at the epoch's last block (height `2016·e +
//! 2015`) must hash to the table's hash of that block and carry the table's `bits` for the
//! epoch; the table's last epoch, whose last hash it may not know, is checked by the `bits` of
//! its first block. By default a sample: the last [`RECENT`](stamp::tablecheck::RECENT) epochs whose
//! last hash the table knows and [`SPREAD`](stamp::tablecheck::SPREAD) more spread evenly from epoch 0 (at most 17 blocks, 34 requests);
//! `--all` checks every epoch (two requests each, about 950 for the shipped table);
//! `--height H` checks just the blocks named. One line per mismatch, then a summary. Exit 0
//! all agree; 1 a mismatch, or the node could not be used (the check stops at the first failed
//! request); 2 bad input. The work is `stamp::tablecheck`'s; this module prints and picks the
//! exit code.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use stamp::epochs::Epochs;
use stamp::headers::RemoteHeaders;
use stamp::tablecheck::{Selection, check_node, probes, scope};

use crate::{Failure, Outcome, write_stdout};

#[derive(Subcommand, Debug)]
pub enum HeadersCmd {
    /// Compare the Bitcoin mainnet epoch table with a node: for each epoch checked, the
    /// node's header at its last block must have the table's hash and bits. Default: the last
    /// 8 epochs and 8 spread from genesis. Exit 0 all agree, 1 a mismatch or an unusable node,
    /// 2 bad input.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The node's Esplora API, e.g. `https://blockstream.info/api`.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "bitcoind",
        required_unless_present = "bitcoind"
    )]
    esplora: Option<String>,
    /// The node's bitcoind JSON-RPC, `http://user:pass@host:8332`.
    #[arg(long, value_name = "URL")]
    bitcoind: Option<String>,
    /// A newer epoch table to check instead of the shipped one (the same checks as
    /// `anchor ots verify --epochs`).
    #[arg(long, value_name = "FILE")]
    epochs: Option<PathBuf>,
    /// Check every epoch of the table (two requests each) instead of the sample.
    #[arg(long, conflicts_with = "heights")]
    all: bool,
    /// Check the node's header at this height instead (repeatable): the bits of its epoch,
    /// and the table's hash where the table knows the block's.
    #[arg(long = "height", value_name = "H")]
    heights: Vec<u64>,
    /// Per-request timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
}

pub fn run(cmd: HeadersCmd) -> Outcome {
    match cmd {
        HeadersCmd::Check(args) => check(&args),
    }
}

/// Which blocks `args` asks for: `--height`, `--all` or the sample.
fn selection(args: &CheckArgs) -> Selection {
    if !args.heights.is_empty() {
        Selection::Heights(args.heights.clone())
    } else if args.all {
        Selection::All
    } else {
        Selection::Sample
    }
}

fn check(args: &CheckArgs) -> Outcome {
    let table: Arc<Epochs> = match &args.epochs {
        Some(path) => crate::ots::load_epochs(path)?,
        None => Epochs::mainnet().clone(),
    };
    let source = header_source(args)?;
    let selection = selection(args);
    let probes = probes(&table, &selection).map_err(|e| Failure::Input(anyhow!("--height {e}")))?;
    let timeout = Duration::from_secs(args.timeout);
    let checked = crate::edge::runtime()?
        .block_on(check_node(&source, &probes, timeout))
        .map_err(anyhow::Error::new)?;
    let mut report = checked.report;
    if let Some((height, e)) = checked.failed {
        write_stdout(report.as_bytes())?;
        return Err(Failure::Check(anyhow::Error::new(e).context(format!(
            "could not check block {height} against {source}"
        ))));
    }
    let mismatches = checked.mismatches;
    let scope = scope(&table, probes.len(), &selection);
    if mismatches == 0 {
        let _ = writeln!(report, "{source} agrees with all {scope}");
        write_stdout(report.as_bytes())?;
        Ok(())
    } else {
        let _ = writeln!(
            report,
            "{mismatches} mismatch(es) between {source} and {scope}"
        );
        write_stdout(report.as_bytes())?;
        Err(Failure::Check(anyhow!(
            "{source} disagrees with the {} table",
            table.name()
        )))
    }
}

/// Where `headers check` asks: `--esplora` or `--bitcoind`.
fn header_source(args: &CheckArgs) -> Result<RemoteHeaders, Failure> {
    match (&args.esplora, &args.bitcoind) {
        (Some(url), _) => Ok(RemoteHeaders::esplora(url).map_err(|e| anyhow!("--esplora: {e}"))?),
        (None, Some(url)) => {
            Ok(RemoteHeaders::bitcoind(url).map_err(|e| anyhow!("--bitcoind: {e}"))?)
        }
        (None, None) => Err(Failure::Input(anyhow!("pass --esplora or --bitcoind"))),
    }
}
