//! A local RFC 3161 responder (`anchor tsa serve`): signs with a P-256 key, identifies its
//! certificate with ESSCertIDv2 (RFC 5816), echoes the nonce, names its policy and accuracy.
//! Used by the demo and tests; a token from it is only as trusted as the CA that issued its
//! certificate (the dev CA says "not trusted" in its name).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::{DateTime, Timelike as _, Utc};
use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
use rand::RngCore as _;
use rasn::types::ObjectIdentifier;

use super::alg::{ECDSA_WITH_SHA256, HashAlg, oid_der};
use super::der;
use super::request::{RequestError, TimeStampRequest};
use super::token::{
    ATTR_CONTENT_TYPE, ATTR_MESSAGE_DIGEST, ATTR_SIGNING_CERT_V2, CT_TST_INFO, SIGNED_DATA,
};
use super::x509::Certificate;

/// The dev responder's default policy: under IANA's private enterprise number 32473, which
/// RFC 5612 reserves for documentation and examples, so it can never collide with a real
/// TSA's policy.
pub const DEV_POLICY: &str = "1.3.6.1.4.1.32473.1";

/// Requests larger than this are refused before parsing (a SHA-512 request is ~100 bytes).
pub const MAX_REQUEST: usize = 4096;

/// Signs time-stamp tokens.
#[derive(Clone, Debug)]
pub struct Responder {
    key: SigningKey,
    cert: Certificate,
    chain: Vec<Certificate>,
    policy: ObjectIdentifier,
    /// Stated accuracy of genTime, in milliseconds.
    pub accuracy_millis: u16,
}

impl Responder {
    /// The key must be the one certified by `cert`.
    pub fn new(
        key: SigningKey,
        cert: Certificate,
        chain: Vec<Certificate>,
        policy: ObjectIdentifier,
    ) -> crate::Result<Responder> {
        let cert_key = cert.public_key().map_err(|e| {
            crate::StampError::tsa(crate::TsaCheck::Request, format!("TSA certificate: {e}"))
        })?;
        let ours = super::alg::PublicKey::P256(*key.verifying_key());
        if format!("{cert_key:?}") != format!("{ours:?}") {
            return Err(crate::StampError::tsa(
                crate::TsaCheck::Request,
                "the TSA key does not match the TSA certificate",
            ));
        }
        Ok(Responder {
            key,
            cert,
            chain,
            policy,
            accuracy_millis: 500,
        })
    }

    /// Answers one request at time `now` with `serial` (both chosen by the caller, so tests
    /// can pin them). Always a `TimeStampResp`: a request it cannot grant gets `rejection`
    /// with the matching `failInfo` bit.
    pub fn respond(&self, request: &[u8], now: DateTime<Utc>, serial: &[u8; 16]) -> Vec<u8> {
        let req = TimeStampRequest::from_der(request).and_then(|r| match &r.policy {
            Some(p) if *p != self.policy => Err(RequestError::UnacceptedPolicy(p.to_string())),
            _ => Ok(r),
        });
        match req {
            Ok(req) => {
                let token = self.token(&req, now, serial);
                let status = der::cons(der::SEQUENCE, &[&[2, 1, 0]]);
                der::cons(der::SEQUENCE, &[&status, &token])
            }
            Err(e) => rejection(&e),
        }
    }

    /// ```text
    /// TSTInfo ::= SEQUENCE  {
    ///    version        INTEGER  { v1(1) },
    ///    policy         TSAPolicyId,
    ///    messageImprint MessageImprint,
    ///    serialNumber   INTEGER,
    ///    genTime        GeneralizedTime,
    ///    accuracy       Accuracy                 OPTIONAL,
    ///    ordering       BOOLEAN             DEFAULT FALSE,
    ///    nonce          INTEGER                  OPTIONAL,
    ///    tsa            [0] GeneralName          OPTIONAL,
    ///    extensions     [1] IMPLICIT Extensions  OPTIONAL   }
    /// ```
    fn tst_info(&self, req: &TimeStampRequest, now: DateTime<Utc>, serial: &[u8]) -> Vec<u8> {
        let accuracy = der::cons(
            der::SEQUENCE,
            &[&der::tlv(
                0x80,
                &der::unsigned_integer(&self.accuracy_millis.to_be_bytes())[2..],
            )],
        );
        let mut parts = vec![
            der::tlv(der::INTEGER, &[1]),
            oid_der(&self.policy),
            req.imprint.to_der(),
            der::unsigned_integer(serial),
            generalized_time(now),
            accuracy,
        ];
        if let Some(n) = &req.nonce {
            parts.push(n.to_der());
        }
        // tsa [0] GeneralName: directoryName [4] Name, both explicit (GeneralName is a CHOICE).
        parts.push(der::tlv(
            der::context(0),
            &der::tlv(der::context(4), &self.cert.subject_der()),
        ));
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        der::cons(der::SEQUENCE, &refs)
    }

    fn token(&self, req: &TimeStampRequest, now: DateTime<Utc>, serial: &[u8]) -> Vec<u8> {
        let tst = self.tst_info(req, now, serial);
        let sha256 = HashAlg::Sha256.algorithm_identifier_der();
        let signer_info = self.signer_info(&tst, &sha256);
        let mut fields = vec![
            der::tlv(der::INTEGER, &[3]),
            der::cons(der::SET, &[&sha256]),
            der::cons(
                der::SEQUENCE,
                &[
                    &oid_der(CT_TST_INFO),
                    &der::tlv(der::context(0), &der::tlv(der::OCTET_STRING, &tst)),
                ],
            ),
        ];
        if req.cert_req {
            let certs = std::iter::once(&self.cert)
                .chain(&self.chain)
                .map(|c| c.der().to_vec())
                .collect();
            fields.push(der::set_of(der::context(0), certs));
        }
        fields.push(der::cons(der::SET, &[&signer_info]));
        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        let signed_data = der::cons(der::SEQUENCE, &refs);
        der::cons(
            der::SEQUENCE,
            &[
                &oid_der(SIGNED_DATA),
                &der::tlv(der::context(0), &signed_data),
            ],
        )
    }

