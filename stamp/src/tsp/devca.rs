//! A throwaway CA and TSA certificate for development and tests (`anchor tsa dev-ca`). The
//! names say "local, not trusted" so a token signed under them is never mistaken for a real
//! TSA's. Keys are P-256; certificates follow RFC 5280 and RFC 3161 §2.3 (the TSA certificate
//! has one critical extendedKeyUsage with only id-kp-timeStamping).

use chrono::{DateTime, Datelike as _, Duration, Utc};
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand::RngCore as _;

use super::alg::{ECDSA_WITH_SHA256, HashAlg, oid_der};
use super::der;
use super::x509::{Certificate, KP_TIME_STAMPING};
use crate::error::{Result, StampError, TsaCheck};

/// The files `anchor tsa dev-ca` writes.
#[derive(Clone, Debug)]
pub struct DevCa {
    pub ca_key_pem: String,
    pub ca_cert: Certificate,
    pub tsa_key_pem: String,
    pub tsa_cert: Certificate,
}

/// Makes a CA valid for ten years and a TSA certificate valid for five, both from an hour
/// before `now` (clock skew between the machine that made them and the verifier).
pub fn make(now: DateTime<Utc>) -> DevCa {
    let ca_key = random_key();
    let tsa_key = random_key();
    let ca_name = name("Ledger Anchors dev TSA CA");
    let tsa_name = name("Ledger Anchors dev TSA");
    let start = now - Duration::hours(1);
    let ca_spki = spki(&ca_key);
    let ca_key_id = key_id(&ca_spki);
    let ca_cert = issue(
        &ca_key,
        &ca_name,
        &ca_name,
        &ca_spki,
        (start, start + Duration::days(3650)),
        &[
            // basicConstraints critical, cA TRUE
            extension(
                &[2, 5, 29, 19],
                true,
                &der::cons(der::SEQUENCE, &[&[1, 1, 0xff]]),
            ),
            // keyUsage critical: keyCertSign (5), cRLSign (6)
            extension(&[2, 5, 29, 15], true, &[3, 2, 1, 0x06]),
            extension(
                &[2, 5, 29, 14],
                false,
                &der::tlv(der::OCTET_STRING, &ca_key_id),
            ),
        ],
    );
    let tsa_spki = spki(&tsa_key);
    let tsa_cert = issue(
        &ca_key,
        &ca_name,
        &tsa_name,
        &tsa_spki,
        (start, start + Duration::days(1825)),
        &[
            // keyUsage critical: digitalSignature (0)
            extension(&[2, 5, 29, 15], true, &[3, 2, 7, 0x80]),
            // extendedKeyUsage critical: id-kp-timeStamping only (RFC 3161 §2.3)
            extension(
                &[2, 5, 29, 37],
                true,
                &der::cons(der::SEQUENCE, &[&oid_der(KP_TIME_STAMPING)]),
            ),
            extension(
                &[2, 5, 29, 14],
                false,
                &der::tlv(der::OCTET_STRING, &key_id(&tsa_spki)),
            ),
            // authorityKeyIdentifier: keyIdentifier [0]
            extension(
                &[2, 5, 29, 35],
                false,
                &der::cons(der::SEQUENCE, &[&der::tlv(0x80, &ca_key_id)]),
            ),
        ],
    );
    DevCa {
        ca_key_pem: pem_key(&ca_key),
        ca_cert,
        tsa_key_pem: pem_key(&tsa_key),
        tsa_cert,
    }
}

/// Reads a P-256 private key from PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM, the
/// two forms openssl writes.
pub fn load_p256_key(pem: &str) -> Result<SigningKey> {
    use p256::pkcs8::DecodePrivateKey as _;
    p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map(SigningKey::from)
        .map_err(|_| {
            StampError::tsa(
                TsaCheck::Request,
                "the TSA key is not a P-256 private key in PKCS#8 or SEC1 PEM",
            )
        })
}

/// A key from the operating system's generator (via `rand`'s thread RNG, seeded from it); a
/// scalar outside the curve order is vanishingly rare and simply drawn again.
fn random_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        if let Ok(k) = SigningKey::from_slice(&bytes) {
            return k;
        }
    }
}

fn pem_key(key: &SigningKey) -> String {
    p256::SecretKey::from(key)
        .to_pkcs8_pem(LineEnding::LF)
        .expect("a P-256 key encodes as PKCS#8")
        .to_string()
}

fn spki(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_public_key_der()
        .expect("a P-256 key encodes as SPKI")
        .as_bytes()
        .to_vec()
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey bits.
fn key_id(spki_der: &[u8]) -> Vec<u8> {
    let spki = der::read_all(spki_der).expect("SPKI we just encoded");
    let bits = spki.children().expect("SPKI is a SEQUENCE")[1];
    HashAlg::Sha256.digest(&bits.value[1..])[..20].to_vec()
}

fn name(cn: &str) -> Vec<u8> {
    let atv = |arcs: &[u32], v: &str| {
        der::cons(
            der::SET,
            &[&der::cons(
                der::SEQUENCE,
                &[&der::oid(arcs), &der::tlv(0x0c, v.as_bytes())],
            )],
        )
    };
    der::cons(
        der::SEQUENCE,
        &[
            &atv(&[2, 5, 4, 10], "Ledger Anchors (local, not trusted)"),
            &atv(&[2, 5, 4, 3], cn),
        ],
    )
}

fn extension(arcs: &[u32], critical: bool, value: &[u8]) -> Vec<u8> {
    let oid = der::oid(arcs);
    let octets = der::tlv(der::OCTET_STRING, value);
    if critical {
        der::cons(der::SEQUENCE, &[&oid, &[1, 1, 0xff], &octets])
    } else {
        der::cons(der::SEQUENCE, &[&oid, &octets])
    }
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
fn validity_time(t: DateTime<Utc>) -> Vec<u8> {
    if t.year() < 2050 {
        der::tlv(
            der::UTC_TIME,
            t.format("%y%m%d%H%M%SZ").to_string().as_bytes(),
        )
    } else {
        der::tlv(
            der::GENERALIZED_TIME,
            t.format("%Y%m%d%H%M%SZ").to_string().as_bytes(),
        )
    }
}

fn issue(
    ca_key: &SigningKey,
    issuer: &[u8],
    subject: &[u8],
    spki: &[u8],
    (not_before, not_after): (DateTime<Utc>, DateTime<Utc>),
    extensions: &[Vec<u8>],
) -> Certificate {
    let mut serial = [0u8; 16];
    rand::rng().fill_bytes(&mut serial);
    let sig_alg = der::cons(der::SEQUENCE, &[&oid_der(ECDSA_WITH_SHA256)]);
    let ext_refs: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let tbs = der::cons(
        der::SEQUENCE,
        &[
            &der::tlv(der::context(0), &[2, 1, 2]),
            &der::unsigned_integer(&serial),
            &sig_alg,
            issuer,
            &der::cons(
                der::SEQUENCE,
                &[&validity_time(not_before), &validity_time(not_after)],
            ),
            subject,
            spki,
            &der::tlv(der::context(3), &der::cons(der::SEQUENCE, &ext_refs)),
        ],
    );
    let sig: Signature = ca_key.sign(&tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.to_der().as_bytes());
    let cert = der::cons(
        der::SEQUENCE,
        &[&tbs, &sig_alg, &der::tlv(der::BIT_STRING, &bits)],
    );
    Certificate::from_der(&cert).expect("a certificate we just built parses")
}
