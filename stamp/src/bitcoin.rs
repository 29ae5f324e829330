//! Checking Bitcoin attestations without a full node: the attested message must be the merkle
//! root field of the block header at that height, and the header must carry its own proof of
//! work.
//!
//! Headers come from a [`HeaderSource`]. Whoever writes a headers file (JSON `{"height":
//! "80-byte hex"}`) or runs a header source picks the headers; the checks here make a forged
//! mainnet header cost the real difficulty of its height: its `bits` must be those of its
//! epoch in the table shipped with this crate ([`Epochs`]), and past the table the source must
//! supply the whole chain from the table's last epoch ([`Epochs::check_chain`]). Regtest
//! headers are only held to regtest's proof-of-work limit, and only when the caller asked for
//! regtest.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::epochs::{Epochs, Link, MAX_CHAIN_HEADERS};
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

/// Where block headers come from.
pub trait HeaderSource {
    /// The header at `height`, or `None` when the source does not know it.
    fn header(&self, height: u64) -> Result<Option<BlockHeader>>;

    /// The chain whose rules this source's headers must meet.
    fn network(&self) -> Network {
        Network::Bitcoin
    }

    /// The epoch table a [`Network::Bitcoin`] header is checked against: the shipped mainnet
    /// table unless the source was given another (tests build small synthetic ones).
    fn epochs(&self) -> &Epochs {
        Epochs::mainnet()
    }
}

/// Headers from a JSON file: `{"358391": "<160 hex digits>", …}`.
#[derive(Clone, Debug, Default)]
pub struct HeadersFile {
    headers: BTreeMap<u64, BlockHeader>,
    network: Network,
    epochs: Option<Arc<Epochs>>,
}

impl HeadersFile {
    pub fn from_json(bytes: &[u8]) -> Result<HeadersFile> {
        let map: BTreeMap<String, String> = serde_json::from_slice(bytes).map_err(|e| {
            StampError::Header(format!(
                "headers file is not {{\"height\": \"hex\"}} JSON: {e}"
            ))
        })?;
        let mut headers = BTreeMap::new();
        for (height, hex) in map {
            let h: u64 = height
                .parse()
                .map_err(|_| StampError::Header(format!("height {height:?} is not a number")))?;
            let header = BlockHeader::from_hex(&hex)
                .map_err(|e| StampError::Header(format!("height {h}: {e}")))?;
            headers.insert(h, header);
        }
        Ok(HeadersFile {
            headers,
            network: Network::Bitcoin,
            epochs: None,
        })
    }

    /// The same headers, checked against `network`'s proof-of-work floor.
    #[must_use]
    pub fn on_network(mut self, network: Network) -> HeadersFile {
        self.network = network;
        self
    }

    /// The same headers, checked (on [`Network::Bitcoin`]) against `epochs` instead of the
    /// shipped mainnet table.
    #[must_use]
    pub fn with_epochs(mut self, epochs: Arc<Epochs>) -> HeadersFile {
        self.epochs = Some(epochs);
        self
    }

    /// Whether the file holds a header at `height`.
    pub fn contains(&self, height: u64) -> bool {
        self.headers.contains_key(&height)
    }

    /// The headers as the JSON this type reads (`{"height": "hex"}`), for writers of headers
    /// files such as the dev calendar.
    pub fn to_json(&self) -> String {
        let map: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|(h, header)| (h.to_string(), merkle::hash::encode_hex(&header.0)))
            .collect();
        serde_json::to_string_pretty(&map).expect("a string map serialises")
    }

    pub fn insert(&mut self, height: u64, header: BlockHeader) {
        self.headers.insert(height, header);
    }
}

impl HeaderSource for HeadersFile {
    fn header(&self, height: u64) -> Result<Option<BlockHeader>> {
        Ok(self.headers.get(&height).copied())
    }

    fn network(&self) -> Network {
        self.network
    }

    fn epochs(&self) -> &Epochs {
        self.epochs.as_deref().unwrap_or(Epochs::mainnet())
    }
}

/// Verifies a Bitcoin attestation: `msg` (the message the proof computed at the attestation)
/// must be the merkle root of the header at `height`, and the header must carry its work —
/// on [`Network::Bitcoin`] the work of its height ([`check_mainnet_header`]), on
/// [`Network::Regtest`] regtest's floor. Returns the header, whose time bounds when the data
/// existed.
pub fn verify_attestation(
    msg: &[u8],
    height: u64,
    headers: &dyn HeaderSource,
) -> Result<Option<BlockHeader>> {
    let Some(header) = headers.header(height)? else {
        return Ok(None);
    };
    match headers.network() {
        Network::Bitcoin => check_mainnet_header(&header, height, headers)?,
        Network::Regtest => header.check_proof_of_work_on(Network::Regtest)?,
    }
    if msg != header.merkle_root() {
        return Err(StampError::MerkleRootMismatch {
            height,
            computed: merkle::hash::encode_hex(msg),
            header: merkle::hash::encode_hex(&header.merkle_root()),
        });
    }
    Ok(Some(header))
}

/// Checks `header` as the mainnet block at `height` against `source`'s epoch table:
///
/// - in the table: its `bits` are its epoch's and its hash meets them; where the table knows
///   the block's hash, it is that block; and when `source` holds every header between it and
///   the nearest block whose hash the table knows ([`Epochs::link`]), that chain must link
///   them (a source that cannot supply it — a headers file with one header — leaves the
///   header checked by its difficulty alone);
/// - past the table: `source` must hold every header from the start of the table's last
///   epoch to `height` (at most [`MAX_CHAIN_HEADERS`]), and [`Epochs::check_chain`] must pass.
pub fn check_mainnet_header(
    header: &BlockHeader,
    height: u64,
    source: &dyn HeaderSource,
) -> Result<()> {
    let epochs = source.epochs();
    let in_table = height <= epochs.last_height();
    if in_table {
        // Its own difficulty first, so a wrong `bits` is named as such.
        epochs.check_in_table(header, height)?;
    }
    let range = match epochs.link(height) {
        Link::Known => return Ok(()),
        Link::Below { from } => from..=height,
        Link::Above { to } => height..=to,
        Link::Chain { from } => {
            let needed = height - from + 1;
            if needed > MAX_CHAIN_HEADERS {
                return Err(StampError::Header(format!(
                    "block {height} is past the {} table (bits known to block {}); checking it needs the {needed} headers from block {from}, more than the {MAX_CHAIN_HEADERS} this verifier fetches: update the table (a newer one can be supplied with --epochs FILE or LEDGER_BITCOIN_EPOCHS_FILE)",
                    epochs.name(),
                    epochs.last_height()
                )));
            }
            from..=height
        }
    };
    let from = *range.start();
    let mut chain = Vec::with_capacity(usize::try_from(range.end() - from + 1).unwrap_or(0));
    for h in range {
        let found = if h == height {
            Some(*header)
        } else {
            source.header(h)?
        };
        match found {
            Some(found) => chain.push(found),
            // The source cannot tie the header to a known hash: its difficulty decides.
            None if in_table => return Ok(()),
            None => {
                return Err(StampError::Header(format!(
                    "block {height} is past the {} table (bits known to block {}); checking it needs every header from block {from}, and the source lacks block {h}",
                    epochs.name(),
                    epochs.last_height()
                )));
            }
        }
    }
    epochs.check_chain(from, &chain)
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
