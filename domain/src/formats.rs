//! The documents the system of record writes (DESIGN.md "Formats"): root metadata
//! (`c2c.root.v1`), receipts (`c2c.receipt.v1`) and run summaries (`c2c.run-summary.v1`).
//!
//! Decisions, for all three:
//!
//! - **One written form.** Decoding is strict: unknown members are errors
//!   (`deny_unknown_fields`), duplicate member names are errors (I-JSON), and a document must
//!   re-serialise to exactly the value that was read — so `null` and a missing member are not
//!   interchangeable, and a timestamp must already be in the `format_ts` form. Members every
//!   document has are always written (`null` when empty: `supersedes`, a summary's `root`);
//!   anchor facts that only one kind of anchor has are left out when they do not apply.
//! - **Signatures** (receipts, summaries): `sig` is ES256 (see [`crate::keys`]) over the
//!   RFC 8785 bytes of the document with the `sig` member removed ([`jcs_without_sig`]); `kid`
//!   and `alg` are inside the signed bytes, so neither can be swapped afterwards.
//! - **Integers stay below 2^53** (I-JSON, RFC 7493 §2.2): RFC 8785 writes numbers as IEEE 754
//!   doubles, and a larger count would be signed as a rounded number. Money is an integer
//!   count of micro-USD for the same reason: no float ever reaches the canonicaliser.
//! - **Timestamps** are RFC 3339 UTC with milliseconds (`2026-11-23T09:00:00.000Z`,
//!   [`crate::ids::format_ts`]); instants are inclusive-from, exclusive-to.

use chrono::{DateTime, SubsecRound as _, Utc};
use merkle::{Parameters, Root};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::error::{DomainError, Result};
use crate::ids::{Cadence, Period, Plan, TenantId};
use crate::keys::{ALG, Jwks, KeyId, SigningKey};
pub use crate::kinds::{AnchorKind, AnchorStatus, KillMode, Trigger};

/// `prev` of the first summary of a chain (seed 004: "First attestation uses
/// `prev: "genesis"`").
pub const GENESIS: &str = "genesis";

/// The canonicalisation version recorded beside every root (`c2c-1`, RFC 8785).
pub const CANON_VERSION: &str = merkle::canon::CANON_VERSION;

/// The largest integer every member may hold: 2^53 − 1 (I-JSON's safe range).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Lowercase hex of SHA-256 of `bytes` (how `prev` and `summary_hash` are written).
pub fn sha256_hex(bytes: &[u8]) -> String {
    merkle::hash::encode_hex(&Sha256::digest(bytes))
}

/// The RFC 8785 bytes of a signed document's JSON object without its `sig` member: what
/// `sig` signs. A missing `sig` is fine (that is the document being signed); anything but an
/// object is an error.
pub fn jcs_without_sig(value: &Value) -> Result<Vec<u8>> {
    let Value::Object(map) = value else {
        return Err(DomainError::Format(
            "a signed document must be a JSON object".into(),
        ));
    };
    let mut map = map.clone();
    map.remove("sig");
    merkle::canon::canonicalize_value(&Value::Object(map))
        .map_err(|e| DomainError::Format(e.to_string()))
}

fn fmt_err(doc: &str, detail: impl std::fmt::Display) -> DomainError {
    DomainError::Format(format!("{doc}: {detail}"))
}

/// Parses a document as I-JSON, decodes it, and requires that it re-serialises to the value
/// read (the one-written-form rule).
fn decode_strict<T>(doc: &str, bytes: &[u8]) -> Result<T>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let value = merkle::canon::parse_strict(bytes).map_err(|e| fmt_err(doc, e))?;
    decode_value(doc, &value)
}

fn decode_value<T>(doc: &str, value: &Value) -> Result<T>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let typed = T::deserialize(value).map_err(|e| fmt_err(doc, e))?;
    let again = serde_json::to_value(&typed).map_err(|e| fmt_err(doc, e))?;
    if &again != value {
        return Err(fmt_err(
            doc,
            "not in its one written form (a member that must be written is missing, or a \
             value is spelled differently from how it is written)",
        ));
    }
    Ok(typed)
}

