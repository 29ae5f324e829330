//! Bitcoin mainnet's difficulty, epoch by epoch: the table a mainnet header is checked against.
//!
//! Bitcoin retargets every [`EPOCH_BLOCKS`] blocks, so every block of an epoch carries the same
//! `bits`. The table shipped with this crate (`data/mainnet-epochs.txt`, derived from Electrum's
//! checkpoint list; see the crate README, "Mainnet epochs") gives, for every epoch from genesis
//! to a recent height, its `bits` and, for all but possibly the last, the hash of its last
//! block. A header at a height the table covers must carry exactly its epoch's `bits`; a header
//! past the table must come with the chain from the start of the table's last epoch, whose
//! links, work and retargets are checked here ([`Epochs::check_chain`]).
//!
//! Everything here is pure: the header sources live in [`crate::headers`].

use std::sync::{Arc, LazyLock};

use crate::error::{Result, StampError};
use crate::header::{BlockHeader, compact_to_target};

/// Blocks per difficulty epoch.
pub const EPOCH_BLOCKS: u64 = 2016;
/// Most headers a check past the table may need (and a fetch may ask for): four epochs. A
/// height further past the table's last known block hash is refused until the table is
/// updated (`stamp/tools/mainnet_epochs.py`).
pub const MAX_CHAIN_HEADERS: u64 = 4 * EPOCH_BLOCKS;
/// Two weeks, the time an epoch is meant to take (`nPowTargetTimespan`).
const TARGET_TIMESPAN: u64 = 14 * 24 * 60 * 60;

const MAINNET_TABLE: &str = include_str!("../data/mainnet-epochs.txt");
const MAINNET_GENESIS: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const MAINNET_POW_LIMIT: u32 = 0x1d00_ffff;
/// Largest epoch table file read at run time, in bytes (the shipped one is about 37 KB).
pub const MAX_TABLE_FILE: u64 = 1 << 20;

static MAINNET: LazyLock<Arc<Epochs>> = LazyLock::new(|| {
    Arc::new(
        Epochs::parse(
            "Bitcoin mainnet",
            MAINNET_POW_LIMIT,
            MAINNET_GENESIS,
            MAINNET_TABLE,
        )
        .expect("the shipped mainnet table parses (tested)"),
    )
});

/// A chain's difficulty epochs: each epoch's `bits`, and the hash of each epoch's last block
/// for every epoch but possibly the last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epochs {
    name: String,
    pow_limit: u32,
    /// Block 0's hash, internal byte order.
    genesis: [u8; 32],
    bits: Vec<u32>,
    /// `last_hashes[e]`: the hash of block `2016 * e + 2015`, internal byte order.
    last_hashes: Vec<[u8; 32]>,
}

/// How a header at some height is tied to the table's known block hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The table knows this block's hash.
    Known,
    /// In the table: the chain from `from` (whose parent's hash is known) up to the height
    /// ties the header to the table.
    Below { from: u64 },
    /// In the table: the chain from the height up to `to` (whose hash is known).
    Above { to: u64 },
    /// Past the table: only the whole chain from `from` (the table's last epoch start) counts.
    Chain { from: u64 },
}

