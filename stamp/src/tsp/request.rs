//! `TimeStampReq` (RFC 3161 §2.4.1):
//!
//! ```text
//! TimeStampReq ::= SEQUENCE  {
//!    version                      INTEGER  { v1(1) },
//!    messageImprint               MessageImprint,
//!    reqPolicy             TSAPolicyId              OPTIONAL,
//!    nonce                 INTEGER                  OPTIONAL,
//!    certReq               BOOLEAN                  DEFAULT FALSE,
//!    extensions            [0] IMPLICIT Extensions  OPTIONAL  }
//!
//! MessageImprint ::= SEQUENCE  {
//!    hashAlgorithm                AlgorithmIdentifier,
//!    hashedMessage                OCTET STRING  }
//! ```

use rand::RngCore as _;
use rasn::types::ObjectIdentifier;

use super::alg::HashAlg;
use super::der;
use crate::error::{Result, StampError, TsaCheck};

/// A hash of the data to stamp, with its algorithm; the length always matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageImprint {
    alg: HashAlg,
    digest: Vec<u8>,
}

impl MessageImprint {
    pub fn new(alg: HashAlg, digest: Vec<u8>) -> Result<MessageImprint> {
        if digest.len() != alg.output_len() {
            return Err(StampError::tsa(
                TsaCheck::Request,
                format!(
                    "a {} digest is {} bytes, got {}",
                    alg.name(),
                    alg.output_len(),
                    digest.len()
                ),
            ));
        }
        Ok(MessageImprint { alg, digest })
    }

    /// Hashes `data` with `alg`.
    pub fn of_data(alg: HashAlg, data: &[u8]) -> MessageImprint {
        MessageImprint {
            alg,
            digest: alg.digest(data),
        }
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    pub(crate) fn to_der(&self) -> Vec<u8> {
        der::cons(
            der::SEQUENCE,
            &[
                &self.alg.algorithm_identifier_der(),
                &der::tlv(der::OCTET_STRING, &self.digest),
            ],
        )
    }
}

/// A nonce: the contents octets of a positive DER INTEGER, so equal values compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nonce(Vec<u8>);

impl Nonce {
    /// 128 random bits less the sign bit: RFC 3161 §2.4.1 asks for a large random number;
    /// 127 bits make a collision between two requests negligible.
    pub fn random() -> Nonce {
        let mut bytes = [0u8; 16];
        loop {
            rand::rng().fill_bytes(&mut bytes);
            bytes[0] &= 0x7f;
            if bytes[0] != 0 {
                return Nonce(bytes.to_vec());
            }
        }
    }

    /// From INTEGER contents octets (as read from a request or token).
    pub(crate) fn from_contents(bytes: &[u8]) -> Nonce {
        Nonce(bytes.to_vec())
    }

    pub fn to_hex(&self) -> String {
        merkle::hash::encode_hex(&self.0)
    }

    pub(crate) fn to_der(&self) -> Vec<u8> {
        der::tlv(der::INTEGER, &self.0)
    }
}

/// A time-stamp request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeStampRequest {
    pub imprint: MessageImprint,
    pub policy: Option<ObjectIdentifier>,
    pub nonce: Option<Nonce>,
    pub cert_req: bool,
}

