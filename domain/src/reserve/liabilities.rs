//! Liabilities every customer can check (issue 23): a Merkle-sum tree over the customers'
//! balances, whose root commits to the total (the attestation's liabilities), and an
//! inclusion proof per customer showing that their balance was counted.
//!
//! **Leaves.** Each customer is `(account, balance)`, balance in micro-units (`u64`, so never
//! negative). The account is hidden behind its own salt, derived from the operator's
//! per-attestation secret and given to that customer only, with their proof:
//!
//! ```text
//! salt         = HMAC-SHA256(secret, account id)
//! account_hash = SHA-256("c2c.liability.account.v1|" || salt || "|" || account id)
//! leaf.hash    = SHA-256(0x00 || "c2c.liability.v1|" || account_hash || u64be(balance))
//! leaf.sum     = balance
//! ```
//!
//! Leaves are ordered by `account_hash` (so the order reveals nothing of the input's), and one
//! account appears once.
//!
//! **Nodes** commit to each child's hash *and* each child's sum, not only to their total:
//!
//! ```text
//! node.hash = SHA-256(0x01 || left.hash || u64be(left.sum) || right.hash || u64be(right.sum))
//! node.sum  = left.sum + right.sum            (refused on overflow)
//! ```
//!
//! Why: in a tree whose nodes hash only the total (Maxwell's first proposal), an operator can
//! make a node's sum `max(left, right)` instead of `left + right` and still give every customer
//! a proof that passes (each customer sees only one side's sum at each level). Here the parent
//! hash fixes both children's sums, and the verifier recomputes the parent's sum as their
//! addition, so a proof passes only if the root's total counts the sibling sums as published
//! (the `max` attack test below). The shape is RFC 9162's (the left subtree holds the largest
//! power of two below the size), as for manifests.
//!
//! Decision: a salt per account rather than one per attestation. With one shared salt, every
//! customer holding it could test guesses of a neighbour's account id against the sibling leaf
//! in their own proof; with per-account salts only the operator can.
//!
//! **A proof reveals** the customer's own balance, the sums and hashes of the sibling subtrees
//! on its path (aggregates, never another customer's balance unless a sibling subtree holds one
//! customer: a path's last step's sibling is one leaf — its balance is revealed, its account is
//! not), the tree size and the total.

use merkle::Hash;
use merkle::hash::encode_hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::reserve::error::{ReserveError, Result};

/// Reads a balances file: one `account,balance` per line (balance in micro-units, a decimal
/// integer), blank lines and `#` comments allowed. A negative, fractional or malformed balance,
/// or an empty account, is refused naming its line; nothing is read past it.
pub fn parse_balances(text: &str) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| {
            ReserveError::invalid("liabilities line", format!("{}: {line}", n + 1), why)
        };
        let (account, balance) = line
            .rsplit_once(',')
            .ok_or_else(|| bad("expected account,balance"))?;
        let (account, balance) = (account.trim(), balance.trim());
        if account.is_empty() {
            return Err(bad("the account is empty"));
        }
        if balance.starts_with('-') {
            return Err(bad(
                "a balance is never negative: liabilities are what is owed",
            ));
        }
        let balance = balance
            .parse::<u64>()
            .map_err(|_| bad("the balance is not a whole number of micro-units"))?;
        out.push((account.to_owned(), balance));
    }
    Ok(out)
}

/// A subtree's hash and the sum of the balances under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SumNode {
    pub hash: Hash,
    pub sum: u64,
}

/// The salt of `account` under the attestation's `secret`.
pub fn account_salt(secret: &[u8], account: &str) -> [u8; 32] {
    crate::hmac::sha256(secret, account.as_bytes())
}

/// The account's salted hash.
pub fn account_hash(salt: &[u8], account: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(b"c2c.liability.account.v1|");
    h.update(salt);
    h.update(b"|");
    h.update(account.as_bytes());
    Hash(h.finalize().into())
}

/// The leaf of an account (by its salted hash) holding `balance`.
pub fn leaf(account: &Hash, balance: u64) -> SumNode {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(b"c2c.liability.v1|");
    h.update(account.0);
    h.update(balance.to_be_bytes());
    SumNode {
        hash: Hash(h.finalize().into()),
        sum: balance,
    }
}