impl Epochs {
    /// The table shipped with this crate.
    pub fn mainnet() -> &'static Arc<Epochs> {
        &MAINNET
    }

    /// Reads a table: `#` comments, then one line per epoch from 0, `<epoch> <bits hex> <hash
    /// of its last block, display hex | ->`. Only the last epoch may lack its hash.
    pub fn parse(name: &str, pow_limit: u32, genesis_hex: &str, text: &str) -> Result<Epochs> {
        let bad = |line: usize, why: String| {
            StampError::Header(format!("{name} epoch table, line {line}: {why}"))
        };
        let genesis = display_hash(genesis_hex).map_err(|e| bad(0, e))?;
        let (mut bits, mut last_hashes) = (Vec::new(), Vec::new());
        for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [epoch, b, hash] = fields[..] else {
                return Err(bad(n, format!("{} fields, expected 3", fields.len())));
            };
            if epoch != bits.len().to_string() {
                return Err(bad(n, format!("epoch {epoch}, expected {}", bits.len())));
            }
            if bits.len() > last_hashes.len() {
                return Err(bad(n, "only the last epoch may lack its hash".into()));
            }
            let b = u32::from_str_radix(b, 16)
                .map_err(|_| bad(n, format!("bits {b:?} are not 8 hex digits")))?;
            compact_to_target(b).map_err(|e| bad(n, e.to_string()))?;
            bits.push(b);
            if hash != "-" {
                last_hashes.push(display_hash(hash).map_err(|e| bad(n, e))?);
            }
        }
        if bits.is_empty() {
            return Err(bad(0, "no epochs".into()));
        }
        Ok(Epochs {
            name: name.to_owned(),
            pow_limit,
            genesis,
            bits,
            last_hashes,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `bits` of `epoch`, when the table holds it.
    pub fn epoch_bits(&self, epoch: u64) -> Option<u32> {
        self.bits.get(usize::try_from(epoch).ok()?).copied()
    }

    /// Number of epochs whose last block's hash the table holds.
    pub fn known_epochs(&self) -> u64 {
        self.last_hashes.len() as u64
    }

    /// A mainnet table supplied at run time (`LEDGER_BITCOIN_EPOCHS_FILE`, `--epochs FILE`),
    /// in the shipped table's format (`what` names it in errors, e.g. its path), checked against the shipped table
    /// ([`Epochs::supplemented_by`]) and merged with it.
    pub fn mainnet_supplied(what: &str, text: &str) -> Result<Epochs> {
        let supplied =
            Epochs::parse(what, MAINNET_POW_LIMIT, MAINNET_GENESIS, text).map_err(|e| match e {
                StampError::Header(m) => StampError::EpochTable(m),
                other => other,
            })?;
        Epochs::mainnet().supplemented_by(what, &supplied)
    }

    /// [`Epochs::mainnet_supplied`] from a file of at most [`MAX_TABLE_FILE`] bytes (the only
    /// I/O of this module).
    pub fn mainnet_from_file(path: &std::path::Path) -> Result<Epochs> {
        use std::io::Read as _;
        let what = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| {
            StampError::EpochTable(format!("epoch table {what}: cannot be read: {e}"))
        })?;
        let mut text = String::new();
        file.take(MAX_TABLE_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                StampError::EpochTable(format!("epoch table {what}: cannot be read: {e}"))
            })?;
        if text.len() as u64 > MAX_TABLE_FILE {
            return Err(StampError::EpochTable(format!(
                "epoch table {what}: larger than {MAX_TABLE_FILE} bytes"
            )));
        }
        Epochs::mainnet_supplied(&what, &text)
    }

    /// This table (the trusted one) extended by `supplied`, which must pass the checks the
    /// shipped table passes: on every epoch both hold, the same `bits`, and the same hash of
    /// the epoch's last block where both know it; every epoch the trusted table lacks within
    /// the 4x clamp of the one before ([`retarget`] over half a week and eight weeks, no easier
    /// than the proof-of-work limit). The first epoch that fails is named. The result holds
    /// every epoch and hash of either (a supplied table older than this one adds nothing and
    /// takes nothing away); it keeps this table's name.
    pub fn supplemented_by(&self, what: &str, supplied: &Epochs) -> Result<Epochs> {
        if supplied.genesis != self.genesis || supplied.pow_limit != self.pow_limit {
            return Err(StampError::EpochTable(format!(
                "{what} epoch table: not a table of {}",
                self.name
            )));
        }
        for (e, &bits) in supplied.bits.iter().enumerate() {
            let bad = |why: String| {
                StampError::EpochTable(format!(
                    "{what} epoch table: epoch {e} (blocks {} to {}): {why}",
                    e as u64 * EPOCH_BLOCKS,
                    e as u64 * EPOCH_BLOCKS + EPOCH_BLOCKS - 1
                ))
            };
            if let Some(&ours) = self.bits.get(e) {
                if bits != ours {
                    return Err(bad(format!(
                        "bits 0x{bits:08x}, but the shipped {} table has 0x{ours:08x}",
                        self.name
                    )));
                }
            } else if let Some(&prev) = e.checked_sub(1).and_then(|p| supplied.bits.get(p)) {
                let hardest = retarget(self.pow_limit, prev, 0, (TARGET_TIMESPAN / 4) as u32);
                let easiest = retarget(self.pow_limit, prev, 0, (TARGET_TIMESPAN * 4) as u32);
                let t = compact_to_target(bits).map_err(|e| bad(e.to_string()))?;
                let lo = compact_to_target(hardest).map_err(|e| bad(e.to_string()))?;
                let hi = compact_to_target(easiest).map_err(|e| bad(e.to_string()))?;
                if t < lo || t > hi {
                    return Err(bad(format!(
                        "bits 0x{bits:08x} are not within the 4x clamp of epoch {}'s 0x{prev:08x} (0x{hardest:08x} to 0x{easiest:08x})",
                        e - 1
                    )));
                }
            }
            if let (Some(theirs), Some(ours)) =
                (supplied.last_hashes.get(e), self.last_hashes.get(e))
                && theirs != ours
            {
                return Err(bad(format!(
                    "the hash of block {} is {}, but the shipped {} table has {}",
                    e as u64 * EPOCH_BLOCKS + EPOCH_BLOCKS - 1,
                    display(theirs),
                    self.name,
                    display(ours)
                )));
            }
        }
        let longer = |a: &Vec<u32>, b: &Vec<u32>| {
            if a.len() >= b.len() {
                a.clone()
            } else {
                b.clone()
            }
        };
        let hashes = if supplied.last_hashes.len() > self.last_hashes.len() {
            supplied.last_hashes.clone()
        } else {
            self.last_hashes.clone()
        };
        Ok(Epochs {
            name: self.name.clone(),
            pow_limit: self.pow_limit,
            genesis: self.genesis,
            bits: longer(&self.bits, &supplied.bits),
            last_hashes: hashes,
        })
    }

    /// Number of epochs whose `bits` the table holds.
    pub fn len(&self) -> u64 {
        self.bits.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The last height whose `bits` the table holds.
    pub fn last_height(&self) -> u64 {
        self.len() * EPOCH_BLOCKS - 1
    }

    /// The highest height whose block hash the table holds (0, genesis, when none other).
    pub fn last_known_height(&self) -> u64 {
        (self.last_hashes.len() as u64 * EPOCH_BLOCKS).saturating_sub(1)
    }

    /// The `bits` every block at `height` carries, when the table covers it.
    pub fn bits_at(&self, height: u64) -> Option<u32> {
        let epoch = usize::try_from(height / EPOCH_BLOCKS).ok()?;
        self.bits.get(epoch).copied()
    }

    /// The hash (internal byte order) of the block at `height`, when the table knows it:
    /// genesis and the last block of each epoch but possibly the last.
    pub fn known_hash(&self, height: u64) -> Option<[u8; 32]> {
        if height == 0 {
            return Some(self.genesis);
        }
        if !(height + 1).is_multiple_of(EPOCH_BLOCKS) {
            return None;
        }
        let epoch = usize::try_from(height / EPOCH_BLOCKS).ok()?;
        self.last_hashes.get(epoch).copied()
    }

    /// How a header at `height` is tied to the table (see [`Link`]); in the table, the shorter
    /// of the two ways.
    pub fn link(&self, height: u64) -> Link {
        if self.known_hash(height).is_some() {
            return Link::Known;
        }
        if height > self.last_height() {
            return Link::Chain {
                from: self.last_height() + 1 - EPOCH_BLOCKS,
            };
        }
        let below = (height / EPOCH_BLOCKS * EPOCH_BLOCKS).max(1);
        let above = height / EPOCH_BLOCKS * EPOCH_BLOCKS + EPOCH_BLOCKS - 1;
        if self.known_hash(above).is_some() && above - height < height - below {
            Link::Above { to: above }
        } else {
            Link::Below { from: below }
        }
    }

    /// The epoch's description for messages: "Bitcoin mainnet epoch 396 (blocks 798336 to
    /// 800351)".
    fn epoch_name(&self, height: u64) -> String {
        let epoch = height / EPOCH_BLOCKS;
        format!(
            "{} epoch {epoch} (blocks {} to {})",
            self.name,
            epoch * EPOCH_BLOCKS,
            epoch * EPOCH_BLOCKS + EPOCH_BLOCKS - 1
        )
    }

    /// Checks one header at a height the table covers: its `bits` are its epoch's, its hash
    /// meets that target, and, where the table knows the block's hash, it is that block.
    pub fn check_in_table(&self, header: &BlockHeader, height: u64) -> Result<()> {
        let Some(want) = self.bits_at(height) else {
            return Err(StampError::Header(format!(
                "block {height} is past the {} table, which ends at block {}",
                self.name,
                self.last_height()
            )));
        };
        if header.bits() != want {
            return Err(StampError::Header(format!(
                "block {height}: bits 0x{:08x} are not 0x{want:08x} (target {}), the bits of every block of {}",
                header.bits(),
                target_hex(want),
                self.epoch_name(height)
            )));
        }
        header.check_target()?;
        self.check_known(header, height)
    }

    fn check_known(&self, header: &BlockHeader, height: u64) -> Result<()> {
        match self.known_hash(height) {
            Some(known) if header.hash() != known => Err(StampError::Header(format!(
                "block {height}: the header hashes to {}, but {} block {height} is {}",
                header.hash_display(),
                self.name,
                display(&known)
            ))),
            _ => Ok(()),
        }
    }

    /// Checks `chain`, consecutive headers from height `from`: each links to the one before
    /// (the first to the table's hash of block `from - 1`, when the table knows it), meets its
    /// target, carries its epoch's `bits` inside the table and, past it, the bits Bitcoin's
    /// retarget rule gives (the previous block's bits within an epoch; at an epoch's first
    /// block, the previous epoch's target scaled by its timespan clamped to 4x either way, no
    /// easier than the proof-of-work limit); every block whose hash the table knows is that
    /// block.
    pub fn check_chain(&self, from: u64, chain: &[BlockHeader]) -> Result<()> {
        let mut prev: Option<[u8; 32]> = from.checked_sub(1).and_then(|h| self.known_hash(h));
        for (i, header) in chain.iter().enumerate() {
            let height = from + i as u64;
            if let Some(p) = prev
                && header.prev_hash() != p
            {
                return Err(StampError::Header(format!(
                    "block {height} does not link to block {}: its previous-block field is {}, block {} is {}",
                    height - 1,
                    display(&header.prev_hash()),
                    height - 1,
                    display(&p)
                )));
            }
            if height <= self.last_height() {
                self.check_in_table(header, height)?;
            } else {
                let want = if height.is_multiple_of(EPOCH_BLOCKS) {
                    let first = height - EPOCH_BLOCKS;
                    let (Some(first_i), Some(last)) = (first.checked_sub(from), i.checked_sub(1))
                    else {
                        return Err(StampError::Header(format!(
                            "block {height}: its retarget needs block {first}, before the chain starts at {from}"
                        )));
                    };
                    let (a, b) = (&chain[first_i as usize], &chain[last]);
                    retarget(self.pow_limit, b.bits(), a.time(), b.time())
                } else {
                    chain[i - 1].bits()
                };
                if header.bits() != want {
                    return Err(StampError::Header(format!(
                        "block {height}: bits 0x{:08x} are not 0x{want:08x} (target {}), what the retarget rule gives for {}",
                        header.bits(),
                        target_hex(want),
                        self.epoch_name(height)
                    )));
                }
                header.check_target()?;
                self.check_known(header, height)?;
            }
            prev = Some(header.hash());
        }
        Ok(())
    }
}

