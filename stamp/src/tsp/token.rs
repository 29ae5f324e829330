//! Reading time-stamp responses and tokens (RFC 3161 §2.4.2, RFC 5652 §5).
//!
//! ```text
//! TimeStampResp ::= SEQUENCE  {
//!    status                  PKIStatusInfo,
//!    timeStampToken          TimeStampToken     OPTIONAL  }
//!
//! TimeStampToken ::= ContentInfo
//!    -- contentType is id-signedData ([CMS])
//!    -- content is SignedData ([CMS])
//!
//! SignedData ::= SEQUENCE {
//!    version CMSVersion,
//!    digestAlgorithms DigestAlgorithmIdentifiers,
//!    encapContentInfo EncapsulatedContentInfo,
//!    certificates [0] IMPLICIT CertificateSet OPTIONAL,
//!    crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
//!    signerInfos SignerInfos }
//!
//! SignerInfo ::= SEQUENCE {
//!    version CMSVersion,
//!    sid SignerIdentifier,
//!    digestAlgorithm DigestAlgorithmIdentifier,
//!    signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
//!    signatureAlgorithm SignatureAlgorithmIdentifier,
//!    signature SignatureValue,
//!    unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
//! ```
//!
//! The walk keeps the exact bytes of what is hashed and signed; `rasn` decodes the leaves.
//! The certificate SET is read element by element, so its order does not matter (`openssl ts
//! -reply -chain` writes it out of DER order).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rasn::types::{ObjectIdentifier, Oid};
use rasn_cms::tsp::TstInfo;
use rasn_pkix::AlgorithmIdentifier;

use super::alg::HashAlg;
use super::der;
use super::x509::{Certificate, display_name, integer_hex};
use crate::error::{Result, StampError, TsaCheck};

pub(crate) const SIGNED_DATA: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 7, 2]);
pub(crate) const CT_TST_INFO: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 9, 16, 1, 4]);
pub(crate) const ATTR_CONTENT_TYPE: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 9, 3]);
pub(crate) const ATTR_MESSAGE_DIGEST: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 9, 4]);
pub(crate) const ATTR_SIGNING_CERT: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 9, 16, 2, 12]);
pub(crate) const ATTR_SIGNING_CERT_V2: &Oid =
    Oid::const_new(&[1, 2, 840, 113_549, 1, 9, 16, 2, 47]);

fn bad(detail: impl Into<String>) -> StampError {
    StampError::tsa(TsaCheck::Encoding, detail)
}

/// `PKIStatus` (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkiStatus {
    Granted,
    GrantedWithMods,
    Rejection,
    Waiting,
    RevocationWarning,
    RevocationNotification,
}

/// A `TimeStampResp`: the status and, when granted, the token.
#[derive(Clone, Debug)]
pub struct TimeStampResponse {
    pub status: PkiStatus,
    /// `statusString`, joined.
    pub status_text: Option<String>,
    /// Names of the `failInfo` bits that are set.
    pub failures: Vec<&'static str>,
    pub token: Option<TimeStampToken>,
}

const FAILURE_BITS: [(usize, &str); 8] = [
    (0, "badAlg"),
    (2, "badRequest"),
    (5, "badDataFormat"),
    (14, "timeNotAvailable"),
    (15, "unacceptedPolicy"),
    (16, "unacceptedExtension"),
    (17, "addInfoNotAvailable"),
    (25, "systemFailure"),
];

impl TimeStampResponse {
    pub fn from_der(bytes: &[u8]) -> Result<TimeStampResponse> {
        let resp = der::expect(bytes, der::SEQUENCE, "TimeStampResp").map_err(bad)?;
        der::check_forms(bytes).map_err(|e| bad(format!("TimeStampResp: {e}")))?;
        let fields = resp.children().map_err(bad)?;
        let (status_info, token) = match fields.as_slice() {
            [s] => (s, None),
            [s, t] => (s, Some(t)),
            _ => return Err(bad(format!("TimeStampResp has {} fields", fields.len()))),
        };
        let info: rasn_cms::tsp::PkiStatusInfo =
            rasn::der::decode(status_info.raw).map_err(|e| bad(format!("PKIStatusInfo: {e}")))?;
        let status = {
            use rasn_cms::tsp::PkiStatus as P;
            match info.status {
                P::Granted => PkiStatus::Granted,
                P::GrantedWithMods => PkiStatus::GrantedWithMods,
                P::Rejection => PkiStatus::Rejection,
                P::Waiting => PkiStatus::Waiting,
                P::RevocationWarning => PkiStatus::RevocationWarning,
                P::RevocationNotification => PkiStatus::RevocationNotification,
            }
        };
        let status_text = info.status_string.map(|s| {
            s.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        });
        let failures = info
            .fail_info
            .map(|bits| {
                FAILURE_BITS
                    .iter()
                    .filter(|(i, _)| bits.get(*i).is_some_and(|b| *b))
                    .map(|(_, n)| *n)
                    .collect()
            })
            .unwrap_or_default();
        let token = token.map(|t| TimeStampToken::from_der(t.raw)).transpose()?;
        if matches!(status, PkiStatus::Granted | PkiStatus::GrantedWithMods) && token.is_none() {
            return Err(bad("status is granted but the response carries no token"));
        }
        Ok(TimeStampResponse {
            status,
            status_text,
            failures,
            token,
        })
    }