/// The parent of two subtrees; `Overflow` when their sums do not fit.
pub fn parent(left: &SumNode, right: &SumNode) -> Result<SumNode> {
    let sum = left.sum.checked_add(right.sum).ok_or_else(|| {
        ReserveError::Overflow(format!(
            "liabilities: {} + {} micro-units overflow",
            left.sum, right.sum
        ))
    })?;
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.hash.0);
    h.update(left.sum.to_be_bytes());
    h.update(right.hash.0);
    h.update(right.sum.to_be_bytes());
    Ok(SumNode {
        hash: Hash(h.finalize().into()),
        sum,
    })
}

/// The largest power of two strictly below `n` (n ≥ 2): RFC 9162's split.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// A whole Merkle-sum tree over sorted, distinct accounts.
#[derive(Debug)]
pub struct SumTree {
    accounts: Vec<Hash>,
    /// `levels[0]` the leaves; `levels[l][i]` the perfect subtree of 2^l leaves from i·2^l.
    levels: Vec<Vec<SumNode>>,
    root: SumNode,
}

impl SumTree {
    /// Builds the tree over `(account id, balance)` pairs, each hidden with its salt under
    /// `secret`; a repeated account or a total that overflows is refused, naming it.
    pub fn build(secret: &[u8], balances: &[(String, u64)]) -> Result<SumTree> {
        if balances.is_empty() {
            return Err(ReserveError::Request(
                "liabilities: a tree needs at least one account".into(),
            ));
        }
        // (account hash, balance) only: 40 bytes a customer while sorting, at 1M accounts.
        let mut leaves: Vec<(Hash, u64)> = balances
            .iter()
            .map(|(a, b)| (account_hash(&account_salt(secret, a), a), *b))
            .collect();
        leaves.sort_unstable_by_key(|(h, _)| h.0);
        if let Some(w) = leaves.windows(2).find(|w| w[0].0 == w[1].0) {
            let twice = balances
                .iter()
                .find(|(a, _)| account_hash(&account_salt(secret, a), a) == w[0].0)
                .map_or("?", |(a, _)| a.as_str());
            return Err(ReserveError::invalid(
                "liabilities account",
                twice,
                "appears more than once",
            ));
        }
        let accounts: Vec<Hash> = leaves.iter().map(|(h, _)| *h).collect();
        let mut levels = vec![leaves.iter().map(|(h, b)| leaf(h, *b)).collect::<Vec<_>>()];
        drop(leaves);
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("a level");
            let up = below
                .chunks_exact(2)
                .map(|p| parent(&p[0], &p[1]))
                .collect::<Result<Vec<_>>>()?;
            levels.push(up);
        }
        let root = Self::subtree(&levels, 0, accounts.len())?;
        Ok(SumTree {
            accounts,
            levels,
            root,
        })
    }

    /// The node over leaves `[start, start + n)`, from the stored perfect subtrees.
    fn subtree(levels: &[Vec<SumNode>], start: usize, n: usize) -> Result<SumNode> {
        if n.is_power_of_two() {
            let l = n.trailing_zeros() as usize;
            return Ok(levels[l][start >> l]);
        }
        let k = split(n);
        parent(
            &Self::subtree(levels, start, k)?,
            &Self::subtree(levels, start + k, n - k)?,
        )
    }

    pub fn size(&self) -> u64 {
        self.accounts.len() as u64
    }

    /// The root: its hash and the total of every balance (the liabilities).
    pub fn root(&self) -> SumNode {
        self.root
    }

    /// The inclusion proof of `account` (its salt under `secret` included: the proof is for
    /// that customer only), or `None` when the account is not in the tree.
    pub fn proof(&self, secret: &[u8], account: &str) -> Result<Option<SumProof>> {
        let salt = account_salt(secret, account);
        let hidden = account_hash(&salt, account);
        let Ok(index) = self.accounts.binary_search_by_key(&hidden.0, |h| h.0) else {
            return Ok(None);
        };
        // RFC 9162 §2.1.3.1's PATH(m, D[n]), siblings collected from the top, then reversed.
        let (mut start, mut n, mut m) = (0usize, self.accounts.len(), index);
        let mut path = Vec::new();
        while n > 1 {
            let k = split(n);
            if m < k {
                path.push(Self::subtree(&self.levels, start + k, n - k)?);
                n = k;
            } else {
                path.push(Self::subtree(&self.levels, start, k)?);
                start += k;
                m -= k;
                n -= k;
            }
        }
        path.reverse();
        Ok(Some(SumProof {
            format: SumProof::FORMAT.to_owned(),
            salt: encode_hex(&salt),
            balance: self.levels[0][index].sum,
            leaf_index: index as u64,
            tree_size: self.size(),
            root: self.root.hash.to_hex(),
            total: self.root.sum,
            path: path
                .iter()
                .map(|s| PathStep {
                    hash: encode_hex(&s.hash.0),
                    sum: s.sum,
                })
                .collect(),
        }))
    }
}

