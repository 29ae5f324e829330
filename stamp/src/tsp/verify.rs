//! Verifying a time-stamp token: every check of RFC 3161 §2.4.2 and RFC 5816, each failing
//! with its own [`TsaCheck`]. Used when a token arrives (with the request's nonce) and again
//! at audit time (without one).

use chrono::{DateTime, Utc};
use rasn::types::ObjectIdentifier;
use sha1::{Digest as _, Sha1};

use super::alg::SignatureAlg;
use super::request::{MessageImprint, Nonce, TimeStampRequest};
use super::token::{
    CT_TST_INFO, EssCertId, PkiStatus, SignerId, TimeStampResponse, TimeStampToken, TokenInfo,
};
use super::x509::{Certificate, integer_hex, validate_path};
use crate::error::{Result, StampError, TsaCheck};

/// What the verifier trusts and accepts.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Pinned certificates: the chain must end at (or be signed by) one of them. Empty means
    /// trust is not checked at all, which [`Verified::trusted`] reports.
    pub trusted: Vec<Certificate>,
    /// Intermediate certificates that may complete the chain.
    pub untrusted: Vec<Certificate>,
    /// Accepted policies; empty accepts any.
    pub policies: Vec<ObjectIdentifier>,
    /// Accept `grantedWithMods` as well as `granted`.
    pub accept_granted_with_mods: bool,
}

/// A token that passed.
#[derive(Clone, Debug)]
pub struct Verified {
    pub info: TokenInfo,
    /// Subjects from the signer to the pinned CA.
    pub path: Vec<String>,
    /// Whether the chain was checked against pinned certificates.
    pub trusted: bool,
}

/// Checks a response to `request`: the status, then the token against the request's imprint,
/// nonce and (when it asked for one) policy.
pub fn verify_response(
    resp: &TimeStampResponse,
    request: &TimeStampRequest,
    opts: &VerifyOptions,
) -> Result<Verified> {
    verify_token_for_request(granted_token(resp, opts)?, request, opts)
}

/// Checks `token` against the request it answers, as `openssl ts -verify -queryfile` does:
/// the imprint, the nonce when the request has one, and the policy when it asked for one
/// (RFC 3161 §2.4.2: "If the reqPolicy field is present in the TimeStampReq, the policy field
/// … MUST be equal to reqPolicy"), then every other check of [`verify_token`].
pub fn verify_token_for_request(
    token: &TimeStampToken,
    request: &TimeStampRequest,
    opts: &VerifyOptions,
) -> Result<Verified> {
    if let Some(asked) = &request.policy
        && token.tst.policy != *asked
    {
        return Err(StampError::tsa(
            TsaCheck::Policy,
            format!(
                "asked for policy {asked}, the token has {}",
                token.tst.policy
            ),
        ));
    }
    verify_token(token, &request.imprint, request.nonce.as_ref(), opts)
}

/// The token of a response whose status is acceptable.
pub fn granted_token<'a>(
    resp: &'a TimeStampResponse,
    opts: &VerifyOptions,
) -> Result<&'a TimeStampToken> {
    let ok = resp.status == PkiStatus::Granted
        || (resp.status == PkiStatus::GrantedWithMods && opts.accept_granted_with_mods);
    if !ok {
        return Err(StampError::tsa(
            TsaCheck::Status,
            format!("the TSA answered {}", resp.status_description()),
        ));
    }
    resp.token
        .as_ref()
        .ok_or_else(|| StampError::tsa(TsaCheck::Status, "granted without a token"))
}

