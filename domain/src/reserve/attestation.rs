//! Attestation documents: the anchored balances manifest, the anchoring binding, the signed
//! payload and its verification.
//!
//! ```text
//! balances   = {format: "ledger-anchors.reserve-balances.v1", period: {start, end},
//!               computation: {…}, min_reserve_ratio_bps}
//! balance_digest = SHA-256(JCS(balances))          -- a c2c manifest digest (canon c2c-1)
//! payload    = {schema: "ledger-anchors.reserve-attestation", version: "1",
//!               attestation: {id, issued_at, balances, balance_digest, anchor}}
//! anchor     = {tenant, summary: <the run summary's exact RFC 8785 text>, summary_hash,
//!               root, proof: c2c.proof.v1 of balance_digest}
//! served     = {payload, payload_hash: hex SHA-256(JCS(payload)), alg: "ES256", kid,
//!               sig: base64url(r‖s) over JCS(payload)}
//! ```
//!
//! Seed 000 §4: "Sign a single canonical payload" with "a `schema`/`version`", canonicalised
//! with RFC 8785 and hashed with SHA-256; "Sign `payloadCanonical` bytes … simplest is sign bytes
//! of canonical". We sign the canonical bytes with ES256 as every other document of this
//! workspace does (JWS raw `r‖s`, base64url; see `crate::keys`), rather than seed 000's
//! base64 DER, so one JWKS and one verifier serve receipts, run summaries and attestations.
//!
//! The run summary is embedded as a JSON **string** holding its exact bytes, not as an object:
//! its hash (the chain's `prev`) is over those bytes, and a string carries them through any
//! JSON tooling unchanged.

use crate::formats::{RunSummary, sha256_hex};
use crate::ids::TenantId;
use crate::keys::{ALG, Jwks, KeyId, SigningKey};
use chrono::{DateTime, Duration, Utc};
use merkle::{ManifestDigest, ProofV1, Root};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::asset::ts;
use super::compute::{Claims, Computation, check_publication};
use super::error::{ReserveError, Result};
use super::types::{Amount, AttestationId};

pub const SCHEMA: &str = "ledger-anchors.reserve-attestation";
pub const VERSION: &str = "1";

/// The attested period (inclusive start, exclusive end; `end` is the instant the reserve
/// computation is made at).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestedPeriod {
    #[serde(with = "ts")]
    pub start: DateTime<Utc>,
    #[serde(with = "ts")]
    pub end: DateTime<Utc>,
}

impl AttestedPeriod {
    /// Seed 001: "`period_end_slot` must be > `period_start_slot`".
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<AttestedPeriod> {
        if end <= start {
            return Err(ReserveError::Request(
                "period_end must be > period_start".into(),
            ));
        }
        Ok(AttestedPeriod { start, end })
    }
}

/// What is anchored: the balances and the ratios the attestation claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balances {
    pub format: String,
    pub period: AttestedPeriod,
    pub computation: Computation,
    pub min_reserve_ratio_bps: Amount,
}

impl Balances {
    pub const FORMAT: &'static str = "ledger-anchors.reserve-balances.v1";

    /// Checks seed 001's publication rules and builds the document. `computation.as_of` must
    /// be the period's end.
    pub fn new(
        period: AttestedPeriod,
        computation: Computation,
        claims: Claims,
    ) -> Result<Balances> {
        if computation.as_of != period.end {
            return Err(ReserveError::Request(
                "the reserve computation must be made at period_end".into(),
            ));
        }
        check_publication(&computation, claims)?;
        Ok(Balances {
            format: Self::FORMAT.into(),
            period,
            computation,
            min_reserve_ratio_bps: Amount::new(claims.min_reserve_ratio_bps)?,
        })
    }

    /// The RFC 8785 bytes: the manifest submitted to the reserves ledger tenant.
    pub fn to_jcs(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("balances serialise");
        merkle::canon::canonicalize_value(&value)
            .expect("balances hold only strings, bools and small integers")
    }

