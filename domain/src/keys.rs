//! ES256 signing keys, RFC 7638 key ids, public JWKs and JWK sets.
//!
//! Every signed document (receipt, run summary) carries `kid`, `alg: "ES256"` and `sig`; a
//! verifier looks `kid` up in the operator's published JWKS and checks `sig` with that key.
//! Rotation adds a key to the set and keeps the old ones, so old documents stay verifiable.
//!
//! Decisions:
//!
//! - **The key id is the RFC 7638 thumbprint**, never a name we choose: anyone holding the
//!   public key computes the same id, a JWKS entry cannot claim someone else's key under a
//!   familiar name, and two different keys cannot share an id.
//! - **Signatures are JWS ES256 values** (RFC 7518 §3.4: raw `r‖s`, base64url without
//!   padding) over the exact message bytes; callers pass the RFC 8785 bytes of the document
//!   without `sig`. There is no JWS header: `kid` and `alg` sit in the signed document itself.
//! - **Deterministic signing** (RFC 6979, what p256 does): the same key and bytes give the
//!   same signature, so golden files are reproducible and no signing-time randomness can leak
//!   the key.
//! - **Strict decoding** of what a verifier reads: base64url must be canonical (no padding,
//!   no non-zero spare bits, exact length), a JWK must name P-256 and a point on the curve,
//!   and a `kid` must be the key's own thumbprint.

use std::fmt;
use std::str::FromStr;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand::RngCore as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{DomainError, Result};

/// The one JWS algorithm documents are signed with.
pub const ALG: &str = "ES256";

/// Decodes base64url without padding, refusing every spelling but the canonical one (the
/// encoder's output for the decoded bytes): a signature or coordinate has one written form,
/// so two different strings never stand for the same value.
fn decode_b64url(what: &'static str, s: &str, len: usize) -> Result<Vec<u8>> {
    let chars = (len * 4).div_ceil(3);
    if s.len() != chars {
        return Err(DomainError::invalid(
            what,
            s,
            format!(
                "must be {chars} base64url characters ({len} bytes), found {}",
                s.len()
            ),
        ));
    }
    let bytes = Base64UrlUnpadded::decode_vec(s).map_err(|_| {
        DomainError::invalid(
            what,
            s,
            "is not canonical base64url (URL alphabet, no padding)",
        )
    })?;
    if bytes.len() != len || Base64UrlUnpadded::encode_string(&bytes) != s {
        return Err(DomainError::invalid(
            what,
            s,
            "is not canonical base64url (non-zero spare bits)",
        ));
    }
    Ok(bytes)
}