    /// Describes a status that is not `granted`.
    pub fn status_description(&self) -> String {
        let mut s = format!("{:?}", self.status);
        if let Some(t) = &self.status_text {
            let _ = write!(s, " ({t})");
        }
        if !self.failures.is_empty() {
            let _ = write!(s, " failInfo: {}", self.failures.join(", "));
        }
        s
    }
}

/// How the signer names its certificate in `SignerInfo.sid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignerId {
    IssuerSerial {
        issuer: rasn_pkix::Name,
        serial: rasn::types::Integer,
    },
    KeyId(Vec<u8>),
}

/// One `ESSCertID` / `ESSCertIDv2` (RFC 2634 §5.4, RFC 5035 §3).
#[derive(Clone, Debug)]
pub(crate) struct EssCertId {
    /// `None` for ESSCertID, whose hash is SHA-1 by definition.
    pub hash: Option<HashAlg>,
    pub cert_hash: Vec<u8>,
    pub issuer_serial: Option<(Vec<rasn_pkix::GeneralName>, rasn::types::Integer)>,
}

/// A time-stamp token, parsed; nothing about it is trusted until [`super::verify_token`].
#[derive(Clone, Debug)]
pub struct TimeStampToken {
    der: Vec<u8>,
    pub(crate) tst_der: Vec<u8>,
    pub(crate) tst: TstInfo,
    pub(crate) certificates: Vec<Certificate>,
    pub(crate) sid: SignerId,
    pub(crate) digest_alg: std::result::Result<HashAlg, String>,
    /// The signed attributes with the SET OF tag, as the signature covers them.
    pub(crate) signed_attrs: Vec<u8>,
    pub(crate) content_type: Option<ObjectIdentifier>,
    pub(crate) message_digest: Option<Vec<u8>>,
    pub(crate) ess: Vec<EssCertId>,
    pub(crate) signature_alg: AlgorithmIdentifier,
    pub(crate) signature: Vec<u8>,
}

impl TimeStampToken {
    pub fn from_der(bytes: &[u8]) -> Result<TimeStampToken> {
        let ci = der::expect(bytes, der::SEQUENCE, "TimeStampToken").map_err(bad)?;
        der::check_forms(bytes).map_err(|e| bad(format!("TimeStampToken: {e}")))?;
        let ci_fields = ci.children().map_err(bad)?;
        let [ct, content] = ci_fields.as_slice() else {
            return Err(bad("ContentInfo must have contentType and content"));
        };
        let ct: ObjectIdentifier = decode_oid(ct.raw, "contentType")?;
        if *ct != *SIGNED_DATA {
            return Err(bad(format!("contentType {ct} is not id-signedData")));
        }
        if content.tag != der::context(0) {
            return Err(bad("ContentInfo content is not [0] EXPLICIT"));
        }
        let sd = der::expect(content.value, der::SEQUENCE, "SignedData").map_err(bad)?;
        let fields = sd.children().map_err(bad)?;
        if fields.len() < 4 {
            return Err(bad(format!("SignedData has {} fields", fields.len())));
        }
        // RFC 5652 §5.1: "IF … eContentType is other than id-data THEN version MUST be 3".
        if fields[0].raw != [der::INTEGER, 1, 3] {
            return Err(bad("SignedData version is not 3"));
        }
        if fields[1].tag != der::SET {
            return Err(bad("SignedData digestAlgorithms is not a SET"));
        }
        let mut digest_algorithms = Vec::new();
        for a in fields[1].children().map_err(bad)? {
            let ai: AlgorithmIdentifier =
                rasn::der::decode(a.raw).map_err(|e| bad(format!("digestAlgorithms: {e}")))?;
            digest_algorithms.push(ai.algorithm);
        }
        let eci = fields[2];
        let certificates = certificates_and_crls(&fields[3..fields.len() - 1])?;
        let (tst_der, tst) = encapsulated_tst_info(eci)?;
        let signer_infos = fields[fields.len() - 1];
        if signer_infos.tag != der::SET {
            return Err(bad("SignedData signerInfos is not a SET"));
        }
        let signers = signer_infos.children().map_err(bad)?;
        // RFC 3161 §2.4.2: "The time-stamp token MUST NOT contain any signatures other than
        // the signature of the TSA."
        let [signer] = signers.as_slice() else {
            return Err(bad(format!(
                "the token has {} signers, RFC 3161 allows exactly one",
                signers.len()
            )));
        };
        let mut token = TimeStampToken {
            der: bytes.to_vec(),
            tst_der,
            tst,
            certificates,
            sid: SignerId::KeyId(Vec::new()),
            digest_alg: Err(String::new()),
            signed_attrs: Vec::new(),
            content_type: None,
            message_digest: None,
            ess: Vec::new(),
            signature_alg: AlgorithmIdentifier {
                algorithm: ObjectIdentifier::from(CT_TST_INFO),
                parameters: None,
            },
            signature: Vec::new(),
        };
        token.read_signer_info(*signer, &digest_algorithms)?;
        Ok(token)
    }

