//! Per-manifest proofs, derived on request from the period's stored tree.
//!
//! Decision: the rollup stores the tree (`levels.bin`, every node of every level), never one
//! object per manifest. A `c2c.proof.v1` and a per-manifest `.ots` are pure functions of that
//! tree, the manifest's digest and the root's current `.ots`, so they are computed when asked
//! for (the API, `anchor proof`, bundles), the way Certificate Transparency logs serve
//! inclusion proofs from stored nodes. Why: a durable create-only object costs about 0.6 ms on
//! a local directory (`cargo bench -p ledger --bench blobs`) and one class-A operation on
//! S3/R2, so one object per manifest and per `.ots` version made a 1M-manifest rollup spend
//! more than 20 minutes and two million writes on files that the tree already implies, and
//! every upgrade wrote them all again. The `proofs/…` keys of the layout are kept for
//! operators who export proofs to a static bucket; the pipeline does not depend on them.

use ledger::blob::{BlobKey, BlobStore, ReceiptFormat, RootArtifact};
use ledger::formats::Receipt;
use ledger::{AnchorKind, Period, TenantId};
use merkle::{ManifestDigest, Parameters, ProofV1, Root};
use stamp::DetachedTimestamp;

use crate::error::{ProofsError, Result};
use crate::levels::Levels;
use crate::source::{ObjectSource, must_get};

/// The key of the root `.ots` an OTS artifact key names: `…/root.ots` is version 1,
/// `…/root.v{n}.ots` version n (written by catch-up and upgrade).
pub fn root_ots_key(tenant: &TenantId, period: Period, named: &str) -> Result<BlobKey> {
    if named.ends_with("/root.ots") {
        return Ok(BlobKey::root_artifact(tenant, &period, RootArtifact::Ots));
    }
    let n = named
        .rsplit_once("/root.v")
        .and_then(|(_, v)| v.strip_suffix(".ots"))
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| ProofsError::Invalid(format!("unexpected OTS key {named}")))?;
    Ok(BlobKey::root_ots_version(tenant, &period, n)?)
}

/// The key of the root `.ots` that `receipt` names (`root.v{n}.ots` after an upgrade), or
/// `None` when it has no stored OTS anchor.
pub fn named_root_ots(receipt: &Receipt) -> Result<Option<BlobKey>> {
    receipt
        .anchors
        .iter()
        .filter(|a| a.kind == AnchorKind::Ots)
        .find_map(|a| a.artifact.as_ref())
        .map(|artifact| root_ots_key(&receipt.tenant, receipt.period, &artifact.key))
        .transpose()
}

/// The latest receipt of a period.
pub async fn latest_receipt(
    blobs: &BlobStore,
    tenant: &TenantId,
    period: &Period,
) -> Result<Receipt> {
    let key = BlobKey::receipt_latest(tenant, period, ReceiptFormat::Json);
    Ok(Receipt::from_json(&must_get(blobs, &key).await?)?)
}

/// The root `.ots` the latest receipt names; before the first receipt (the rollup's own sample
/// verification) the one the rollup stored, if any. `None` when the period has no OTS anchor.
pub async fn current_root_ots<S: ObjectSource>(
    source: &S,
    tenant: &TenantId,
    period: Period,
) -> Result<Option<DetachedTimestamp>> {
    let latest = BlobKey::receipt_latest(tenant, &period, ReceiptFormat::Json);
    match source.get(&latest).await? {
        Some(bytes) => root_ots_named_by(source, &Receipt::from_json(&bytes)?).await,
        None => source
            .get(&BlobKey::root_artifact(tenant, &period, RootArtifact::Ots))
            .await?
            .map(|b| DetachedTimestamp::from_bytes(&b))
            .transpose()
            .map_err(Into::into),
    }
}

/// The root `.ots` `receipt` names (which must exist), or `None` when it has no OTS anchor.
pub async fn root_ots_named_by<S: ObjectSource>(
    source: &S,
    receipt: &Receipt,
) -> Result<Option<DetachedTimestamp>> {
    match named_root_ots(receipt)? {
        Some(key) => Ok(Some(DetachedTimestamp::from_bytes(
            &must_get(source, &key).await?,
        )?)),
        None => Ok(None),
    }
}

/// What one period's proofs are derived from, read once from the blob store.
#[derive(Debug)]
pub struct PeriodProofs {
    tenant: TenantId,
    period: Period,
    levels: Levels,
    json: ProofJson,
    /// The root `.ots` the latest receipt names, when the period has an OTS anchor.
    root_ots: Option<DetachedTimestamp>,
}

impl PeriodProofs {
    /// Reads `levels.bin` and `root.bin` (which must agree) and the root `.ots` that the
    /// latest receipt names, which must exist.
    pub async fn load(blobs: &BlobStore, tenant: &TenantId, period: Period) -> Result<Self> {
        let root_bin = must_get(
            blobs,
            &BlobKey::root_artifact(tenant, &period, RootArtifact::Bin),
        )
        .await?;
        let root = Root(merkle::Hash(root_bin.as_slice().try_into().map_err(
            |_| ProofsError::Invalid(format!("root.bin holds {} bytes, not 32", root_bin.len())),
        )?));
        let levels = Levels::from_bytes_off_thread(
            must_get(
                blobs,
                &BlobKey::root_artifact(tenant, &period, RootArtifact::Levels),
            )
            .await?,
        )
        .await?;
        if levels.root() != root {
            return Err(ProofsError::Invalid(format!(
                "levels.bin implies root {} but root.bin holds {root}",
                levels.root()
            )));
        }
        let root_ots = current_root_ots(blobs, tenant, period).await?;
        let json = ProofJson::new(tenant, period, &levels);
        Ok(PeriodProofs {
            tenant: tenant.clone(),
            period,
            levels,
            json,
            root_ots,
        })
    }

