//! The per-manifest verification bundle, `c2c.bundle.v1`: one file with everything needed to
//! verify one manifest's anchoring offline (`anchor verify bundle`), assembled from the blob
//! store and the SQL store for `anchor bundle` and `GET /anchor/bundle/{tenant}/{period}/{digest}`.
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

use base64ct::{Base64, Encoding as _};
use ledger::blob::{BlobKey, BlobStore, ReceiptFormat, RootArtifact};
use ledger::formats::Receipt;
use ledger::sql::Store;
use ledger::{AnchorKind, Period, TenantId};
use merkle::ManifestDigest;
use serde::{Deserialize, Serialize};
use stamp::DetachedTimestamp;

use crate::error::{ProofsError, Result};
use crate::period::{PeriodProofs, named_root_ots};

/// The `format` member.
pub const FORMAT: &str = "c2c.bundle.v1";

/// A decoded bundle: the exact bytes of each member (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub tenant: TenantId,
    pub period: Period,
    pub digest: ManifestDigest,
    pub proof: Vec<u8>,
    pub manifest_ots: Option<Vec<u8>>,
    pub root_bin: Vec<u8>,
    pub root_ots: Option<Vec<u8>>,
    pub root_tsr: Option<Vec<u8>>,
    pub receipt: Vec<u8>,
    pub summary: Vec<u8>,
    pub jwks: Vec<u8>,
}

/// The written form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    tenant: String,
    period: String,
    digest: String,
    proof: String,
    manifest_ots: Option<String>,
    root_bin: String,
    root_ots: Option<String>,
    root_tsr: Option<String>,
    receipt: String,
    summary: String,
    jwks: String,
}

fn bad(detail: impl std::fmt::Display) -> ProofsError {
    ProofsError::Invalid(format!("{FORMAT}: {detail}"))
}

fn b64(member: &str, s: &str) -> Result<Vec<u8>> {
    Base64::decode_vec(s).map_err(|e| bad(format!("{member} is not padded standard base64: {e}")))
}

impl Bundle {
    /// The written form: two-space indented JSON with a trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        let enc = |b: &[u8]| Base64::encode_string(b);
        let wire = Wire {
            format: FORMAT.to_owned(),
            tenant: self.tenant.to_string(),
            period: self.period.to_string(),
            digest: self.digest.to_hex(),
            proof: enc(&self.proof),
            manifest_ots: self.manifest_ots.as_deref().map(enc),
            root_bin: enc(&self.root_bin),
            root_ots: self.root_ots.as_deref().map(enc),
            root_tsr: self.root_tsr.as_deref().map(enc),
            receipt: enc(&self.receipt),
            summary: enc(&self.summary),
            jwks: enc(&self.jwks),
        };
        let mut out = serde_json::to_vec_pretty(&wire).expect("strings serialise");
        out.push(b'\n');
        out
    }

    /// Reads a bundle: I-JSON, every member present and of its type, no unknown member,
    /// `format` `c2c.bundle.v1`, valid ids and base64. What the members hold is checked by
    /// the verifier, not here.
    pub fn from_json(bytes: &[u8]) -> Result<Bundle> {
        let value =
            merkle::canon::parse_strict(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let wire = Wire::deserialize(&value).map_err(bad)?;
        if wire.format != FORMAT {
            return Err(bad(format!("format is {:?}", wire.format)));
        }
        let opt = |member: &str, s: Option<&String>| s.map(|s| b64(member, s)).transpose();
        Ok(Bundle {
            tenant: TenantId::new(&wire.tenant).map_err(|e| bad(format!("tenant: {e}")))?,
            period: wire
                .period
                .parse()
                .map_err(|e| bad(format!("period: {e}")))?,
            digest: ManifestDigest::from_hex(&wire.digest)
                .map_err(|e| bad(format!("digest: {e}")))?,
            proof: b64("proof", &wire.proof)?,
            manifest_ots: opt("manifest_ots", wire.manifest_ots.as_ref())?,
            root_bin: b64("root_bin", &wire.root_bin)?,
            root_ots: opt("root_ots", wire.root_ots.as_ref())?,
            root_tsr: opt("root_tsr", wire.root_tsr.as_ref())?,
            receipt: b64("receipt", &wire.receipt)?,
            summary: b64("summary", &wire.summary)?,
            jwks: b64("jwks", &wire.jwks)?,
        })
    }
}

async fn must_get(blobs: &BlobStore, key: &BlobKey) -> Result<Vec<u8>> {
    blobs
        .get(key)
        .await?
        .ok_or_else(|| ProofsError::Invalid(format!("{key} is missing from the blob store")))
}

/// Assembles the bundle of `digest` in `tenant`'s `period` from the latest receipt, the
/// period's stored tree (`proofs`, loaded by the caller so the API can reuse its cache), the
/// root artifacts the receipt names, the run summary it names and the store's JWKS.
///
/// Errors: `NotFound` when the period has no receipt or the digest is not in its tree;
/// `Permanent` when a stored artifact the receipt names is missing or contradicts it.
pub async fn assemble(
    blobs: &BlobStore,
    store: &Store,
    proofs: &PeriodProofs,
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
    let proof = proofs.proof(digest)?;
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
    let summary = store
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
        .bytes;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        Bundle {
            tenant: TenantId::new("acme").unwrap(),
            period: "2026-W47".parse().unwrap(),
            digest: ManifestDigest([7; 32]),
            proof: b"{\"format\":\"c2c.proof.v1\"}\n".to_vec(),
            manifest_ots: None,
            root_bin: vec![1; 32],
            root_ots: Some(vec![0, 255, 3]),
            root_tsr: Some(vec![48, 3, 2, 1, 0]),
            receipt: b"{}\n".to_vec(),
            summary: b"{\"a\":1}".to_vec(),
            jwks: b"{\"keys\":[]}".to_vec(),
        }
    }

    #[test]
    fn a_bundle_round_trips_through_its_written_form_with_exact_bytes() {
        let b = sample();
        let json = b.to_json();
        assert!(json.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["manifest_ots"], serde_json::Value::Null);
        assert_eq!(v["root_ots"], "AP8D");
        assert_eq!(Bundle::from_json(&json).unwrap(), b);
    }

    #[test]
    fn unknown_members_another_format_and_bad_base64_are_refused_by_name() {
        let json = sample().to_json();
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let refused = |v: &serde_json::Value| {
            Bundle::from_json(&serde_json::to_vec(v).unwrap())
                .unwrap_err()
                .to_string()
        };
        let mut extra = v.clone();
        extra["note"] = "x".into();
        assert!(refused(&extra).contains("note"), "{}", refused(&extra));
        let mut other = v.clone();
        other["format"] = "c2c.bundle.v2".into();
        assert!(refused(&other).contains("c2c.bundle.v2"));
        v["root_bin"] = "AQ".into(); // unpadded
        assert!(refused(&v).contains("root_bin"), "{}", refused(&v));
        assert!(Bundle::from_json(b"{\"format\":").is_err());
    }
}
