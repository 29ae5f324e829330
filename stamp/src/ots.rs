//! The OpenTimestamps proof format (`.ots`), as the reference implementation
//! (python-opentimestamps) reads and writes it.
//!
//! Decision: this codec is ours rather than the `opentimestamps` crate's, because that crate
//! cannot parse files with the keccak256 operation and offers no way to add operations, merge
//! or upgrade timestamps. Everything the reference reader checks is checked here, with the same
//! limits: a 4096-byte bound on messages and operation arguments, 8192-byte attestation
//! payloads, nesting depth 256, 1000-character pending URIs from the reference's allowed set,
//! and no trailing bytes. Entries are kept in file order, so every file round-trips
//! byte-identically; to make that true of every file we accept, varuints must be in their
//! shortest form (the reference writer only writes that form; its reader would also take
//! padded ones, which no real proof contains).
//!
//! Wire format (python-opentimestamps `core/timestamp.py`, `core/serialize.py`):
//! ```text
//! file      = MAGIC varuint(major=1) file_hash_op digest timestamp
//! timestamp = (0xff entry)* entry                    -- every entry but the last is 0xff-prefixed
//! entry     = 0x00 attestation | op timestamp         -- op applied to this timestamp's message
//! op        = 0x02 sha1 | 0x03 ripemd160 | 0x08 sha256 | 0x67 keccak256
//!           | 0xf2 reverse | 0xf3 hexlify | 0xf0 append varbytes | 0xf1 prepend varbytes
//! attestation = tag[8] varbytes(payload)
//! varuint   = little-endian base-128, high bit = more
//! ```

use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use sha3::Keccak256;

use crate::error::{Result, StampError};
use crate::tx::Txid;

/// `\x00OpenTimestamps\x00\x00Proof\x00` followed by eight magic bytes.
pub const MAGIC: &[u8; 31] = b"\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94";
pub const MAJOR_VERSION: u64 = 1;
/// The reference's bound on an operation's input and on an append/prepend argument.
pub const MAX_MSG_LENGTH: usize = 4096;
/// The reference's bound on an attestation payload.
pub const MAX_PAYLOAD: usize = 8192;
/// The reference's bound on a pending attestation's URI.
pub const MAX_URI_LENGTH: usize = 1000;
/// The reference's recursion limit.
pub const MAX_DEPTH: usize = 256;

const TAG_PENDING: [u8; 8] = [0x83, 0xdf, 0xe3, 0x0d, 0x2e, 0xf9, 0x0c, 0x8e];
const TAG_BITCOIN: [u8; 8] = [0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19, 0x01];
const TAG_LITECOIN: [u8; 8] = [0x06, 0x86, 0x9a, 0x0d, 0x73, 0xd7, 0x1b, 0x45];
/// The reference's `EthereumBlockHeaderAttestation` (its `core/dubious/notary.py`): read, its
/// payload held to the same rule as Bitcoin's, never verified.
const TAG_ETHEREUM: [u8; 8] = [0x30, 0xfe, 0x80, 0x87, 0xb5, 0xc7, 0xea, 0xd7];

/// One operation on a message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Sha1,
    Ripemd160,
    Sha256,
    Keccak256,
    Reverse,
    Hexlify,
    Append(Vec<u8>),
    Prepend(Vec<u8>),
}

impl Op {
    pub fn tag(&self) -> u8 {
        match self {
            Op::Sha1 => 0x02,
            Op::Ripemd160 => 0x03,
            Op::Sha256 => 0x08,
            Op::Keccak256 => 0x67,
            Op::Append(_) => 0xf0,
            Op::Prepend(_) => 0xf1,
            Op::Reverse => 0xf2,
            Op::Hexlify => 0xf3,
        }
    }

    /// Whether this is a hash (the only kind allowed as a file hash operation).
    pub fn is_hash(&self) -> bool {
        matches!(self, Op::Sha1 | Op::Ripemd160 | Op::Sha256 | Op::Keccak256)
    }