/// Bitcoin's retarget (`CalculateNextWorkRequired`): the target of `last_bits` times the
/// epoch's timespan (`last_time - first_time`, clamped to a quarter and four times two weeks)
/// over two weeks, no easier than `pow_limit`, as compact bits.
pub fn retarget(pow_limit: u32, last_bits: u32, first_time: u32, last_time: u32) -> u32 {
    // A last block older than the first (time going backwards) counts as the shortest span.
    let timespan = u64::from(last_time.saturating_sub(first_time))
        .clamp(TARGET_TIMESPAN / 4, TARGET_TIMESPAN * 4);
    let Ok(target) = compact_to_target(last_bits) else {
        return last_bits;
    };
    // Big-endian byte arithmetic over 36 bytes: a target (below 2^256) times a timespan (below
    // 2^23) fits in 2^288.
    let mut product = [0u8; 36];
    let mut carry = 0u64;
    for i in (0..36).rev() {
        let byte = if i >= 4 { target[i - 4] } else { 0 };
        let v = u64::from(byte) * timespan + carry;
        product[i] = (v & 0xff) as u8;
        carry = v >> 8;
    }
    let mut quotient = [0u8; 36];
    let mut rem = 0u64;
    for (q, &p) in quotient.iter_mut().zip(&product) {
        let v = (rem << 8) | u64::from(p);
        *q = (v / TARGET_TIMESPAN) as u8;
        rem = v % TARGET_TIMESPAN;
    }
    let limit = compact_to_target(pow_limit).unwrap_or([0xff; 32]);
    if quotient[..4].iter().any(|&b| b != 0) {
        return target_to_compact(&limit);
    }
    let quotient: [u8; 32] = quotient[4..].try_into().expect("32 bytes");
    target_to_compact(&quotient.min(limit))
}

