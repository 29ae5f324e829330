//! SHA-256 hashes and the two RFC 9162 hash functions.
//!
//! RFC 9162 §2.1.1: "The hash of a list with one entry (also known as a leaf hash) is:
//! `MTH({d(0)}) = HASH(0x00 || d(0))`" and, for an interior node,
//! "`MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`".
//!
//! The hot paths ([`node_hash`], [`c2c_leaf_hash`]) pad their fixed-length messages by hand and
//! call the SHA-256 compression function directly, so a tree costs exactly two compressions per
//! leaf and two per interior node, with no buffering in between. Message preparation and hashing
//! are separate functions so a batch can prepare all its messages before hashing any (see
//! `stream::batch_subtree`). Both are checked against the
//! plain `sha2` digest in this module's tests.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::{MerkleError, Result};

/// A 32-byte SHA-256 output: a leaf hash, a node hash, a root or a manifest digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// SHA-256 of the empty string: RFC 9162's root of the empty tree, `MTH({}) = HASH()`.
    pub const EMPTY_TREE_ROOT: Hash = Hash([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// Plain SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// Parses exactly 64 hex digits (either case).
    pub fn from_hex(what: &'static str, s: &str) -> Result<Hash> {
        let mut out = [0u8; 32];
        decode_hex_into(what, s.as_bytes(), &mut out)?;
        Ok(Hash(out))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; 64];
        encode_hex_into(&self.0, &mut buf);
        // Hex digits are ASCII.
        String::from_utf8(buf.to_vec()).expect("hex is ASCII")
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `2 * src.len()` lowercase hex digits into `dst`.
pub(crate) fn encode_hex_into(src: &[u8], dst: &mut [u8]) {
    for (i, b) in src.iter().enumerate() {
        dst[2 * i] = HEX[usize::from(b >> 4)];
        dst[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) of exactly `2 * dst.len()` digits, naming what was wrong.
pub(crate) fn decode_hex_into(what: &'static str, src: &[u8], dst: &mut [u8]) -> Result<()> {
    if src.len() != 2 * dst.len() {
        return Err(MerkleError::Hex {
            what,
            reason: format!("expected {} hex digits, found {}", 2 * dst.len(), src.len()),
        });
    }
    for (i, pair) in src.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]);
        let lo = nibble(pair[1]);
        if let (Some(h), Some(l)) = (hi, lo) {
            dst[i] = (h << 4) | l;
        } else {
            let col = if hi.is_none() { 2 * i } else { 2 * i + 1 };
            let ch = src[col];
            let shown = if ch.is_ascii_graphic() {
                format!("{:?}", char::from(ch))
            } else {
                format!("byte 0x{ch:02x}")
            };
            return Err(MerkleError::Hex {
                what,
                reason: format!("invalid hex character {shown} at position {}", col + 1),
            });
        }
    }
    Ok(())
}

/// Decodes an arbitrary-length hex string (either case) into bytes.
pub fn decode_hex(what: &'static str, s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(MerkleError::Hex {
            what,
            reason: format!("odd number of hex digits ({})", s.len()),
        });
    }
    let mut out = vec![0u8; s.len() / 2];
    decode_hex_into(what, s.as_bytes(), &mut out)?;
    Ok(out)
}

/// Encodes bytes as lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut buf = vec![0u8; bytes.len() * 2];
    encode_hex_into(bytes, &mut buf);
    String::from_utf8(buf).expect("hex is ASCII")
}

/// RFC 9162 leaf hash of arbitrary leaf input: `SHA-256(0x00 || input)`.
pub fn leaf_hash(input: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(input);
    Hash(h.finalize().into())
}

/// RFC 9162 interior node hash of arbitrary-length children (the RFC's test vectors use
/// children that are not 32 bytes): `SHA-256(0x01 || left || right)`.
pub fn node_hash_bytes(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    Hash(h.finalize().into())
}

const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn state_to_hash(state: &[u32; 8]) -> Hash {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    Hash(out)
}

