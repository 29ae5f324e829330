//! The one error type of this crate.

use thiserror::Error;

/// What went wrong reading, building or verifying a timestamp. Every variant names the check
/// that failed and, where there is one, the byte offset.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StampError {
    #[error("not an OpenTimestamps proof: the header magic is missing")]
    BadMagic,
    #[error("unsupported .ots major version {0} (this reader knows version 1)")]
    BadVersion(u64),
    #[error("file hash operation tag 0x{0:02x} is not a hash (sha1, ripemd160, sha256, keccak256)")]
    BadFileHashOp(u8),
    #[error("at byte {offset}: unexpected end of proof")]
    Truncated { offset: usize },
    #[error("at byte {offset}: unknown operation tag 0x{tag:02x}")]
    UnknownOp { offset: usize, tag: u8 },
    #[error("at byte {offset}: {what} is {len} bytes, limit {limit}")]
    TooLong {
        offset: usize,
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("at byte {offset}: {what} must not be empty")]
    Empty { offset: usize, what: &'static str },
    #[error("at byte {offset}: a varuint does not fit in 64 bits")]
    VarintOverflow { offset: usize },
    #[error("at byte {offset}: a varuint is not in its shortest form")]
    NonMinimalVarint { offset: usize },
    #[error("at byte {offset}: timestamps nested deeper than {limit}")]
    TooDeep { offset: usize, limit: usize },
    #[error("at byte {offset}: {trailing} bytes of trailing garbage after the proof")]
    TrailingGarbage { offset: usize, trailing: usize },
    #[error("at byte {offset}: pending attestation URI {reason}")]
    BadUri { offset: usize, reason: String },
    #[error("at byte {offset}: {what} payload has {trailing} unread bytes")]
    PayloadTrailing {
        offset: usize,
        what: &'static str,
        trailing: usize,
    },
    #[error("a timestamp with neither operations nor attestations cannot be written")]
    EmptyTimestamp,
    /// A digest given for a proof has the wrong length for the proof's file hash operation.
    #[error(
        "the proof hashes its file with {hash}, whose digest is {want} bytes ({} hex digits); \
         the digest given is {got} bytes", want * 2
    )]
    DigestLength {
        hash: &'static str,
        want: usize,
        got: usize,
    },
    #[error("the proof's file digest {got} is not the digest of the data, {want}")]
    DigestMismatch { got: String, want: String },
    #[error("block header: {0}")]
    Header(String),
    /// A mainnet epoch table supplied at run time that cannot be read or fails its checks.
    #[error("{0}")]
    EpochTable(String),
    #[error(
        "Bitcoin block {height}: the proof commits to merkle root {computed}, the header has {header}"
    )]
    MerkleRootMismatch {
        height: u64,
        computed: String,
        header: String,
    },
    #[error("{0}")]
    Proof(String),
    #[error("calendar: {0}")]
    Calendar(String),
    /// A remote header source (Esplora, bitcoind) could not be used: the source, the request
    /// and what was wrong.
    #[error("header source {0}")]
    HeaderSource(String),
    #[error("RFC 3161 {check}: {detail}")]
    Tsa { check: TsaCheck, detail: String },
    /// A hex digest that is not hex (odd length, a non-hex character), as `merkle` reports it.
    #[error("{0}")]
    Hex(merkle::MerkleError),
    /// A digest given for an RFC 3161 token whose length is not that of the token's imprint
    /// algorithm; `what` names where the digest came from (e.g. `--digest`).
    #[error(
        "{what} is {got} bytes ({} hex digits); the token's imprint is {alg}, {want} bytes ({} \
         hex digits)", got * 2, want * 2
    )]
    ImprintLength {
        what: &'static str,
        got: usize,
        alg: &'static str,
        want: usize,
    },
    /// An RFC 3161 token whose imprint algorithm this crate does not know (or refuses).
    #[error("the token's imprint: {0}")]
    TokenImprint(String),
    /// A height asked of an epoch table past the table's last block.
    #[error("{height}: past the {table} table, which ends at block {last}")]
    PastTable {
        height: u64,
        table: String,
        last: u64,
    },
    /// A file that could not be read: its path and the reason.
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    /// A certificate file that could be read but not parsed: its path and the reason.
    #[error("{path}: {reason}")]
    CertificateFile { path: String, reason: String },
}

impl StampError {
    pub(crate) fn tsa(check: TsaCheck, detail: impl Into<String>) -> StampError {
        StampError::Tsa {
            check,
            detail: detail.into(),
        }
    }

    /// The RFC 3161 check that failed, if this is one.
    pub fn tsa_check(&self) -> Option<TsaCheck> {
        match self {
            StampError::Tsa { check, .. } => Some(*check),
            _ => None,
        }
    }
}

/// Which RFC 3161 check failed: each is a separate step of [`crate::tsp::verify_token`] or of
/// talking to a TSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsaCheck {
    /// The bytes are not a well-formed response or token.
    Encoding,
    /// The TSA did not grant the request.
    Status,
    /// The token stamps another hash, or uses a refused algorithm.
    Imprint,
    /// The token does not echo the request's nonce.
    Nonce,
    /// The token's policy is not one the verifier accepts.
    Policy,
    /// content-type or message-digest signed attributes are missing or wrong.
    SignedAttributes,
    /// No certificate matches the signer's ESSCertID(v2) and sid.
    SignerIdentity,
    /// The signature over the signed attributes does not verify.
    Signature,
    /// The signer's certificate lacks the sole critical id-kp-timeStamping EKU.
    KeyUsage,
    /// No valid path at genTime from the signer to a pinned CA.
    Chain,
    /// The request could not be built.
    Request,
    /// The TSA could not be reached or answered outside the protocol.
    Transport,
}

impl std::fmt::Display for TsaCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TsaCheck::Encoding => "encoding",
            TsaCheck::Status => "status",
            TsaCheck::Imprint => "message imprint",
            TsaCheck::Nonce => "nonce",
            TsaCheck::Policy => "policy",
            TsaCheck::SignedAttributes => "signed attributes",
            TsaCheck::SignerIdentity => "signer certificate",
            TsaCheck::Signature => "signature",
            TsaCheck::KeyUsage => "signer key usage",
            TsaCheck::Chain => "certificate chain",
            TsaCheck::Request => "request",
            TsaCheck::Transport => "transport",
        })
    }
}

pub type Result<T, E = StampError> = std::result::Result<T, E>;

/// `text` with the credentials of every URL in it masked (`scheme://user:***@host`): calendar
/// and TSA URLs may carry basic-auth credentials, and their errors end up in logs, run rows
/// and run summaries.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(i) => {
                let user = authority[..i].split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push_str(":***@");
                out.push_str(&authority[i + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact_userinfo;

    #[test]
    fn credentials_in_urls_are_masked_and_everything_else_kept() {
        assert_eq!(
            redact_userinfo("https://alice:s3cret@tsa.example/tsr: connection refused"),
            "https://alice:***@tsa.example/tsr: connection refused"
        );
        assert_eq!(
            redact_userinfo("a http://u:p@x:1 and https://y/z?q=1 b"),
            "a http://u:***@x:1 and https://y/z?q=1 b"
        );
        assert_eq!(redact_userinfo("no url here"), "no url here");
        assert!(!redact_userinfo("http://:tok@h/").contains("tok"));
    }
}
