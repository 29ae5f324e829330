//! Hash and signature algorithms a time-stamp token may use, and the public keys that check
//! them. SHA-1 is recognised only to be refused by name.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rasn::types::{ObjectIdentifier, Oid};
use rasn_pkix::{AlgorithmIdentifier, SubjectPublicKeyInfo};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::der;

pub(crate) const SHA1: &Oid = Oid::const_new(&[1, 3, 14, 3, 2, 26]);
pub(crate) const SHA256: &Oid = Oid::const_new(&[2, 16, 840, 1, 101, 3, 4, 2, 1]);
pub(crate) const SHA384: &Oid = Oid::const_new(&[2, 16, 840, 1, 101, 3, 4, 2, 2]);
pub(crate) const SHA512: &Oid = Oid::const_new(&[2, 16, 840, 1, 101, 3, 4, 2, 3]);
const RSA_ENCRYPTION: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 1]);
const SHA1_WITH_RSA: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 5]);
const RSASSA_PSS: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 10]);
const SHA256_WITH_RSA: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 11]);
const SHA384_WITH_RSA: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 12]);
const SHA512_WITH_RSA: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 13]);
const MGF1: &Oid = Oid::const_new(&[1, 2, 840, 113_549, 1, 1, 8]);
pub(crate) const EC_PUBLIC_KEY: &Oid = Oid::const_new(&[1, 2, 840, 10045, 2, 1]);
const ECDSA_WITH_SHA1: &Oid = Oid::const_new(&[1, 2, 840, 10045, 4, 1]);
pub(crate) const ECDSA_WITH_SHA256: &Oid = Oid::const_new(&[1, 2, 840, 10045, 4, 3, 2]);
const ECDSA_WITH_SHA384: &Oid = Oid::const_new(&[1, 2, 840, 10045, 4, 3, 3]);
const ECDSA_WITH_SHA512: &Oid = Oid::const_new(&[1, 2, 840, 10045, 4, 3, 4]);
pub(crate) const P256_CURVE: &Oid = Oid::const_new(&[1, 2, 840, 10045, 3, 1, 7]);
const P384_CURVE: &Oid = Oid::const_new(&[1, 3, 132, 0, 34]);

/// RSA keys below this size are refused (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// A hash algorithm accepted for message imprints, signer digests and certificate hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Recognises an algorithm identifier; SHA-1 and anything unknown are refused by name.
    pub fn from_oid(oid: &Oid) -> Result<HashAlg, String> {
        if oid == SHA256 {
            Ok(HashAlg::Sha256)
        } else if oid == SHA384 {
            Ok(HashAlg::Sha384)
        } else if oid == SHA512 {
            Ok(HashAlg::Sha512)
        } else if oid == SHA1 {
            Err("SHA-1 is refused (collisions are practical)".into())
        } else {
            Err(format!("hash algorithm {oid} is not supported"))
        }
    }

    pub fn oid(self) -> &'static Oid {
        match self {
            HashAlg::Sha256 => SHA256,
            HashAlg::Sha384 => SHA384,
            HashAlg::Sha512 => SHA512,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `AlgorithmIdentifier` with absent parameters (RFC 5754 §2: implementations MUST accept
    /// both absent and NULL parameters; absent is what they SHOULD generate).
    pub(crate) fn algorithm_identifier_der(self) -> Vec<u8> {
        der::cons(der::SEQUENCE, &[&oid_der(self.oid())])
    }
}

impl std::str::FromStr for HashAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<HashAlg, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(HashAlg::Sha256),
            "sha384" => Ok(HashAlg::Sha384),
            "sha512" => Ok(HashAlg::Sha512),
            "sha1" => Err("SHA-1 is refused (collisions are practical)".into()),
            other => Err(format!("unknown hash {other:?} (sha256, sha384, sha512)")),
        }
    }
}

pub(crate) fn oid_der(oid: &Oid) -> Vec<u8> {
    der::oid(oid)
}

/// How a signature was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureAlg {
    Ecdsa(HashAlg),
    RsaPkcs1(HashAlg),
    RsaPss { hash: HashAlg, salt_len: usize },
}

