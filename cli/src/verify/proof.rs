//! `anchor verify proof`: a `c2c.proof.v1`, alone or bound to a receipt (the binding rule is
//! `verifier::proof`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow};
use merkle::{ProofV1, Root};

use crate::{Failure, Outcome, read_input, write_stdout};

/// `anchor verify proof`. The audit path proves only that the digest is a leaf of a tree of
/// that size with that root; the tenant and period a proof file names are its own say-so.
/// With `--receipt` they are bound to the receipt (and, with `--jwks`, to the operator's
/// signature); without it the output says they were not checked.
pub fn verify_proof(
    file: &Path,
    root: Option<&str>,
    receipt: Option<&Path>,
    jwks: Option<&Path>,
) -> Outcome {
    let bytes = read_input(&file.to_path_buf())?;
    let proof = ProofV1::from_json(&bytes)
        .with_context(|| format!("{} is not a well-formed c2c.proof.v1", file.display()))?;
    let expected: Option<Root> = root
        .map(str::parse)
        .transpose()
        .context("--root is not a c2c root string")?;
    let receipt = receipt
        .map(|path| {
            ledger::formats::Receipt::from_json(&read_input(&path.to_path_buf())?)
                .with_context(|| format!("{} is not a well-formed c2c.receipt.v1", path.display()))
        })
        .transpose()?;
    let jwks = jwks
        .map(|path| {
            ledger::keys::Jwks::from_json(&read_input(&path.to_path_buf())?)
                .with_context(|| format!("{} is not a usable JWK Set", path.display()))
        })
        .transpose()?;
    proof
        .verify(expected.as_ref().or(receipt.as_ref().map(|r| &r.root)))
        .map_err(|e| Failure::Check(anyhow::Error::new(e).context("proof is NOT valid")))?;
    let mut out = format!(
        "valid: digest {} is leaf {} of {} under {}\n",
        proof.digest, proof.leaf_index, proof.tree_size, proof.root
    );
    let Some(receipt) = receipt else {
        out.push_str(
            "not checked: the tenant and period the file names (pass --receipt RECEIPT to bind \
             them to a receipt)\n",
        );
        return Ok(write_stdout(out.as_bytes())?);
    };
    let wrong = verifier::proof::mismatches(&proof, &receipt);
    if !wrong.is_empty() {
        return Err(Failure::Check(anyhow!(
            "proof does NOT belong to the receipt: {}",
            wrong.join("; ")
        )));
    }
    let _ = writeln!(
        out,
        "bound: tenant {}, period {}, tree size {} and root are those of receipt version {}",
        receipt.tenant, receipt.period, receipt.tree_size, receipt.version
    );
    match jwks {
        Some(jwks) => {
            receipt.verify_signature(&jwks).map_err(|e| {
                Failure::Check(
                    anyhow::Error::new(e).context("the receipt's signature is NOT valid"),
                )
            })?;
            let _ = writeln!(
                out,
                "signed: the receipt's signature verifies under key {}",
                receipt.kid
            );
        }
        None => out.push_str(
            "not checked: the receipt's signature (pass --jwks JWKS, or run anchor verify \
             receipt)\n",
        ),
    }
    Ok(write_stdout(out.as_bytes())?)
}
