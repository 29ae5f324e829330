//! `cargo bench -p domain --bench liabilities`: the Merkle-sum tree of customers' balances
//! (issue 23) over `BENCH_ACCOUNTS` (1,000,000) accounts: build (salts, leaves, every level)
//! and 1,000 customers' proofs, against a baseline in the same run — SHA-256 over the same
//! number of 80-byte leaf inputs and the plain RFC 9162 tree over as many digests
//! (`merkle::DigestTreeBuilder`), which a sum tree cannot beat (it hashes the salt, the account
//! and longer nodes). Peak RSS from `VmHWM`. Targets: build and proofs under 2 s, under 256 MiB.

use std::time::Instant;

use domain::reserve::liabilities::SumTree;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let n: usize = std::env::var("BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let balances: Vec<(String, u64)> = (0..n)
        .map(|i| {
            (
                format!("customer-{i}@example.com"),
                1_000 + (i as u64 % 97) * 1_013,
            )
        })
        .collect();
    let secret = b"bench secret";

    // Baseline: the plain RFC 9162 tree over n digests.
    let digests: Vec<[u8; 32]> = {
        let mut d: Vec<[u8; 32]> = (0..n as u64)
            .map(|i| merkle::Hash::sha256(&i.to_be_bytes()).0)
            .collect();
        d.sort_unstable();
        d
    };
    let t = Instant::now();
    let mut plain = merkle::DigestTreeBuilder::new();
    plain.push_slice(&digests).expect("sorted digests");
    let plain_root = plain.root();
    let baseline = t.elapsed();
    drop((plain, digests));

    let t = Instant::now();
    let tree = SumTree::build(secret, &balances).expect("the tree");
    let build = t.elapsed();
    let t = Instant::now();
    let mut proved = 0;
    for i in (0..n).step_by((n / 1000).max(1)) {
        let p = tree
            .proof(secret, &balances[i].0)
            .expect("a proof")
            .expect("in the tree");
        proved += p.path.len();
    }
    let proofs = t.elapsed();
    let rss = peak_rss_mib();
    let total = build + proofs;
    println!("### Liabilities Merkle-sum tree ({n} accounts)");
    println!();
    println!("| step | time | vs the plain RFC 9162 tree |");
    println!("|---|---:|---:|");
    println!(
        "| baseline: plain RFC 9162 root over {n} digests | {:.3} s | 1.00 |",
        baseline.as_secs_f64()
    );
    println!(
        "| sum tree build (salts, leaves, levels) | {:.3} s | {:.2} |",
        build.as_secs_f64(),
        build.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "| 1,000 proofs ({proved} path steps) | {:.3} s | — |",
        proofs.as_secs_f64()
    );
    println!();
    println!(
        "build + proofs {:.3} s (target < 2 s: {}), peak RSS {rss:.0} MiB (target < 256 MiB: {}); root {} total {}; plain root {}",
        total.as_secs_f64(),
        if total.as_secs_f64() < 2.0 {
            "met"
        } else {
            "NOT met"
        },
        if rss < 256.0 { "met" } else { "NOT met" },
        tree.root().hash.to_hex(),
        tree.root().sum,
        merkle::Hash(plain_root.0).to_hex()
    );
}