    /// The stored tree.
    pub fn levels(&self) -> &Levels {
        &self.levels
    }

    /// The `c2c.proof.v1` of leaf `index`.
    pub fn proof_at(&self, index: u64) -> Result<ProofV1> {
        self.levels
            .proof(self.tenant.as_str(), &self.period.to_string(), index)
    }

    /// The `c2c.proof.v1` of a manifest, or a `NotFound` naming it.
    pub fn proof(&self, digest: &ManifestDigest) -> Result<ProofV1> {
        let index = self.index_of(digest)?;
        self.proof_at(index)
    }

    /// The `c2c.proof.v1` of a manifest as JSON: exactly the bytes `serde_json::to_vec` gives
    /// for [`PeriodProofs::proof`], written from a per-period template without building the
    /// document (the API's hot path), or a `NotFound` naming it.
    pub fn proof_json(&self, digest: &ManifestDigest) -> Result<Vec<u8>> {
        let index = self.index_of(digest)?;
        let path = self.levels.audit_path(index)?;
        Ok(self.json.write(digest, index, &path))
    }

    fn index_of(&self, digest: &ManifestDigest) -> Result<u64> {
        self.levels.index_of(digest).ok_or_else(|| {
            ProofsError::NotFound(format!(
                "{digest} is not in the tree of {} {}",
                self.tenant, self.period
            ))
        })
    }

    /// The per-manifest `.ots` of a manifest: its RFC 9162 path as OTS operations, then the
    /// root's current calendar (or Bitcoin) subtree. `None` when the period has no OTS anchor.
    pub fn manifest_ots(&self, digest: &ManifestDigest) -> Result<Option<DetachedTimestamp>> {
        let Some(root_ots) = &self.root_ots else {
            return Ok(None);
        };
        let proof = self.proof(digest)?;
        Ok(Some(stamp::manifest::per_manifest_ots(&proof, root_ots)?))
    }
}

/// The parts of a period's `c2c.proof.v1` JSON that are the same for every leaf, in the
/// member order of [`ProofV1`]'s serialisation: `head` up to the digest's value, `mid` from
/// `tree_size` to the opening of `audit_path`, `tail` from its end to the closing brace.
#[derive(Clone, Debug)]
pub(crate) struct ProofJson {
    head: Vec<u8>,
    mid: Vec<u8>,
    tail: Vec<u8>,
}

impl ProofJson {
    fn new(tenant: &TenantId, period: Period, levels: &Levels) -> ProofJson {
        ProofJson::of(tenant, period, levels.size(), levels.root())
    }

    /// The template of a tree of `size` leaves under `root`.
    pub(crate) fn of(tenant: &TenantId, period: Period, size: u64, root: Root) -> ProofJson {
        let head = format!(
            "{{\"format\":{},\"tenant\":{},\"period\":{},\"digest\":\"",
            to_json(ProofV1::FORMAT),
            to_json(tenant.as_str()),
            to_json(&period.to_string()),
        );
        let mid = format!(
            ",\"tree_size\":{},\"root\":{},\"audit_path\":[",
            size,
            to_json(&root),
        );
        let tail = format!("],\"parameters\":{}}}", to_json(&Parameters::c2c()));
        ProofJson {
            head: head.into_bytes(),
            mid: mid.into_bytes(),
            tail: tail.into_bytes(),
        }
    }

    pub(crate) fn write(
        &self,
        digest: &ManifestDigest,
        index: u64,
        path: &[merkle::Hash],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.head.len() + self.mid.len() + self.tail.len() + 96 + path.len() * 67,
        );
        out.extend_from_slice(&self.head);
        push_hex(&mut out, &digest.0);
        out.extend_from_slice(b"\",\"leaf_index\":");
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(&self.mid);
        for (i, h) in path.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            push_hex(&mut out, &h.0);
            out.push(b'"');
        }
        out.extend_from_slice(&self.tail);
        out
    }
}

/// Lower-case hex, as the formats spell every hash.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

/// A template's constant value as serde spells it.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings, roots and parameters serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_json_is_byte_for_byte_serdes_proof_document_for_every_leaf_of_sizes_1_to_70() {
        let tenant = TenantId::new("pro-co").unwrap();
        let period: Period = "2026-W48".parse().unwrap();
        for size in 1..=70u32 {
            let digests: Vec<ManifestDigest> = (0..size)
                .map(|i| ManifestDigest(merkle::hash::leaf_hash(&i.to_be_bytes()).0))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let levels = Levels::build(digests.clone()).unwrap();
            let proofs = PeriodProofs {
                json: ProofJson::new(&tenant, period, &levels),
                tenant: tenant.clone(),
                period,
                levels,
                root_ots: None,
            };
            for d in &digests {
                let want = serde_json::to_vec(&proofs.proof(d).unwrap()).unwrap();
                assert_eq!(
                    String::from_utf8(proofs.proof_json(d).unwrap()).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "size {size}"
                );
            }
        }
        let absent = ManifestDigest([7; 32]);
        assert!(matches!(
            PeriodProofs {
                json: ProofJson::new(&tenant, period, &Levels::build(vec![absent]).unwrap()),
                tenant: tenant.clone(),
                period,
                levels: Levels::build(vec![ManifestDigest([8; 32])]).unwrap(),
                root_ots: None,
            }
            .proof_json(&absent),
            Err(ProofsError::NotFound(_))
        ));
    }
}
