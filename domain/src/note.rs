//! Signed notes (c2sp.org/signed-note) with Ed25519 keys, and transparency-log checkpoints
//! (c2sp.org/tlog-checkpoint) as their text: the per-tenant receipt log's signed heads.
//!
//! **Why Ed25519 here when receipts are ES256.** The checkpoint ecosystem verifies Ed25519
//! notes: Go's `golang.org/x/mod/sumdb/note` (Debian's `golang-golang-x-mod-dev`, which the
//! interop test runs against our checkpoints), witnesses (c2sp.org/tlog-cosignature is
//! Ed25519) and monitors. The log key is derived from the operator's ES256 signing key
//! ([`crate::keys::SigningKey::log_seed`]), so the fleet still holds one secret; rotating that
//! key rotates the log key too, and a monitor must then be given the new verifier key.
//!
//! Format, signed-note §Format: "A signed note consists of a text ending in newline (U+000A),
//! followed by a blank line (only a newline), followed by one or more signature lines of this
//! form: em dash (U+2014), space (U+0020), key name, space, base64-encoded signature,
//! newline." and §Signatures: "The first four bytes in the signature are the uint32 key ID
//! stored in big-endian order."
//!
//! ```text
//! key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]
//! ```
//!
//! A verifier key is written the way Go's note package writes it: `name+hex(key ID)+
//! base64(0x01 || public key)`.

use std::fmt;

use base64ct::{Base64, Encoding as _};
use merkle::Hash;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest as _, Sha256};

use crate::error::{DomainError, Result};

/// The signature type byte of Ed25519 notes (signed-note §Signature types: "`0x01` — Ed25519
/// signatures as specified by this document").
const ED25519_TYPE: u8 = 0x01;

/// Notes bigger than this are refused before parsing (a checkpoint is under 300 bytes).
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// signed-note: "Verifiers … MUST accept at least up to 16 signatures."
const MAX_SIGNATURES: usize = 16;

fn bad(reason: impl Into<String>) -> DomainError {
    DomainError::Format(format!("signed note: {}", reason.into()))
}

/// signed-note: "Key names MUST be non-empty and MUST NOT contain any Unicode spaces or plus
/// (U+002B) characters."
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(DomainError::invalid(
            "note key name",
            name,
            "must be non-empty, without spaces or '+'",
        ));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The public half of a note key: what a monitor pins.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    public: [u8; 32],
}

