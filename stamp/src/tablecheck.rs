//! Comparing a Bitcoin mainnet epoch table (shipped, or supplied at run time) with a node:
//! what `anchor headers check` does.
//!
//! For each epoch checked, the node's header at the epoch's last block (height `2016·e +
//! 2015`) must hash to the table's hash of that block and carry the table's `bits` for the
//! epoch; the table's last epoch, whose last hash it may not know, is checked by the `bits` of
//! its first block. By default a sample: the last [`RECENT`] epochs whose last hash the table
//! knows and [`SPREAD`] more spread evenly from epoch 0 ([`Selection::Sample`]). The choice of
//! blocks ([`probes`]), the comparison ([`compare`]) and the report's wording are pure; the
//! fetching ([`check_node`]) needs the `net` feature.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::epochs::{EPOCH_BLOCKS, Epochs};
use crate::error::{Result, StampError};
use crate::header::BlockHeader;

/// Most recent epochs (with a known last hash) in the default sample.
pub const RECENT: u64 = 8;
/// Epochs spread evenly from epoch 0 in the default sample.
pub const SPREAD: u64 = 8;

/// One block to compare: what the table says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub height: u64,
    /// The compact target of the block's epoch.
    pub bits: u32,
    /// The block's hash (internal byte order) when the table knows it.
    pub hash: Option<[u8; 32]>,
}

/// Which blocks of the table to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The default sample ([`sample`]) and the last epoch.
    Sample,
    /// Every epoch of the table (two requests each) and the last epoch.
    All,
    /// Just these heights: their epoch's bits, and the table's hash where it knows the block's.
    Heights(Vec<u64>),
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

