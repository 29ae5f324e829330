//! X.509 certificates as a time-stamp verifier needs them: the exact bytes (hashed by
//! ESSCertID and signed as `tbsCertificate`), names, validity, keys, and the extensions that
//! path validation reads. Path building and the checks are in [`validate_path`].

use chrono::{DateTime, Utc};
use rasn::types::Oid;
use rasn_pkix::{BasicConstraints, ExtKeyUsageSyntax, Extension, Name, Time};

use super::alg::{PublicKey, SignatureAlg};
use super::der;

const BASIC_CONSTRAINTS: &Oid = Oid::const_new(&[2, 5, 29, 19]);
const KEY_USAGE: &Oid = Oid::const_new(&[2, 5, 29, 15]);
const EXT_KEY_USAGE: &Oid = Oid::const_new(&[2, 5, 29, 37]);
const SUBJECT_KEY_ID: &Oid = Oid::const_new(&[2, 5, 29, 14]);
const AUTHORITY_KEY_ID: &Oid = Oid::const_new(&[2, 5, 29, 35]);
const SUBJECT_ALT_NAME: &Oid = Oid::const_new(&[2, 5, 29, 17]);
const CERT_POLICIES: &Oid = Oid::const_new(&[2, 5, 29, 32]);
pub(crate) const KP_TIME_STAMPING: &Oid = Oid::const_new(&[1, 3, 6, 1, 5, 5, 7, 3, 8]);

/// The longest chain followed from the signer to a pinned certificate.
const MAX_PATH: usize = 8;