impl NoteVerifier {
    /// Parses `name+hex8+base64(0x01||key)`, checking that the key ID is the key's.
    pub fn parse(vkey: &str) -> Result<NoteVerifier> {
        let wrong = |reason: &str| DomainError::invalid("note verifier key", vkey, reason);
        let mut parts = vkey.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(wrong("expected name+keyid+key"));
        };
        check_name(name)?;
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(wrong("the key ID is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| wrong("bad key ID"))?;
        let bytes = Base64::decode_vec(key).map_err(|_| wrong("the key is not base64"))?;
        let [ty, public @ ..] = bytes.as_slice() else {
            return Err(wrong("empty key"));
        };
        if *ty != ED25519_TYPE {
            return Err(wrong("not an Ed25519 key (type 0x01)"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| wrong("an Ed25519 public key is 32 bytes"))?;
        if key_id(name, &public) != id {
            return Err(wrong("the key ID does not match the name and key"));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id,
            public,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The note's text, once a signature by this key over it verifies. Signatures by other
    /// keys are ignored (signed-note: "Verifiers MUST ignore signatures from unknown keys");
    /// a signature by this key that fails rejects the note, and so does a note this key did
    /// not sign.
    pub fn open<'a>(&self, note: &'a [u8]) -> Result<&'a str> {
        let (text, sigs) = split(note)?;
        let mut found = false;
        for (name, sig) in sigs {
            let [a, b, c, d, sig @ ..] = sig.as_slice() else {
                return Err(bad("a signature shorter than its key ID"));
            };
            if name != self.name || u32::from_be_bytes([*a, *b, *c, *d]) != self.id {
                continue;
            }
            UnparsedPublicKey::new(&ED25519, &self.public)
                .verify(text.as_bytes(), sig)
                .map_err(|_| {
                    DomainError::Signature(format!(
                        "the note's signature by {} does not verify",
                        self.name
                    ))
                })?;
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(DomainError::Signature(format!(
                "the note carries no signature by {} (key ID {:08x})",
                self.name, self.id
            )))
        }
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = vec![ED25519_TYPE];
        key.extend_from_slice(&self.public);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            Base64::encode_string(&key)
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

/// The text of a note without checking any signature: only for a note read back from the
/// operator's own store (the API serving what the workers signed); everyone else opens notes
/// with [`NoteVerifier::open`].
pub fn unverified_text(note: &[u8]) -> Result<&str> {
    Ok(split(note)?.0)
}

/// A signature line: the key name and the decoded signature (key ID first).
type SignatureLine<'a> = (&'a str, Vec<u8>);

/// Splits a note into its text (with its final newline) and its signature lines
/// `(key name, decoded signature)`, refusing anything signed-note does not allow.
fn split(note: &[u8]) -> Result<(&str, Vec<SignatureLine<'_>>)> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(bad(format!("over {MAX_NOTE_BYTES} bytes")));
    }
    let s = std::str::from_utf8(note).map_err(|_| bad("not UTF-8"))?;
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("a control character other than newline"));
    }
    // "the text is separated from the signatures by the last empty line in the note"
    let at = s
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let (text, sigs) = (&s[..=at], &s[at + 2..]);
    if !sigs.ends_with('\n') {
        return Err(bad("the last signature line does not end in a newline"));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(bad(format!("more than {MAX_SIGNATURES} signatures")));
    }
    let parsed = lines
        .into_iter()
        .map(|line| {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad(format!("{line:?} is not a signature line")))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad(format!("{line:?} has no signature")))?;
            check_name(name)?;
            let sig = Base64::decode_vec(b64)
                .map_err(|_| bad(format!("the signature by {name} is not base64")))?;
            Ok((name, sig))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((text, parsed))
}

/// A note key: signs note texts as `name`.
pub struct NoteSigner {
    name: String,
    pair: Ed25519KeyPair,
    verifier: NoteVerifier,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({})", self.verifier)
    }
}

impl NoteSigner {
    /// The key of RFC 8032 seed `seed`, named `name`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<NoteSigner> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| DomainError::Key("not an Ed25519 seed".into()))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("an Ed25519 public key is 32 bytes");
        let verifier = NoteVerifier {
            name: name.to_owned(),
            id: key_id(name, &public),
            public,
        };
        Ok(NoteSigner {
            name: name.to_owned(),
            pair,
            verifier,
        })
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The signed note of `text` (which must end in a newline and hold no control character
    /// but newlines). Ed25519 is deterministic: the same text gives the same note.
    pub fn sign(&self, text: &str) -> Result<String> {
        if !text.ends_with('\n') || text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad(
                "a note text ends in a newline and has no other control characters",
            ));
        }
        let mut sig = self.verifier.id.to_be_bytes().to_vec();
        sig.extend_from_slice(self.pair.sign(text.as_bytes()).as_ref());
        Ok(format!(
            "{text}\n\u{2014} {} {}\n",
            self.name,
            Base64::encode_string(&sig)
        ))
    }
}

