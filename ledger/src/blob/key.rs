//! Object keys: DESIGN.md's "Object layout", built only from validated values.
//!
//! > ```text
//! > roots/{tenant}/{period}.json                   root metadata
//! > roots/{tenant}/{period}/root.bin|root.ots|root.tsr
//! > proofs/{tenant}/{period}/{digest}.json         per-manifest proof (and {digest}.ots)
//! > receipts/{tenant}/{period}.json | .pdf           the latest version
//! > receipts/{tenant}/{period}/v{n}.json             every version, create-only
//! > ```
//!
//! A [`BlobKey`] has no constructor from a string: every key is assembled here from a
//! [`TenantId`] (a DNS label), a [`Period`] (its one written form), a [`ManifestDigest`] (64
//! lowercase hex) and closed enums, so no value from a URL or a body can put a `/`, a `..` or
//! anything else into a key. The key is therefore also a safe relative path for the directory
//! backend.

use std::fmt;

use merkle::ManifestDigest;

use crate::error::{LedgerError, Result};
use crate::ids::{Period, TenantId};

/// One of the raw artifacts stored beside a period's root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RootArtifact {
    /// `root.bin`: the 32 raw root bytes (what both anchors commit to, through SHA-256).
    Bin,
    /// `root.ots`: the OpenTimestamps proof for `root.bin`.
    Ots,
    /// `root.tsr`: the RFC 3161 time-stamp response for `root.bin`.
    Tsr,
    /// `levels.bin`: the tree's sorted leaf digests and every perfect node above them
    /// (format in the workers crate), from which any inclusion proof is read without
    /// rebuilding the tree.
    Levels,
}

impl RootArtifact {
    pub const ALL: [RootArtifact; 4] = [
        RootArtifact::Bin,
        RootArtifact::Ots,
        RootArtifact::Tsr,
        RootArtifact::Levels,
    ];

    /// The file name under `roots/{tenant}/{period}/`.
    pub fn file_name(self) -> &'static str {
        match self {
            RootArtifact::Bin => "root.bin",
            RootArtifact::Ots => "root.ots",
            RootArtifact::Tsr => "root.tsr",
            RootArtifact::Levels => "levels.bin",
        }
    }
}

/// The two renderings of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptFormat {
    Json,
    Pdf,
}

impl ReceiptFormat {
    pub const ALL: [ReceiptFormat; 2] = [ReceiptFormat::Json, ReceiptFormat::Pdf];

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ReceiptFormat::Json => "json",
            ReceiptFormat::Pdf => "pdf",
        }
    }
}

/// The key of one object, identical in the local directory and in S3/R2.
///
/// Every key is create-only except the receipts' "latest" pointers
/// ([`BlobKey::receipt_latest`], see [`BlobKey::is_latest_pointer`]); DESIGN.md: "The only
/// keys ever replaced are the "latest" pointers, and every version they pointed to stays under
/// its own key".
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

fn check_upgrade_version(n: u32) -> Result<()> {
    if n < 2 {
        return Err(LedgerError::invalid(
            "proof version",
            &n.to_string(),
            "upgraded proofs are versions 2 and up; version 1 is the plain .ots key",
        ));
    }
    Ok(())
}

impl BlobKey {
    /// `roots/{tenant}/{period}.json`: the root metadata of a period.
    pub fn root_meta(tenant: &TenantId, period: &Period) -> BlobKey {
        BlobKey(format!("roots/{tenant}/{period}.json"))
    }

    /// `roots/{tenant}/{period}/root.bin|root.ots|root.tsr`.
    pub fn root_artifact(tenant: &TenantId, period: &Period, artifact: RootArtifact) -> BlobKey {
        BlobKey(format!("roots/{tenant}/{period}/{}", artifact.file_name()))
    }

    /// `roots/{tenant}/{period}/tile/…`: one tile of the period's tree, or one bundle of its
    /// sorted digests, in the C2SP tlog-tiles layout (`merkle::tiles`). Create-only, like
    /// every key but the latest pointers: a period's tree never grows, so even its partial
    /// tiles are final.
    pub fn root_tile(tenant: &TenantId, period: &Period, tile: merkle::tiles::TileId) -> BlobKey {
        BlobKey(format!("roots/{tenant}/{period}/{}", tile.path()))
    }

    /// `log/{tenant}/tile/…`: one tile of the tenant's receipt log (hash tiles and entry
    /// bundles, C2SP tlog-tiles). Create-only: the log grows by new partial tiles
    /// (`….p/<W>`, a key per width), never by rewriting one.
    pub fn log_tile(tenant: &TenantId, tile: merkle::tiles::TileId) -> BlobKey {
        BlobKey(format!("log/{tenant}/{}", tile.path()))
    }

    /// `log/{tenant}/checkpoint`: the log's newest signed checkpoint, a latest pointer
    /// (replaced as the log grows, never to a smaller size).
    pub fn log_checkpoint(tenant: &TenantId) -> BlobKey {
        BlobKey(format!("log/{tenant}/checkpoint"))
    }