/// Checks `token` as a time-stamp of `imprint` (and of `nonce`, when one was sent).
pub fn verify_token(
    token: &TimeStampToken,
    imprint: &MessageImprint,
    nonce: Option<&Nonce>,
    opts: &VerifyOptions,
) -> Result<Verified> {
    let info = token.info();
    check_imprint(&info, imprint)?;
    if let Some(sent) = nonce {
        check_nonce(&info, sent)?;
    }
    if !opts.policies.is_empty() && !opts.policies.contains(&token.tst.policy) {
        return Err(StampError::tsa(
            TsaCheck::Policy,
            format!("policy {} is not among the accepted ones", token.tst.policy),
        ));
    }
    check_signed_attributes(token)?;
    let (path, trusted) = check_signer(token, opts, info.gen_time)?;
    Ok(Verified {
        info,
        path,
        trusted,
    })
}

/// messageImprint: "MUST have the same value as the similar field in TimeStampReq".
fn check_imprint(info: &TokenInfo, imprint: &MessageImprint) -> Result<()> {
    let token_alg = info
        .imprint_alg
        .clone()
        .map_err(|e| StampError::tsa(TsaCheck::Imprint, format!("the token's imprint: {e}")))?;
    if token_alg != imprint.alg() || info.imprint != imprint.digest() {
        return Err(StampError::tsa(
            TsaCheck::Imprint,
            format!(
                "the token stamps {} {}, the data's is {} {}",
                token_alg.name(),
                merkle::hash::encode_hex(&info.imprint),
                imprint.alg().name(),
                merkle::hash::encode_hex(imprint.digest())
            ),
        ));
    }
    Ok(())
}

/// nonce: "MUST be present if the similar field was present in TimeStampReq. In that case it
/// MUST have the same value."
fn check_nonce(info: &TokenInfo, sent: &Nonce) -> Result<()> {
    match &info.nonce_hex {
        Some(got) if *got == sent.to_hex() => Ok(()),
        Some(got) => Err(StampError::tsa(
            TsaCheck::Nonce,
            format!("sent {}, the token echoes {got}", sent.to_hex()),
        )),
        None => Err(StampError::tsa(
            TsaCheck::Nonce,
            "the token does not echo the nonce",
        )),
    }
}

/// The signer's signature over the signed attributes, its time-stamping key usage, and its
/// chain: to one of `opts.trusted` when any are given (then `true`), else the signer alone with
/// its signature algorithms agreeing. Returns the subjects from the signer up.
fn check_signer(
    token: &TimeStampToken,
    opts: &VerifyOptions,
    gen_time: DateTime<Utc>,
) -> Result<(Vec<String>, bool)> {
    let signer = find_signer(token, opts)?;
    let alg = SignatureAlg::from_identifier(&token.signature_alg, token.digest_alg.clone().ok())
        .map_err(|e| StampError::tsa(TsaCheck::Signature, e))?;
    signer
        .public_key()
        .and_then(|k| k.verify(alg, &token.signed_attrs, &token.signature))
        .map_err(|e| StampError::tsa(TsaCheck::Signature, e))?;
    signer
        .check_time_stamping_eku()
        .map_err(|e| StampError::tsa(TsaCheck::KeyUsage, e))?;
    if opts.trusted.is_empty() {
        signer
            .check_signature_algorithms_agree()
            .map_err(|e| StampError::tsa(TsaCheck::Chain, e))?;
        return Ok((vec![signer.subject()], false));
    }
    let pool: Vec<Certificate> = token
        .certificates
        .iter()
        .chain(&opts.untrusted)
        .cloned()
        .collect();
    let path = validate_path(signer, &pool, &opts.trusted, gen_time)
        .map_err(|e| StampError::tsa(TsaCheck::Chain, e))?;
    Ok((path.iter().map(|c| c.subject()).collect(), true))
}