/// A checkpoint's text: tlog-checkpoint §Note text.
///
/// "1. The first line is the **origin**, a unique identifier for the log identity which
/// issued the checkpoint. 2. The second line is the **tree size**, the ASCII decimal
/// representation of the number of leaves in the tree, with no leading zeroes (unless the
/// tree is empty, in which case the tree size is `0`). 3. The third line is the **root
/// hash**, the base64 encoding of the root of the [RFC 6962] Merkle hash tree at the specified
/// tree size. 4. Any following lines are **extension lines**, opaque and OPTIONAL." Ours
/// carry none; extension lines of others are kept out of [`Checkpoint`] and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            Base64::encode_string(&self.root.0)
        )
    }

    /// Parses a checkpoint's note text (after its signature was checked).
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let wrong = |reason: String| DomainError::Format(format!("checkpoint: {reason}"));
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| wrong("the text does not end in a newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(wrong("fewer than three lines".into()));
        };
        if origin.is_empty() || extensions.iter().any(|l| l.is_empty()) {
            return Err(wrong("an empty line".into()));
        }
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (*size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| {
                wrong(format!(
                    "tree size {size:?} is not a decimal without leading zeroes"
                ))
            })?;
        let root: [u8; 32] = Base64::decode_vec(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| wrong(format!("root hash {root:?} is not 32 bytes in base64")))?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root: Hash(root),
        })
    }

    /// Opens a signed checkpoint with `verifier` and checks that its origin is `origin`.
    pub fn open(note: &[u8], verifier: &NoteVerifier, origin: &str) -> Result<Checkpoint> {
        let cp = Checkpoint::parse(verifier.open(note)?)?;
        if cp.origin != origin {
            return Err(DomainError::Format(format!(
                "checkpoint: origin {:?}, expected {origin:?}",
                cp.origin
            )));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("example.com/log", &[7; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 12,
            root: merkle::hash::leaf_hash(b"x"),
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_verifier_and_round_trips() {
        let s = signer();
        let note = s.sign(&checkpoint().to_text()).unwrap();
        let vkey = NoteVerifier::parse(&s.verifier().to_string()).unwrap();
        assert_eq!(
            Checkpoint::open(note.as_bytes(), &vkey, "example.com/log").unwrap(),
            checkpoint()
        );
        // Deterministic: the same text gives the same bytes.
        assert_eq!(note, s.sign(&checkpoint().to_text()).unwrap());
    }

    #[test]
    fn a_changed_text_or_another_key_is_refused() {
        let s = signer();
        let note = s.sign(&checkpoint().to_text()).unwrap();
        let forged = note.replacen("\n12\n", "\n13\n", 1);
        let e = s.verifier().open(forged.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        let other = NoteSigner::from_seed("example.com/log", &[8; 32]).unwrap();
        let e = other.verifier().open(note.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no signature by"), "{e}");
    }

    #[test]
    fn unknown_signatures_are_ignored_but_the_known_one_is_required() {
        let s = signer();
        let other = NoteSigner::from_seed("witness.example", &[9; 32]).unwrap();
        let text = checkpoint().to_text();
        let mine = s.sign(&text).unwrap();
        let theirs = other.sign(&text).unwrap();
        let both = format!("{mine}{}", theirs.rsplit_once("\n\n").unwrap().1);
        assert_eq!(s.verifier().open(both.as_bytes()).unwrap(), text);
        assert!(s.verifier().open(theirs.as_bytes()).is_err());
    }

    #[test]
    fn malformed_notes_and_checkpoints_name_what_is_wrong() {
        let s = signer();
        for (note, want) in [
            ("a\n12\n", "no blank line"),
            ("a\n\n- x y\n", "not a signature line"),
            ("a\x01\n\n\u{2014} k AAAA\n", "control character"),
            ("a\n\n\u{2014} k AAAA", "does not end in a newline"),
        ] {
            let e = s.verifier().open(note.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want), "{note:?}: {e}");
        }
        for (text, want) in [
            ("o\n012\nAAAA\n", "leading zeroes"),
            ("o\n1\nAAAA\n", "not 32 bytes"),
            ("o\n1\n", "fewer than three"),
            ("o\n1\nx\n\n", "empty line"),
        ] {
            let e = Checkpoint::parse(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_verifier_key_with_a_wrong_id_or_type_is_refused() {
        let vkey = signer().verifier().to_string();
        let (name, rest) = vkey.split_once('+').unwrap();
        let (_, key) = rest.split_once('+').unwrap();
        let wrong_id = format!("{name}+00000000+{key}");
        assert!(NoteVerifier::parse(&wrong_id).is_err());
        let other_name = format!("other+{rest}");
        assert!(NoteVerifier::parse(&other_name).is_err());
        assert!(NoteVerifier::parse("name+1234").is_err());
    }
}