fn pretty<T: Serialize>(doc: &T) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("documents always serialise");
    s.push('\n');
    s
}

fn safe(doc: &str, what: &str, v: u64) -> Result<()> {
    if v > MAX_SAFE_INTEGER {
        return Err(fmt_err(
            doc,
            format!("{what} {v} is above 2^53 - 1, which RFC 8785 cannot write exactly"),
        ));
    }
    Ok(())
}

fn lower_hex64(doc: &str, what: &str, s: &str) -> Result<()> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(fmt_err(
            doc,
            format!("{what} {s:?} is not 64 lowercase hex digits"),
        ));
    }
    Ok(())
}

fn check_common(
    doc: &str,
    period: Period,
    cadence: Cadence,
    parameters: Option<&Parameters>,
    canon_version: Option<&str>,
) -> Result<()> {
    if period.cadence() != cadence {
        return Err(fmt_err(
            doc,
            format!("period {period} is not a {cadence} period"),
        ));
    }
    if let Some(p) = parameters {
        p.check().map_err(|e| fmt_err(doc, e))?;
    }
    if let Some(c) = canon_version
        && c != CANON_VERSION
    {
        return Err(fmt_err(
            doc,
            format!("canon_version {c:?}, expected {CANON_VERSION:?}"),
        ));
    }
    Ok(())
}

/// A run id: 1 to 128 characters of `[A-Za-z0-9._:-]` (a UUID, a ULID or a composed key
/// all fit; nothing that needs escaping in a path, a URL or a log line does).
fn check_run_id(doc: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !ok {
        return Err(fmt_err(
            doc,
            format!("run_id {id:?} must be 1 to 128 characters of [A-Za-z0-9._:-]"),
        ));
    }
    Ok(())
}

/// Serde for document timestamps: written by [`format_ts`], read only in that form.
mod ts {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::{format_ts, parse_ts};

    pub(super) fn read(s: &str) -> crate::Result<DateTime<Utc>> {
        let t = parse_ts(s)?;
        if format_ts(t) != s {
            return Err(crate::DomainError::invalid(
                "timestamp",
                s,
                "must be written YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, milliseconds)",
            ));
        }
        Ok(t)
    }

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ts(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        read(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    pub(super) mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        #[allow(
            clippy::ref_option,
            reason = "serde's `with` passes a reference to the field"
        )]
        pub(in crate::formats) fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub(in crate::formats) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::read(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Root metadata

/// `roots/{tenant}/{period}.json`: what was built, before anything was anchored. Unsigned:
/// it is a build record beside `root.bin`; the signed claims are the receipt and the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootMetadata {
    /// `"c2c.root.v1"`.
    pub format: String,
    pub tenant: TenantId,
    pub period: Period,
    pub cadence: Cadence,
    pub root: Root,
    /// Distinct manifest digests in the tree, at least 1 (an empty period has no root).
    pub tree_size: u64,
    pub parameters: Parameters,
    /// `"c2c-1"`.
    pub canon_version: String,
    #[serde(with = "ts")]
    pub built_at: DateTime<Utc>,
}

impl RootMetadata {
    pub const FORMAT: &'static str = "c2c.root.v1";

    pub fn new(
        tenant: TenantId,
        period: Period,
        root: Root,
        tree_size: u64,
        built_at: DateTime<Utc>,
    ) -> Result<RootMetadata> {
        let meta = RootMetadata {
            format: Self::FORMAT.into(),
            tenant,
            cadence: period.cadence(),
            period,
            root,
            tree_size,
            parameters: Parameters::c2c(),
            canon_version: CANON_VERSION.into(),
            built_at: built_at.trunc_subsecs(3),
        };
        meta.check()?;
        Ok(meta)
    }

    pub fn check(&self) -> Result<()> {
        let doc = Self::FORMAT;
        if self.format != Self::FORMAT {
            return Err(fmt_err(doc, format!("format is {:?}", self.format)));
        }
        check_common(
            doc,
            self.period,
            self.cadence,
            Some(&self.parameters),
            Some(&self.canon_version),
        )?;
        if self.tree_size == 0 {
            return Err(fmt_err(doc, "tree_size is 0; an empty period has no root"));
        }
        safe(doc, "tree_size", self.tree_size)
    }