/// RFC 5652 §5.3: with signed attributes present, they "MUST, at a minimum, include …
/// content-type … [and] message-digest"; the content type must equal eContentType and the
/// digest must be that of the eContent octets.
fn check_signed_attributes(token: &TimeStampToken) -> Result<()> {
    let err = |d: String| StampError::tsa(TsaCheck::SignedAttributes, d);
    match &token.content_type {
        Some(ct) if **ct == *CT_TST_INFO => {}
        Some(ct) => return Err(err(format!("content-type is {ct}, not id-ct-TSTInfo"))),
        None => return Err(err("the content-type attribute is missing".into())),
    }
    let digest_alg = token
        .digest_alg
        .clone()
        .map_err(|e| err(format!("digestAlgorithm: {e}")))?;
    let want = digest_alg.digest(&token.tst_der);
    match &token.message_digest {
        Some(got) if *got == want => Ok(()),
        Some(got) => Err(err(format!(
            "message-digest {} is not the {} of the TSTInfo, {}",
            merkle::hash::encode_hex(got),
            digest_alg.name(),
            merkle::hash::encode_hex(&want)
        ))),
        None => Err(err("the message-digest attribute is missing".into())),
    }
}

/// RFC 5035 §3 / RFC 3161 §2.4.1: the first ESSCertID(v2) names the signing certificate by the
/// hash of its encoding (and, optionally, issuer and serial); the certificate must also match
/// `SignerInfo.sid`.
fn find_signer<'a>(token: &'a TimeStampToken, opts: &'a VerifyOptions) -> Result<&'a Certificate> {
    let err = |d: String| StampError::tsa(TsaCheck::SignerIdentity, d);
    let first = token
        .ess
        .first()
        .ok_or_else(|| err("no signingCertificate or signingCertificateV2 attribute".into()))?;
    // openssl takes the signer's certificate from the token first (by sid): a copy there that
    // the sid names but the ESSCertID does not hash is an altered token, whatever the
    // verifier was given besides.
    if let Some((i, named)) = token
        .certificates
        .iter()
        .enumerate()
        .find(|(_, c)| sid_names(&token.sid, c))
        && !ess_hash_matches(first, named)
    {
        return Err(err(format!(
            "the token's certificate {} ({}) is the one SignerInfo.sid names, but it does not \
             have the hash {} the signer's ESSCertID names",
            i + 1,
            named.subject(),
            merkle::hash::encode_hex(&first.cert_hash)
        )));
    }
    let candidates = token
        .certificates
        .iter()
        .chain(&opts.untrusted)
        .chain(&opts.trusted);
    for cert in candidates {
        if !ess_hash_matches(first, cert) {
            continue;
        }
        if let Some((names, serial)) = &first.issuer_serial {
            let issuer_ok = names.iter().any(|n| {
                matches!(n, rasn_pkix::GeneralName::DirectoryName(name) if name == cert.issuer_name())
            });
            if !issuer_ok || serial != cert.serial() {
                return Err(err(format!(
                    "the ESSCertID names serial {} of another issuer than {}",
                    integer_hex(serial),
                    cert.issuer()
                )));
            }
        }
        if !sid_names(&token.sid, cert) {
            return Err(err(format!(
                "SignerInfo.sid does not name {}, the certificate the ESSCertID hashes",
                cert.subject()
            )));
        }
        return Ok(cert);
    }
    Err(err(format!(
        "no certificate in the token or supplied has the hash {} that the signer names{}",
        merkle::hash::encode_hex(&first.cert_hash),
        if token.certificates.is_empty() {
            " (the token carries no certificates: pass the TSA's certificate)"
        } else {
            ""
        }
    )))
}

fn sid_names(sid: &SignerId, cert: &Certificate) -> bool {
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            issuer == cert.issuer_name() && serial == cert.serial()
        }
        SignerId::KeyId(k) => cert.subject_key_id().as_deref() == Some(k.as_slice()),
    }
}

fn ess_hash_matches(id: &EssCertId, cert: &Certificate) -> bool {
    match id.hash {
        Some(alg) => alg.digest(cert.der()) == id.cert_hash,
        None => Sha1::digest(cert.der()).as_slice() == id.cert_hash.as_slice(),
    }
}

/// genTime as RFC 3339 with the fraction the TSA gave.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