    /// RFC 5652 §5.3 `SignedAttributes` (DER SET OF, as signed): content-type, message-digest of
    /// the `TSTInfo`, and the RFC 5035 signing certificate.
    fn signed_attributes(&self, tst: &[u8]) -> Vec<u8> {
        let attr = |oid: &[u8], value: &[u8]| {
            der::cons(der::SEQUENCE, &[oid, &der::cons(der::SET, &[value])])
        };
        // RFC 5035: ESSCertIDv2 with the default hash (SHA-256) omitted, as DER requires.
        let issuer_serial = der::cons(
            der::SEQUENCE,
            &[
                &der::cons(
                    der::SEQUENCE,
                    &[&der::tlv(der::context(4), &self.cert.issuer_der())],
                ),
                &self.cert.serial_der(),
            ],
        );
        let ess_cert_id = der::cons(
            der::SEQUENCE,
            &[
                &der::tlv(der::OCTET_STRING, &HashAlg::Sha256.digest(self.cert.der())),
                &issuer_serial,
            ],
        );
        let signing_cert_v2 =
            der::cons(der::SEQUENCE, &[&der::cons(der::SEQUENCE, &[&ess_cert_id])]);
        der::set_of(
            der::SET,
            vec![
                attr(&oid_der(ATTR_CONTENT_TYPE), &oid_der(CT_TST_INFO)),
                attr(
                    &oid_der(ATTR_MESSAGE_DIGEST),
                    &der::tlv(der::OCTET_STRING, &HashAlg::Sha256.digest(tst)),
                ),
                attr(&oid_der(ATTR_SIGNING_CERT_V2), &signing_cert_v2),
            ],
        )
    }

    /// RFC 5652 §5.3 `SignerInfo` (version 1, `issuerAndSerialNumber`) over the signed attributes,
    /// which it carries IMPLICIT [0].
    fn signer_info(&self, tst: &[u8], sha256: &[u8]) -> Vec<u8> {
        let signed_attrs = self.signed_attributes(tst);
        let signature: Signature = self.key.sign(&signed_attrs);
        let mut attrs_implicit = signed_attrs;
        attrs_implicit[0] = der::context(0);
        der::cons(
            der::SEQUENCE,
            &[
                &[2, 1, 1],
                &der::cons(
                    der::SEQUENCE,
                    &[&self.cert.issuer_der(), &self.cert.serial_der()],
                ),
                sha256,
                &attrs_implicit,
                &der::cons(der::SEQUENCE, &[&oid_der(ECDSA_WITH_SHA256)]),
                &der::tlv(der::OCTET_STRING, signature.to_der().as_bytes()),
            ],
        )
    }
}

/// `PKIStatusInfo { rejection, statusString, failInfo }`.
fn rejection(e: &RequestError) -> Vec<u8> {
    let bit = e.bit();
    let mut bits = vec![0u8; bit / 8 + 1];
    bits[bit / 8] |= 0x80 >> (bit % 8);
    let unused = 7 - (bit % 8) as u8;
    let mut bit_string = vec![unused];
    bit_string.extend_from_slice(&bits);
    let text = der::cons(der::SEQUENCE, &[&der::tlv(0x0c, e.to_string().as_bytes())]);
    let status = der::cons(
        der::SEQUENCE,
        &[&[2, 1, 2], &text, &der::tlv(der::BIT_STRING, &bit_string)],
    );
    der::cons(der::SEQUENCE, &[&status])
}

/// GeneralizedTime in UTC with milliseconds; DER (X.690 §11.7) drops trailing zeros of the
/// fraction, and the point with them when nothing is left.
fn generalized_time(t: DateTime<Utc>) -> Vec<u8> {
    let mut s = t.format("%Y%m%d%H%M%S").to_string();
    let millis = t.nanosecond() / 1_000_000 % 1000;
    if millis != 0 {
        let frac = format!("{millis:03}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    der::tlv(der::GENERALIZED_TIME, s.as_bytes())
}

/// The HTTP face (RFC 3161 §3.4): `POST` a `application/timestamp-query` body, get an
/// `application/timestamp-reply`.
pub fn router(responder: Arc<Responder>) -> Router {
    Router::new().route("/", post(handle)).with_state(responder)
}

/// Serves `responder` ([`router`]) on `listener` until Ctrl-C: what `anchor tsa serve` runs.
pub async fn serve(listener: tokio::net::TcpListener, responder: Responder) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(responder)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn handle(
    State(r): State<Arc<Responder>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "application/timestamp-query" {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/timestamp-query\n",
        )
            .into_response();
    }
    if body.len() > MAX_REQUEST {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large\n").into_response();
    }
    let mut serial = [0u8; 16];
    rand::rng().fill_bytes(&mut serial);
    let reply = r.respond(&body, Utc::now(), &serial);
    tracing::info!(bytes = body.len(), "rfc3161 request answered");
    metrics::counter!("tsa_responses_total").increment(1);
    (
        [(header::CONTENT_TYPE, "application/timestamp-reply")],
        reply,
    )
        .into_response()
}