    /// Digest length for hash operations.
    pub fn digest_len(&self) -> Option<usize> {
        match self {
            Op::Sha1 | Op::Ripemd160 => Some(20),
            Op::Sha256 | Op::Keccak256 => Some(32),
            _ => None,
        }
    }

    /// The name of a hash operation as `ots info` prints it ("sha256"); "not a hash" for the
    /// others.
    pub fn hash_name(&self) -> &'static str {
        match self {
            Op::Sha1 => "sha1",
            Op::Ripemd160 => "ripemd160",
            Op::Sha256 => "sha256",
            Op::Keccak256 => "keccak256",
            _ => "not a hash",
        }
    }

    /// Applies the operation.
    pub fn apply(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Op::Sha1 => Sha1::digest(msg).to_vec(),
            Op::Ripemd160 => ripemd::Ripemd160::digest(msg).to_vec(),
            Op::Sha256 => Sha256::digest(msg).to_vec(),
            Op::Keccak256 => Keccak256::digest(msg).to_vec(),
            Op::Reverse => msg.iter().rev().copied().collect(),
            Op::Hexlify => merkle::hash::encode_hex(msg).into_bytes(),
            Op::Append(arg) => [msg, arg].concat(),
            Op::Prepend(arg) => [arg, msg].concat(),
        }
    }

    fn name(&self) -> String {
        match self {
            Op::Sha1 | Op::Ripemd160 | Op::Sha256 | Op::Keccak256 => self.hash_name().into(),
            Op::Reverse => "reverse".into(),
            Op::Hexlify => "hexlify".into(),
            Op::Append(a) => format!("append {}", merkle::hash::encode_hex(a)),
            Op::Prepend(a) => format!("prepend {}", merkle::hash::encode_hex(a)),
        }
    }
}

/// A claim that a message existed at some time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attestation {
    /// Submitted to a calendar at `uri`; upgradeable later.
    Pending { uri: String },
    /// The message is the merkle root of Bitcoin block `height`.
    Bitcoin { height: u64 },
    /// The message is the merkle root of Litecoin block `height`.
    Litecoin { height: u64 },
    /// The message is the transactions root of Ethereum block `height` (the reference
    /// reads it as "dubious"; nobody checks it).
    Ethereum { height: u64 },
    /// A notary this reader does not know, kept byte for byte.
    Unknown { tag: [u8; 8], payload: Vec<u8> },
}

impl Attestation {
    fn describe(&self) -> String {
        match self {
            Attestation::Pending { uri } => format!("pending at {uri}"),
            Attestation::Bitcoin { height } => format!("Bitcoin block {height}"),
            Attestation::Litecoin { height } => format!("Litecoin block {height}"),
            Attestation::Ethereum { height } => format!("Ethereum block {height}"),
            Attestation::Unknown { tag, payload } => format!(
                "unknown notary {} ({} payload bytes)",
                merkle::hash::encode_hex(tag),
                payload.len()
            ),
        }
    }
}

/// One entry under a message: an attestation of it, or an operation leading to a further
/// timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Attestation(Attestation),
    Op(Op, Timestamp),
}

/// A message and what is known about it, as a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub msg: Vec<u8>,
    pub entries: Vec<Entry>,
}

impl Timestamp {
    pub fn new(msg: Vec<u8>) -> Timestamp {
        Timestamp {
            msg,
            entries: Vec::new(),
        }
    }

    /// Adds `op` under this message and returns the new timestamp of its result.
    pub fn push_op(&mut self, op: Op) -> &mut Timestamp {
        let result = op.apply(&self.msg);
        self.entries.push(Entry::Op(op, Timestamp::new(result)));
        match self.entries.last_mut() {
            Some(Entry::Op(_, t)) => t,
            _ => unreachable!("just pushed an op"),
        }
    }