/// Number of SHA-256 compressions [`node_hash`] and [`c2c_leaf_hash`] each perform. The
/// benchmark's SHA-256 limit is measured with this many compressions per hash.
pub const COMPRESSIONS_PER_HASH: usize = 2;

/// A two-block SHA-256 message, already padded.
pub(crate) type Message = [[u8; 64]; 2];

/// Writes the padded message of `0x01 || left || right` (65 bytes; FIPS 180-4 §5.1.1: a 1 bit,
/// zeros, and the 64-bit big-endian bit length 520) into `msg`.
#[inline]
pub(crate) fn node_message(left: &Hash, right: &Hash, msg: &mut Message) {
    let bytes = msg.as_flattened_mut();
    bytes[0] = 0x01;
    bytes[1..33].copy_from_slice(&left.0);
    bytes[33..65].copy_from_slice(&right.0);
    bytes[65] = 0x80;
    bytes[66..120].fill(0);
    bytes[120..128].copy_from_slice(&(65u64 * 8).to_be_bytes());
}

/// SHA-256 of a prepared two-block message.
#[inline]
pub(crate) fn hash_message(msg: &Message) -> Hash {
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, msg);
    state_to_hash(&state)
}

/// SHA-256 of two independent prepared two-block messages, their blocks interleaved
/// (`a`'s first, `b`'s first, `a`'s second, `b`'s second): the second compression of each
/// message depends on its first, but the two messages do not depend on each other, so the
/// CPU overlaps one message's compression with the other's instead of waiting on a single
/// dependency chain (issue 25: about 1.5x the hashes per second of one stream with SHA-NI
/// here). Equal to two calls of [`hash_message`] (tested).
#[inline]
pub(crate) fn hash_two_messages(a: &Message, b: &Message) -> (Hash, Hash) {
    let (mut sa, mut sb) = (SHA256_IV, SHA256_IV);
    sha2::block_api::compress256(&mut sa, &a[..1]);
    sha2::block_api::compress256(&mut sb, &b[..1]);
    sha2::block_api::compress256(&mut sa, &a[1..]);
    sha2::block_api::compress256(&mut sb, &b[1..]);
    (state_to_hash(&sa), state_to_hash(&sb))
}

/// Hashes `msgs` into `out` (as many as `out` holds), two messages at a time
/// ([`hash_two_messages`]).
#[inline]
pub(crate) fn hash_messages(msgs: &[Message], out: &mut [Hash]) {
    let n = out.len();
    let (pairs, last) = out.split_at_mut(n - n % 2);
    for (slots, two) in pairs.chunks_exact_mut(2).zip(msgs.chunks_exact(2)) {
        (slots[0], slots[1]) = hash_two_messages(&two[0], &two[1]);
    }
    if let Some(slot) = last.first_mut() {
        *slot = hash_message(&msgs[n - 1]);
    }
}

/// RFC 9162 interior node hash of two 32-byte children: `SHA-256(0x01 || left || right)`.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut msg = [[0u8; 64]; 2];
    node_message(left, right, &mut msg);
    hash_message(&msg)
}

/// The leaf prefix every c2c leaf input starts with (DESIGN.md "Formats").
pub const LEAF_PREFIX: &[u8; 16] = b"c2c.manifest.v1|";

/// Length of a c2c leaf input: the prefix and 64 hex digits.
pub const LEAF_INPUT_LEN: usize = LEAF_PREFIX.len() + 64;

