//! RFC 3161 time-stamping (with RFC 5816's ESSCertIDv2): requests, response and token
//! parsing, a verifier with one typed failure per check, a client, and a local responder with
//! a throwaway CA for development and tests.
//!
//! Stack: `rasn` / `rasn-cms` / `rasn-pkix` / `rasn-smime` decode the ASN.1 leaves (they
//! accept the fractional-second genTime real TSAs send), RustCrypto `p256` / `p384` / `rsa`
//! check signatures, and a small DER walker of our own ([`der`]) keeps the exact bytes of
//! everything hashed or signed, so a signature is never checked over a re-encoding and the
//! certificate SET may come in any order. Chain validation is ours: pinned certificates,
//! validity at genTime, CA flags, critical-extension handling and the critical
//! id-kp-timeStamping EKU. Revocation (CRL/OCSP) is not checked: a token is evidence of time
//! only as far as the pinned CA is trusted.

mod against;
mod alg;
#[cfg(feature = "net")]
pub mod client;
mod der;
pub mod devca;
mod pem;
mod request;
#[cfg(feature = "net")]
pub mod responder;
mod token;
mod verify;
mod x509;

pub use against::{
    Against, Reply, certificates_from_file, digest_imprint, imprint_alg, verify_against,
};
pub use alg::HashAlg;
pub use rasn::types::ObjectIdentifier;
pub use request::{MessageImprint, Nonce, RequestError, TimeStampRequest};
pub use token::{PkiStatus, TimeStampResponse, TimeStampToken, TokenInfo};
pub use verify::{
    Verified, VerifyOptions, format_time, granted_token, verify_response, verify_token,
    verify_token_for_request,
};
pub use x509::Certificate;

/// Parses a dotted policy OID such as `1.3.6.1.4.1.32473.1`.
pub fn parse_oid(s: &str) -> Result<ObjectIdentifier, String> {
    let arcs: Result<Vec<u32>, _> = s.trim().split('.').map(str::parse::<u32>).collect();
    arcs.ok()
        .filter(|a| a.len() >= 2 && a[0] <= 2 && (a[0] == 2 || a[1] < 40))
        .and_then(ObjectIdentifier::new)
        .ok_or_else(|| format!("{s:?} is not a dotted object identifier"))
}