    pub fn from_json(bytes: &[u8]) -> Result<RootMetadata> {
        let meta: RootMetadata = decode_strict(Self::FORMAT, bytes)?;
        meta.check()?;
        Ok(meta)
    }

    /// Two-space indented JSON with a trailing newline (how it is stored).
    pub fn to_json_pretty(&self) -> String {
        pretty(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Anchors

/// The chain a Bitcoin block is on. A verifier refuses a receipt naming another chain than
/// its own: regtest blocks cost nothing to mine and prove nothing about time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BitcoinNetwork {
    /// Bitcoin's main network.
    Bitcoin,
    /// A local regtest chain (the dev calendars').
    Regtest,
}

impl BitcoinNetwork {
    pub fn name(self) -> &'static str {
        match self {
            BitcoinNetwork::Bitcoin => "bitcoin",
            BitcoinNetwork::Regtest => "regtest",
        }
    }
}

/// A Bitcoin block that an OTS proof reaches, and the transaction it reaches it through.
///
/// `txid` and `network` are written by every receipt signed since they were added; a receipt
/// signed before lacks them, and a verifier says so rather than assuming either (decision: the
/// field stays optional on reading so that stored receipts keep verifying; the header check
/// against the verifier's own chain still decides whether the block is real).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitcoin {
    pub height: u64,
    /// Block hash as explorers show it (64 lowercase hex, byte-reversed header hash).
    pub block_hash: String,
    /// The header's time: the existence claim is "as of" this instant.
    #[serde(with = "ts")]
    pub time: DateTime<Utc>,
    /// The transaction whose id the block's merkle tree carries and whose bytes carry the
    /// calendar's commitment, as explorers and `ots info` show it (64 lowercase hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// The chain the block is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<BitcoinNetwork>,
}

/// A stored artifact: its blob key and the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// e.g. `roots/acme/2026-W47/root.ots`.
    pub key: String,
    /// 64 lowercase hex.
    pub sha256: String,
}

/// One anchor of a receipt. Rules, checked on reading and signing:
///
/// - `ots` names its `calendars` and never `tsa_url` or `gen_time`; `tsa` names its `tsa_url`
///   and never `calendars` or `bitcoin`.
/// - `bitcoin` is present exactly when an `ots` anchor is `confirmed`; `gen_time` is present
///   exactly when a `tsa` anchor is `confirmed`.
/// - `artifact` is present exactly when the status is `pending` or `confirmed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorEntry {
    #[serde(rename = "type")]
    pub kind: AnchorKind,
    pub status: AnchorStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendars: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_url: Option<String>,
    /// The RFC 3161 token's genTime.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts::option")]
    pub gen_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitcoin: Option<Bitcoin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
}