/// A key id: the RFC 7638 JWK thumbprint of the public key (SHA-256, base64url without
/// padding, always 43 characters).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Checks the written form: 43 canonical base64url characters (32 bytes).
    pub fn new(s: &str) -> Result<KeyId> {
        decode_b64url("key id", s, 32)?;
        Ok(KeyId(s.to_owned()))
    }

    /// RFC 7638 §3 for an EC key. §3.2: "The required members for an elliptic curve public
    /// key, in lexicographic order, are: "crv", "kty", "x", "y"". §3 step 1: "Construct a JSON
    /// object [RFC7159] containing only the required members of a JWK representing the key
    /// and with no whitespace or line breaks before or after any syntactic elements and with
    /// the required members ordered lexicographically by the Unicode [UNICODE] code points of
    /// the member names";
    /// step 2: "Hash the octets of the UTF-8 representation of this JSON object with a
    /// cryptographic hash function H" (here SHA-256). For these four ASCII members that object
    /// is exactly their RFC 8785 form, which is how it is built.
    fn thumbprint(x: &str, y: &str) -> KeyId {
        let required = serde_json::json!({"crv": "P-256", "kty": "EC", "x": x, "y": y});
        let bytes = merkle::canon::canonicalize_value(&required)
            .expect("four string members always canonicalise");
        KeyId(Base64UrlUnpadded::encode_string(&Sha256::digest(&bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl FromStr for KeyId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<KeyId> {
        KeyId::new(s)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        KeyId::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A P-256 private key that signs documents as ES256. `Debug` shows the key id only; the
/// scalar is zeroed when the key is dropped (p256 does that).
#[derive(Clone)]
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
    kid: KeyId,
}

impl SigningKey {
    /// A new key from the operating system's generator (via `rand`'s thread RNG, seeded from
    /// it); a scalar outside the curve order is vanishingly rare and simply drawn again.
    pub fn generate() -> SigningKey {
        loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let key = p256::ecdsa::SigningKey::from_slice(&bytes);
            bytes.fill(0);
            if let Ok(k) = key {
                return SigningKey::from_inner(k);
            }
        }
    }

    fn from_inner(inner: p256::ecdsa::SigningKey) -> SigningKey {
        let kid = PublicJwk::from_verifying_key(inner.verifying_key()).kid;
        SigningKey { inner, kid }
    }

    /// Reads PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what `anchor keys generate` and
    /// `openssl genpkey` write) or SEC1 (`-----BEGIN EC PRIVATE KEY-----`, what
    /// `openssl ecparam -genkey` writes). Encrypted keys and other curves are refused; the
    /// error never quotes the input.
    pub fn from_pem(pem: &str) -> Result<SigningKey> {
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(DomainError::Key(
                "the signing key is encrypted; give it unencrypted (e.g. from a secret store)"
                    .into(),
            ));
        }
        p256::SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
            .map(|k| SigningKey::from_inner(p256::ecdsa::SigningKey::from(k)))
            .map_err(|_| {
                DomainError::Key(
                    "not a P-256 private key in PKCS#8 (PRIVATE KEY) or SEC1 (EC PRIVATE KEY) PEM"
                        .into(),
                )
            })
    }

    /// PKCS#8 PEM with LF line endings (`openssl pkey -in F -noout` reads it).
    pub fn to_pkcs8_pem(&self) -> String {
        p256::SecretKey::from(&self.inner)
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes as PKCS#8")
            .to_string()
    }

    pub fn key_id(&self) -> &KeyId {
        &self.kid
    }

    /// The Ed25519 seed of the receipt log's checkpoint key ([`crate::note`] says why the
    /// log signs with Ed25519): `SHA-256("c2c.receipt-log.ed25519.v1" || 0x00 || scalar)`, a
    /// one-way derivation from this key's secret scalar, so the fleet keeps one secret and
    /// the log key cannot be told from a random one without it.
    pub fn log_seed(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"c2c.receipt-log.ed25519.v1\0");
        h.update(self.inner.to_bytes());
        h.finalize().into()
    }

    /// The public half, as the JWK that goes into the JWKS.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_verifying_key(self.inner.verifying_key())
    }

    /// The JWS ES256 signature of `msg`, base64url without padding (86 characters).
    ///
    /// RFC 7518 §3.4: "Turn R and S into octet sequences in big-endian order, with each array
    /// being be 32 octets long. The octet sequence representations MUST NOT be shortened to
    /// omit any leading zero octets contained in the values." and "Concatenate the two octet
    /// sequences in the order R and then S." The nonce is RFC 6979's, so signing is
    /// deterministic.
    pub fn sign(&self, msg: &[u8]) -> String {
        let sig: Signature = self.inner.sign(msg);
        Base64UrlUnpadded::encode_string(&sig.to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid.0)
            .finish_non_exhaustive()
    }
}

/// A P-256 public key as a JWK (RFC 7517/7518 §6.2):
/// `{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}`.
///
/// Written with every member. Read strictly where it matters and leniently where RFC 7517 §4
/// asks ("Additional members can be present in the JWK; if not understood by implementations
/// encountering them, they MUST be ignored"): `kty`, `crv`, `x`, `y` are required and must be
/// an EC P-256 point on the curve in canonical base64url; `kid`, when present, must be the
/// key's RFC 7638 thumbprint (computed when absent); `alg` and `use`, when present, must be
/// `ES256` and `sig`; a private member `d` is refused, because a key set that carries it has
/// leaked a signing key. Other members are ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    x: String,
    y: String,
    kid: KeyId,
    key: VerifyingKey,
}

