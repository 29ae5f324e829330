//! Bitcoin transactions inside OpenTimestamps proofs.
//!
//! A calendar commits to Bitcoin by putting its merkle root into a transaction: the proof
//! prepends the transaction's bytes before the commitment and appends those after it, then
//! `sha256` twice gives the transaction id, which the block's merkle tree carries up to the
//! header. So one message on the path from a digest to its Bitcoin attestation *is* the
//! serialized transaction. The reference client's `ots info` prints "transaction id" for a
//! message that parses as a whole transaction; this module gives the same answer, so a
//! receipt can name the txid and anyone can compare it with `ots info` or a block explorer.
//!
//! What "parses" means follows python-bitcoinlib's `CTransaction.deserialize`, which the
//! reference client calls (Bitcoin Core's `SerializeTransaction` layout):
//!
//! ```text
//! nVersion  int32 LE
//! [marker 0x00, flag 0x01]          -- BIP 144 witness form, when those two bytes are present
//! vin       CompactSize n, then n × (prevout hash[32], index u32, CompactSize len + scriptSig,
//!           nSequence u32)
//! vout      CompactSize n, then n × (nValue int64, CompactSize len + scriptPubKey)
//! [witness  per input: CompactSize items, each CompactSize len + bytes]
//! nLockTime uint32 LE
//! ```
//!
//! and nothing may follow `nLockTime` (the reference refuses extra data). `CompactSize` is
//! `< 0xfd` itself, `0xfd` + u16, `0xfe` + u32, `0xff` + u64 (the reference does not require
//! the shortest form, so neither does this), and no single read may exceed `0x0200_0000` bytes
//! (the reference's `MAX_SIZE`).

use sha2::{Digest as _, Sha256};

/// The reference serializer's `MAX_SIZE`: no length prefix may ask for more.
const MAX_SIZE: u64 = 0x0200_0000;

/// A transaction id: `SHA-256(SHA-256(transaction))`, kept in internal byte order (what the
/// block's merkle tree hashes); shown reversed, as explorers and `ots info` show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Txid([u8; 32]);

impl Txid {
    /// The id of the serialized transaction `tx` (not checked to be one).
    pub fn of(tx: &[u8]) -> Txid {
        Txid(Sha256::digest(Sha256::digest(tx)).into())
    }

    /// The id of `bytes` when they are exactly one serialized transaction.
    pub fn of_transaction(bytes: &[u8]) -> Option<Txid> {
        is_transaction(bytes).then(|| Txid::of(bytes))
    }

    /// Internal byte order.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Display hex (byte-reversed), as block explorers and `ots info` print it.
    pub fn to_display_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        merkle::hash::encode_hex(&b)
    }
}

impl std::fmt::Display for Txid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_display_hex())
    }
}

/// Whether `bytes` are exactly one serialized Bitcoin transaction, by the rules above.
pub fn is_transaction(bytes: &[u8]) -> bool {
    let mut r = Cursor { bytes, pos: 0 };
    r.transaction().is_some() && r.pos == bytes.len()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: u64) -> Option<&[u8]> {
        if n > MAX_SIZE {
            return None;
        }
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn compact_size(&mut self) -> Option<u64> {
        let first = self.take(1)?[0];
        let width = match first {
            0xfd => 2,
            0xfe => 4,
            0xff => 8,
            n => return Some(u64::from(n)),
        };
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(self.take(width as u64)?);
        Some(u64::from_le_bytes(le))
    }

    fn var_bytes(&mut self) -> Option<()> {
        let n = self.compact_size()?;
        self.take(n).map(|_| ())
    }

    /// `count` items read by `item`; a count the remaining bytes cannot hold fails early
    /// rather than looping (every item here is at least one byte).
    fn vector(&mut self, item: fn(&mut Self) -> Option<()>) -> Option<u64> {
        let n = self.compact_size()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return None;
        }
        for _ in 0..n {
            item(self)?;
        }
        Some(n)
    }

    fn input(&mut self) -> Option<()> {
        self.take(36)?; // prevout: hash, index
        self.var_bytes()?; // scriptSig
        self.take(4).map(|_| ()) // nSequence
    }

    fn output(&mut self) -> Option<()> {
        self.take(8)?; // nValue
        self.var_bytes() // scriptPubKey
    }

    fn witness(&mut self) -> Option<()> {
        self.vector(Cursor::var_bytes).map(|_| ())
    }

    fn transaction(&mut self) -> Option<()> {
        self.take(4)?; // nVersion
        let at = self.pos;
        let (marker, flag) = (self.take(1)?[0], self.take(1)?[0]);
        if marker == 0 && flag == 1 {
            let inputs = self.vector(Cursor::input)?;
            self.vector(Cursor::output)?;
            for _ in 0..inputs {
                self.witness()?;
            }
        } else {
            self.pos = at;
            self.vector(Cursor::input)?;
            self.vector(Cursor::output)?;
        }
        self.take(4).map(|_| ()) // nLockTime
    }
}

