//! Assembling the per-manifest verification bundle, `c2c.bundle.v1`, from the blob store and
//! the SQL store for `anchor bundle` and `GET /anchor/bundle/{tenant}/{period}/{digest}`. The
//! format itself (below, and its reading and writing) is `domain::bundle`, re-exported here.
//!
//! # Format (normative; `docs/bundle.md` says the same for tenants)
//!
//! A bundle is one UTF-8 JSON object (RFC 8259, I-JSON: no duplicate member names), written
//! with two-space indentation, members in the order below, and a trailing `\n`. Readers must
//! not depend on the layout. Every member is required; unknown members are an error.
//!
//! | member         | JSON type        | content |
//! |----------------|------------------|---------|
//! | `format`       | string           | `"c2c.bundle.v1"` |
//! | `tenant`       | string           | the tenant id (as in the receipt) |
//! | `period`       | string           | the period, `2026-11-22`, `2026-W47` or `2026-11` |
//! | `digest`       | string           | the manifest digest, 64 lowercase hex |
//! | `proof`        | base64           | the `c2c.proof.v1` inclusion proof of `digest` (JSON) |
//! | `manifest_ots` | base64 or `null` | the per-manifest `.ots` (DESIGN.md "Per-manifest .ots"); `null` exactly when the receipt has no stored OTS anchor |
//! | `root_bin`     | base64           | `root.bin`, the 32 raw root bytes |
//! | `root_ots`     | base64 or `null` | the root `.ots` the receipt's OTS anchor names (`root.ots`, or `root.v{n}.ots` after an upgrade); `null` exactly when the receipt has no stored OTS anchor |
//! | `root_tsr`     | base64 or `null` | `root.tsr`, the RFC 3161 `TimeStampResp` (DER); `null` exactly when the receipt has no stored TSA anchor |
//! | `receipt`      | base64           | the exact stored bytes of the latest `c2c.receipt.v1` |
//! | `summary`      | base64           | the exact bytes of the `c2c.run-summary.v1` whose SHA-256 is the receipt's `summary_hash` (one chain line, without its `\n`) |
//! | `jwks`         | base64           | the operator's public keys, a JWK Set (RFC 7517) holding every key, retired ones included |
//!
//! "base64" is the standard alphabet with `=` padding (RFC 4648 §4), no line breaks. Binary
//! and JSON members alike are base64 so that every signed or hashed document keeps its exact
//! bytes: a verifier hashes and checks those bytes, never a re-serialisation.
//!
//! `tenant`, `period` and `digest` only say what the bundle is about: a verifier checks them
//! against the receipt and the proof, and trusts nothing else in the bundle without checking.

use ledger::blob::{BlobKey, BlobStore, ReceiptFormat, RootArtifact};
use ledger::formats::Receipt;
use ledger::sql::Store;
use ledger::{AnchorKind, Period, TenantId};
use merkle::{ManifestDigest, ProofV1};
use stamp::DetachedTimestamp;

pub use domain::bundle::{Bundle, FORMAT};

use crate::error::{ProofsError, Result};
use crate::period::named_root_ots;
use crate::source::must_get;

/// Assembles the bundle of `digest` in `tenant`'s `period` from the latest receipt, the
/// manifest's proof (derived by the caller from the period's tiles or stored tree, so the API
/// can reuse its cache; it must be against the receipt's root), the
/// root artifacts the receipt names, the run summary it names and the store's JWKS.
///
/// Errors: `NotFound` when the period has no receipt or the digest is not in its tree;
/// `Permanent` when a stored artifact the receipt names is missing or contradicts it.
pub async fn assemble(
    blobs: &BlobStore,
    store: &Store,
    proof: ProofV1,
    tenant: &TenantId,
    period: Period,
    digest: &ManifestDigest,
) -> Result<Bundle> {
    let latest = BlobKey::receipt_latest(tenant, &period, ReceiptFormat::Json);
    let receipt_bytes = blobs
        .get(&latest)
        .await?
        .ok_or_else(|| ProofsError::NotFound(format!("{tenant} {period} is not anchored")))?;
    let receipt = Receipt::from_json(&receipt_bytes)?;
    if proof.digest != *digest {
        return Err(ProofsError::Invalid(format!(
            "the proof handed over is of {}, not {digest}",
            proof.digest
        )));
    }
    if proof.root != receipt.root {
        return Err(ProofsError::Invalid(format!(
            "the stored tree of {tenant} {period} has root {}, the receipt {}",
            proof.root, receipt.root
        )));
    }
    let root_bin = must_get(
        blobs,
        &BlobKey::root_artifact(tenant, &period, RootArtifact::Bin),
    )
    .await?;
    let (root_ots, manifest_ots) = match named_root_ots(&receipt)? {
        Some(key) => {
            let bytes = must_get(blobs, &key).await?;
            // Derived from exactly the root .ots in the bundle, so the two always agree.
            let manifest =
                stamp::manifest::per_manifest_ots(&proof, &DetachedTimestamp::from_bytes(&bytes)?)?
                    .to_bytes()?;
            (Some(bytes), Some(manifest))
        }
        None => (None, None),
    };
    let has_tsr = receipt
        .anchors
        .iter()
        .any(|a| a.kind == AnchorKind::Tsa && a.artifact.is_some());
    let root_tsr = if has_tsr {
        Some(
            must_get(
                blobs,
                &BlobKey::root_artifact(tenant, &period, RootArtifact::Tsr),
            )
            .await?,
        )
    } else {
        None
    };
    let summary = named_summary(store, &receipt).await?;
    let jwks = store.jwks(true).await?.to_json_pretty().into_bytes();
    Ok(Bundle {
        tenant: tenant.clone(),
        period,
        digest: *digest,
        proof: proof.to_json_pretty().into_bytes(),
        manifest_ots,
        root_bin,
        root_ots,
        root_tsr,
        receipt: receipt_bytes,
        summary,
        jwks,
    })
}

/// The exact bytes of the run summary `receipt` names, from its tenant's chain.
async fn named_summary(store: &Store, receipt: &Receipt) -> Result<Vec<u8>> {
    let (tenant, period) = (&receipt.tenant, receipt.period);
    Ok(store
        .run_summaries(tenant, &receipt.run_id)
        .await?
        .into_iter()
        .find(|row| merkle::Hash(row.hash).to_hex() == receipt.summary_hash)
        .ok_or_else(|| {
            ProofsError::Invalid(format!(
                "the run summary {} that the receipt of {tenant} {period} names is not in the \
                 tenant's chain",
                receipt.summary_hash
            ))
        })?
        .bytes)
}