impl PublicJwk {
    fn from_verifying_key(key: &VerifyingKey) -> PublicJwk {
        let point = key.to_sec1_point(false);
        let x = Base64UrlUnpadded::encode_string(point.x().expect("an uncompressed point"));
        let y = Base64UrlUnpadded::encode_string(point.y().expect("an uncompressed point"));
        let kid = KeyId::thumbprint(&x, &y);
        PublicJwk {
            x,
            y,
            kid,
            key: *key,
        }
    }

    /// Reads the public key of an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, what
    /// `openssl pkey -pubout` writes).
    pub fn from_spki_pem(pem: &str) -> Result<PublicJwk> {
        use p256::pkcs8::DecodePublicKey as _;
        VerifyingKey::from_public_key_pem(pem)
            .map(|k| PublicJwk::from_verifying_key(&k))
            .map_err(|_| DomainError::Key("not a P-256 public key in SPKI PEM".into()))
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for `openssl dgst -verify`.
    pub fn to_spki_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 key encodes as SPKI")
    }

    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    /// The base64url x coordinate (32 bytes, big-endian).
    pub fn x(&self) -> &str {
        &self.x
    }

    /// The base64url y coordinate (32 bytes, big-endian).
    pub fn y(&self) -> &str {
        &self.y
    }

    /// The RFC 7638 thumbprint of this key (always equal to [`PublicJwk::kid`]).
    pub fn thumbprint(&self) -> KeyId {
        KeyId::thumbprint(&self.x, &self.y)
    }

    /// Checks a JWS ES256 signature `sig_b64url` of `msg`.
    ///
    /// RFC 7518 §3.4: "The JWS Signature value MUST be a 64-octet sequence. If it is not a
    /// 64-octet sequence, the validation has failed." So DER signatures, padded or
    /// non-canonical base64url, and `r` or `s` of zero or not below the group order are all
    /// refused before any arithmetic.
    ///
    /// High-S signatures (`s > n/2`) are **accepted**: ECDSA as FIPS 186 and RFC 7518 define it
    /// has no low-S rule, other ES256 signers (openssl among them) produce either half, and
    /// the malleability a low-S rule guards against does not matter here — every document's
    /// identity is the hash of its bytes including `sig`, and a chain line whose `sig` was
    /// swapped for its twin breaks the next line's `prev` link.
    pub fn verify(&self, msg: &[u8], sig_b64url: &str) -> Result<()> {
        let bytes = decode_b64url("signature", sig_b64url, 64)
            .map_err(|e| DomainError::Signature(e.to_string()))?;
        let sig = Signature::from_slice(&bytes).map_err(|_| {
            DomainError::Signature("r or s is zero or not below the P-256 group order".into())
        })?;
        self.key
            .verify(msg, &sig)
            .map_err(|_| DomainError::Signature(format!("does not verify with key {}", self.kid)))
    }

    /// Pretty JSON with a trailing newline (what `signing-key.jwk.json` holds).
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a JWK always serialises");
        s.push('\n');
        s
    }
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid.0)
            .field("x", &self.x)
            .field("y", &self.y)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct JwkOut<'a> {
    kty: &'static str,
    crv: &'static str,
    x: &'a str,
    y: &'a str,
    kid: &'a KeyId,
    alg: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
}

impl Serialize for PublicJwk {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        JwkOut {
            kty: "EC",
            crv: "P-256",
            x: &self.x,
            y: &self.y,
            kid: &self.kid,
            alg: ALG,
            use_: "sig",
        }
        .serialize(s)
    }
}

#[derive(Deserialize)]
struct JwkIn {
    kty: String,
    crv: String,
    x: String,
    y: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    d: Option<serde::de::IgnoredAny>,
}

impl TryFrom<JwkIn> for PublicJwk {
    type Error = DomainError;

