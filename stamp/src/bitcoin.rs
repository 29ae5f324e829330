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

use crate::epochs::{Epochs, Link, MAX_CHAIN_HEADERS};
use crate::error::{Result, StampError};
pub use crate::header::{BlockHeader, Network, compact_to_target};

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

    /// [`HeadersFile::with_epochs`] when a table is given (a run-time override of the
    /// shipped one), else the same headers.
    #[must_use]
    pub fn with_table(self, epochs: Option<&Arc<Epochs>>) -> HeadersFile {
        match epochs {
            Some(e) => self.with_epochs(e.clone()),
            None => self,
        }
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
            .map(|(h, header)| (h.to_string(), merkle::hash::encode_hex(header.bytes())))
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
    fn a_headers_file_takes_a_run_time_table_only_when_one_is_given() {
        let table = Epochs::mainnet().clone();
        assert!(HeadersFile::default().with_table(None).epochs.is_none());
        let with = HeadersFile::default().with_table(Some(&table));
        assert!(with.epochs.is_some_and(|e| Arc::ptr_eq(&e, &table)));
    }
}