/// One sibling on a proof's path: a subtree's hash and sum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathStep {
    pub hash: String,
    pub sum: u64,
}

/// `c2c.liability-proof.v1`: one customer's balance is counted in the liabilities total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumProof {
    pub format: String,
    /// This account's salt, hex: given to its customer only.
    pub salt: String,
    pub balance: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The root hash, hex, and the total it commits to (the attestation's liabilities).
    pub root: String,
    pub total: u64,
    /// Siblings from the leaf up.
    pub path: Vec<PathStep>,
}

impl SumProof {
    pub const FORMAT: &'static str = "c2c.liability-proof.v1";

    /// Checks the proof for `account` against the published root hash and total: the leaf is
    /// this account (with the proof's salt) with this balance, and the path rebuilds the root's
    /// hash and total exactly. Returns the balance counted.
    pub fn verify(&self, account: &str, root: &Hash, total: u64) -> Result<u64> {
        let bad = |why: String| ReserveError::Binding(format!("liability proof: {why}"));
        if self.format != Self::FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {}",
                self.format,
                Self::FORMAT
            )));
        }
        let salt = merkle::hash::decode_hex("liability proof salt", &self.salt)?;
        let mine = account_hash(&salt, account);
        let sides = merkle::proof::inclusion_sides(
            merkle::LeafIndex(self.leaf_index),
            merkle::TreeSize(self.tree_size),
        )
        .map_err(|e| bad(e.to_string()))?;
        if sides.len() != self.path.len() {
            return Err(bad(format!(
                "{} steps for leaf {} of {}, expected {}",
                self.path.len(),
                self.leaf_index,
                self.tree_size,
                sides.len()
            )));
        }
        let mut node = leaf(&mine, self.balance);
        for (step, sibling_left) in self.path.iter().zip(sides) {
            let sibling = SumNode {
                hash: Hash::from_hex("liability proof hash", &step.hash)?,
                sum: step.sum,
            };
            node = if sibling_left {
                parent(&sibling, &node)?
            } else {
                parent(&node, &sibling)?
            };
        }
        if node.hash != *root || node.sum != total {
            return Err(bad(format!(
                "the path leads to {} with total {}, not to the published {} with total {total}",
                node.hash.to_hex(),
                node.sum,
                root.to_hex()
            )));
        }
        Ok(self.balance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balances(n: u64) -> Vec<(String, u64)> {
        (0..n)
            .map(|i| (format!("acct-{i}"), 1_000 + i * 7))
            .collect()
    }

    #[test]
    fn every_customers_proof_verifies_and_the_root_total_is_the_sum() {
        for n in [1u64, 2, 3, 5, 8, 13, 64, 100] {
            let b = balances(n);
            let tree = SumTree::build(b"salt", &b).unwrap();
            let root = tree.root();
            assert_eq!(root.sum, b.iter().map(|(_, v)| v).sum::<u64>());
            for (a, v) in &b {
                let p = tree.proof(b"salt", a).unwrap().unwrap();
                assert_eq!(p.verify(a, &root.hash, root.sum).unwrap(), *v);
            }
        }
    }

    #[test]
    fn a_tampered_sum_balance_or_total_fails() {
        let b = balances(9);
        let tree = SumTree::build(b"s", &b).unwrap();
        let root = tree.root();
        let good = tree.proof(b"s", "acct-4").unwrap().unwrap();
        let mut lower_sibling = good.clone();
        lower_sibling.path[1].sum -= 1;
        let mut lower_balance = good.clone();
        lower_balance.balance -= 1;
        for p in [lower_sibling, lower_balance] {
            assert!(p.verify("acct-4", &root.hash, root.sum).is_err());
        }
        assert!(good.verify("acct-4", &root.hash, root.sum - 1).is_err());
        assert!(good.verify("acct-5", &root.hash, root.sum).is_err());
        let mut other_salt = good.clone();
        other_salt.salt = "00".repeat(32);
        assert!(other_salt.verify("acct-4", &root.hash, root.sum).is_err());
    }

    /// Maxwell's flaw: nodes that hash only their total let an operator publish
    /// `max(left, right)` as a node's sum. Here a root built that way (understating the
    /// liabilities) leaves a customer on one side with no proof that passes.
    #[test]
    fn the_max_attack_is_caught_by_a_customers_proof() {
        let b = vec![("alice".to_owned(), 500), ("bob".to_owned(), 300)];
        let tree = SumTree::build(b"s", &b).unwrap();
        let leaves: Vec<SumNode> = tree.levels[0].clone();
        // The cheat: the parent's hash over both children, its sum only the larger one.
        let honest = parent(&leaves[0], &leaves[1]).unwrap();
        let cheat_total = leaves[0].sum.max(leaves[1].sum);
        for (a, _) in &b {
            let p = tree.proof(b"s", a).unwrap().unwrap();
            let e = p.verify(a, &honest.hash, cheat_total).unwrap_err();
            assert!(e.to_string().contains("total"), "{e}");
            // Lowering the sibling's sum in the proof to match changes the hash instead.
            let mut forged = p.clone();
            forged.path[0].sum = cheat_total - p.balance.min(cheat_total);
            assert!(forged.verify(a, &honest.hash, cheat_total).is_err());
        }
    }

    #[test]
    fn a_missing_customer_has_no_proof_and_bad_inputs_are_refused() {
        let tree = SumTree::build(b"s", &balances(5)).unwrap();
        assert!(tree.proof(b"s", "nobody").unwrap().is_none());
        let twice = vec![("a".to_owned(), 1), ("a".to_owned(), 2)];
        let e = SumTree::build(b"s", &twice).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        let huge = vec![("a".to_owned(), u64::MAX), ("b".to_owned(), 1)];
        let e = SumTree::build(b"s", &huge).unwrap_err();
        assert!(e.to_string().contains("overflow"), "{e}");
        assert!(SumTree::build(b"s", &[]).is_err());
    }

    #[test]
    fn a_balances_file_refuses_negative_fractional_and_malformed_lines_naming_them() {
        let ok = parse_balances("# accounts\nalice,500\n\nbob@example.com, 300\n").unwrap();
        assert_eq!(
            ok,
            [
                ("alice".to_owned(), 500),
                ("bob@example.com".to_owned(), 300)
            ]
        );
        for (text, want) in [
            ("a,1\nb,-5", "2: b,-5"),
            ("a,1.5", "whole number"),
            ("a", "account,balance"),
            (",5", "empty"),
            ("a,99999999999999999999", "whole number"),
        ] {
            let e = parse_balances(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_proof_names_only_its_own_account_and_balance() {
        let b = balances(16);
        let tree = SumTree::build(b"s", &b).unwrap();
        let p = tree.proof(b"s", "acct-3").unwrap().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        for (a, _) in b.iter().filter(|(a, _)| a != "acct-3") {
            let salt = account_salt(b"s", a);
            assert!(!json.contains(a.as_str()));
            assert!(!json.contains(&encode_hex(&salt)), "another account's salt");
            assert!(!json.contains(&account_hash(&salt, a).to_hex()));
        }
        assert!(
            !json.contains("acct-3"),
            "not even its own id: the hash stands for it"
        );
        assert_eq!(p.path.len(), 4);
    }
}