    /// `SHA-256(JCS(balances))`.
    pub fn digest(&self) -> ManifestDigest {
        ManifestDigest(merkle::Hash::sha256(&self.to_jcs()).0)
    }

    /// Every rule a verifier can check without keys: format, period, arithmetic, I3.
    pub fn check(&self) -> Result<()> {
        if self.format != Self::FORMAT {
            return Err(ReserveError::Format(format!(
                "balances format is {:?}, expected {:?}",
                self.format,
                Self::FORMAT
            )));
        }
        AttestedPeriod::new(self.period.start, self.period.end)?;
        if self.computation.as_of != self.period.end {
            return Err(ReserveError::Format(
                "computation.as_of is not period.end".into(),
            ));
        }
        self.computation.check_arithmetic()?;
        check_publication(
            &self.computation,
            Claims {
                reserve_ratio_bps: None,
                min_reserve_ratio_bps: self.min_reserve_ratio_bps.get(),
            },
        )
    }
}

/// The anchoring of `balance_digest`: the run summary that anchored it, its root and the
/// inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorBinding {
    pub tenant: TenantId,
    /// The summary's exact RFC 8785 bytes, as text.
    pub summary: String,
    /// SHA-256 hex of `summary`'s bytes (the next chain line's `prev`).
    pub summary_hash: String,
    pub root: Root,
    pub proof: ProofV1,
}

impl AnchorBinding {
    pub fn new(summary_bytes: &[u8], proof: ProofV1) -> Result<AnchorBinding> {
        let summary = RunSummary::from_bytes(summary_bytes)?;
        let root = summary.root.ok_or_else(|| {
            ReserveError::Binding(format!(
                "run summary seq {} of tenant {} anchored no tree (root null)",
                summary.seq, summary.tenant
            ))
        })?;
        Ok(AnchorBinding {
            tenant: summary.tenant,
            summary: String::from_utf8(summary_bytes.to_vec())
                .map_err(|_| ReserveError::Binding("run summary is not UTF-8".into()))?,
            summary_hash: sha256_hex(summary_bytes),
            root,
            proof,
        })
    }

    /// The embedded summary, checked: its bytes parse as a summary, hash to `summary_hash`,
    /// carry a valid signature from `jwks`, belong to `tenant` and anchored `root`; the proof
    /// names the same tenant and period and leads from `digest` to `root`.
    pub fn check(&self, digest: &ManifestDigest, jwks: &Jwks) -> Result<RunSummary> {
        let bytes = self.summary.as_bytes();
        let summary = RunSummary::from_bytes(bytes)?;
        if sha256_hex(bytes) != self.summary_hash {
            return Err(ReserveError::Binding(
                "summary_hash is not the SHA-256 of the embedded summary".into(),
            ));
        }
        summary
            .verify_signature(jwks)
            .map_err(|e| ReserveError::Binding(format!("run summary: {e}")))?;
        if summary.tenant != self.tenant {
            return Err(ReserveError::Binding(format!(
                "the summary is of tenant {}, the binding names {}",
                summary.tenant, self.tenant
            )));
        }
        if summary.root != Some(self.root) {
            return Err(ReserveError::Binding(format!(
                "the summary's root is not the bound root {}",
                self.root
            )));
        }
        if &self.proof.digest != digest {
            return Err(ReserveError::Binding(format!(
                "the proof is for digest {}, not the balance digest {digest}",
                self.proof.digest
            )));
        }
        if self.proof.tenant.as_deref() != Some(summary.tenant.as_str())
            || self.proof.period.as_deref() != Some(summary.period.to_string().as_str())
        {
            return Err(ReserveError::Binding(format!(
                "the proof names tenant {:?} period {:?}, the summary {} {}",
                self.proof.tenant, self.proof.period, summary.tenant, summary.period
            )));
        }
        if self.proof.tree_size != summary.tree_size {
            return Err(ReserveError::Binding(format!(
                "the proof's tree_size {} is not the summary's {}",
                self.proof.tree_size, summary.tree_size
            )));
        }
        self.proof
            .verify(Some(&self.root))
            .map_err(|e| ReserveError::Binding(format!("inclusion proof: {e}")))?;
        Ok(summary)
    }
}

