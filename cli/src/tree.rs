//! `anchor tree root` and `anchor tree proof`.

use std::fs::File;
use std::io::{self, Read};
use std::time::Instant;

use anyhow::{Context, anyhow};
use merkle::proof::{NodeCollector, plan_inclusion};
use merkle::proof_doc::ProofV1;
use merkle::stream::par_root_of_sorted_digests;
use merkle::{DigestTreeBuilder, LeafIndex, ManifestDigest, Parameters, Root, TreeRoot, TreeSize};

use crate::digests::{SortStats, SortedDigests};
use crate::{DigestInput, Failure, Outcome, write_stdout};

fn load(input: &DigestInput) -> anyhow::Result<(SortedDigests, SortStats)> {
    let tmp = input.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let reader: Box<dyn Read> = if input.digests.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            File::open(&input.digests)
                .with_context(|| format!("opening {}", input.digests.display()))?,
        )
    };
    let (sorted, stats) = SortedDigests::read(reader, input.sort_chunk, &tmp)
        .with_context(|| format!("{}", input.digests.display()))?;
    Ok((sorted, stats))
}

/// Peak resident set size of this process (Linux `VmHWM`), for `--stats`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(input: &DigestInput, started: Instant, stats: SortStats, size: u64) {
    if input.stats {
        eprintln!(
            "stats: lines={} distinct={} sort_runs={} elapsed_ms={} peak_rss_kib={}",
            stats.lines,
            size,
            stats.runs,
            started.elapsed().as_millis(),
            peak_rss_kib().map_or_else(|| "unknown".into(), |k| k.to_string())
        );
    }
}

pub fn root(input: &DigestInput) -> Outcome {
    let started = Instant::now();
    let (mut sorted, stats) = load(input)?;
    let (root, size) = if let Some(all) = sorted.as_slice() {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        (
            par_root_of_sorted_digests(all, threads).map_err(anyhow::Error::new)?,
            all.len() as u64,
        )
    } else {
        let mut b = DigestTreeBuilder::new();
        sorted.for_each(|d| b.push(d).map(drop).map_err(anyhow::Error::new))?;
        (b.root(), b.size())
    };
    if size == 0 {
        return Err(Failure::Input(anyhow!(
            "{}: no digests",
            input.digests.display()
        )));
    }
    write_stdout(TreeRoot::c2c(root, size).to_line().as_bytes())?;
    report(input, started, stats, size);
    Ok(())
}

pub fn proof(input: &DigestInput, digest: &str) -> Outcome {
    let started = Instant::now();
    let target = ManifestDigest::from_hex(digest.trim()).context("--digest")?;
    let (mut sorted, stats) = load(input)?;
    // Pass 1: the target's index and the tree size.
    let (mut size, mut index) = (0u64, None);
    sorted.for_each(|d| {
        if *d == target.0 {
            index = Some(size);
        }
        size += 1;
        Ok(())
    })?;
    if size == 0 {
        return Err(Failure::Input(anyhow!(
            "{}: no digests",
            input.digests.display()
        )));
    }
    let index = index.ok_or_else(|| {
        anyhow!(
            "digest {target} is not in {} ({size} distinct digests)",
            input.digests.display()
        )
    })?;
    // Pass 2: stream the tree again, keeping only the nodes the proof needs.
    let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).map_err(anyhow::Error::new)?;
    let mut b = DigestTreeBuilder::with_sink(NodeCollector::for_plan(&plan));
    sorted.for_each(|d| b.push(d).map(drop).map_err(anyhow::Error::new))?;
    let root = b.root();
    let nodes = b.into_sink();
    let path = plan
        .assemble(|id| nodes.get(id))
        .map_err(anyhow::Error::new)?;
    let doc = ProofV1 {
        format: ProofV1::FORMAT.into(),
        tenant: None,
        period: None,
        digest: target,
        leaf_index: index,
        tree_size: size,
        root: Root(root),
        audit_path: path.into_iter().map(merkle::leaf::HexHash).collect(),
        parameters: Parameters::c2c(),
    };
    // Never print a proof that does not verify.
    doc.verify(None)
        .map_err(|e| Failure::Check(anyhow::Error::new(e).context("internal")))?;
    write_stdout(doc.to_json_pretty().as_bytes())?;
    report(input, started, stats, size);
    Ok(())
}
