//! A `c2c.proof.v1` against a receipt. The audit path proves only that the digest is a leaf of
//! a tree of that size with that root; the tenant and period a proof file names are its own
//! say-so until they are bound to a receipt of the same tree.

use std::fmt::Write as _;

use domain::formats::Receipt;
use merkle::ProofV1;

use crate::report::{Check, Report, Status};

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

/// Every check of `anchor verify proof`, in its order, stopping at the first that fails:
///
/// | name        | what is checked |
/// |-------------|-----------------|
/// | `proof`     | the audit path leads to `root` (or the receipt's root, or the proof's own) |
/// | `receipt`   | the proof's tenant, period and tree size are the receipt's ([`mismatches`]); a note when no receipt was given |
/// | `signature` | the receipt's ES256 signature against `jwks`; a note when no JWKS was given |
///
/// A failed check's detail is the whole reason the CLI gives (`proof is NOT valid: …`).
pub fn check(
    proof: &ProofV1,
    root: Option<&merkle::Root>,
    receipt: Option<&Receipt>,
    jwks: Option<&domain::keys::Jwks>,
) -> Report {
    let mut report = Report::default();
    if let Err(e) = proof.verify(root.or(receipt.map(|r| &r.root))) {
        report.push(Check::failed("proof", format!("proof is NOT valid: {e}")));
        return report;
    }
    report.push(Check::ok(
        "proof",
        format!(
            "digest {} is leaf {} of {} under {}",
            proof.digest, proof.leaf_index, proof.tree_size, proof.root
        ),
    ));
    let Some(receipt) = receipt else {
        report.push(Check::note(
            "receipt",
            "the tenant and period the file names (pass --receipt RECEIPT to bind them to a \
             receipt)",
        ));
        return report;
    };
    let wrong = mismatches(proof, receipt);
    if !wrong.is_empty() {
        report.push(Check::failed(
            "receipt",
            format!("proof does NOT belong to the receipt: {}", wrong.join("; ")),
        ));
        return report;
    }
    report.push(Check::ok(
        "receipt",
        format!(
            "tenant {}, period {}, tree size {} and root are those of receipt version {}",
            receipt.tenant, receipt.period, receipt.tree_size, receipt.version
        ),
    ));
    report.push(match jwks {
        Some(jwks) => match receipt.verify_signature(jwks) {
            Ok(()) => Check::ok(
                "signature",
                format!("the receipt's signature verifies under key {}", receipt.kid),
            ),
            Err(e) => Check::failed(
                "signature",
                format!("the receipt's signature is NOT valid: {e}"),
            ),
        },
        None => Check::note(
            "signature",
            "the receipt's signature (pass --jwks JWKS, or run anchor verify receipt)",
        ),
    });
    report
}

/// What `anchor verify proof` prints on stdout for `report` ([`check`]'s): `valid: …`,
/// `bound: …`, `signed: …` for the checks that passed, `not checked: …` for the notes; nothing
/// when a check failed (the CLI then prints only the failed check's reason, on stderr).
pub fn stdout(report: &Report) -> String {
    if report
        .0
        .iter()
        .any(|c| c.status != Status::Verified && c.status != Status::Note)
    {
        return String::new();
    }
    report.0.iter().fold(String::new(), |mut out, c| {
        let prefix = match (c.status, c.name.as_str()) {
            (Status::Note, _) => "not checked",
            (_, "proof") => "valid",
            (_, "receipt") => "bound",
            _ => "signed",
        };
        let _ = writeln!(out, "{prefix}: {}", c.detail);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_prefixes_each_passed_check_and_note_and_is_empty_once_one_failed() {
        let mut r = Report(vec![
            Check::ok("proof", "digest d is leaf 0 of 1 under r"),
            Check::ok(
                "receipt",
                "tenant t, period p, tree size 1 and root are those of v1",
            ),
            Check::note("signature", "the receipt's signature (pass --jwks JWKS)"),
        ]);
        assert_eq!(
            stdout(&r),
            "valid: digest d is leaf 0 of 1 under r\nbound: tenant t, period p, tree size 1 and \
             root are those of v1\nnot checked: the receipt's signature (pass --jwks JWKS)\n"
        );
        r.0[2] = Check::ok("signature", "the receipt's signature verifies under key k");
        assert!(stdout(&r).ends_with("signed: the receipt's signature verifies under key k\n"));
        r.0[2] = Check::failed("signature", "the receipt's signature is NOT valid: x");
        assert_eq!(stdout(&r), "");
        assert_eq!(r.verdict().exit_code(), 1);
    }
}