    /// `log/{tenant}/vkey`: the verifier key of the log's checkpoints (C2SP signed-note,
    /// `name+id+key`), for a monitor's first run; a latest pointer (a new key replaces it).
    pub fn log_vkey(tenant: &TenantId) -> BlobKey {
        BlobKey(format!("log/{tenant}/vkey"))
    }

    /// `log/{tenant}/checkpoints/{size}`: the signed checkpoint at `size`, create-only; every
    /// checkpoint the latest pointer ever held stays here.
    pub fn log_checkpoint_at(tenant: &TenantId, size: u64) -> BlobKey {
        BlobKey(format!("log/{tenant}/checkpoints/{size}"))
    }

    /// `proofs/{tenant}/{period}/{digest hex}.json`: a manifest's `c2c.proof.v1` document.
    pub fn proof(tenant: &TenantId, period: &Period, digest: &ManifestDigest) -> BlobKey {
        BlobKey(format!("proofs/{tenant}/{period}/{}.json", digest.to_hex()))
    }

    /// `proofs/{tenant}/{period}/{digest hex}.ots`: a manifest's own OpenTimestamps proof.
    pub fn proof_ots(tenant: &TenantId, period: &Period, digest: &ManifestDigest) -> BlobKey {
        BlobKey(format!("proofs/{tenant}/{period}/{}.ots", digest.to_hex()))
    }

    /// `receipts/{tenant}/{period}.json|.pdf`: the latest receipt, the only replaceable keys.
    pub fn receipt_latest(tenant: &TenantId, period: &Period, format: ReceiptFormat) -> BlobKey {
        BlobKey(format!("receipts/{tenant}/{period}.{}", format.extension()))
    }

    /// `receipts/{tenant}/{period}/v{n}.json|.pdf`: receipt version `n`, create-only.
    /// Versions count from 1 (`v1` is the first receipt); `n = 0` is [`LedgerError::Invalid`].
    pub fn receipt_version(
        tenant: &TenantId,
        period: &Period,
        n: u32,
        format: ReceiptFormat,
    ) -> Result<BlobKey> {
        if n == 0 {
            return Err(LedgerError::invalid(
                "receipt version",
                "0",
                "versions count from 1",
            ));
        }
        Ok(BlobKey(format!(
            "receipts/{tenant}/{period}/v{n}.{}",
            format.extension()
        )))
    }

    /// Version `n` (≥ 2) of the root's OpenTimestamps proof:
    /// `roots/{tenant}/{period}/root.v{n}.ots`.
    ///
    /// An upgrade (calendar → Bitcoin block) changes an `.ots` file, but keys are create-only,
    /// so the upgraded proof gets its own key; `root.ots` stays the proof as first stamped
    /// (version 1). `n` is the receipt version that first names it, so receipt `v{n}.json`
    /// and `root.v{n}.ots` go together. Still a `.ots` file: `ots verify -f root.bin
    /// root.v2.ots` works unmodified.
    pub fn root_ots_version(tenant: &TenantId, period: &Period, n: u32) -> Result<BlobKey> {
        check_upgrade_version(n)?;
        Ok(BlobKey(format!("roots/{tenant}/{period}/root.v{n}.ots")))
    }