    fn read_signer_info(
        &mut self,
        si: der::Tlv<'_>,
        digest_algorithms: &[ObjectIdentifier],
    ) -> Result<()> {
        if si.tag != der::SEQUENCE {
            return Err(bad("SignerInfo is not a SEQUENCE"));
        }
        let f = si.children().map_err(bad)?;
        let mut i = 1; // after version
        let sid = f.get(i).ok_or_else(|| bad("SignerInfo is truncated"))?;
        self.sid = match sid.tag {
            der::SEQUENCE => {
                let ias: rasn_cms::IssuerAndSerialNumber =
                    rasn::ber::decode(sid.raw).map_err(|e| bad(format!("SignerInfo sid: {e}")))?;
                SignerId::IssuerSerial {
                    issuer: ias.issuer,
                    serial: ias.serial_number,
                }
            }
            0x80 => SignerId::KeyId(sid.value.to_vec()),
            t => return Err(bad(format!("SignerInfo sid has identifier 0x{t:02x}"))),
        };
        // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
        let want_version: &[u8] = match self.sid {
            SignerId::IssuerSerial { .. } => &[der::INTEGER, 1, 1],
            SignerId::KeyId(_) => &[der::INTEGER, 1, 3],
        };
        if f.first().map(|v| v.raw) != Some(want_version) {
            return Err(bad("SignerInfo version does not match its sid"));
        }
        i += 1;
        let digest_alg: AlgorithmIdentifier = f
            .get(i)
            .ok_or_else(|| bad("SignerInfo is truncated"))
            .and_then(|t| {
                rasn::ber::decode(t.raw).map_err(|e| bad(format!("digestAlgorithm: {e}")))
            })?;
        if !digest_algorithms.contains(&digest_alg.algorithm) {
            return Err(bad(format!(
                "the signer's digestAlgorithm {} is not in SignedData.digestAlgorithms",
                digest_alg.algorithm
            )));
        }
        self.digest_alg = HashAlg::from_oid(&digest_alg.algorithm);
        i += 1;
        let attrs = f
            .get(i)
            .filter(|t| t.tag == der::context(0))
            .ok_or_else(|| {
                StampError::tsa(
                    TsaCheck::SignedAttributes,
                    "SignerInfo has no signed attributes (RFC 3161 needs signingCertificate)",
                )
            })?;
        let mut set = attrs.raw.to_vec();
        set[0] = der::SET;
        self.signed_attrs = set;
        self.read_attributes(attrs)?;
        i += 1;
        self.signature_alg = f
            .get(i)
            .ok_or_else(|| bad("SignerInfo is truncated"))
            .and_then(|t| {
                rasn::ber::decode(t.raw).map_err(|e| bad(format!("signatureAlgorithm: {e}")))
            })?;
        i += 1;
        let sig = f
            .get(i)
            .filter(|t| t.tag == der::OCTET_STRING)
            .ok_or_else(|| bad("SignerInfo signature is missing"))?;
        self.signature = sig.value.to_vec();
        Ok(())
    }

