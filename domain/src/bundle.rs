//! The per-manifest verification bundle, `c2c.bundle.v1`: one file with everything needed to
//! verify one manifest's anchoring offline (`anchor verify bundle`). This module reads and
//! writes the format; `proofs::bundle` assembles one from the stores; `verifier::bundle`
//! checks one. The format is normative in `proofs/src/bundle.rs` and `docs/bundle.md`.

use base64ct::{Base64, Encoding as _};
use merkle::ManifestDigest;
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Result};
use crate::ids::{Period, TenantId};

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

fn bad(detail: impl std::fmt::Display) -> DomainError {
    DomainError::Format(format!("{FORMAT}: {detail}"))
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