impl AnchorEntry {
    fn check(&self, doc: &str, i: usize) -> Result<()> {
        let bad = |detail: &str| Err(fmt_err(doc, format!("anchors[{i}]: {detail}")));
        let confirmed = self.status == AnchorStatus::Confirmed;
        match self.kind {
            AnchorKind::Ots => {
                if self.calendars.as_ref().is_none_or(Vec::is_empty) {
                    return bad("an ots anchor names its calendars");
                }
                if self.tsa_url.is_some() || self.gen_time.is_some() {
                    return bad("an ots anchor has no tsa_url or gen_time");
                }
                if self.bitcoin.is_some() != confirmed {
                    return bad("an ots anchor has bitcoin exactly when it is confirmed");
                }
            }
            AnchorKind::Tsa => {
                if self.tsa_url.as_ref().is_none_or(String::is_empty) {
                    return bad("a tsa anchor names its tsa_url");
                }
                if self.calendars.is_some() || self.bitcoin.is_some() {
                    return bad("a tsa anchor has no calendars or bitcoin");
                }
                if self.gen_time.is_some() != confirmed {
                    return bad("a tsa anchor has gen_time exactly when it is confirmed");
                }
            }
        }
        let stored = matches!(self.status, AnchorStatus::Pending | AnchorStatus::Confirmed);
        if self.artifact.is_some() != stored {
            return bad("an artifact is present exactly when the anchor is pending or confirmed");
        }
        if let Some(b) = &self.bitcoin {
            safe(doc, "bitcoin.height", b.height)?;
            lower_hex64(doc, "bitcoin.block_hash", &b.block_hash)?;
            if let Some(txid) = &b.txid {
                lower_hex64(doc, "bitcoin.txid", txid)?;
            }
        }
        if let Some(a) = &self.artifact {
            let k = &a.key;
            if k.is_empty()
                || k.starts_with('/')
                || k.split('/').any(|s| s.is_empty() || s == "." || s == "..")
                || !k.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            {
                return bad(
                    "artifact.key must be a relative blob key without empty, . or .. parts",
                );
            }
            lower_hex64(doc, "artifact.sha256", &a.sha256)?;
        }
        Ok(())
    }
}

/// An anchor's type and status, as a run summary records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorOutcome {
    #[serde(rename = "type")]
    pub kind: AnchorKind,
    pub status: AnchorStatus,
}

// ---------------------------------------------------------------------------------------------
// Receipts

/// The instants a period covers: `from` inclusive, `to` exclusive (its first instant and the
/// first instant after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covered {
    #[serde(with = "ts")]
    pub from: DateTime<Utc>,
    #[serde(with = "ts")]
    pub to: DateTime<Utc>,
}

impl Covered {
    pub fn of(period: Period) -> Covered {
        Covered {
            from: period.start(),
            to: period.end(),
        }
    }
}

/// Whether anchoring at `anchored_at` is a backfill: later than the period's end plus the
/// grace for late manifests. A backfilled receipt proves the manifests existed by
/// `anchored_at`, not by the end of the period, and says so in `backfilled: true`.
pub fn is_backfill(period: Period, anchored_at: DateTime<Utc>, grace: chrono::Duration) -> bool {
    anchored_at > period.end() + grace
}

/// `receipts/{tenant}/{period}/v{n}.json`: a signed statement that a tenant's period was
/// anchored. Immutable: an upgrade (an OTS proof reaching Bitcoin) writes version n + 1,
/// which names version n in `supersedes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// `"c2c.receipt.v1"`.
    pub format: String,
    pub tenant: TenantId,
    pub period: Period,
    pub cadence: Cadence,
    /// The period's instants (must match `period`).
    pub covered: Covered,
    /// When the root was first anchored (first stamp submitted).
    #[serde(with = "ts")]
    pub anchored_at: DateTime<Utc>,
    /// True when anchoring happened after the period closed plus its grace: the manifests are
    /// then proven to exist by `anchored_at`, not by `covered.to`.
    pub backfilled: bool,
    pub root: Root,
    pub tree_size: u64,
    pub parameters: Parameters,
    pub canon_version: String,
    pub anchors: Vec<AnchorEntry>,
    pub run_id: String,
    /// SHA-256 (lowercase hex) of the exact bytes of the run summary that recorded this run.
    pub summary_hash: String,
    /// 1, 2, …
    pub version: u32,
    /// `null` for version 1, else `version - 1`.
    pub supersedes: Option<u32>,
    pub kid: KeyId,
    /// `"ES256"`.
    pub alg: String,
    /// ES256 over [`jcs_without_sig`] of this receipt.
    pub sig: String,
}

/// What the pipeline fills in for a receipt; [`Receipt::sign`] adds the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptBody {
    pub tenant: TenantId,
    pub period: Period,
    pub anchored_at: DateTime<Utc>,
    /// See [`is_backfill`].
    pub backfilled: bool,
    pub root: Root,
    pub tree_size: u64,
    pub anchors: Vec<AnchorEntry>,
    pub run_id: String,
    pub summary_hash: String,
    pub version: u32,
    pub supersedes: Option<u32>,
}