/// `1d 2h 3m 4s`, zero units left out (`0s` for zero); negative ages read `-…`.
pub fn human_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    let sign = if secs < 0 { "-" } else { "" };
    secs = secs.abs();
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if text.is_empty() {
        "0s".into()
    } else {
        format!("{sign}{}", text.join(" "))
    }
}

/// The staleness rule: refuse when the summary is older than `max_age` at `now`.
pub fn check_summary_age(
    summary: &RunSummary,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<()> {
    let age = now - summary.ts;
    if age > max_age {
        return Err(ReserveError::StaleSummary {
            tenant: summary.tenant.to_string(),
            seq: summary.seq,
            ts: crate::ids::format_ts(summary.ts),
            age: human_duration(age),
            max: human_duration(max_age),
        });
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub id: AttestationId,
    #[serde(with = "ts")]
    pub issued_at: DateTime<Utc>,
    pub balances: Balances,
    pub balance_digest: ManifestDigest,
    pub anchor: AnchorBinding,
}

impl Attestation {
    /// Binds `balances` to its anchoring, refusing a binding that does not check or a summary
    /// older than `max_summary_age` at `issued_at`.
    pub fn new(
        id: AttestationId,
        issued_at: DateTime<Utc>,
        balances: Balances,
        anchor: AnchorBinding,
        jwks: &Jwks,
        max_summary_age: Duration,
    ) -> Result<Attestation> {
        balances.check()?;
        if issued_at < balances.period.start {
            return Err(ReserveError::Request(
                "issued_at must be >= period_start".into(),
            ));
        }
        let balance_digest = balances.digest();
        let summary = anchor.check(&balance_digest, jwks)?;
        check_summary_age(&summary, issued_at, max_summary_age)?;
        Ok(Attestation {
            id,
            issued_at,
            balances,
            balance_digest,
            anchor,
        })
    }
}

/// `{schema, version, attestation}`: what is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub schema: String,
    pub version: String,
    pub attestation: Attestation,
}

/// What is served and stored: the payload, its hash and its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Served {
    pub payload: Payload,
    pub payload_hash: String,
    pub alg: String,
    pub kid: KeyId,
    pub sig: String,
}

/// A signed attestation with the exact bytes that were signed and served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAttestation {
    pub served: Served,
    /// `JCS(payload)`: the bytes `sig` signs.
    pub canonical: Vec<u8>,
    /// The served document (pretty JSON with a trailing newline), stored and returned as is.
    pub served_json: String,
}

impl SignedAttestation {
    pub fn sign(attestation: Attestation, key: &SigningKey) -> SignedAttestation {
        let payload = Payload {
            schema: SCHEMA.into(),
            version: VERSION.into(),
            attestation,
        };
        let canonical = payload_jcs(&serde_json::to_value(&payload).expect("payload serialises"))
            .expect("payloads hold only strings, bools and small integers");
        let served = Served {
            payload,
            payload_hash: sha256_hex(&canonical),
            alg: ALG.into(),
            kid: key.key_id().clone(),
            sig: key.sign(&canonical),
        };
        let mut served_json = serde_json::to_string_pretty(&served).expect("served serialises");
        served_json.push('\n');
        SignedAttestation {
            served,
            canonical,
            served_json,
        }
    }

    pub fn id(&self) -> &AttestationId {
        &self.served.payload.attestation.id
    }

    pub fn payload_hash(&self) -> &str {
        &self.served.payload_hash
    }
}

fn payload_jcs(payload: &Value) -> Result<Vec<u8>> {
    merkle::canon::canonicalize_value(payload).map_err(|e| ReserveError::Format(e.to_string()))
}