    fn read_attributes(&mut self, attrs: &der::Tlv<'_>) -> Result<()> {
        let attr_err = |d: String| StampError::tsa(TsaCheck::SignedAttributes, d);
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for a in attrs.children().map_err(bad)? {
            let parts = a.children().map_err(bad)?;
            let [oid, values] = parts.as_slice() else {
                return Err(attr_err("an attribute is not (type, values)".into()));
            };
            let oid: ObjectIdentifier = decode_oid(oid.raw, "attribute type")?;
            if seen.contains(&oid) {
                return Err(attr_err(format!("attribute {oid} appears twice")));
            }
            seen.push(oid.clone());
            let vals = values.children().map_err(bad)?;
            let one = || -> Result<der::Tlv<'_>> {
                match vals.as_slice() {
                    [v] => Ok(*v),
                    _ => Err(attr_err(format!(
                        "attribute {oid} must have exactly one value"
                    ))),
                }
            };
            if *oid == *ATTR_CONTENT_TYPE {
                self.content_type = Some(decode_oid(one()?.raw, "content-type attribute")?);
            } else if *oid == *ATTR_MESSAGE_DIGEST {
                let v = one()?;
                if v.tag != der::OCTET_STRING {
                    return Err(attr_err("message-digest is not an OCTET STRING".into()));
                }
                self.message_digest = Some(v.value.to_vec());
            } else if *oid == *ATTR_SIGNING_CERT_V2 {
                let sc: rasn_smime::ess::SigningCertificateV2 = rasn::ber::decode(one()?.raw)
                    .map_err(|e| attr_err(format!("signingCertificateV2: {e}")))?;
                for c in sc.certs {
                    self.ess.push(EssCertId {
                        hash: Some(
                            HashAlg::from_oid(&c.hash_algorithm.algorithm)
                                .map_err(|e| attr_err(format!("ESSCertIDv2: {e}")))?,
                        ),
                        cert_hash: c.cert_hash.to_vec(),
                        issuer_serial: c.issuer_serial.map(|s| (s.issuer, s.serial_number)),
                    });
                }
            } else if *oid == *ATTR_SIGNING_CERT {
                let sc: rasn_smime::ess::SigningCertificate = rasn::ber::decode(one()?.raw)
                    .map_err(|e| attr_err(format!("signingCertificate: {e}")))?;
                for c in sc.certs {
                    self.ess.push(EssCertId {
                        hash: None,
                        cert_hash: c.cert_hash.to_vec(),
                        issuer_serial: c.issuer_serial.map(|s| (s.issuer, s.serial_number)),
                    });
                }
            }
        }
        Ok(())
    }

    /// The token exactly as received (a CMS `ContentInfo`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificates the token carries.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// What the token claims, unverified.
    pub fn info(&self) -> TokenInfo {
        let tst = &self.tst;
        let accuracy = tst.accuracy.as_ref().map(|a| {
            let part = |v: &Option<rasn::types::Integer>, unit: &str| {
                v.as_ref().map(|n| format!("{}{unit}", integer_decimal(n)))
            };
            [
                part(&a.seconds, "s"),
                part(&a.millis, "ms"),
                part(&a.micros, "us"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
        });
        TokenInfo {
            policy: tst.policy.to_string(),
            imprint_alg: HashAlg::from_oid(&tst.message_imprint.hash_algorithm.algorithm),
            imprint: tst.message_imprint.hashed_message.to_vec(),
            serial_hex: integer_hex(&tst.serial_number),
            gen_time: tst.gen_time.with_timezone(&Utc),
            accuracy,
            ordering: tst.ordering,
            nonce_hex: tst.nonce.as_ref().map(integer_hex),
            tsa_name: tst.tsa.as_ref().map(|g| match g {
                rasn_pkix::GeneralName::DirectoryName(n) => display_name(n),
                other => format!("{other:?}"),
            }),
            signer: self.signer_description(),
        }
    }

    fn signer_description(&self) -> String {
        match &self.sid {
            SignerId::IssuerSerial { issuer, serial } => {
                let cert = self
                    .certificates
                    .iter()
                    .find(|c| c.issuer_name() == issuer && c.serial() == serial);
                match cert {
                    Some(c) => c.subject(),
                    None => format!(
                        "serial {} issued by {} (certificate not in the token)",
                        integer_hex(serial),
                        display_name(issuer)
                    ),
                }
            }
            SignerId::KeyId(k) => format!("key id {}", merkle::hash::encode_hex(k)),
        }
    }
}

/// The fields of a `TSTInfo`, as a report shows them.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub policy: String,
    /// The imprint's hash algorithm, or why it is refused.
    pub imprint_alg: std::result::Result<HashAlg, String>,
    pub imprint: Vec<u8>,
    pub serial_hex: String,
    pub gen_time: DateTime<Utc>,
    pub accuracy: Option<String>,
    pub ordering: bool,
    pub nonce_hex: Option<String>,
    pub tsa_name: Option<String>,
    pub signer: String,
}