impl SignatureAlg {
    /// Reads a signature `AlgorithmIdentifier`. CMS signers may name only the key type
    /// (`rsaEncryption`, `id-ecPublicKey`) and leave the hash to `digestAlgorithm`
    /// (RFC 5754 §3.2, RFC 5753): `digest` supplies it then.
    pub(crate) fn from_identifier(
        ai: &AlgorithmIdentifier,
        digest: Option<HashAlg>,
    ) -> Result<SignatureAlg, String> {
        let oid: &Oid = &ai.algorithm;
        let need_digest =
            || digest.ok_or_else(|| format!("signature algorithm {oid} needs a digest"));
        Ok(if oid == ECDSA_WITH_SHA256 {
            SignatureAlg::Ecdsa(HashAlg::Sha256)
        } else if oid == ECDSA_WITH_SHA384 {
            SignatureAlg::Ecdsa(HashAlg::Sha384)
        } else if oid == ECDSA_WITH_SHA512 {
            SignatureAlg::Ecdsa(HashAlg::Sha512)
        } else if oid == EC_PUBLIC_KEY {
            SignatureAlg::Ecdsa(need_digest()?)
        } else if oid == SHA256_WITH_RSA {
            SignatureAlg::RsaPkcs1(HashAlg::Sha256)
        } else if oid == SHA384_WITH_RSA {
            SignatureAlg::RsaPkcs1(HashAlg::Sha384)
        } else if oid == SHA512_WITH_RSA {
            SignatureAlg::RsaPkcs1(HashAlg::Sha512)
        } else if oid == RSA_ENCRYPTION {
            SignatureAlg::RsaPkcs1(need_digest()?)
        } else if oid == RSASSA_PSS {
            pss_params(ai.parameters.as_ref().map(rasn::types::Any::as_bytes))?
        } else if oid == SHA1_WITH_RSA || oid == ECDSA_WITH_SHA1 {
            return Err(format!(
                "signature algorithm {oid} uses SHA-1, which is refused"
            ));
        } else {
            return Err(format!("signature algorithm {oid} is not supported"));
        })
    }

    pub(crate) fn hash(self) -> HashAlg {
        match self {
            SignatureAlg::Ecdsa(h)
            | SignatureAlg::RsaPkcs1(h)
            | SignatureAlg::RsaPss { hash: h, .. } => h,
        }
    }
}

/// RFC 4055 §3.1:
///
/// ```text
/// RSASSA-PSS-params  ::=  SEQUENCE  {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1Identifier,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] INTEGER DEFAULT 1  }
/// ```
///
/// The SHA-1 defaults are refused like every other use of SHA-1; MGF1 must use the same hash
/// as the signature (what every deployed PSS signer does, and all the verifier supports).
fn pss_params(params: Option<&[u8]>) -> Result<SignatureAlg, String> {
    let params = params.ok_or("RSASSA-PSS without parameters means SHA-1, which is refused")?;
    let seq = der::expect(params, der::SEQUENCE, "RSASSA-PSS parameters")?;
    let mut hash = None;
    let mut mgf_hash = None;
    let mut salt_len = 20usize;
    for field in seq.children()? {
        match field.tag {
            0xa0 => hash = Some(hash_of_identifier(field.value)?),
            0xa1 => {
                let ai: AlgorithmIdentifier = rasn::der::decode(field.value)
                    .map_err(|e| format!("RSASSA-PSS maskGenAlgorithm: {e}"))?;
                if *ai.algorithm != *MGF1 {
                    return Err(format!(
                        "RSASSA-PSS mask generation {} is not MGF1",
                        ai.algorithm
                    ));
                }
                let inner = ai
                    .parameters
                    .ok_or("MGF1 without a hash means SHA-1, which is refused")?;
                mgf_hash = Some(hash_of_identifier(inner.as_bytes())?);
            }
            0xa2 => {
                let n = der::expect(field.value, der::INTEGER, "RSASSA-PSS saltLength")?;
                if n.value.len() > 2 || n.value.first().is_some_and(|b| b & 0x80 != 0) {
                    return Err("RSASSA-PSS saltLength is out of range".into());
                }
                salt_len = n
                    .value
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            }
            0xa3 => {
                if field.value != [2, 1, 1] {
                    return Err("RSASSA-PSS trailerField must be 1".into());
                }
            }
            other => {
                return Err(format!(
                    "RSASSA-PSS parameters: unexpected field 0x{other:02x}"
                ));
            }
        }
    }
    let hash = hash.ok_or("RSASSA-PSS with the default hash means SHA-1, which is refused")?;
    if mgf_hash != Some(hash) {
        return Err("RSASSA-PSS: MGF1 must use the signature's hash".into());
    }
    Ok(SignatureAlg::RsaPss { hash, salt_len })
}

