//! The 80-byte Bitcoin block header, its fields and its own proof of work, and the chains
//! whose proof-of-work floor a header may be held to. Checking a header against the real
//! difficulty of its height is [`crate::epochs`]'s and [`crate::bitcoin`]'s work; this module
//! knows nothing of heights.

use sha2::{Digest as _, Sha256};

use crate::error::{Result, StampError};

/// An 80-byte Bitcoin block header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader([u8; 80]);

/// Which chain's proof-of-work floor a header must meet.
///
/// `Bitcoin` (main network) is the default everywhere. `Regtest` exists for local demos and
/// tests, where a dev calendar mines blocks at regtest's trivial difficulty: a verifier only
/// accepts such headers when its caller asked for regtest explicitly, and says so in its
/// findings, because regtest work proves nothing about time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    #[default]
    Bitcoin,
    Regtest,
}

impl Network {
    /// The chain's proof-of-work limit (`powLimit` in Bitcoin Core's chain parameters), as
    /// compact bits.
    pub fn pow_limit_bits(self) -> u32 {
        match self {
            Network::Bitcoin => 0x1d00_ffff,
            Network::Regtest => 0x207f_ffff,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Network::Bitcoin => "bitcoin",
            Network::Regtest => "regtest",
        }
    }
}

impl BlockHeader {
    pub fn from_bytes(bytes: [u8; 80]) -> BlockHeader {
        BlockHeader(bytes)
    }

    pub fn from_hex(hex: &str) -> Result<BlockHeader> {
        let bytes = merkle::hash::decode_hex("block header", hex.trim())
            .map_err(|e| StampError::Header(e.to_string()))?;
        let arr: [u8; 80] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| StampError::Header(format!("{} bytes, expected 80", b.len())))?;
        Ok(BlockHeader(arr))
    }

    /// The block hash `SHA-256(SHA-256(header))`, in internal byte order.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(Sha256::digest(self.0)).into()
    }

    /// The block hash as explorers display it (reversed).
    pub fn hash_display(&self) -> String {
        let mut h = self.hash();
        h.reverse();
        merkle::hash::encode_hex(&h)
    }

    /// The merkle root field, in internal byte order (what an OTS proof computes).
    pub fn merkle_root(&self) -> [u8; 32] {
        self.0[36..68].try_into().expect("32 bytes")
    }

    /// Block time, seconds since the Unix epoch.
    pub fn time(&self) -> u32 {
        u32::from_le_bytes(self.0[68..72].try_into().expect("4 bytes"))
    }

    /// The previous block's hash, internal byte order.
    pub fn prev_hash(&self) -> [u8; 32] {
        self.0[4..36].try_into().expect("32 bytes")
    }

    /// The 80 bytes.
    pub fn bytes(&self) -> &[u8; 80] {
        &self.0
    }

    pub fn bits(&self) -> u32 {
        u32::from_le_bytes(self.0[72..76].try_into().expect("4 bytes"))
    }

    /// Checks that the header's hash meets the target its `bits` field claims, and that the
    /// target is no easier than Bitcoin's minimum difficulty. This alone is **not** enough for
    /// a mainnet header (the minimum difficulty is about 2^32 hashes): [`verify_attestation`]
    /// also holds it to its height's difficulty ([`Epochs`]).
    pub fn check_proof_of_work(&self) -> Result<()> {
        self.check_proof_of_work_on(Network::Bitcoin)
    }

    /// [`check_proof_of_work`](Self::check_proof_of_work) against `network`'s floor.
    pub fn check_proof_of_work_on(&self, network: Network) -> Result<()> {
        let target = compact_to_target(self.bits())?;
        if target > compact_to_target(network.pow_limit_bits())? {
            return Err(StampError::Header(format!(
                "bits 0x{:08x} claim less work than the {} minimum difficulty",
                self.bits(),
                network.name()
            )));
        }
        self.check_target()
    }

    /// Checks that the header's hash meets the target its own `bits` claim (and nothing else).
    pub fn check_target(&self) -> Result<()> {
        let target = compact_to_target(self.bits())?;
        let mut hash_be = self.hash();
        hash_be.reverse();
        if hash_be > target {
            return Err(StampError::Header(format!(
                "hash {} does not meet its target (bits 0x{:08x})",
                self.hash_display(),
                self.bits()
            )));
        }
        Ok(())
    }
}

/// The 256-bit target of a compact `bits` value, big-endian.
pub fn compact_to_target(bits: u32) -> Result<[u8; 32]> {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x00ff_ffff;
    if mantissa & 0x0080_0000 != 0 || mantissa == 0 || !(3..=32).contains(&exponent) {
        return Err(StampError::Header(format!(
            "bits 0x{bits:08x} are not a valid target"
        )));
    }
    let mut target = [0u8; 32];
    let m = mantissa.to_be_bytes();
    // The mantissa's three bytes sit so that the value is mantissa * 256^(exponent - 3).
    target[32 - exponent..35 - exponent].copy_from_slice(&m[1..4]);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_bits_expand_to_the_known_targets() {
        let t = compact_to_target(0x1d00_ffff).unwrap();
        assert_eq!(merkle::hash::encode_hex(&t[..8]), "00000000ffff0000");
        let t = compact_to_target(0x1818_6162).unwrap();
        assert_eq!(
            merkle::hash::encode_hex(&t[..12]),
            "000000000000000018616200"
        );
        assert!(compact_to_target(0x0480_0000).is_err(), "negative mantissa");
        assert!(
            compact_to_target(0x2200_ffff).is_err(),
            "exponent beyond 32 bytes"
        );
    }

    #[test]
    fn regtest_difficulty_is_accepted_only_on_regtest() {
        // A header at regtest's powLimit whose hash meets it (found by bumping the nonce).
        let mut raw = [0u8; 80];
        raw[72..76].copy_from_slice(&Network::Regtest.pow_limit_bits().to_le_bytes());
        let header = (0u32..1024)
            .map(|nonce| {
                raw[76..80].copy_from_slice(&nonce.to_le_bytes());
                BlockHeader(raw)
            })
            .find(|h| h.check_proof_of_work_on(Network::Regtest).is_ok())
            .expect("about one nonce in two meets regtest's target");
        let err = header.check_proof_of_work().unwrap_err().to_string();
        assert!(err.contains("bitcoin minimum difficulty"), "{err}");
    }
}