/// One certificate, kept as the bytes it arrived in.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature_alg: rasn_pkix::AlgorithmIdentifier,
    signature: Vec<u8>,
    parsed: rasn_pkix::TbsCertificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Certificate) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Reads one DER certificate. The fields are decoded leniently (BER), since only the
    /// bytes as sent are ever hashed or signed.
    pub fn from_der(bytes: &[u8]) -> Result<Certificate, String> {
        let outer = der::expect(bytes, der::SEQUENCE, "certificate")?;
        let parts = outer.children()?;
        let [tbs, sig_alg, sig] = parts.as_slice() else {
            return Err(format!(
                "certificate has {} fields, expected 3",
                parts.len()
            ));
        };
        if tbs.tag != der::SEQUENCE || sig_alg.tag != der::SEQUENCE || sig.tag != der::BIT_STRING {
            return Err("certificate fields are not tbsCertificate, algorithm, signature".into());
        }
        let start = tbs.raw.as_ptr() as usize - bytes.as_ptr() as usize;
        let fields = tbs.children()?;
        let skip = usize::from(fields.first().is_some_and(|f| f.tag == der::context(0)));
        if fields.len() < skip + 6 {
            return Err("tbsCertificate has too few fields".into());
        }
        let parsed: rasn_pkix::TbsCertificate =
            rasn::ber::decode(tbs.raw).map_err(|e| format!("tbsCertificate: {e}"))?;
        let signature_alg = rasn::ber::decode(sig_alg.raw)
            .map_err(|e| format!("certificate signatureAlgorithm: {e}"))?;
        if sig.value.first() != Some(&0) {
            return Err("certificate signature BIT STRING has unused bits".into());
        }
        Ok(Certificate {
            der: bytes.to_vec(),
            tbs: start..start + tbs.raw.len(),
            signature_alg,
            signature: sig.value[1..].to_vec(),
            parsed,
        })
    }

    /// Every certificate block of a PEM bundle, in order, read as `openssl` reads PEM (any
    /// base64 line length, one-line bodies, CRLF; see [`super::pem`]). `CERTIFICATE` and the
    /// older `X509 CERTIFICATE` are read, and `TRUSTED CERTIFICATE` (openssl's, with its trust
    /// settings after the certificate, which are ignored). Other blocks are refused so that a
    /// key file passed by mistake is not silently ignored.
    pub fn from_pem_bundle(text: &str) -> Result<Vec<Certificate>, String> {
        let mut out = Vec::new();
        for (i, block) in super::pem::blocks(text)?.into_iter().enumerate() {
            let der = match block.label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" => block.der,
                "TRUSTED CERTIFICATE" => der::read(&block.der)
                    .map_err(|e| format!("PEM block {}: {e}", i + 1))?
                    .0
                    .raw
                    .to_vec(),
                label => {
                    return Err(format!(
                        "PEM block {} is a {label}, not a CERTIFICATE",
                        i + 1
                    ));
                }
            };
            out.push(Certificate::from_der(&der).map_err(|e| format!("PEM block {}: {e}", i + 1))?);
        }
        if out.is_empty() {
            return Err("no PEM CERTIFICATE block found".into());
        }
        Ok(out)
    }

    /// The certificates of a file given as `--ca`, `--untrusted`, `--chain`: a PEM bundle, or
    /// one DER certificate.
    ///
    /// Decision: DER is **read**, not refused. `openssl ts -verify -CAfile` takes PEM only,
    /// but a DER file is unambiguous (it starts with a SEQUENCE, 0x30, which no PEM text
    /// does, and must be exactly one certificate), and it is how many TSAs publish their
    /// certificates (`.cer`/`.crt` downloads, Windows exports). Refusing it would only send
    /// the user to `openssl x509 -inform DER` for the same bytes. Anything else is refused
    /// saying that PEM or one DER certificate is expected.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
        if bytes.first() == Some(&der::SEQUENCE) {
            return Certificate::from_der(bytes)
                .map(|c| vec![c])
                .map_err(|e| format!("not one DER certificate: {e}"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| {
            "neither PEM text nor a DER certificate (PEM CERTIFICATE blocks are expected)"
                .to_string()
        })?;
        Certificate::from_pem_bundle(text)
    }

    pub fn to_pem(&self) -> String {
        p256::pkcs8::der::pem::encode_string(
            "CERTIFICATE",
            p256::pkcs8::der::pem::LineEnding::LF,
            &self.der,
        )
        .expect("a certificate always encodes as PEM")
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub(crate) fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    pub fn subject(&self) -> String {
        display_name(&self.parsed.subject)
    }

    pub fn issuer(&self) -> String {
        display_name(&self.parsed.issuer)
    }

    /// The `tbsCertificate` fields after the optional version: serialNumber, signature,
    /// issuer, validity, subject, …
    fn tbs_fields(&self) -> Vec<der::Tlv<'_>> {
        let tbs = der::read_all(self.tbs_der()).expect("checked when parsed");
        let mut fields = tbs.children().expect("checked when parsed");
        if fields.first().is_some_and(|f| f.tag == der::context(0)) {
            fields.remove(0);
        }
        fields
    }

    /// The serial number exactly as encoded (a whole INTEGER element).
    #[cfg_attr(not(feature = "net"), allow(dead_code))] // the dev responder's
    pub(crate) fn serial_der(&self) -> Vec<u8> {
        self.tbs_fields()[0].raw.to_vec()
    }

    /// The issuer Name exactly as encoded.
    #[cfg_attr(not(feature = "net"), allow(dead_code))] // the dev responder's
    pub(crate) fn issuer_der(&self) -> Vec<u8> {
        self.tbs_fields()[2].raw.to_vec()
    }

    /// The subject Name exactly as encoded.
    #[cfg_attr(not(feature = "net"), allow(dead_code))] // the dev responder's
    pub(crate) fn subject_der(&self) -> Vec<u8> {
        self.tbs_fields()[4].raw.to_vec()
    }

    pub(crate) fn subject_name(&self) -> &Name {
        &self.parsed.subject
    }

    pub(crate) fn issuer_name(&self) -> &Name {
        &self.parsed.issuer
    }

    pub(crate) fn serial(&self) -> &rasn::types::Integer {
        &self.parsed.serial_number
    }

    /// The serial number as lower-case hex of its DER contents.
    pub fn serial_hex(&self) -> String {
        integer_hex(&self.parsed.serial_number)
    }

    pub(crate) fn subject_key_id(&self) -> Option<Vec<u8>> {
        let ext = self.extension(SUBJECT_KEY_ID)?;
        der::expect(&ext.extn_value, der::OCTET_STRING, "subjectKeyIdentifier")
            .ok()
            .map(|t| t.value.to_vec())
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        time(&self.parsed.validity.not_before)
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        time(&self.parsed.validity.not_after)
    }

    pub(crate) fn public_key(&self) -> Result<PublicKey, String> {
        PublicKey::from_spki(&self.parsed.subject_public_key_info)
    }

    fn extension(&self, oid: &Oid) -> Option<&Extension> {
        self.parsed
            .extensions
            .as_ref()?
            .iter()
            .find(|e| *e.extn_id == *oid)
    }

    fn is_ca(&self) -> bool {
        self.extension(BASIC_CONSTRAINTS)
            .and_then(|e| rasn::der::decode::<BasicConstraints>(&e.extn_value).ok())
            .is_some_and(|bc| bc.ca)
    }

    /// keyUsage bit `bit` (RFC 5280 §4.2.1.3), or true when the extension is absent.
    fn allows_key_usage(&self, bit: usize) -> bool {
        let Some(ext) = self.extension(KEY_USAGE) else {
            return true;
        };
        rasn::der::decode::<rasn::types::BitString>(&ext.extn_value)
            .ok()
            .is_some_and(|bits| bits.get(bit).is_some_and(|b| *b))
    }

    /// RFC 3161 §2.3: "The corresponding certificate MUST contain only one instance of the
    /// extended key usage field extension … with KeyPurposeID having value:
    /// id-kp-timeStamping. This extension MUST be critical."
    pub(crate) fn check_time_stamping_eku(&self) -> Result<(), String> {
        let all: Vec<&Extension> = self
            .parsed
            .extensions
            .iter()
            .flat_map(|e| e.iter())
            .filter(|e| *e.extn_id == *EXT_KEY_USAGE)
            .collect();
        let [ext] = all.as_slice() else {
            return Err(format!(
                "signer certificate has {} extendedKeyUsage extensions, RFC 3161 needs exactly one",
                all.len()
            ));
        };
        if !ext.critical {
            return Err("signer certificate's extendedKeyUsage is not critical".into());
        }
        let purposes: ExtKeyUsageSyntax =
            rasn::der::decode(&ext.extn_value).map_err(|e| format!("extendedKeyUsage: {e}"))?;
        if purposes.len() != 1 || *purposes[0] != *KP_TIME_STAMPING {
            let names: Vec<String> = purposes.iter().map(ToString::to_string).collect();
            return Err(format!(
                "signer certificate's extendedKeyUsage is [{}], RFC 3161 needs only id-kp-timeStamping",
                names.join(", ")
            ));
        }
        Ok(())
    }

    /// Refuses critical extensions this verifier does not understand (RFC 5280 §4.2).
    fn check_critical_extensions(&self) -> Result<(), String> {
        let known = [
            BASIC_CONSTRAINTS,
            KEY_USAGE,
            EXT_KEY_USAGE,
            SUBJECT_KEY_ID,
            AUTHORITY_KEY_ID,
            SUBJECT_ALT_NAME,
            CERT_POLICIES,
        ];
        for ext in self.parsed.extensions.iter().flat_map(|e| e.iter()) {
            if ext.critical && !known.iter().any(|k| **k == *ext.extn_id) {
                return Err(format!(
                    "certificate {} has critical extension {} that this verifier does not process",
                    self.subject(),
                    ext.extn_id
                ));
            }
        }
        Ok(())
    }

    /// RFC 5280 §4.1.1.2, signatureAlgorithm: "This field MUST contain the same algorithm
    /// identifier as the signature field in the sequence tbsCertificate (Section 4.1.2.3)."
    /// Only the inner one is signed, so an outer one that differs (other parameters, NULL
    /// instead of absent) is an unsigned change to the certificate; `openssl` refuses it too.
    /// Compared as encoded, byte for byte.
    pub(crate) fn check_signature_algorithms_agree(&self) -> Result<(), String> {
        let outer = der::read_all(&self.der)
            .and_then(|c| c.children())
            .map(|f| f[1].raw.to_vec())
            .expect("checked when parsed");
        let inner = self.tbs_fields()[1].raw.to_vec();
        if outer == inner {
            return Ok(());
        }
        Err(format!(
            "certificate {} (serial {}): signatureAlgorithm {} is not the signed \
             tbsCertificate.signature {} (RFC 5280 §4.1.1.2)",
            self.subject(),
            self.serial_hex(),
            describe_algorithm(&outer),
            describe_algorithm(&inner)
        ))
    }

    fn check_valid_at(&self, at: DateTime<Utc>) -> Result<(), String> {
        if at < self.not_before() || at > self.not_after() {
            return Err(format!(
                "certificate {} is valid {} to {}, not at {}",
                self.subject(),
                self.not_before().to_rfc3339(),
                self.not_after().to_rfc3339(),
                at.to_rfc3339()
            ));
        }
        Ok(())
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub(crate) fn check_signed_by(&self, issuer: &Certificate) -> Result<(), String> {
        let alg = SignatureAlg::from_identifier(&self.signature_alg, None)?;
        issuer
            .public_key()?
            .verify(alg, self.tbs_der(), &self.signature)
            .map_err(|e| format!("certificate {}: {e}", self.subject()))
    }
}

/// `1.2.840.10045.4.3.2 (no parameters)`, `… (parameters 0500)`: enough to see how two
/// identifiers differ.
fn describe_algorithm(der_bytes: &[u8]) -> String {
    let Ok(fields) = der::read_all(der_bytes).and_then(|t| t.children()) else {
        return format!("(undecodable {})", merkle::hash::encode_hex(der_bytes));
    };
    let oid = fields
        .first()
        .and_then(|o| rasn::der::decode::<rasn::types::ObjectIdentifier>(o.raw).ok())
        .map_or_else(|| "(no OID)".to_string(), |o| o.to_string());
    let params: Vec<u8> = fields.iter().skip(1).flat_map(|f| f.raw.to_vec()).collect();
    if params.is_empty() {
        format!("{oid} (no parameters)")
    } else {
        format!("{oid} (parameters {})", merkle::hash::encode_hex(&params))
    }
}

fn time(t: &Time) -> DateTime<Utc> {
    match t {
        Time::Utc(u) => *u,
        Time::General(g) => g.with_timezone(&Utc),
    }
}

/// An INTEGER as hex of its big-endian two's-complement contents.
pub(crate) fn integer_hex(i: &rasn::types::Integer) -> String {
    let enc = rasn::der::encode(i).expect("integers encode");
    let t = der::read_all(&enc).expect("rasn writes one element");
    merkle::hash::encode_hex(t.value)
}

/// `CN=…, O=…` with the usual short names; other attributes appear by OID.
pub(crate) fn display_name(name: &Name) -> String {
    let Name::RdnSequence(rdns) = name;
    let mut parts = Vec::new();
    for rdn in rdns {
        for atv in rdn.iter() {
            let key = match atv.r#type.to_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                other => other.to_string(),
            };
            let value = der::read_all(atv.value.as_bytes()).map_or_else(
                |_| "?".to_string(),
                |t| String::from_utf8_lossy(t.value).into_owned(),
            );
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(", ")
}

/// Builds and checks the path from `signer` to a pinned certificate at time `at`: every
/// certificate on it valid at `at`, each signed by the next, intermediates marked as CAs
/// allowed to sign certificates, no unknown critical extension, and the last one either a
/// pinned certificate itself or signed by one. Returns the path, signer first.
pub(crate) fn validate_path<'a>(
    signer: &'a Certificate,
    pool: &'a [Certificate],
    pinned: &'a [Certificate],
    at: DateTime<Utc>,
) -> Result<Vec<&'a Certificate>, String> {
    let mut path = vec![signer];
    let mut current = signer;
    loop {
        current.check_signature_algorithms_agree()?;
        current.check_valid_at(at)?;
        current.check_critical_extensions()?;
        if pinned.iter().any(|p| p == current) {
            return Ok(path);
        }
        if let Some(anchor) = pinned.iter().find(|p| {
            p.subject_name() == current.issuer_name() && current.check_signed_by(p).is_ok()
        }) {
            anchor.check_signature_algorithms_agree()?;
            anchor.check_valid_at(at)?;
            path.push(anchor);
            return Ok(path);
        }
        if path.len() >= MAX_PATH {
            return Err(format!(
                "no pinned CA within {MAX_PATH} certificates of the signer"
            ));
        }
        let next = pool.iter().find(|c| {
            c.subject_name() == current.issuer_name()
                && !path.contains(c)
                && current.check_signed_by(c).is_ok()
        });
        let Some(next) = next else {
            return Err(format!(
                "no path to a pinned CA: nothing pinned or supplied issued {} (issuer {})",
                current.subject(),
                current.issuer()
            ));
        };
        if !next.is_ca() {
            return Err(format!(
                "{} issued a certificate but is not a CA",
                next.subject()
            ));
        }
        // keyCertSign is bit 5 (RFC 5280 §4.2.1.3).
        if !next.allows_key_usage(5) {
            return Err(format!(
                "{} may not sign certificates (keyUsage)",
                next.subject()
            ));
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cert` with its outer signatureAlgorithm replaced by `alg` (the signed bytes unchanged).
    fn with_outer_algorithm(cert: &Certificate, alg: &[u8]) -> Certificate {
        let outer = der::read_all(cert.der()).unwrap();
        let f = outer.children().unwrap();
        Certificate::from_der(&der::cons(der::SEQUENCE, &[f[0].raw, alg, f[2].raw])).unwrap()
    }

    fn ecdsa_sha256_with(params: &[u8]) -> Vec<u8> {
        let oid = der::oid(&[1, 2, 840, 10045, 4, 3, 2]);
        der::cons(der::SEQUENCE, &[&oid, params])
    }

    #[test]
    fn a_chain_certificate_whose_outer_algorithm_differs_from_the_signed_one_is_refused_by_name() {
        let ca = super::super::devca::make(Utc::now());
        let at = Utc::now();
        // As issued, outer and inner are the same bytes and the path holds.
        assert!(validate_path(&ca.tsa_cert, &[], std::slice::from_ref(&ca.ca_cert), at).is_ok());
        for params in [&[0x05, 0x00][..], &[0x04, 0x01, 0x00]] {
            let tsa = with_outer_algorithm(&ca.tsa_cert, &ecdsa_sha256_with(params));
            // The signature still verifies: only the unsigned outer field changed.
            assert!(tsa.check_signed_by(&ca.ca_cert).is_ok());
            let err = validate_path(&tsa, &[], std::slice::from_ref(&ca.ca_cert), at).unwrap_err();
            assert!(
                err.contains("Ledger Anchors dev TSA") && err.contains("RFC 5280 §4.1.1.2"),
                "{err}"
            );
            assert!(err.contains("no parameters"), "{err}");
        }
        // A pinned certificate is held to it too.
        let bad_ca = with_outer_algorithm(&ca.ca_cert, &ecdsa_sha256_with(&[0x05, 0x00]));
        let err = validate_path(&ca.tsa_cert, &[], &[bad_ca], at).unwrap_err();
        assert!(err.contains("dev TSA CA"), "{err}");
    }
}
