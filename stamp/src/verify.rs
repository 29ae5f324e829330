//! Verifying a `.ots` file against the data it claims to stamp.

use crate::bitcoin::{BlockHeader, HeaderSource, verify_attestation};
use crate::error::{Result, StampError};
use crate::ots::{Attestation, DetachedTimestamp};
use crate::tx::Txid;

/// What one attestation of a proof showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The message is the merkle root of this Bitcoin block, whose header carries its work.
    Bitcoin {
        height: u64,
        block_hash: String,
        time: u32,
        /// The transaction the path commits through (display hex), when one of its messages
        /// is a whole Bitcoin transaction ([`crate::tx`]); `None` for a proof whose path
        /// reaches the merkle root without one (no real calendar writes such a path).
        txid: Option<String>,
    },
    /// Bitcoin block `height` is not in the header source.
    NoHeader { height: u64 },
    /// Not yet anchored: waiting at a calendar.
    Pending { uri: String },
    /// A notary this verifier does not check (Litecoin, unknown tags).
    Unsupported { what: String },
    /// The attestation is false: the reason.
    Failed { reason: String },
}

/// The overall answer, which decides `anchor ots verify`'s exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// At least one Bitcoin attestation checked out (exit 0).
    Verified,
    /// Nothing verified and something failed or could not be checked (exit 1).
    NotVerified,
    /// Nothing verified, nothing failed, and calendars still hold pending attestations (exit 3).
    PendingOnly,
}

/// The digest of `data` by the proof's own file hash operation (SHA-1, RIPEMD-160, SHA-256
/// or Keccak-256, as its header says): what `ots verify` compares with the proof's digest.
pub fn data_digest(file: &DetachedTimestamp, data: &[u8]) -> Vec<u8> {
    file.file_hash.apply(data)
}

/// Checks that a digest given instead of the data has the length of the proof's file hash
/// operation, so a SHA-256 digest given for a SHA-1 proof is bad input, not a mismatch.
pub fn check_digest_length(file: &DetachedTimestamp, digest: &[u8]) -> Result<()> {
    let want = file.digest().len();
    if digest.len() == want {
        Ok(())
    } else {
        Err(StampError::DigestLength {
            hash: file.file_hash.hash_name(),
            want,
            got: digest.len(),
        })
    }
}

/// A digest given in hex instead of the data (`what` names it in errors): malformed hex is
/// [`StampError::Hex`], a length other than that of `file`'s hash operation
/// [`StampError::DigestLength`] ([`check_digest_length`]).
pub fn digest_from_hex(what: &'static str, file: &DetachedTimestamp, hex: &str) -> Result<Vec<u8>> {
    let given = merkle::hash::decode_hex(what, hex.trim()).map_err(StampError::Hex)?;
    check_digest_length(file, &given)?;
    Ok(given)
}

/// Checks that `file` stamps the data whose hash (by the file's own hash operation) is
/// `data_digest` — the first step of [`verify_file`], for callers that want to know before
/// they fetch headers.
pub fn check_digest(file: &DetachedTimestamp, data_digest: &[u8]) -> Result<()> {
    if file.digest() == data_digest {
        Ok(())
    } else {
        Err(StampError::DigestMismatch {
            got: merkle::hash::encode_hex(file.digest()),
            want: merkle::hash::encode_hex(data_digest),
        })
    }
}

/// Checks `file` as a timestamp of the data whose hash (by the file's own hash operation) is
/// `data_digest`.
pub fn verify_file(
    file: &DetachedTimestamp,
    data_digest: &[u8],
    headers: &dyn HeaderSource,
) -> Result<(Verdict, Vec<Finding>)> {
    check_digest(file, data_digest)?;
    let mut findings = Vec::new();
    for (msg, attestation, txid) in file.timestamp.attestations_with_txid() {
        let finding = match attestation {
            Attestation::Bitcoin { height } => match verify_attestation(msg, *height, headers) {
                Ok(Some(h)) => bitcoin_finding(*height, &h, txid),
                Ok(None) => Finding::NoHeader { height: *height },
                Err(e) => Finding::Failed {
                    reason: e.to_string(),
                },
            },
            Attestation::Pending { uri } => Finding::Pending { uri: uri.clone() },
            Attestation::Litecoin { height } => Finding::Unsupported {
                what: format!("Litecoin block {height}"),
            },
            Attestation::Ethereum { height } => Finding::Unsupported {
                what: format!("Ethereum block {height}"),
            },
            Attestation::Unknown { tag, .. } => Finding::Unsupported {
                what: format!("unknown notary {}", merkle::hash::encode_hex(tag)),
            },
        };
        findings.push(finding);
    }
    let verdict = if findings
        .iter()
        .any(|f| matches!(f, Finding::Bitcoin { .. }))
    {
        Verdict::Verified
    } else if !findings.is_empty()
        && findings
            .iter()
            .all(|f| matches!(f, Finding::Pending { .. }))
    {
        Verdict::PendingOnly
    } else {
        Verdict::NotVerified
    };
    Ok((verdict, findings))
}

fn bitcoin_finding(height: u64, header: &BlockHeader, txid: Option<Txid>) -> Finding {
    Finding::Bitcoin {
        height,
        block_hash: header.hash_display(),
        time: header.time(),
        txid: txid.map(|t| t.to_display_hex()),
    }
}

/// The earliest Bitcoin attestation that verified: the lowest block height (blocks are
/// ordered by height; header times may run backwards by up to two hours), ties broken by
/// time. A proof upgraded through several calendars carries one attestation per calendar;
/// the existence claim rests on the earliest.
pub fn earliest_bitcoin(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .filter(|f| matches!(f, Finding::Bitcoin { .. }))
        .min_by_key(|f| match f {
            Finding::Bitcoin { height, time, .. } => (*height, *time),
            _ => unreachable!("filtered to Bitcoin findings"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ots::{Op, Timestamp};

    fn sha1_proof() -> DetachedTimestamp {
        DetachedTimestamp {
            file_hash: Op::Sha1,
            timestamp: Timestamp::new(vec![0x11; 20]),
        }
    }

    #[test]
    fn a_sha1_digest_of_the_wrong_length_is_refused_naming_the_length() {
        let e = digest_from_hex("--digest", &sha1_proof(), &"ab".repeat(32)).unwrap_err();
        assert_eq!(
            e,
            StampError::DigestLength {
                hash: "sha1",
                want: 20,
                got: 32
            }
        );
        assert!(e.to_string().contains("20 bytes (40 hex digits)"), "{e}");
    }

    #[test]
    fn a_digest_in_hex_is_trimmed_and_decoded_and_bad_hex_names_the_flag() {
        let given = digest_from_hex("--digest", &sha1_proof(), &format!("{}\n", "11".repeat(20)));
        assert_eq!(given.unwrap(), vec![0x11; 20]);
        let e = digest_from_hex("--digest", &sha1_proof(), "zz").unwrap_err();
        assert!(matches!(e, StampError::Hex(_)), "{e:?}");
        assert!(
            e.to_string().starts_with("--digest: invalid hex character"),
            "{e}"
        );
    }
}