impl Receipt {
    pub const FORMAT: &'static str = "c2c.receipt.v1";

    /// Builds and signs a receipt (covered instants, parameters, canon version, kid and alg
    /// filled in; `anchored_at` truncated to milliseconds).
    pub fn sign(body: ReceiptBody, key: &SigningKey) -> Result<Receipt> {
        let mut receipt = Receipt {
            format: Self::FORMAT.into(),
            tenant: body.tenant,
            cadence: body.period.cadence(),
            covered: Covered::of(body.period),
            period: body.period,
            anchored_at: body.anchored_at.trunc_subsecs(3),
            backfilled: body.backfilled,
            root: body.root,
            tree_size: body.tree_size,
            parameters: Parameters::c2c(),
            canon_version: CANON_VERSION.into(),
            anchors: body.anchors,
            run_id: body.run_id,
            summary_hash: body.summary_hash,
            version: body.version,
            supersedes: body.supersedes,
            kid: key.key_id().clone(),
            alg: ALG.into(),
            sig: String::new(),
        };
        receipt.check()?;
        receipt.sig = key.sign(&receipt.signing_input()?);
        Ok(receipt)
    }

    /// Reads a stored receipt: strict decoding and [`Receipt::check`]; the signature is
    /// checked separately by [`Receipt::verify_signature`].
    pub fn from_json(bytes: &[u8]) -> Result<Receipt> {
        let receipt: Receipt = decode_strict(Self::FORMAT, bytes)?;
        receipt.check()?;
        Ok(receipt)
    }

    /// Two-space indented JSON with a trailing newline (how it is stored; the signature does
    /// not depend on the layout).
    pub fn to_json_pretty(&self) -> String {
        pretty(self)
    }

    /// The bytes `sig` signs.
    pub fn signing_input(&self) -> Result<Vec<u8>> {
        jcs_without_sig(&serde_json::to_value(self).map_err(|e| fmt_err(Self::FORMAT, e))?)
    }

    pub fn verify_signature(&self, jwks: &Jwks) -> Result<()> {
        verify_with(
            jwks,
            &self.kid,
            &self.alg,
            &self.signing_input()?,
            &self.sig,
        )
    }

    /// Every rule of the format that does not need a key.
    pub fn check(&self) -> Result<()> {
        let doc = Self::FORMAT;
        if self.format != Self::FORMAT {
            return Err(fmt_err(doc, format!("format is {:?}", self.format)));
        }
        if self.alg != ALG {
            return Err(fmt_err(
                doc,
                format!("alg is {:?}, expected {ALG}", self.alg),
            ));
        }
        check_common(
            doc,
            self.period,
            self.cadence,
            Some(&self.parameters),
            Some(&self.canon_version),
        )?;
        if self.covered != Covered::of(self.period) {
            return Err(fmt_err(
                doc,
                format!("covered is not the instants of period {}", self.period),
            ));
        }
        if self.backfilled && self.anchored_at < self.covered.to {
            return Err(fmt_err(
                doc,
                "backfilled, yet anchored before the period ended",
            ));
        }
        if self.tree_size == 0 {
            return Err(fmt_err(doc, "tree_size is 0; an empty period has no root"));
        }
        safe(doc, "tree_size", self.tree_size)?;
        if self.anchors.is_empty() {
            return Err(fmt_err(doc, "a receipt names at least one anchor"));
        }
        for (i, a) in self.anchors.iter().enumerate() {
            a.check(doc, i)?;
        }
        check_run_id(doc, &self.run_id)?;
        lower_hex64(doc, "summary_hash", &self.summary_hash)?;
        let expected = self.version.checked_sub(1).filter(|&p| p > 0);
        if self.version == 0 || self.supersedes != expected {
            return Err(fmt_err(
                doc,
                format!(
                    "version {} with supersedes {:?}: versions start at 1 (supersedes null) \
                     and version n supersedes n - 1",
                    self.version, self.supersedes
                ),
            ));
        }
        Ok(())
    }
}