fn decode_oid(raw: &[u8], what: &str) -> Result<ObjectIdentifier> {
    if raw.first() != Some(&der::OID) {
        return Err(bad(format!("{what} is not an OBJECT IDENTIFIER")));
    }
    rasn::der::decode(raw).map_err(|e| bad(format!("{what}: {e}")))
}

/// The optional fields between `encapContentInfo` and `signerInfos` (RFC 5652 §5.1, §10.2.1):
///
/// ```text
/// certificates [0] IMPLICIT CertificateSet OPTIONAL,
/// crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
///
/// CertificateChoices ::= CHOICE {
///   certificate Certificate,
///   extendedCertificate [0] IMPLICIT ExtendedCertificate,  -- Obsolete
///   v1AttrCert [1] IMPLICIT AttributeCertificateV1,        -- Obsolete
///   v2AttrCert [2] IMPLICIT AttributeCertificateV2,
///   other [3] IMPLICIT OtherCertificateFormat }
///
/// RevocationInfoChoice ::= CHOICE {
///   crl CertificateList,
///   other [1] IMPLICIT OtherRevocationInfoFormat }
/// ```
///
/// Each at most once, in that order, and every element one of its CHOICE's alternatives; a
/// certificate or CRL must decode. A malformed set is refused even though the signer's
/// certificate could come from elsewhere (`--untrusted`): `openssl ts -verify` cannot read
/// such a token at all. Only plain certificates are used; the other alternatives are skipped.
fn certificates_and_crls(fields: &[der::Tlv<'_>]) -> Result<Vec<Certificate>> {
    let mut certificates = Vec::new();
    let mut last = None;
    for f in fields {
        if last.is_some_and(|t| t >= f.tag) || !matches!(f.tag, 0xa0 | 0xa1) {
            return Err(bad(format!(
                "SignedData field 0x{:02x} is not certificates [0] or crls [1], once each and \
                 in that order",
                f.tag
            )));
        }
        last = Some(f.tag);
        let elements = f
            .children()
            .map_err(|e| bad(format!("SignedData field 0x{:02x}: {e}", f.tag)))?;
        for (i, c) in elements.iter().enumerate() {
            match (f.tag, c.tag) {
                (0xa0, der::SEQUENCE) => certificates.push(
                    Certificate::from_der(c.raw)
                        .map_err(|e| bad(format!("certificate {}: {e}", i + 1)))?,
                ),
                (0xa0, 0xa0..=0xa3) | (0xa1, 0xa1) => {}
                (0xa1, der::SEQUENCE) => {
                    rasn::ber::decode::<rasn_pkix::CertificateList>(c.raw)
                        .map_err(|e| bad(format!("CRL {}: {e}", i + 1)))?;
                }
                (0xa0, t) => {
                    return Err(bad(format!(
                        "certificate {}: identifier 0x{t:02x} is not a CertificateChoices",
                        i + 1
                    )));
                }
                (_, t) => {
                    return Err(bad(format!(
                        "CRL {}: identifier 0x{t:02x} is not a RevocationInfoChoice",
                        i + 1
                    )));
                }
            }
        }
    }
    Ok(certificates)
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING }`
fn encapsulated_tst_info(eci: der::Tlv<'_>) -> Result<(Vec<u8>, TstInfo)> {
    if eci.tag != der::SEQUENCE {
        return Err(bad("encapContentInfo is not a SEQUENCE"));
    }
    let f = eci.children().map_err(bad)?;
    let [ct, content] = f.as_slice() else {
        return Err(bad("encapContentInfo has no eContent"));
    };
    let ct = decode_oid(ct.raw, "eContentType")?;
    if *ct != *CT_TST_INFO {
        return Err(bad(format!("eContentType {ct} is not id-ct-TSTInfo")));
    }
    if content.tag != der::context(0) {
        return Err(bad("eContent is not [0] EXPLICIT"));
    }
    let octets = der::expect(content.value, der::OCTET_STRING, "eContent").map_err(bad)?;
    der::check_forms(octets.value).map_err(|e| bad(format!("TSTInfo: {e}")))?;
    let tst: TstInfo = rasn::der::decode(octets.value).map_err(|e| bad(format!("TSTInfo: {e}")))?;
    if tst.version != rasn::types::Integer::from(1) {
        return Err(bad("TSTInfo version is not 1"));
    }
    Ok((octets.value.to_vec(), tst))
}

/// A small INTEGER in decimal (accuracy fields), or its hex when it is large.
fn integer_decimal(i: &rasn::types::Integer) -> String {
    let hex = integer_hex(i);
    u64::from_str_radix(&hex, 16).map_or_else(|_| format!("0x{hex}"), |n| n.to_string())
}
