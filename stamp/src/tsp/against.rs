//! What `anchor tsa verify` reads and checks: a reply or a bare token, the certificate files
//! it pins, and the one thing the token is checked against (data, a digest or the request).

use std::path::Path;

use super::{
    Certificate, HashAlg, MessageImprint, ObjectIdentifier, TimeStampRequest, TimeStampResponse,
    TimeStampToken, Verified, VerifyOptions, granted_token, verify_token, verify_token_for_request,
};
use crate::error::{Result, StampError};

/// A `.tsr` file: normally a whole `TimeStampResp` (RFC 3161 §2.4.2: `TimeStampResp ::=
/// SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`), or a bare
/// token (`openssl ts -token_out`).
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole `TimeStampResp`.
    Response(TimeStampResponse),
    /// A bare `TimeStampToken`.
    Token(TimeStampToken),
}

impl Reply {
    /// `bytes` as a `TimeStampResp`, else as a bare token; when neither parses, the error is
    /// the response's (what a `.tsr` normally is).
    pub fn from_der(bytes: &[u8]) -> Result<Reply> {
        match TimeStampResponse::from_der(bytes) {
            Ok(r) => Ok(Reply::Response(r)),
            Err(resp_err) => TimeStampToken::from_der(bytes)
                .map(Reply::Token)
                .map_err(|_| resp_err),
        }
    }

    /// The token to verify: a bare token as it is, a response's only if its status grants it
    /// under `opts` ([`granted_token`]).
    pub fn token(&self, opts: &VerifyOptions) -> Result<&TimeStampToken> {
        match self {
            Reply::Response(r) => granted_token(r, opts),
            Reply::Token(t) => Ok(t),
        }
    }
}

/// What a token is checked against (exactly one, as `openssl ts -verify` takes one of
/// `-data`, `-digest` and `-queryfile`).
#[derive(Clone, Debug)]
pub enum Against {
    /// The stamped data, hashed with the token's imprint algorithm.
    Data(Vec<u8>),
    /// The stamped digest as hex (`--digest`): its length must be the token's imprint
    /// algorithm's.
    Digest(String),
    /// The request the token answers: its imprint, its nonce when it has one and its policy
    /// when it asked for one must match ([`verify_token_for_request`]).
    Request(TimeStampRequest),
}

/// The token's imprint algorithm; one this crate does not know is
/// [`StampError::TokenImprint`].
pub fn imprint_alg(token: &TimeStampToken) -> Result<HashAlg> {
    token.info().imprint_alg.map_err(StampError::TokenImprint)
}

/// `hex` (`what` names it in errors) as an imprint of `alg`: malformed hex is
/// [`StampError::Hex`], a length other than `alg`'s [`StampError::ImprintLength`] naming both.
pub fn digest_imprint(what: &'static str, alg: HashAlg, hex: &str) -> Result<MessageImprint> {
    let bytes = merkle::hash::decode_hex(what, hex.trim()).map_err(StampError::Hex)?;
    if bytes.len() != alg.output_len() {
        return Err(StampError::ImprintLength {
            what,
            got: bytes.len(),
            alg: alg.name(),
            want: alg.output_len(),
        });
    }
    MessageImprint::new(alg, bytes)
}

/// Verifies `token` under `opts` against `what`. Errors: [`StampError::TokenImprint`] (data
/// or a digest given and the token's algorithm unknown), [`StampError::Hex`] and
/// [`StampError::ImprintLength`] (a bad `--digest`), else the failed check
/// ([`StampError::Tsa`]).
pub fn verify_against(
    token: &TimeStampToken,
    what: &Against,
    opts: &VerifyOptions,
) -> Result<Verified> {
    match what {
        Against::Data(bytes) => {
            let imprint = MessageImprint::of_data(imprint_alg(token)?, bytes);
            verify_token(token, &imprint, None, opts)
        }
        Against::Digest(hex) => {
            let imprint = digest_imprint("--digest", imprint_alg(token)?, hex)?;
            verify_token(token, &imprint, None, opts)
        }
        Against::Request(request) => verify_token_for_request(token, request, opts),
    }
}