/// Verifies a served attestation document: I-JSON ([`parse`]); the payload re-canonicalised
/// and its signature checked with `kid` from `jwks`, first, so that any change to the payload
/// is a signature failure ([`check_signature`]); strict decoding, schema and version
/// ([`decode`]); the balances' arithmetic, I3 and `balance_digest` ([`check_balances`]); and
/// the anchoring binding: summary signature, root, inclusion proof ([`AnchorBinding::check`]).
/// Returns the decoded document and the embedded run summary. The verifier reports each step
/// as a check (`verifier::attestation`).
pub fn verify(served_bytes: &[u8], jwks: &Jwks) -> Result<(Served, RunSummary)> {
    let value = parse(served_bytes)?;
    check_signature(&value, jwks)?;
    let served = decode(&value)?;
    let a = &served.payload.attestation;
    check_balances(a)?;
    let summary = a.anchor.check(&a.balance_digest, jwks)?;
    Ok((served, summary))
}

/// The served bytes as I-JSON.
pub fn parse(served_bytes: &[u8]) -> Result<Value> {
    merkle::canon::parse_strict(served_bytes)
        .map_err(|e| ReserveError::Format(format!("not I-JSON: {e}")))
}

fn member<'v>(value: &'v Value, k: &str) -> Result<&'v Value> {
    value
        .get(k)
        .ok_or_else(|| ReserveError::Format(format!("the document has no {k:?} member")))
}

/// `sig` over `JCS(payload)` with `kid` from `jwks` (ES256), and `payload_hash` its SHA-256.
/// Returns the key id and the hash.
pub fn check_signature(value: &Value, jwks: &Jwks) -> Result<(KeyId, String)> {
    let payload = member(value, "payload")?;
    let canonical = payload_jcs(payload)?;
    let alg = member(value, "alg")?.as_str().unwrap_or_default();
    if alg != ALG {
        return Err(ReserveError::Signature(format!(
            "alg is {alg:?}, expected {ALG}"
        )));
    }
    let kid: KeyId = member(value, "kid")?
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| ReserveError::Signature(format!("kid: {e}")))?;
    let jwk = jwks
        .get(&kid)
        .ok_or_else(|| ReserveError::Signature(format!("key id {kid} is not in the JWKS")))?;
    jwk.verify(
        &canonical,
        member(value, "sig")?.as_str().unwrap_or_default(),
    )
    .map_err(|e| ReserveError::Signature(e.to_string()))?;
    let hash = sha256_hex(&canonical);
    if member(value, "payload_hash")?.as_str() != Some(hash.as_str()) {
        return Err(ReserveError::Signature(
            "payload_hash is not the SHA-256 of the canonical payload".into(),
        ));
    }
    Ok((kid, hash))
}

/// The document decoded strictly, in its one written form, of this schema and version.
pub fn decode(value: &Value) -> Result<Served> {
    let served: Served =
        serde_json::from_value(value.clone()).map_err(|e| ReserveError::Format(e.to_string()))?;
    if serde_json::to_value(&served).ok().as_ref() != Some(value) {
        return Err(ReserveError::Format(
            "the document is not in its one written form".into(),
        ));
    }
    let p = &served.payload;
    if p.schema != SCHEMA || p.version != VERSION {
        return Err(ReserveError::Format(format!(
            "schema {:?} version {:?}, expected {SCHEMA:?} version {VERSION:?}",
            p.schema, p.version
        )));
    }
    Ok(served)
}

/// The balances' format, period, arithmetic and I3, and `balance_digest` their
/// `SHA-256(JCS(balances))`.
pub fn check_balances(a: &Attestation) -> Result<()> {
    a.balances.check()?;
    if a.balances.digest() != a.balance_digest {
        return Err(ReserveError::Format(
            "balance_digest is not SHA-256(JCS(balances))".into(),
        ));
    }
    Ok(())
}