/// The blocks `selection` checks in `table`, in height order. A height past the table is
/// [`StampError::PastTable`].
pub fn probes(table: &Epochs, selection: &Selection) -> Result<Vec<Probe>> {
    let probe = |height: u64| -> Option<Probe> {
        Some(Probe {
            height,
            bits: table.bits_at(height)?,
            hash: table.known_hash(height),
        })
    };
    let known = table.known_epochs();
    let epochs: BTreeSet<u64> = match selection {
        Selection::Heights(heights) => {
            let heights: BTreeSet<u64> = heights.iter().copied().collect();
            return heights
                .into_iter()
                .map(|h| {
                    probe(h).ok_or_else(|| StampError::PastTable {
                        height: h,
                        table: table.name().to_owned(),
                        last: table.last_height(),
                    })
                })
                .collect();
        }
        Selection::All => (0..known).collect(),
        Selection::Sample => sample(known),
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

/// A block hash in internal byte order as it is displayed (reversed hex).
pub fn display(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    merkle::hash::encode_hex(&h)
}

/// Compares `header`, fetched from `source` (named in the lines), with the table's probe,
/// writing a `✗` line per difference to `report`; returns how many there were.
pub fn compare(
    p: &Probe,
    header: &BlockHeader,
    source: &dyn std::fmt::Display,
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

/// What was checked, for the report's last line: how many blocks of which table, and
/// whether it was the sample.
pub fn scope(table: &Epochs, probes: usize, selection: &Selection) -> String {
    format!(
        "{} block(s) of the {} table (bits to block {}, hashes to block {}{})",
        probes,
        table.name(),
        table.last_height(),
        table.last_known_height(),
        if *selection == Selection::Sample {
            "; a sample, --all for every epoch"
        } else {
            ""
        }
    )
}

/// What [`check_node`] found.
#[cfg(feature = "net")]
#[derive(Debug)]
pub struct NodeCheck {
    /// A line per mismatch (or height the node does not know), in probe order.
    pub report: String,
    /// How many mismatches [`NodeCheck::report`] holds.
    pub mismatches: usize,
    /// The request that failed, if one did (the check stops there): its height and why.
    pub failed: Option<(u64, StampError)>,
}

/// Fetches the header of each probe from `source`, in order, and compares it with the table
/// ([`compare`]); a height the node does not know is a mismatch; the first request that fails
/// ends the check ([`NodeCheck::failed`]). The error is the HTTP client's, which could not be
/// built.
#[cfg(feature = "net")]
pub async fn check_node(
    source: &crate::headers::RemoteHeaders,
    probes: &[Probe],
    timeout: std::time::Duration,
) -> Result<NodeCheck> {
    let client = crate::calendar::http_client(timeout)?;
    let mut out = NodeCheck {
        report: String::new(),
        mismatches: 0,
        failed: None,
    };
    for p in probes {
        match crate::headers::fetch_header_at(&client, source, p.height, timeout).await {
            Ok(Some(header)) => out.mismatches += compare(p, &header, source, &mut out.report),
            Ok(None) => {
                out.mismatches += 1;
                let _ = writeln!(
                    out.report,
                    "✗ block {} (epoch {}): {source} does not know this height",
                    p.height,
                    p.height / EPOCH_BLOCKS
                );
            }
            Err(e) => {
                out.failed = Some((p.height, e));
                break;
            }
        }
    }
    Ok(out)
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

    #[test]
    fn a_height_past_the_table_is_refused_naming_the_table_and_its_last_block() {
        let table = Epochs::mainnet();
        let past = table.last_height() + 1;
        let e = probes(table, &Selection::Heights(vec![past])).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{past}: past the {} table, which ends at block {}",
                table.name(),
                table.last_height()
            )
        );
    }

    #[test]
    fn heights_are_probed_once_each_in_order_with_their_epoch_bits() {
        let table = Epochs::mainnet();
        let p = probes(table, &Selection::Heights(vec![4031, 0, 4031])).unwrap();
        assert_eq!(
            p.iter().map(|p| p.height).collect::<Vec<_>>(),
            vec![0, 4031]
        );
        assert_eq!(p[0].bits, 0x1d00_ffff);
        assert_eq!(p[1].hash, table.known_hash(4031));
    }

    #[test]
    fn the_sample_probes_epoch_ends_and_all_probes_every_known_epoch() {
        let table = Epochs::mainnet();
        let known = table.known_epochs();
        let last_open = usize::from(table.len() > known);
        let sampled = probes(table, &Selection::Sample).unwrap();
        assert_eq!(sampled.len(), sample(known).len() + last_open);
        assert!(
            sampled[..sample(known).len()]
                .iter()
                .all(|p| p.height % EPOCH_BLOCKS == EPOCH_BLOCKS - 1 && p.hash.is_some())
        );
        let all = probes(table, &Selection::All).unwrap();
        assert_eq!(all.len() as u64, known + last_open as u64);
    }

    #[test]
    fn a_hash_is_displayed_reversed_and_the_scope_says_when_it_was_a_sample() {
        let mut h = [0u8; 32];
        h[0] = 0xab;
        assert!(display(&h).ends_with("ab") && display(&h).starts_with("00"));
        let table = Epochs::mainnet();
        assert!(
            scope(table, 3, &Selection::Sample).ends_with("; a sample, --all for every epoch)")
        );
        assert!(scope(table, 3, &Selection::All).starts_with("3 block(s) of the "));
        assert!(!scope(table, 3, &Selection::Heights(vec![1])).contains("sample"));
    }

    #[test]
    fn a_header_differing_in_hash_and_bits_is_two_mismatches() {
        let genesis = BlockHeader::from_hex(
            "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b\
             12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
        )
        .unwrap();
        let p = Probe {
            height: 0,
            bits: 0x1d00_fffe,
            hash: Some([7; 32]),
        };
        let mut report = String::new();
        assert_eq!(compare(&p, &genesis, &"node", &mut report), 2);
        assert_eq!(report.lines().count(), 2);
        assert!(report.contains("node has bits 0x1d00ffff, the table has 0x1d00fffe"));
        let ok = Probe {
            height: 0,
            bits: genesis.bits(),
            hash: Some(genesis.hash()),
        };
        assert_eq!(compare(&ok, &genesis, &"node", &mut String::new()), 0);
    }
}