/// Lowercase hex of 8 bytes as 16 ASCII digits packed little-endian into a `u128` (the first
/// digit in the lowest byte), computed in registers so a message is written with a few wide
/// stores instead of 64 single-byte ones.
#[inline]
fn hex16(eight: &[u8]) -> u128 {
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    const LOW: u128 = 0x000f_000f_000f_000f_000f_000f_000f_000f;
    let x = u128::from(u64::from_le_bytes(eight.try_into().expect("8 bytes")));
    // Spread byte j to bits 16j..16j+8.
    let mut y = (x | (x << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    y = (y | (y << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    y = (y | (y << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    // High nibble first: byte 2j gets the high nibble, byte 2j+1 the low one.
    let nibbles = ((y >> 4) & LOW) | ((y & LOW) << 8);
    // '0' + n, plus 39 more for n >= 10 ('a' - '0' - 10).
    let letters = ((nibbles + 6 * ONES) >> 4) & ONES;
    nibbles + 0x30 * ONES + letters * 39
}

/// Writes the padded message of the c2c leaf `0x00 || "c2c.manifest.v1|" || hex(d)` (81 bytes,
/// bit length 648) into `msg`.
#[inline]
pub(crate) fn leaf_message(digest: &[u8; 32], msg: &mut Message) {
    let bytes = msg.as_flattened_mut();
    bytes[0] = 0x00;
    bytes[1..17].copy_from_slice(LEAF_PREFIX);
    for (k, eight) in digest.chunks_exact(8).enumerate() {
        let at = 17 + 16 * k;
        bytes[at..at + 16].copy_from_slice(&hex16(eight).to_le_bytes());
    }
    bytes[81] = 0x80;
    bytes[82..120].fill(0);
    bytes[120..128].copy_from_slice(&(81u64 * 8).to_be_bytes());
}

/// RFC 9162 leaf hash of the c2c leaf input for manifest digest `d`:
/// `SHA-256(0x00 || "c2c.manifest.v1|" || hex(d))`.
#[inline]
pub fn c2c_leaf_hash(digest: &[u8; 32]) -> Hash {
    let mut msg = [[0u8; 64]; 2];
    leaf_message(digest, &mut msg);
    hash_message(&msg)
}

/// Runs the raw compression function over `blocks` from the SHA-256 IV: the benchmark's
/// baseline for "the SHA-256 limit" (same backend as the tree's hashes).
pub fn compress_blocks(blocks: &[[u8; 64]]) -> [u32; 8] {
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, blocks);
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_padded_node_hash_equals_the_streaming_sha256_of_the_same_65_bytes() {
        for seed in 0u8..=255 {
            let l = Hash([seed; 32]);
            let r = Hash::sha256(&[seed, 1]);
            assert_eq!(node_hash(&l, &r), node_hash_bytes(&l.0, &r.0));
        }
    }

    #[test]
    fn hand_padded_c2c_leaf_hash_equals_the_streaming_sha256_of_the_leaf_input() {
        for seed in 0u8..=255 {
            let d = Hash::sha256(&[seed]).0;
            let mut input = LEAF_PREFIX.to_vec();
            input.extend_from_slice(encode_hex(&d).as_bytes());
            assert_eq!(input.len(), LEAF_INPUT_LEN);
            assert_eq!(c2c_leaf_hash(&d), leaf_hash(&input));
        }
    }

    #[test]
    fn packed_hex_equals_table_hex_for_every_byte_value_in_every_position() {
        for b in 0u8..=255 {
            for pos in 0..8 {
                let mut eight = [0x5au8; 8];
                eight[pos] = b;
                let mut want = [0u8; 16];
                encode_hex_into(&eight, &mut want);
                assert_eq!(hex16(&eight).to_le_bytes(), want, "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(Hash::EMPTY_TREE_ROOT, Hash::sha256(b""));
    }

    #[test]
    fn hex_errors_name_the_bad_character_and_its_position() {
        let mut s = "ab".repeat(32);
        s.replace_range(9..10, "g");
        let err = Hash::from_hex("digest", &s).unwrap_err().to_string();
        assert_eq!(err, "digest: invalid hex character 'g' at position 10");
        let err = Hash::from_hex("digest", "abc").unwrap_err().to_string();
        assert_eq!(err, "digest: expected 64 hex digits, found 3");
    }

    #[test]
    fn hex_round_trips_and_normalises_upper_case() {
        let h = Hash::sha256(b"x");
        assert_eq!(Hash::from_hex("h", &h.to_hex().to_uppercase()).unwrap(), h);
        assert_eq!(
            decode_hex("b", &encode_hex(&[0, 255, 16])).unwrap(),
            vec![0, 255, 16]
        );
    }
}