    fn try_from(j: JwkIn) -> Result<PublicJwk> {
        let bad = |what: &str| DomainError::Key(what.to_owned());
        if j.d.is_some() {
            return Err(bad(
                "the JWK holds a private key member \"d\"; a key set is public: \
                 remove it and treat that key as leaked",
            ));
        }
        if j.kty != "EC" || j.crv != "P-256" {
            return Err(DomainError::Key(format!(
                "kty {:?} crv {:?}: only EC P-256 keys are supported",
                j.kty, j.crv
            )));
        }
        if j.alg.as_deref().is_some_and(|a| a != ALG) {
            return Err(DomainError::Key(format!(
                "alg {:?}: only {ALG} is supported",
                j.alg.unwrap_or_default()
            )));
        }
        if j.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(bad("use is not \"sig\": the key is not for signatures"));
        }
        let x = decode_b64url("x", &j.x, 32).map_err(|e| DomainError::Key(e.to_string()))?;
        let y = decode_b64url("y", &j.y, 32).map_err(|e| DomainError::Key(e.to_string()))?;
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| bad("(x, y) is not a point on the P-256 curve"))?;
        let jwk = PublicJwk::from_verifying_key(&key);
        if let Some(kid) = j.kid
            && kid != jwk.kid.0
        {
            return Err(DomainError::Key(format!(
                "kid {kid:?} is not the key's RFC 7638 thumbprint {}",
                jwk.kid
            )));
        }
        Ok(jwk)
    }
}

impl<'de> Deserialize<'de> for PublicJwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        PublicJwk::try_from(JwkIn::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A JWK set (RFC 7517 §5): `{"keys":[…]}`, the operator's current and retired public keys.
/// Key ids are unique (they are thumbprints, so a duplicate is the same key twice, which is
/// refused as a sign of a hand-edited file). An empty set is refused: it verifies nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jwks {
    keys: Vec<PublicJwk>,
}

#[derive(Deserialize)]
struct JwksIn {
    keys: Vec<PublicJwk>,
}

impl Jwks {
    pub fn new(keys: Vec<PublicJwk>) -> Result<Jwks> {
        if keys.is_empty() {
            return Err(DomainError::Format("the JWKS holds no keys".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.kid == k.kid) {
                return Err(DomainError::Format(format!(
                    "the JWKS holds key {} twice",
                    k.kid
                )));
            }
        }
        Ok(Jwks { keys })
    }

    /// Parses a JWKS document: I-JSON (duplicate member names refused), each key as
    /// [`PublicJwk`] reads it, unique key ids, at least one key.
    pub fn from_json(bytes: &[u8]) -> Result<Jwks> {
        let value = merkle::canon::parse_strict(bytes)
            .map_err(|e| DomainError::Format(format!("JWKS: {e}")))?;
        let raw: JwksIn =
            serde_json::from_value(value).map_err(|e| DomainError::Format(format!("JWKS: {e}")))?;
        Jwks::new(raw.keys)
    }

    pub fn get(&self, kid: &KeyId) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| &k.kid == kid)
    }

    pub fn keys(&self) -> &[PublicJwk] {
        &self.keys
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a JWKS always serialises");
        s.push('\n');
        s
    }
}

impl<'de> Deserialize<'de> for Jwks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Jwks::new(JwksIn::deserialize(d)?.keys).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_is_deterministic_and_verifies_with_the_public_jwk() {
        let key = SigningKey::generate();
        let a = key.sign(b"message");
        assert_eq!(a, key.sign(b"message"));
        assert_eq!(a.len(), 86);
        let jwk = key.public_jwk();
        jwk.verify(b"message", &a).unwrap();
        assert!(jwk.verify(b"messagE", &a).is_err());
        assert_eq!(jwk.kid(), key.key_id());
        assert_eq!(&jwk.thumbprint(), key.key_id());
    }

    #[test]
    fn debug_of_a_signing_key_shows_the_kid_and_not_the_scalar() {
        let key = SigningKey::generate();
        let pem = key.to_pkcs8_pem();
        let debug = format!("{key:?}");
        assert!(debug.contains(key.key_id().as_str()), "{debug}");
        let scalar = Base64UrlUnpadded::encode_string(&key.inner.to_bytes());
        assert!(!debug.contains(&scalar[..10]), "{debug}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
        assert_eq!(SigningKey::from_pem(&pem).unwrap().key_id(), key.key_id());
    }
}