fn hash_of_identifier(bytes: &[u8]) -> Result<HashAlg, String> {
    let ai: AlgorithmIdentifier =
        rasn::der::decode(bytes).map_err(|e| format!("hash AlgorithmIdentifier: {e}"))?;
    HashAlg::from_oid(&ai.algorithm)
}

/// A public key from a certificate.
#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo) -> Result<PublicKey, String> {
        let alg: &Oid = &spki.algorithm.algorithm;
        let bits = spki.subject_public_key.as_raw_slice();
        if alg == EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| rasn::der::decode(p.as_bytes()).ok())
                .ok_or("EC public key without a named curve")?;
            if *curve == *P256_CURVE {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|_| "P-256 public key is not a curve point".into())
            } else if *curve == *P384_CURVE {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|_| "P-384 public key is not a curve point".into())
            } else {
                Err(format!("EC curve {curve} is not supported (P-256, P-384)"))
            }
        } else if alg == RSA_ENCRYPTION || alg == RSASSA_PSS {
            let key = rsa::RsaPublicKey::from_pkcs1_der(bits)
                .map_err(|e| format!("RSA public key: {e}"))?;
            let size = key.size() * 8;
            if size < MIN_RSA_BITS {
                return Err(format!("RSA key of {size} bits is below {MIN_RSA_BITS}"));
            }
            Ok(PublicKey::Rsa(key))
        } else {
            Err(format!("public key algorithm {alg} is not supported"))
        }
    }

    /// Checks `signature` by this key over `message` with `alg`.
    pub(crate) fn verify(
        &self,
        alg: SignatureAlg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let hashed = alg.hash().digest(message);
        let bad = |e: &dyn std::fmt::Display| format!("signature does not verify: {e}");
        match (self, alg) {
            (PublicKey::P256(k), SignatureAlg::Ecdsa(_)) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|e| format!("ECDSA signature is not DER: {e}"))?;
                k.verify_prehash(&hashed, &sig).map_err(|e| bad(&e))
            }
            (PublicKey::P384(k), SignatureAlg::Ecdsa(_)) => {
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|e| format!("ECDSA signature is not DER: {e}"))?;
                k.verify_prehash(&hashed, &sig).map_err(|e| bad(&e))
            }
            (PublicKey::Rsa(k), SignatureAlg::RsaPkcs1(h)) => {
                let scheme = match h {
                    HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, &hashed, signature).map_err(|e| bad(&e))
            }
            (PublicKey::Rsa(k), SignatureAlg::RsaPss { hash, salt_len }) => match hash {
                HashAlg::Sha256 => k.verify(
                    rsa::Pss::<Sha256>::new_with_salt(salt_len),
                    &hashed,
                    signature,
                ),
                HashAlg::Sha384 => k.verify(
                    rsa::Pss::<Sha384>::new_with_salt(salt_len),
                    &hashed,
                    signature,
                ),
                HashAlg::Sha512 => k.verify(
                    rsa::Pss::<Sha512>::new_with_salt(salt_len),
                    &hashed,
                    signature,
                ),
            }
            .map_err(|e| bad(&e)),
            (key, alg) => Err(format!(
                "a {} key cannot check a {alg:?} signature",
                key.kind()
            )),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "P-256",
            PublicKey::P384(_) => "P-384",
            PublicKey::Rsa(_) => "RSA",
        }
    }
}