/// The certificates of a `--ca`/`--untrusted`/`--chain`/`--cert` file: PEM (as openssl reads
/// it) or one DER certificate ([`Certificate::from_file_bytes`]).
pub fn certificates_from_file(path: &Path) -> Result<Vec<Certificate>> {
    let bytes = std::fs::read(path).map_err(|e| StampError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Certificate::from_file_bytes(&bytes).map_err(|reason| StampError::CertificateFile {
        path: path.display().to_string(),
        reason,
    })
}

impl VerifyOptions {
    /// Options pinning the certificates of the file `ca` (none: the chain is not checked),
    /// with intermediates from `untrusted`, accepting `policies` (empty: any).
    pub fn from_files(
        ca: Option<&Path>,
        untrusted: Option<&Path>,
        policies: Vec<ObjectIdentifier>,
        accept_granted_with_mods: bool,
    ) -> Result<VerifyOptions> {
        Ok(VerifyOptions {
            trusted: ca
                .map(certificates_from_file)
                .transpose()?
                .unwrap_or_default(),
            untrusted: untrusted
                .map(certificates_from_file)
                .transpose()?
                .unwrap_or_default(),
            policies,
            accept_granted_with_mods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_of_the_wrong_length_is_refused_naming_both_lengths() {
        let e = digest_imprint("--digest", HashAlg::Sha256, &"ab".repeat(20)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--digest is 20 bytes (40 hex digits); the token's imprint is sha256, 32 bytes (64 \
             hex digits)"
        );
        let ok = digest_imprint(
            "--digest",
            HashAlg::Sha256,
            &format!(" {} ", "ab".repeat(32)),
        );
        assert_eq!(ok.unwrap().digest(), &[0xab; 32][..]);
    }

    #[test]
    fn a_digest_that_is_not_hex_is_a_hex_error_naming_the_flag() {
        let e = digest_imprint("--digest", HashAlg::Sha256, "abc").unwrap_err();
        assert!(matches!(e, StampError::Hex(_)), "{e:?}");
        assert!(e.to_string().starts_with("--digest: odd number"), "{e}");
    }

    #[test]
    fn a_certificate_file_that_is_missing_or_junk_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let e = certificates_from_file(&missing).unwrap_err();
        assert!(matches!(e, StampError::Read { .. }), "{e:?}");
        assert!(e.to_string().starts_with("reading "), "{e}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, b"not a certificate").unwrap();
        let e = certificates_from_file(&junk).unwrap_err();
        assert!(matches!(e, StampError::CertificateFile { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&junk.display().to_string()),
            "{e}"
        );
    }

    /// A dev responder's reply to `request`, and options pinning its CA.
    #[cfg(feature = "net")]
    fn dev_reply(request: &TimeStampRequest) -> (Reply, VerifyOptions) {
        use crate::tsp::responder::{DEV_POLICY, Responder};
        use crate::tsp::{devca, parse_oid};
        let now = chrono::Utc::now();
        let ca = devca::make(now - chrono::Duration::minutes(1));
        let key = devca::load_p256_key(&ca.tsa_key_pem).unwrap();
        let policy = parse_oid(DEV_POLICY).unwrap();
        let responder = Responder::new(key, ca.tsa_cert.clone(), vec![], policy).unwrap();
        let reply = Reply::from_der(&responder.respond(&request.to_der(), now, &[1; 16])).unwrap();
        let opts = VerifyOptions {
            trusted: vec![ca.ca_cert],
            untrusted: vec![],
            policies: vec![],
            accept_granted_with_mods: false,
        };
        (reply, opts)
    }

    #[cfg(feature = "net")]
    #[test]
    fn a_token_verifies_against_its_data_digest_and_request_and_fails_for_other_data() {
        let imprint = MessageImprint::of_data(HashAlg::Sha256, b"data");
        let request = TimeStampRequest::new(imprint.clone(), None);
        let (reply, opts) = dev_reply(&request);
        let token = reply.token(&opts).unwrap();
        let hex = merkle::hash::encode_hex(imprint.digest());
        for what in [
            Against::Data(b"data".to_vec()),
            Against::Digest(hex),
            Against::Request(request.clone()),
        ] {
            let v = verify_against(token, &what, &opts).unwrap();
            assert!(v.trusted, "{what:?}");
        }
        let e = verify_against(token, &Against::Data(b"other".to_vec()), &opts).unwrap_err();
        assert_eq!(e.tsa_check(), Some(crate::TsaCheck::Imprint), "{e}");
    }

    #[cfg(feature = "net")]
    #[test]
    fn the_reply_and_verified_descriptions_name_the_status_imprint_and_chain() {
        let imprint = MessageImprint::of_data(HashAlg::Sha256, b"data");
        let (reply, opts) = dev_reply(&TimeStampRequest::new(imprint.clone(), None));
        let info = crate::report::describe_reply(&reply);
        assert!(info.starts_with("status     Granted\n"), "{info}");
        let hex = merkle::hash::encode_hex(imprint.digest());
        assert!(
            info.contains(&format!("imprint    sha256 {hex}\n")),
            "{info}"
        );
        assert!(info.ends_with("certs      1\n"), "{info}");
        let token = reply.token(&opts).unwrap();
        let v = verify_against(token, &Against::Data(b"data".to_vec()), &opts).unwrap();
        let text = crate::report::describe_verified(&v);
        assert!(
            text.starts_with("✓ RFC 3161 time-stamp verified\n  genTime  "),
            "{text}"
        );
        assert!(text.contains("\n  chain    "), "{text}");
        let unpinned = VerifyOptions {
            trusted: vec![],
            ..opts
        };
        let v = verify_against(token, &Against::Data(b"data".to_vec()), &unpinned).unwrap();
        let text = crate::report::describe_verified(&v);
        assert!(text.ends_with("(chain NOT checked: pass --ca)\n"), "{text}");
    }

    #[test]
    fn bytes_that_are_neither_a_response_nor_a_token_fail_as_a_response() {
        let want = TimeStampResponse::from_der(b"junk").unwrap_err();
        assert_eq!(Reply::from_der(b"junk").unwrap_err(), want);
    }
}
