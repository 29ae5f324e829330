//! `anchor reserves liabilities`: the Merkle-sum tree of customers' balances
//! (`domain::reserve::liabilities`): its root and total, one customer's proof, and the
//! customer's check of that proof. The secret (`--secret-file`, the operator's, one per
//! attestation) derives each account's salt; a proof carries its own account's salt only.
//!
//! Exit codes: 0 done (or the proof verifies); 1 the proof does not verify; 2 bad input (a
//! balances line, an account not in the tree, a malformed proof).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Subcommand;
use ledger::reserve::liabilities::{SumProof, SumTree, parse_balances};

use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum LiabilitiesCmd {
    /// Print `{format, root, total, tree_size}` of a balances file (`account,balance` lines,
    /// micro-units).
    Root {
        #[arg(long, value_name = "FILE")]
        balances: PathBuf,
        /// The attestation's secret (any bytes; 32 random ones recommended).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
    },
    /// Print one customer's `c2c.liability-proof.v1` (for that customer only: it holds their
    /// salt).
    Prove {
        #[arg(long, value_name = "FILE")]
        balances: PathBuf,
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        #[arg(long)]
        account: String,
    },
    /// Check a proof for `--account` against the published root and total: exit 0 and the
    /// balance counted, or 1.
    Verify {
        proof: PathBuf,
        #[arg(long)]
        account: String,
        /// The published root hash (64 hex).
        #[arg(long)]
        root: String,
        /// The published total, micro-units.
        #[arg(long)]
        total: u64,
    },
}

fn tree(balances: &PathBuf, secret_file: &PathBuf) -> Result<(SumTree, Vec<u8>), Failure> {
    let text = String::from_utf8(read_input(balances)?)
        .map_err(|_| anyhow!("{} is not UTF-8 text", balances.display()))?;
    let list = parse_balances(&text).map_err(|e| anyhow!("{}: {e}", balances.display()))?;
    let secret = read_input(secret_file)?;
    let tree = SumTree::build(&secret, &list).map_err(|e| anyhow!("{e}"))?;
    Ok((tree, secret))
}

pub fn run(cmd: LiabilitiesCmd) -> Outcome {
    match cmd {
        LiabilitiesCmd::Root {
            balances,
            secret_file,
        } => {
            let (tree, _) = tree(&balances, &secret_file)?;
            let root = tree.root();
            let v = serde_json::json!({
                "format": "c2c.liabilities-root.v1",
                "root": root.hash.to_hex(),
                "total": root.sum,
                "tree_size": tree.size(),
            });
            Ok(write_stdout(format!("{v:#}\n").as_bytes())?)
        }
        LiabilitiesCmd::Prove {
            balances,
            secret_file,
            account,
        } => {
            let (tree, secret) = tree(&balances, &secret_file)?;
            let proof = tree
                .proof(&secret, &account)
                .map_err(|e| anyhow!("{e}"))?
                .ok_or_else(|| Failure::Input(anyhow!("{account:?} is not in the liabilities")))?;
            let json = serde_json::to_string_pretty(&proof).map_err(|e| anyhow!("{e}"))?;
            Ok(write_stdout(format!("{json}\n").as_bytes())?)
        }
        LiabilitiesCmd::Verify {
            proof,
            account,
            root,
            total,
        } => {
            let p: SumProof = serde_json::from_slice(&read_input(&proof)?)
                .map_err(|e| anyhow!("{}: not a liability proof: {e}", proof.display()))?;
            let root = merkle::Hash::from_hex("--root", &root).map_err(|e| anyhow!("{e}"))?;
            let balance = p
                .verify(&account, &root, total)
                .map_err(|e| Failure::Check(anyhow!("{e}")))?;
            Ok(write_stdout(
                format!("counted: {account:?} with {balance} micro-units in a total of {total}\n")
                    .as_bytes(),
            )?)
        }
    }
}