/// The compact form of a big-endian target (`GetCompact`): rounded down to three significant
/// bytes, the mantissa's top bit kept clear.
pub fn target_to_compact(target: &[u8; 32]) -> u32 {
    let Some(first) = target.iter().position(|&b| b != 0) else {
        return 0;
    };
    let mut size = (32 - first) as u32;
    let mut m = [0u8; 4];
    for (k, slot) in m[1..].iter_mut().enumerate() {
        *slot = target.get(first + k).copied().unwrap_or(0);
    }
    let mut mantissa = u32::from_be_bytes(m);
    if mantissa & 0x0080_0000 != 0 {
        mantissa >>= 8;
        size += 1;
    }
    (size << 24) | mantissa
}

fn target_hex(bits: u32) -> String {
    compact_to_target(bits).map_or_else(|_| "invalid".into(), |t| merkle::hash::encode_hex(&t))
}

fn display(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    merkle::hash::encode_hex(&h)
}

/// A block hash in display hex, as internal byte order.
fn display_hash(hex: &str) -> std::result::Result<[u8; 32], String> {
    let bytes = merkle::hash::decode_hex("block hash", hex).map_err(|e| e.to_string())?;
    let mut h: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("block hash of {} bytes, expected 32", b.len()))?;
    h.reverse();
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retarget_scales_by_the_timespan_and_clamps_it_to_four_times() {
        let two_weeks = u32::try_from(TARGET_TIMESPAN).unwrap();
        // Exactly two weeks: unchanged.
        assert_eq!(
            retarget(0x1d00_ffff, 0x1b04_04cb, 0, two_weeks),
            0x1b04_04cb
        );
        // One week: the target halves (0x00ffff << 208 / 2 = 0x7fff80 << 200).
        assert_eq!(
            retarget(0x1d00_ffff, 0x1d00_ffff, 0, two_weeks / 2),
            0x1c7f_ff80
        );
        // Ten weeks clamp to eight; 0x0404cb * 4 = 0x10132c.
        assert_eq!(
            retarget(0x1d00_ffff, 0x1b04_04cb, 0, two_weeks * 5),
            0x1b10_132c
        );
        // A day (or time going backwards) clamps to half a week: a quarter of the target.
        assert_eq!(retarget(0x1d00_ffff, 0x1b10_132c, 0, 86_400), 0x1b04_04cb);
        assert_eq!(retarget(0x1d00_ffff, 0x1b10_132c, 500, 100), 0x1b04_04cb);
        // Never easier than the proof-of-work limit.
        assert_eq!(
            retarget(0x1d00_ffff, 0x1d00_ffff, 0, two_weeks * 4),
            0x1d00_ffff
        );
        // Near 2^255 (regtest's limit) the product needs more than 256 bits.
        assert_eq!(
            retarget(0x207f_ffff, 0x207f_ffff, 0, two_weeks * 4),
            0x207f_ffff
        );
        assert_eq!(
            retarget(0x207f_ffff, 0x207f_ffff, 0, two_weeks / 2),
            0x203f_ffff
        );
    }

    #[test]
    fn compact_form_round_trips_and_keeps_the_sign_bit_clear() {
        for bits in [
            0x1d00_ffff,
            0x1816_86f5,
            0x1702_40c3,
            0x207f_ffff,
            0x1c7f_ff80,
        ] {
            assert_eq!(target_to_compact(&compact_to_target(bits).unwrap()), bits);
        }
        let mut t = [0u8; 32];
        t[4] = 0x80; // 0x80 << 216: the mantissa would be negative, so one byte more.
        assert_eq!(target_to_compact(&t), 0x1d00_8000);
    }

    #[test]
    fn a_table_line_out_of_order_or_a_missing_inner_hash_is_refused() {
        let h = "00".repeat(32);
        let err = Epochs::parse("t", 0x207f_ffff, &h, "0 207fffff -\n1 207fffff -\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: only the last epoch may lack its hash"),
            "{err}"
        );
        let err = Epochs::parse("t", 0x207f_ffff, &h, &format!("1 207fffff {h}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1: epoch 1, expected 0"), "{err}");
        let err = Epochs::parse("t", 0x207f_ffff, &h, "0 zz -\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bits \"zz\" are not 8 hex digits"), "{err}");
    }

    #[test]
    fn links_take_the_shorter_way_to_a_known_hash() {
        let m = Epochs::mainnet();
        assert_eq!(m.link(0), Link::Known);
        assert_eq!(m.link(2015), Link::Known);
        assert_eq!(m.link(1), Link::Below { from: 1 });
        assert_eq!(m.link(358_391), Link::Above { to: 358_847 });
        assert_eq!(m.link(356_900), Link::Below { from: 356_832 });
        let past = m.last_height() + 1;
        assert_eq!(
            m.link(past),
            Link::Chain {
                from: past - EPOCH_BLOCKS
            }
        );
    }
}