fn verify_with(jwks: &Jwks, kid: &KeyId, alg: &str, msg: &[u8], sig: &str) -> Result<()> {
    if alg != ALG {
        return Err(DomainError::Signature(format!(
            "alg {alg:?}: only {ALG} is accepted"
        )));
    }
    let jwk = jwks
        .get(kid)
        .ok_or_else(|| DomainError::Signature(format!("key id {kid} is not in the JWKS")))?;
    jwk.verify(msg, sig)
}

// ---------------------------------------------------------------------------------------------
// Run summaries

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Manifest digests submitted for the period (before de-duplication).
    pub manifests: u64,
    /// Per-manifest proofs available: one per leaf, derived on request from the stored tree
    /// (`levels.bin`); 0 for a run that anchored nothing.
    pub proofs: u64,
}

/// The post-run sample verification: leaves re-proved from stored artifacts against the
/// stored root (`verified <= sampled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub sampled: u64,
    pub verified: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggles {
    pub plan: Plan,
    pub kill_switch: KillMode,
}

/// What a run fills in; [`RunSummary::sign`] adds the chain fields and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryBody {
    pub tenant: TenantId,
    pub period: Period,
    pub cadence: Cadence,
    pub run_id: String,
    pub trigger: Trigger,
    /// `None` when the run built no tree (no manifests, paused, failed before the build).
    pub root: Option<Root>,
    /// 0 exactly when `root` is `None`.
    pub tree_size: u64,
    pub anchors: Vec<AnchorOutcome>,
    pub counts: Counts,
    pub coverage: Coverage,
    /// Estimated cost of the run's anchors, in millionths of a US dollar.
    pub estimated_cost_micro_usd: u64,
    pub errors: Vec<String>,
    pub toggles: Toggles,
}

/// One line of a tenant's hash-chained ledger (`c2c.run-summary.v1`). Its identity is the
/// SHA-256 of its exact bytes, which are its RFC 8785 form (signature included): the next
/// summary's `prev` is that hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSummary {
    /// `"c2c.run-summary.v1"`.
    pub format: String,
    /// 1, 2, … consecutive within the tenant's chain.
    pub seq: u64,
    /// `"genesis"` for seq 1, else SHA-256 hex of the previous summary's exact bytes.
    pub prev: String,
    #[serde(with = "ts")]
    pub ts: DateTime<Utc>,
    pub tenant: TenantId,
    pub period: Period,
    pub cadence: Cadence,
    pub run_id: String,
    pub trigger: Trigger,
    pub root: Option<Root>,
    pub tree_size: u64,
    pub anchors: Vec<AnchorOutcome>,
    pub counts: Counts,
    pub coverage: Coverage,
    pub estimated_cost_micro_usd: u64,
    /// Why the run was held, failed or deferred an anchor, as public classes (the fleet writes
    /// `workers::public`'s vocabulary, e.g. `"held: the monthly cost ceiling would be
    /// crossed"`), never the operator's details.
    pub errors: Vec<String>,
    pub toggles: Toggles,
    pub kid: KeyId,
    /// `"ES256"`.
    pub alg: String,
    /// ES256 over [`jcs_without_sig`] of this summary.
    pub sig: String,
}

