//! The `c2c.proof.v1` document (DESIGN.md "Formats"):
//! `{format, tenant, period, digest, leaf_index, tree_size, root, audit_path:[hex], parameters}`.

use serde::{Deserialize, Serialize};

use crate::error::{MerkleError, Result};
use crate::leaf::{HexHash, ManifestDigest, Parameters, Root};
use crate::proof::verify_inclusion;
use crate::tree::{LeafIndex, TreeSize};

/// An RFC 9162 inclusion proof of one manifest digest, as tenants download it. `tenant` and
/// `period` are `null` when the proof was made outside a run (`anchor tree proof`).
///
/// Decoding is strict: unknown members, a different `format`, upper-case hex or other
/// `parameters` are errors, because a verifier that skipped what it did not understand would
/// be checking a claim nobody made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofV1 {
    pub format: String,
    pub tenant: Option<String>,
    pub period: Option<String>,
    pub digest: ManifestDigest,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub root: Root,
    pub audit_path: Vec<HexHash>,
    pub parameters: Parameters,
}

impl ProofV1 {
    pub const FORMAT: &'static str = "c2c.proof.v1";

    /// Decodes and checks the document's shape (not yet the proof itself).
    pub fn from_json(bytes: &[u8]) -> Result<ProofV1> {
        let proof: ProofV1 =
            serde_json::from_slice(bytes).map_err(|e| MerkleError::ProofFormat(e.to_string()))?;
        if proof.format != Self::FORMAT {
            return Err(MerkleError::ProofFormat(format!(
                "format is {:?}, expected {:?}",
                proof.format,
                Self::FORMAT
            )));
        }
        proof.parameters.check()?;
        if proof.leaf_index >= proof.tree_size {
            return Err(MerkleError::IndexOutOfRange {
                index: proof.leaf_index,
                size: proof.tree_size,
            });
        }
        Ok(proof)
    }

    /// Serialises with two-space indentation and a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a proof always serialises");
        s.push('\n');
        s
    }

    /// Checks that the audit path leads from the digest's leaf to `root`, or to `expected`
    /// when given (a root the verifier obtained elsewhere, e.g. from a receipt).
    pub fn verify(&self, expected: Option<&Root>) -> Result<()> {
        self.parameters.check()?;
        let path: Vec<_> = self.audit_path.iter().map(|h| h.0).collect();
        let root = expected.unwrap_or(&self.root);
        verify_inclusion(
            &self.digest.leaf_hash(),
            LeafIndex(self.leaf_index),
            TreeSize(self.tree_size),
            &path,
            &root.0,
        )?;
        if root != &self.root {
            return Err(MerkleError::RootMismatch {
                computed: self.root.to_string(),
                expected: root.to_string(),
            });
        }
        Ok(())
    }
}
