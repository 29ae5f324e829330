//! `anchor headers check`: the Bitcoin mainnet epoch table (shipped, or `--epochs FILE`)
//! compared with a node.
//!
//! For each epoch checked, the node's header at the epoch's last block (height `2016·e +
//! 2015`) must hash to the table's hash of that block and carry the table's `bits` for the
//! epoch; the table's last epoch, whose last hash it may not know, is checked by the `bits` of
//! its first block. By default a sample: the last [`RECENT`] epochs whose last hash the table
//! knows and [`SPREAD`] more spread evenly from epoch 0 (at most 17 blocks, 34 requests);
//! `--all` checks every epoch (two requests each, about 950 for the shipped table);
//! `--height H` checks just the blocks named. One line per mismatch, then a summary. Exit 0
//! all agree; 1 a mismatch, or the node could not be used (the check stops at the first failed
//! request); 2 bad input.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use stamp::epochs::{EPOCH_BLOCKS, Epochs};
use stamp::headers::{RemoteHeaders, fetch_header_at};

use crate::{Failure, Outcome, write_stdout};

/// Most recent epochs (with a known last hash) in the default sample.
pub const RECENT: u64 = 8;
/// Epochs spread evenly from epoch 0 in the default sample.
pub const SPREAD: u64 = 8;

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

/// One block to compare: what the table says about it.
struct Probe {
    height: u64,
    bits: u32,
    /// Internal byte order.
    hash: Option<[u8; 32]>,
}

pub fn run(cmd: HeadersCmd) -> Outcome {
    match cmd {
        HeadersCmd::Check(args) => check(&args),
    }
}

/// The epochs of the default sample: the last [`RECENT`] of `known` (epochs with a known
/// last hash) and [`SPREAD`] spread evenly over them, from epoch 0 to the last.
pub fn sample(known: u64) -> BTreeSet<u64> {
    let mut out: BTreeSet<u64> = (known.saturating_sub(RECENT)..known).collect();
    if known > 0 {
        for i in 0..SPREAD {
            out.insert(i * (known - 1) / (SPREAD - 1));
        }
    }
    out
}

fn probes(table: &Epochs, args: &CheckArgs) -> Result<Vec<Probe>, Failure> {
    let probe = |height: u64| -> Option<Probe> {
        Some(Probe {
            height,
            bits: table.bits_at(height)?,
            hash: table.known_hash(height),
        })
    };
    if !args.heights.is_empty() {
        let heights: BTreeSet<u64> = args.heights.iter().copied().collect();
        return heights
            .into_iter()
            .map(|h| {
                probe(h).ok_or_else(|| {
                    Failure::Input(anyhow!(
                        "--height {h}: past the {} table, which ends at block {}",
                        table.name(),
                        table.last_height()
                    ))
                })
            })
            .collect();
    }
    let known = table.known_epochs();
    let epochs: BTreeSet<u64> = if args.all {
        (0..known).collect()
    } else {
        sample(known)
    };
    let mut out: Vec<Probe> = epochs
        .into_iter()
        .filter_map(|e| probe(e * EPOCH_BLOCKS + EPOCH_BLOCKS - 1))
        .collect();
    if table.len() > known {
        // The last epoch, whose last block the table does not know: its first block's bits.
        out.extend(probe((table.len() - 1) * EPOCH_BLOCKS));
    }
    Ok(out)
}

fn display(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    merkle::hash::encode_hex(&h)
}

fn check(args: &CheckArgs) -> Outcome {
    let table: Arc<Epochs> = match &args.epochs {
        Some(path) => crate::ots::load_epochs(path)?,
        None => Epochs::mainnet().clone(),
    };
    let source = header_source(args)?;
    let probes = probes(&table, args)?;
    let timeout = Duration::from_secs(args.timeout);
    let client = stamp::calendar::http_client(timeout).map_err(anyhow::Error::new)?;
    let rt = crate::ots::runtime()?;
    let mut report = String::new();
    let mut mismatches = 0usize;
    for p in &probes {
        let epoch = p.height / EPOCH_BLOCKS;
        let fetched = rt.block_on(fetch_header_at(&client, &source, p.height, timeout));
        let header = match fetched {
            Ok(Some(h)) => h,
            Ok(None) => {
                mismatches += 1;
                let _ = writeln!(
                    report,
                    "✗ block {} (epoch {epoch}): {source} does not know this height",
                    p.height
                );
                continue;
            }
            Err(e) => {
                write_stdout(report.as_bytes())?;
                return Err(Failure::Check(anyhow::Error::new(e).context(format!(
                    "could not check block {} against {source}",
                    p.height
                ))));
            }
        };
        mismatches += compare(p, &header, &source, &mut report);
    }
    let scope = scope(&table, probes.len(), args);
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

/// Compares one fetched header with the table's probe, writing a line per difference;
/// returns how many there were.
fn compare(
    p: &Probe,
    header: &stamp::header::BlockHeader,
    source: &RemoteHeaders,
    report: &mut String,
) -> usize {
    let epoch = p.height / EPOCH_BLOCKS;
    let mut mismatches = 0;
    if let Some(want) = p.hash
        && header.hash() != want
    {
        mismatches += 1;
        let _ = writeln!(
            report,
            "✗ block {} (epoch {epoch}): {source} has {}, the table has {}",
            p.height,
            header.hash_display(),
            display(&want)
        );
    }
    if header.bits() != p.bits {
        mismatches += 1;
        let _ = writeln!(
            report,
            "✗ block {} (epoch {epoch}): {source} has bits 0x{:08x}, the table has 0x{:08x}",
            p.height,
            header.bits(),
            p.bits
        );
    }
    mismatches
}

/// What was checked, for the report's last line.
fn scope(table: &Epochs, probes: usize, args: &CheckArgs) -> String {
    format!(
        "{} block(s) of the {} table (bits to block {}, hashes to block {}{})",
        probes,
        table.name(),
        table.last_height(),
        table.last_known_height(),
        if args.all || !args.heights.is_empty() {
            ""
        } else {
            "; a sample, --all for every epoch"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_takes_the_last_epochs_and_a_spread_from_genesis() {
        let s = sample(473);
        assert_eq!(s.len(), 15);
        assert!(s.contains(&0) && s.contains(&472) && s.contains(&465));
        assert_eq!(sample(3), BTreeSet::from([0, 1, 2]));
        assert!(sample(0).is_empty());
    }
}