/// A signed summary with the bytes to store and their hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSummary {
    pub summary: RunSummary,
    /// The exact bytes: RFC 8785 of the whole summary including `sig`; one JSONL line
    /// (without its `\n`).
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`: the next summary's `prev`.
    pub hash: [u8; 32],
}

impl SignedSummary {
    /// `hash` as lowercase hex (the next summary's `prev`).
    pub fn hash_hex(&self) -> String {
        merkle::hash::encode_hex(&self.hash)
    }
}

impl RunSummary {
    pub const FORMAT: &'static str = "c2c.run-summary.v1";

    /// Builds, checks and signs the summary at position `seq` after `prev` (`GENESIS` for
    /// seq 1, else the previous summary's hash hex); `ts` is truncated to milliseconds.
    /// Appending it — checking `seq`/`prev` against the stored head — is the store's job.
    pub fn sign(
        body: SummaryBody,
        seq: u64,
        prev: &str,
        ts: DateTime<Utc>,
        key: &SigningKey,
    ) -> Result<SignedSummary> {
        let mut summary = RunSummary {
            format: Self::FORMAT.into(),
            seq,
            prev: prev.to_owned(),
            ts: ts.trunc_subsecs(3),
            tenant: body.tenant,
            period: body.period,
            cadence: body.cadence,
            run_id: body.run_id,
            trigger: body.trigger,
            root: body.root,
            tree_size: body.tree_size,
            anchors: body.anchors,
            counts: body.counts,
            coverage: body.coverage,
            estimated_cost_micro_usd: body.estimated_cost_micro_usd,
            errors: body.errors,
            toggles: body.toggles,
            kid: key.key_id().clone(),
            alg: ALG.into(),
            sig: String::new(),
        };
        summary.check()?;
        summary.check_links()?;
        summary.sig = key.sign(&summary.signing_input()?);
        let bytes = summary.to_jcs()?;
        let hash = Sha256::digest(&bytes).into();
        Ok(SignedSummary {
            summary,
            bytes,
            hash,
        })
    }

    /// Reads a stored summary from its exact bytes: I-JSON, canonical (the bytes are the RFC
    /// 8785 form of themselves — its hash is over them), format and alg, strict decoding,
    /// [`RunSummary::check`], and `seq >= 1` with `prev` `"genesis"` exactly at seq 1 and 64
    /// lowercase hex elsewhere. The signature is checked by [`RunSummary::verify_signature`].
    pub fn from_bytes(bytes: &[u8]) -> Result<RunSummary> {
        let value = parse_object(bytes)?;
        require_canonical(&value, bytes)?;
        require_version(&value)?;
        let summary = RunSummary::from_value(&value)?;
        summary.check_links()?;
        Ok(summary)
    }

    /// Strict decoding of an already parsed value plus [`RunSummary::check`] (no chain
    /// rules: those belong to the position in a chain).
    pub(crate) fn from_value(value: &Value) -> Result<RunSummary> {
        let summary: RunSummary = decode_value(Self::FORMAT, value)?;
        summary.check()?;
        Ok(summary)
    }

    /// The exact bytes: RFC 8785 of the whole summary.
    pub fn to_jcs(&self) -> Result<Vec<u8>> {
        let value = serde_json::to_value(self).map_err(|e| fmt_err(Self::FORMAT, e))?;
        merkle::canon::canonicalize_value(&value).map_err(|e| fmt_err(Self::FORMAT, e))
    }

    /// The bytes `sig` signs.
    pub fn signing_input(&self) -> Result<Vec<u8>> {
        jcs_without_sig(&serde_json::to_value(self).map_err(|e| fmt_err(Self::FORMAT, e))?)
    }

    pub fn verify_signature(&self, jwks: &Jwks) -> Result<()> {
        verify_with(
            jwks,
            &self.kid,
            &self.alg,
            &self.signing_input()?,
            &self.sig,
        )
    }

    /// What the pipeline filled in.
    pub fn body(&self) -> SummaryBody {
        SummaryBody {
            tenant: self.tenant.clone(),
            period: self.period,
            cadence: self.cadence,
            run_id: self.run_id.clone(),
            trigger: self.trigger,
            root: self.root,
            tree_size: self.tree_size,
            anchors: self.anchors.clone(),
            counts: self.counts,
            coverage: self.coverage,
            estimated_cost_micro_usd: self.estimated_cost_micro_usd,
            errors: self.errors.clone(),
            toggles: self.toggles,
        }
    }

    /// Every rule of the format that is neither about the chain (`seq`, `prev`) nor needs a
    /// key.
    pub fn check(&self) -> Result<()> {
        let doc = Self::FORMAT;
        if self.format != Self::FORMAT {
            return Err(fmt_err(doc, format!("format is {:?}", self.format)));
        }
        if self.alg != ALG {
            return Err(fmt_err(
                doc,
                format!("alg is {:?}, expected {ALG}", self.alg),
            ));
        }
        check_common(doc, self.period, self.cadence, None, None)?;
        check_run_id(doc, &self.run_id)?;
        if self.root.is_none() != (self.tree_size == 0) {
            return Err(fmt_err(doc, "root is null exactly when tree_size is 0"));
        }
        for (what, v) in [
            ("seq", self.seq),
            ("tree_size", self.tree_size),
            ("counts.manifests", self.counts.manifests),
            ("counts.proofs", self.counts.proofs),
            ("coverage.sampled", self.coverage.sampled),
            ("coverage.verified", self.coverage.verified),
            ("estimated_cost_micro_usd", self.estimated_cost_micro_usd),
        ] {
            safe(doc, what, v)?;
        }
        if self.coverage.verified > self.coverage.sampled {
            return Err(fmt_err(doc, "coverage.verified is above coverage.sampled"));
        }
        Ok(())
    }

    /// `seq >= 1`; `prev` is `"genesis"` exactly at seq 1, else 64 lowercase hex.
    pub fn check_links(&self) -> Result<()> {
        let doc = Self::FORMAT;
        if self.seq == 0 {
            return Err(fmt_err(doc, "seq starts at 1"));
        }
        if self.seq == 1 {
            if self.prev != GENESIS {
                return Err(fmt_err(doc, "seq 1 has prev \"genesis\""));
            }
        } else {
            lower_hex64(doc, "prev", &self.prev)?;
        }
        Ok(())
    }
}

/// The `json` step of reading a summary: I-JSON text of one object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Value> {
    let value = merkle::canon::parse_strict(bytes)
        .map_err(|e| fmt_err(RunSummary::FORMAT, format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(fmt_err(RunSummary::FORMAT, "not a JSON object"));
    }
    Ok(value)
}

/// The `canonical` step: the bytes are the RFC 8785 form of what they parse to.
pub(crate) fn require_canonical(value: &Value, bytes: &[u8]) -> Result<()> {
    let canon =
        merkle::canon::canonicalize_value(value).map_err(|e| fmt_err(RunSummary::FORMAT, e))?;
    if canon != bytes {
        return Err(fmt_err(
            RunSummary::FORMAT,
            "the bytes are not the RFC 8785 form of the summary (its hash would not be stable)",
        ));
    }
    Ok(())
}

/// The `version` step: `format` and `alg` are the ones this code reads.
pub(crate) fn require_version(value: &Value) -> Result<()> {
    let format = value.get("format").and_then(Value::as_str);
    if format != Some(RunSummary::FORMAT) {
        return Err(fmt_err(
            RunSummary::FORMAT,
            format!(
                "format is {}, expected {:?}",
                show(value.get("format")),
                RunSummary::FORMAT
            ),
        ));
    }
    let alg = value.get("alg").and_then(Value::as_str);
    if alg != Some(ALG) {
        return Err(fmt_err(
            RunSummary::FORMAT,
            format!("alg is {}, expected {ALG:?}", show(value.get("alg"))),
        ));
    }
    Ok(())
}

/// A member's value for an error message (`missing` when absent), at most 80 characters.
pub(crate) fn show(v: Option<&Value>) -> String {
    let mut s = v.map_or_else(|| "missing".to_owned(), Value::to_string);
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Reads a document timestamp in its one written form (for the chain's `ts` rule).
pub(crate) fn read_ts(s: &str) -> Result<DateTime<Utc>> {
    ts::read(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcs_without_sig_drops_only_sig_and_refuses_non_objects() {
        let v = serde_json::json!({"sig": "x", "b": 1, "a": [true, null]});
        assert_eq!(jcs_without_sig(&v).unwrap(), br#"{"a":[true,null],"b":1}"#);
        assert!(jcs_without_sig(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn timestamps_are_read_only_in_their_written_form() {
        assert!(ts::read("2026-11-23T09:00:00.000Z").is_ok());
        assert!(ts::read("2026-11-23T09:00:00Z").is_err());
        assert!(ts::read("2026-11-23T09:00:00.5Z").is_err());
        assert!(ts::read("2026-11-23T10:00:00.000+01:00").is_err());
    }
}
