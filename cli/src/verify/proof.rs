//! `anchor verify proof`: a `c2c.proof.v1`, alone or bound to a receipt (the checks and the
//! lines they print are `verifier::proof`'s).

use std::path::Path;

use anyhow::{Context, anyhow};
use merkle::{ProofV1, Root};
use verifier::report::Status;

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
    let report = verifier::proof::check(&proof, expected.as_ref(), receipt.as_ref(), jwks.as_ref());
    if let Some(failed) = report.0.iter().find(|c| c.status == Status::Failed) {
        return Err(Failure::Check(anyhow!("{}", failed.detail)));
    }
    Ok(write_stdout(verifier::proof::stdout(&report).as_bytes())?)
}