    /// Every attestation with the message it attests, depth first in file order.
    pub fn attestations(&self) -> Vec<(&[u8], &Attestation)> {
        let mut out = Vec::new();
        self.walk(&mut |t| {
            for e in &t.entries {
                if let Entry::Attestation(a) = e {
                    out.push((t.msg.as_slice(), a));
                }
            }
        });
        out
    }

    /// Every attestation with the message it attests and the transaction its path passes
    /// through: the id of the last message on the path from this timestamp's message to the
    /// attested one (that one excluded) that is exactly one serialized Bitcoin transaction
    /// ([`crate::tx`]), as the reference client's `ots info` names it. Depth first, in file
    /// order, like [`attestations`](Self::attestations).
    pub fn attestations_with_txid(&self) -> Vec<(&[u8], &Attestation, Option<Txid>)> {
        let mut out = Vec::new();
        self.walk_tx(None, &mut out);
        out
    }

    fn walk_tx<'a>(
        &'a self,
        txid: Option<Txid>,
        out: &mut Vec<(&'a [u8], &'a Attestation, Option<Txid>)>,
    ) {
        let mut below = None;
        for e in &self.entries {
            match e {
                Entry::Attestation(a) => out.push((self.msg.as_slice(), a, txid)),
                Entry::Op(_, t) => {
                    let here = *below.get_or_insert_with(|| Txid::of_transaction(&self.msg));
                    t.walk_tx(here.or(txid), out);
                }
            }
        }
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Timestamp)) {
        f(self);
        for e in &self.entries {
            if let Entry::Op(_, t) = e {
                t.walk(f);
            }
        }
    }

    fn decode(r: &mut Reader<'_>, msg: Vec<u8>, depth: usize) -> Result<Timestamp> {
        if depth > MAX_DEPTH {
            return Err(StampError::TooDeep {
                offset: r.pos,
                limit: MAX_DEPTH,
            });
        }
        let mut t = Timestamp::new(msg);
        loop {
            let tag = r.byte()?;
            let (more, tag) = if tag == 0xff {
                (true, r.byte()?)
            } else {
                (false, tag)
            };
            let entry = if tag == 0x00 {
                Entry::Attestation(decode_attestation(r)?)
            } else {
                let op = decode_op(r, tag)?;
                if t.msg.len() > MAX_MSG_LENGTH {
                    return Err(StampError::TooLong {
                        offset: r.pos,
                        what: "operation input",
                        len: t.msg.len(),
                        limit: MAX_MSG_LENGTH,
                    });
                }
                let result = op.apply(&t.msg);
                if result.len() > MAX_MSG_LENGTH {
                    return Err(StampError::TooLong {
                        offset: r.pos,
                        what: "operation result",
                        len: result.len(),
                        limit: MAX_MSG_LENGTH,
                    });
                }
                let sub = Timestamp::decode(r, result, depth + 1)?;
                Entry::Op(op, sub)
            };
            t.entries.push(entry);
            if !more {
                return Ok(t);
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let Some((last, rest)) = self.entries.split_last() else {
            return Err(StampError::EmptyTimestamp);
        };
        for e in rest {
            out.push(0xff);
            encode_entry(e, out)?;
        }
        encode_entry(last, out)
    }

    fn describe(&self, indent: usize, out: &mut String) {
        use std::fmt::Write as _;
        let pad = " ".repeat(indent);
        for e in &self.entries {
            match e {
                Entry::Attestation(a) => {
                    let _ = writeln!(out, "{pad}verify {}", a.describe());
                }
                Entry::Op(op, t) => {
                    let _ = writeln!(
                        out,
                        "{pad}{} == {}",
                        op.name(),
                        merkle::hash::encode_hex(&t.msg)
                    );
                    let deeper = if self.entries.len() > 1 {
                        indent + 2
                    } else {
                        indent
                    };
                    t.describe(deeper, out);
                }
            }
        }
    }
}

fn encode_entry(e: &Entry, out: &mut Vec<u8>) -> Result<()> {
    match e {
        Entry::Attestation(a) => {
            out.push(0x00);
            encode_attestation(a, out);
            Ok(())
        }
        Entry::Op(op, t) => {
            out.push(op.tag());
            if let Op::Append(arg) | Op::Prepend(arg) = op {
                write_varbytes(arg, out);
            }
            t.encode(out)
        }
    }
}

impl Timestamp {
    /// Reads a bare timestamp (no header), as calendars answer, for the message `msg`.
    pub fn from_bytes_for(msg: Vec<u8>, bytes: &[u8]) -> Result<Timestamp> {
        let mut r = Reader { bytes, pos: 0 };
        let t = Timestamp::decode(&mut r, msg, 0)?;
        if r.pos != bytes.len() {
            return Err(StampError::TrailingGarbage {
                offset: r.pos,
                trailing: bytes.len() - r.pos,
            });
        }
        Ok(t)
    }

    /// Writes a bare timestamp (no header), as calendars answer.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Adds everything `other` (a timestamp of the same message) knows that this one does not:
    /// equal operations are merged recursively, new operations and attestations appended.
    pub fn merge(&mut self, other: Timestamp) -> Result<()> {
        if other.msg != self.msg {
            return Err(StampError::Proof(
                "cannot merge timestamps of different messages".into(),
            ));
        }
        for entry in other.entries {
            match entry {
                Entry::Attestation(a) => {
                    if !self
                        .entries
                        .iter()
                        .any(|e| matches!(e, Entry::Attestation(x) if *x == a))
                    {
                        self.entries.push(Entry::Attestation(a));
                    }
                }
                Entry::Op(op, sub) => {
                    let existing = self.entries.iter_mut().find_map(|e| match e {
                        Entry::Op(o, t) if *o == op => Some(t),
                        _ => None,
                    });
                    match existing {
                        Some(t) => t.merge(sub)?,
                        None => self.entries.push(Entry::Op(op, sub)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Every pending attestation still waiting, as `(calendar URI, the message it is pending
    /// for)`. An upgrade merges the calendar's answer under the pending attestation's message
    /// and leaves the attestation in place (as the reference client does), so a pending
    /// attestation whose message already leads to a Bitcoin attestation is answered, not
    /// waiting, and is left out: asking that calendar again would gain nothing.
    pub fn pending(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        self.walk(&mut |t| {
            if t.has_bitcoin() {
                return;
            }
            for e in &t.entries {
                if let Entry::Attestation(Attestation::Pending { uri }) = e {
                    out.push((uri.clone(), t.msg.clone()));
                }
            }
        });
        out
    }

    /// Merges `other` into the node of this tree whose message is `other.msg`; `false` when
    /// no node has that message.
    pub fn merge_at(&mut self, other: Timestamp) -> Result<bool> {
        if self.msg == other.msg {
            self.merge(other)?;
            return Ok(true);
        }
        for e in &mut self.entries {
            if let Entry::Op(_, t) = e
                && t.contains_msg(&other.msg)
            {
                return t.merge_at(other);
            }
        }
        Ok(false)
    }

    fn contains_msg(&self, msg: &[u8]) -> bool {
        self.msg == msg
            || self
                .entries
                .iter()
                .any(|e| matches!(e, Entry::Op(_, t) if t.contains_msg(msg)))
    }

    /// The heights every Bitcoin attestation names, each once, ascending: the headers a
    /// verifier needs.
    pub fn bitcoin_heights(&self) -> std::collections::BTreeSet<u64> {
        self.attestations()
            .into_iter()
            .filter_map(|(_, a)| match a {
                Attestation::Bitcoin { height } => Some(*height),
                _ => None,
            })
            .collect()
    }

    /// Whether any branch carries a Bitcoin attestation.
    pub fn has_bitcoin(&self) -> bool {
        self.attestations()
            .iter()
            .any(|(_, a)| matches!(a, Attestation::Bitcoin { .. }))
    }
}

/// A whole `.ots` file: the hash of the stamped data and the timestamp of that hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachedTimestamp {
    pub file_hash: Op,
    pub timestamp: Timestamp,
}

impl DetachedTimestamp {
    pub fn from_bytes(bytes: &[u8]) -> Result<DetachedTimestamp> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
            return Err(StampError::BadMagic);
        }
        let version = r.varuint()?;
        if version != MAJOR_VERSION {
            return Err(StampError::BadVersion(version));
        }
        let tag = r.byte()?;
        let file_hash = decode_op(&mut r, tag).ok().filter(Op::is_hash);
        let Some(file_hash) = file_hash else {
            return Err(StampError::BadFileHashOp(tag));
        };
        let len = file_hash.digest_len().expect("hash ops have a length");
        let digest = r.take(len)?.to_vec();
        let timestamp = Timestamp::decode(&mut r, digest, 0)?;
        if r.pos != bytes.len() {
            return Err(StampError::TrailingGarbage {
                offset: r.pos,
                trailing: bytes.len() - r.pos,
            });
        }
        Ok(DetachedTimestamp {
            file_hash,
            timestamp,
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        write_varuint(MAJOR_VERSION, &mut out);
        out.push(self.file_hash.tag());
        out.extend_from_slice(&self.timestamp.msg);
        self.timestamp.encode(&mut out)?;
        Ok(out)
    }

    /// The stamped digest (the timestamp's first message).
    pub fn digest(&self) -> &[u8] {
        &self.timestamp.msg
    }

    /// A human-readable listing in the spirit of `ots info`.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "File {} hash: {}\nTimestamp:\n",
            self.file_hash.name(),
            merkle::hash::encode_hex(self.digest())
        );
        self.timestamp.describe(0, &mut out);
        out
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(StampError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(StampError::Truncated { offset: self.pos })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn varuint(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift >= 64 || (shift > 0 && bits >> (64 - shift) != 0) {
                return Err(StampError::VarintOverflow { offset: start });
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                // A zero final group after the first adds nothing: another spelling of a
                // shorter varuint, which would not re-serialise to the same bytes.
                if b == 0 && shift > 0 {
                    return Err(StampError::NonMinimalVarint { offset: start });
                }
                return Ok(value);
            }
            shift += 7;
        }
    }

    fn varbytes(&mut self, what: &'static str, limit: usize, min: usize) -> Result<&[u8]> {
        let offset = self.pos;
        let len = self.varuint()?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > limit {
            return Err(StampError::TooLong {
                offset,
                what,
                len,
                limit,
            });
        }
        if len < min {
            return Err(StampError::Empty { offset, what });
        }
        self.take(len)
    }
}

fn decode_op(r: &mut Reader<'_>, tag: u8) -> Result<Op> {
    Ok(match tag {
        0x02 => Op::Sha1,
        0x03 => Op::Ripemd160,
        0x08 => Op::Sha256,
        0x67 => Op::Keccak256,
        0xf2 => Op::Reverse,
        0xf3 => Op::Hexlify,
        0xf0 => Op::Append(r.varbytes("append argument", MAX_MSG_LENGTH, 1)?.to_vec()),
        0xf1 => Op::Prepend(r.varbytes("prepend argument", MAX_MSG_LENGTH, 1)?.to_vec()),
        _ => {
            return Err(StampError::UnknownOp {
                offset: r.pos - 1,
                tag,
            });
        }
    })
}

const ALLOWED_URI_CHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/:";

fn decode_attestation(r: &mut Reader<'_>) -> Result<Attestation> {
    let tag: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
    let offset = r.pos;
    let payload = r.varbytes("attestation payload", MAX_PAYLOAD, 0)?;
    let mut p = Reader {
        bytes: payload,
        pos: 0,
    };
    let (attestation, what) = match tag {
        TAG_PENDING => {
            let uri = p.varbytes("pending URI", MAX_URI_LENGTH, 0)?;
            if let Some(bad) = uri.iter().find(|c| !ALLOWED_URI_CHARS.contains(c)) {
                return Err(StampError::BadUri {
                    offset,
                    reason: format!("has the disallowed character 0x{bad:02x}"),
                });
            }
            let uri = String::from_utf8(uri.to_vec()).expect("allowed characters are ASCII");
            (Attestation::Pending { uri }, "pending attestation")
        }
        TAG_BITCOIN => (
            Attestation::Bitcoin {
                height: p.varuint()?,
            },
            "Bitcoin attestation",
        ),
        TAG_LITECOIN => (
            Attestation::Litecoin {
                height: p.varuint()?,
            },
            "Litecoin attestation",
        ),
        TAG_ETHEREUM => (
            Attestation::Ethereum {
                height: p.varuint()?,
            },
            "Ethereum attestation",
        ),
        _ => {
            return Ok(Attestation::Unknown {
                tag,
                payload: payload.to_vec(),
            });
        }
    };
    if p.pos != payload.len() {
        return Err(StampError::PayloadTrailing {
            offset,
            what,
            trailing: payload.len() - p.pos,
        });
    }
    Ok(attestation)
}

fn encode_attestation(a: &Attestation, out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    let tag = match a {
        Attestation::Pending { uri } => {
            write_varbytes(uri.as_bytes(), &mut payload);
            TAG_PENDING
        }
        Attestation::Bitcoin { height } => {
            write_varuint(*height, &mut payload);
            TAG_BITCOIN
        }
        Attestation::Litecoin { height } => {
            write_varuint(*height, &mut payload);
            TAG_LITECOIN
        }
        Attestation::Ethereum { height } => {
            write_varuint(*height, &mut payload);
            TAG_ETHEREUM
        }
        Attestation::Unknown { tag, payload: p } => {
            payload.extend_from_slice(p);
            *tag
        }
    };
    out.extend_from_slice(&tag);
    write_varbytes(&payload, out);
}

fn write_varuint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn write_varbytes(bytes: &[u8], out: &mut Vec<u8>) {
    write_varuint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varuints_round_trip_and_overflow_is_refused() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varuint(v, &mut out);
            let mut r = Reader {
                bytes: &out,
                pos: 0,
            };
            assert_eq!(r.varuint().unwrap(), v);
            assert_eq!(r.pos, out.len());
        }
        assert!(matches!(
            Reader {
                bytes: &[0x80, 0x00],
                pos: 0
            }
            .varuint(),
            Err(StampError::NonMinimalVarint { offset: 0 })
        ));
        let too_big = [0xffu8; 11];
        assert!(matches!(
            Reader {
                bytes: &too_big,
                pos: 0
            }
            .varuint(),
            Err(StampError::VarintOverflow { offset: 0 })
        ));
    }

    #[test]
    fn a_built_timestamp_round_trips() {
        let mut t = Timestamp::new(vec![7; 32]);
        t.push_op(Op::Append(vec![1, 2]))
            .push_op(Op::Sha256)
            .entries
            .push(Entry::Attestation(Attestation::Pending {
                uri: "https://calendar.example/x".into(),
            }));
        t.push_op(Op::Keccak256)
            .entries
            .push(Entry::Attestation(Attestation::Bitcoin { height: 800_000 }));
        let file = DetachedTimestamp {
            file_hash: Op::Sha256,
            timestamp: t,
        };
        let bytes = file.to_bytes().unwrap();
        assert_eq!(DetachedTimestamp::from_bytes(&bytes).unwrap(), file);
    }

    /// A whole `.ots` file: sha256 of 32 zero bytes attested by one attestation with this
    /// tag and raw payload.
    fn file_with_attestation(tag: [u8; 8], payload: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        write_varuint(MAJOR_VERSION, &mut out);
        out.push(Op::Sha256.tag());
        out.extend_from_slice(&[0; 32]);
        out.push(0x00);
        out.extend_from_slice(&tag);
        write_varbytes(payload, &mut out);
        out
    }

    fn height_payload(height: u64, trailing: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        write_varuint(height, &mut p);
        p.extend_from_slice(trailing);
        p
    }

    #[test]
    fn block_attestations_with_bytes_after_the_height_are_refused_like_the_reference() {
        for (tag, what) in [
            (TAG_BITCOIN, "Bitcoin attestation"),
            (TAG_LITECOIN, "Litecoin attestation"),
            (TAG_ETHEREUM, "Ethereum attestation"),
        ] {
            let good = file_with_attestation(tag, &height_payload(358_391, &[]));
            assert!(DetachedTimestamp::from_bytes(&good).is_ok(), "{what}");
            let bad = file_with_attestation(tag, &height_payload(358_391, &[0]));
            match DetachedTimestamp::from_bytes(&bad) {
                Err(StampError::PayloadTrailing {
                    what: w,
                    trailing: 1,
                    ..
                }) => assert_eq!(w, what),
                other => panic!("{what}: {other:?}"),
            }
            let empty = file_with_attestation(tag, &[]);
            assert!(
                matches!(
                    DetachedTimestamp::from_bytes(&empty),
                    Err(StampError::Truncated { .. })
                ),
                "{what} without a height"
            );
        }
    }

    #[test]
    fn an_ethereum_attestation_round_trips_and_is_not_unknown() {
        let bytes = file_with_attestation(TAG_ETHEREUM, &height_payload(5_000_000, &[]));
        let file = DetachedTimestamp::from_bytes(&bytes).unwrap();
        assert_eq!(
            file.timestamp.attestations()[0].1,
            &Attestation::Ethereum { height: 5_000_000 }
        );
        assert_eq!(file.to_bytes().unwrap(), bytes);
    }

    fn uri_payload(uri: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        write_varbytes(uri, &mut p);
        p
    }

    #[test]
    fn pending_uris_outside_the_reference_character_set_are_refused() {
        let ok = b"https://alice.btc.calendar.opentimestamps.org/x_y-z.1:80";
        let file = file_with_attestation(TAG_PENDING, &uri_payload(ok));
        assert!(DetachedTimestamp::from_bytes(&file).is_ok());
        for bad in [
            &b"https://cal.example/?q=1"[..],
            b"https://user@cal.example",
            b"https://cal.example/a b",
            b"https://cal.example/%41",
            b"https://[::1]/",
            "https://caf\u{e9}.example".as_bytes(),
        ] {
            let file = file_with_attestation(TAG_PENDING, &uri_payload(bad));
            assert!(
                matches!(
                    DetachedTimestamp::from_bytes(&file),
                    Err(StampError::BadUri { .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let trailing = [uri_payload(ok), vec![0]].concat();
        let file = file_with_attestation(TAG_PENDING, &trailing);
        assert!(matches!(
            DetachedTimestamp::from_bytes(&file),
            Err(StampError::PayloadTrailing { trailing: 1, .. })
        ));
    }

    #[test]
    fn pending_uris_of_1000_bytes_are_read_and_of_1001_refused() {
        let uri = |n: usize| [b"https://c.example/".as_slice(), &vec![b'a'; n - 18]].concat();
        let file = file_with_attestation(TAG_PENDING, &uri_payload(&uri(1000)));
        assert!(DetachedTimestamp::from_bytes(&file).is_ok());
        let file = file_with_attestation(TAG_PENDING, &uri_payload(&uri(1001)));
        assert!(matches!(
            DetachedTimestamp::from_bytes(&file),
            Err(StampError::TooLong {
                what: "pending URI",
                len: 1001,
                limit: 1000,
                ..
            })
        ));
    }

    #[test]
    fn empty_timestamps_cannot_be_written() {
        let file = DetachedTimestamp {
            file_hash: Op::Sha256,
            timestamp: Timestamp::new(vec![0; 32]),
        };
        assert_eq!(file.to_bytes(), Err(StampError::EmptyTimestamp));
    }
}