impl TimeStampRequest {
    /// What the client sends: a fresh random nonce and `certReq` true, so the reply carries
    /// the signer's certificate and can be checked without fetching anything.
    pub fn new(imprint: MessageImprint, policy: Option<ObjectIdentifier>) -> TimeStampRequest {
        TimeStampRequest {
            imprint,
            policy,
            nonce: Some(Nonce::random()),
            cert_req: true,
        }
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut parts = vec![der::tlv(der::INTEGER, &[1]), self.imprint.to_der()];
        if let Some(p) = &self.policy {
            parts.push(super::alg::oid_der(p));
        }
        if let Some(n) = &self.nonce {
            parts.push(n.to_der());
        }
        if self.cert_req {
            // DER: a DEFAULT FALSE boolean is present only when true, encoded as 0xff.
            parts.push(der::tlv(der::BOOLEAN, &[0xff]));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        der::cons(der::SEQUENCE, &refs)
    }

    /// Reads a request (the dev responder's side). Requests with extensions are refused: the
    /// responder understands none (RFC 3161 §2.4.2 `unacceptedExtension`).
    pub fn from_der(bytes: &[u8]) -> std::result::Result<TimeStampRequest, RequestError> {
        let e = |s: String| RequestError::BadDataFormat(s);
        let seq = der::expect(bytes, der::SEQUENCE, "TimeStampReq").map_err(e)?;
        let f = seq.children().map_err(e)?;
        if f.first().map(|v| v.raw) != Some(&[2, 1, 1][..]) {
            return Err(RequestError::BadDataFormat("version is not 1".into()));
        }
        let mi = f
            .get(1)
            .filter(|t| t.tag == der::SEQUENCE)
            .ok_or_else(|| RequestError::BadDataFormat("messageImprint is missing".into()))?;
        let mi_f = mi.children().map_err(e)?;
        let [alg, hashed] = mi_f.as_slice() else {
            return Err(RequestError::BadDataFormat(
                "messageImprint is malformed".into(),
            ));
        };
        let alg: rasn_pkix::AlgorithmIdentifier = rasn::ber::decode(alg.raw)
            .map_err(|x| RequestError::BadDataFormat(format!("hashAlgorithm: {x}")))?;
        let alg = HashAlg::from_oid(&alg.algorithm).map_err(RequestError::BadAlg)?;
        if hashed.tag != der::OCTET_STRING {
            return Err(RequestError::BadDataFormat(
                "hashedMessage is not an OCTET STRING".into(),
            ));
        }
        let imprint = MessageImprint::new(alg, hashed.value.to_vec())
            .map_err(|x| RequestError::BadDataFormat(x.to_string()))?;
        let mut req = TimeStampRequest {
            imprint,
            policy: None,
            nonce: None,
            cert_req: false,
        };
        for t in &f[2..] {
            match t.tag {
                der::OID if req.policy.is_none() && req.nonce.is_none() => {
                    req.policy = Some(
                        rasn::der::decode(t.raw)
                            .map_err(|x| RequestError::BadDataFormat(format!("reqPolicy: {x}")))?,
                    );
                }
                der::INTEGER if req.nonce.is_none() => {
                    req.nonce = Some(Nonce::from_contents(t.value));
                }
                der::BOOLEAN => req.cert_req = t.value.first().is_some_and(|b| *b != 0),
                0xa0 => return Err(RequestError::UnacceptedExtension),
                other => {
                    return Err(RequestError::BadDataFormat(format!(
                        "unexpected field 0x{other:02x}"
                    )));
                }
            }
        }
        Ok(req)
    }
}

/// Why a responder refuses a request, mapped onto `PKIFailureInfo` bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    BadAlg(String),
    BadDataFormat(String),
    UnacceptedPolicy(String),
    UnacceptedExtension,
}

impl RequestError {
    /// The `PKIFailureInfo` bit (RFC 3161 §2.4.2).
    #[cfg_attr(not(feature = "net"), allow(dead_code))] // the dev responder's
    pub(crate) fn bit(&self) -> usize {
        match self {
            RequestError::BadAlg(_) => 0,
            RequestError::BadDataFormat(_) => 5,
            RequestError::UnacceptedPolicy(_) => 15,
            RequestError::UnacceptedExtension => 16,
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::BadAlg(s) => write!(f, "bad algorithm: {s}"),
            RequestError::BadDataFormat(s) => write!(f, "bad request: {s}"),
            RequestError::UnacceptedPolicy(s) => write!(f, "policy {s} is not this TSA's"),
            RequestError::UnacceptedExtension => write!(f, "request extensions are not supported"),
        }
    }
}