/// A coinbase-style transaction carrying a 32-byte commitment in an `OP_RETURN` output, split
/// around it: `(prefix, suffix)` with `prefix ‖ commitment ‖ suffix` the serialized
/// transaction. The
/// dev calendars build their regtest blocks from one such transaction, so demo proofs commit
/// through a real transaction structure as public calendars' do. `height` goes into the
/// coinbase script (BIP 34).
pub fn coinbase_around(height: u64) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = Vec::with_capacity(96);
    prefix.extend_from_slice(&1u32.to_le_bytes()); // nVersion
    prefix.push(1); // one input: the coinbase
    prefix.extend_from_slice(&[0u8; 32]); // prevout hash: none
    prefix.extend_from_slice(&u32::MAX.to_le_bytes()); // prevout index: none
    let mut script_sig = Vec::new();
    let h = height.to_le_bytes();
    let len = h.iter().rposition(|&b| b != 0).map_or(1, |i| i + 1);
    // A minimal push of the height; a high bit set needs a sign byte.
    let sign = usize::from(h[len - 1] & 0x80 != 0);
    script_sig.push((len + sign) as u8);
    script_sig.extend_from_slice(&h[..len]);
    if sign == 1 {
        script_sig.push(0);
    }
    prefix.push(script_sig.len() as u8);
    prefix.extend_from_slice(&script_sig);
    prefix.extend_from_slice(&u32::MAX.to_le_bytes()); // nSequence
    prefix.push(1); // one output
    prefix.extend_from_slice(&0u64.to_le_bytes()); // nValue: nothing spendable
    prefix.push(34); // scriptPubKey length
    prefix.extend_from_slice(&[0x6a, 0x20]); // OP_RETURN, push 32 bytes
    let suffix = 0u32.to_le_bytes().to_vec(); // nLockTime
    (prefix, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        merkle::hash::decode_hex("test", s).unwrap()
    }

    /// The genesis block's coinbase transaction (public chain data), whose id is the
    /// genesis merkle root 4a5e1e4b…33b.
    const GENESIS_COINBASE: &str = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

    #[test]
    fn the_genesis_coinbase_parses_and_its_txid_is_the_genesis_merkle_root() {
        let tx = hex(GENESIS_COINBASE);
        let txid = Txid::of_transaction(&tx).expect("a transaction");
        assert_eq!(
            txid.to_display_hex(),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        );
    }

    #[test]
    fn a_transaction_with_extra_or_missing_bytes_is_not_one() {
        let tx = hex(GENESIS_COINBASE);
        assert!(
            !is_transaction(&[tx.as_slice(), &[0]].concat()),
            "extra byte"
        );
        assert!(!is_transaction(&tx[..tx.len() - 1]), "short locktime");
        assert!(!is_transaction(&[0u8; 32]), "a digest");
        assert!(!is_transaction(&[]), "nothing");
    }

    #[test]
    fn the_witness_form_parses() {
        // version 2, marker+flag, one input with a two-item witness, one output, locktime.
        let mut tx = 2u32.to_le_bytes().to_vec();
        tx.extend([0x00, 0x01, 0x01]);
        tx.extend([7u8; 36]);
        tx.extend([0x00]); // empty scriptSig
        tx.extend([0xff; 4]);
        tx.extend([0x01]);
        tx.extend([0u8; 8]);
        tx.extend([0x01, 0x51]); // OP_TRUE
        tx.extend([0x02, 0x01, 0xaa, 0x00]); // witness: [aa], []
        tx.extend([0u8; 4]);
        assert!(is_transaction(&tx));
        tx.pop();
        assert!(!is_transaction(&tx));
    }

    #[test]
    fn a_length_prefix_past_the_end_fails_without_reading_it() {
        let mut tx = 1u32.to_le_bytes().to_vec();
        tx.extend([0xff]);
        tx.extend(u64::MAX.to_le_bytes());
        assert!(!is_transaction(&tx));
    }

    #[test]
    fn the_dev_coinbase_around_a_commitment_parses_for_every_height_width() {
        for height in [0u64, 1, 127, 128, 255, 256, 70_000, 1 << 31] {
            let commitment = [0x5a; 32];
            let (prefix, suffix) = coinbase_around(height);
            let tx = [prefix.as_slice(), &commitment, &suffix].concat();
            assert!(is_transaction(&tx), "height {height}");
            assert_eq!(&tx[tx.len() - 36..tx.len() - 4], &commitment);
        }
    }
}