    /// Version `n` (≥ 2) of a manifest's `.ots`: `proofs/{tenant}/{period}/{hex}.v{n}.ots`
    /// (see [`BlobKey::root_ots_version`]).
    pub fn proof_ots_version(
        tenant: &TenantId,
        period: &Period,
        digest: &ManifestDigest,
        n: u32,
    ) -> Result<BlobKey> {
        check_upgrade_version(n)?;
        Ok(BlobKey(format!(
            "proofs/{tenant}/{period}/{}.v{n}.ots",
            digest.to_hex()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a "latest" pointer: a receipt's (`receipts/{tenant}/{period}.json|.pdf`)
    /// or a receipt log's checkpoint or key (`log/{tenant}/checkpoint|vkey`), the only kinds of key that
    /// [`put_latest`](super::BlobStore::put_latest) replaces and
    /// [`put_new`](super::BlobStore::put_new) refuses. Every other key under `receipts/` or
    /// `log/` has at least three `/`, a latest pointer exactly two (tenant ids and periods
    /// hold none).
    pub fn is_latest_pointer(&self) -> bool {
        let slashes = self.0.bytes().filter(|&b| b == b'/').count();
        slashes == 2
            && (self.0.starts_with("receipts/")
                || (self.0.starts_with("log/")
                    && (self.0.ends_with("/checkpoint") || self.0.ends_with("/vkey"))))
    }

    /// The `Content-Type` an HTTP client should see for this object, by extension.
    pub fn content_type(&self) -> &'static str {
        match self.0.rsplit_once('.').map(|(_, ext)| ext) {
            Some("json") => "application/json",
            Some("pdf") => "application/pdf",
            // .bin, .ots, .tsr (no registered type for .ots; application/timestamp-reply
            // would fit .tsr, but tools download it as a file either way).
            _ => "application/octet-stream",
        }
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobKey({})", self.0)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TenantId {
        TenantId::new("acme-2").unwrap()
    }

    fn day() -> Period {
        "2026-11-22".parse().unwrap()
    }

    fn digest() -> ManifestDigest {
        ManifestDigest([0xab; 32])
    }

    #[test]
    fn root_keys_have_the_design_layout() {
        assert_eq!(
            BlobKey::root_meta(&t(), &day()).as_str(),
            "roots/acme-2/2026-11-22.json"
        );
        let week: Period = "2026-W47".parse().unwrap();
        let month: Period = "2026-11".parse().unwrap();
        assert_eq!(
            BlobKey::root_meta(&t(), &week).to_string(),
            "roots/acme-2/2026-W47.json"
        );
        let shapes: Vec<String> = RootArtifact::ALL
            .iter()
            .map(|&a| BlobKey::root_artifact(&t(), &month, a).to_string())
            .collect();
        assert_eq!(
            shapes,
            [
                "roots/acme-2/2026-11/root.bin",
                "roots/acme-2/2026-11/root.ots",
                "roots/acme-2/2026-11/root.tsr",
                "roots/acme-2/2026-11/levels.bin"
            ]
        );
    }

    #[test]
    fn proof_keys_name_the_digest_in_lowercase_hex() {
        let hex = "ab".repeat(32);
        assert_eq!(
            BlobKey::proof(&t(), &day(), &digest()).as_str(),
            format!("proofs/acme-2/2026-11-22/{hex}.json")
        );
        assert_eq!(
            BlobKey::proof_ots(&t(), &day(), &digest()).as_str(),
            format!("proofs/acme-2/2026-11-22/{hex}.ots")
        );
    }

    #[test]
    fn receipt_keys_have_a_latest_pointer_and_numbered_versions() {
        assert_eq!(
            BlobKey::receipt_latest(&t(), &day(), ReceiptFormat::Json).as_str(),
            "receipts/acme-2/2026-11-22.json"
        );
        assert_eq!(
            BlobKey::receipt_latest(&t(), &day(), ReceiptFormat::Pdf).as_str(),
            "receipts/acme-2/2026-11-22.pdf"
        );
        assert_eq!(
            BlobKey::receipt_version(&t(), &day(), 1, ReceiptFormat::Json)
                .unwrap()
                .as_str(),
            "receipts/acme-2/2026-11-22/v1.json"
        );
        assert_eq!(
            BlobKey::receipt_version(&t(), &day(), 12, ReceiptFormat::Pdf)
                .unwrap()
                .as_str(),
            "receipts/acme-2/2026-11-22/v12.pdf"
        );
        let err = BlobKey::receipt_version(&t(), &day(), 0, ReceiptFormat::Json).unwrap_err();
        assert!(matches!(err, LedgerError::Invalid { .. }), "{err}");
    }

    #[test]
    fn upgraded_ots_proofs_get_their_own_numbered_keys() {
        assert_eq!(
            BlobKey::root_ots_version(&t(), &day(), 2).unwrap().as_str(),
            format!("roots/{}/{}/root.v2.ots", t(), day())
        );
        assert_eq!(
            BlobKey::proof_ots_version(&t(), &day(), &digest(), 3)
                .unwrap()
                .as_str(),
            format!("proofs/{}/{}/{}.v3.ots", t(), day(), digest().to_hex())
        );
        for n in [0, 1] {
            assert!(BlobKey::root_ots_version(&t(), &day(), n).is_err(), "{n}");
            assert!(
                BlobKey::proof_ots_version(&t(), &day(), &digest(), n).is_err(),
                "{n}"
            );
        }
        assert!(
            !BlobKey::root_ots_version(&t(), &day(), 2)
                .unwrap()
                .is_latest_pointer()
        );
    }

    #[test]
    fn only_receipt_latest_keys_are_latest_pointers() {
        for f in ReceiptFormat::ALL {
            assert!(BlobKey::receipt_latest(&t(), &day(), f).is_latest_pointer());
            assert!(
                !BlobKey::receipt_version(&t(), &day(), 1, f)
                    .unwrap()
                    .is_latest_pointer()
            );
        }
        assert!(!BlobKey::root_meta(&t(), &day()).is_latest_pointer());
        for a in RootArtifact::ALL {
            assert!(!BlobKey::root_artifact(&t(), &day(), a).is_latest_pointer());
        }
        assert!(!BlobKey::proof(&t(), &day(), &digest()).is_latest_pointer());
        assert!(!BlobKey::proof_ots(&t(), &day(), &digest()).is_latest_pointer());
    }

    #[test]
    fn content_types_follow_the_extension() {
        let json = BlobKey::proof(&t(), &day(), &digest());
        let pdf = BlobKey::receipt_latest(&t(), &day(), ReceiptFormat::Pdf);
        assert_eq!(json.content_type(), "application/json");
        assert_eq!(pdf.content_type(), "application/pdf");
        for a in RootArtifact::ALL {
            assert_eq!(
                BlobKey::root_artifact(&t(), &day(), a).content_type(),
                "application/octet-stream"
            );
        }
        assert_eq!(
            BlobKey::proof_ots(&t(), &day(), &digest()).content_type(),
            "application/octet-stream"
        );
        assert_eq!(format!("{json:?}"), format!("BlobKey({json})"));
    }
}
