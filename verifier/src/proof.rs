//! A `c2c.proof.v1` against a receipt. The audit path proves only that the digest is a leaf of
//! a tree of that size with that root; the tenant and period a proof file names are its own
//! say-so until they are bound to a receipt of the same tree.

use domain::formats::Receipt;
use merkle::ProofV1;

/// What in `proof` is not the receipt's: its tenant, its period and its tree size must be the
/// receipt's (the root is checked by the audit path against the receipt's root). Empty when
/// the proof belongs to the receipt.
pub fn mismatches(proof: &ProofV1, receipt: &Receipt) -> Vec<String> {
    let mut wrong = Vec::new();
    if proof.tenant.as_deref() != Some(receipt.tenant.as_str()) {
        wrong.push(format!(
            "tenant {:?} is not the receipt's {}",
            proof.tenant.as_deref().unwrap_or("(none)"),
            receipt.tenant
        ));
    }
    let period = receipt.period.to_string();
    if proof.period.as_deref() != Some(period.as_str()) {
        wrong.push(format!(
            "period {:?} is not the receipt's {period}",
            proof.period.as_deref().unwrap_or("(none)")
        ));
    }
    if proof.tree_size != receipt.tree_size {
        wrong.push(format!(
            "tree size {} is not the receipt's {}",
            proof.tree_size, receipt.tree_size
        ));
    }
    wrong
}
