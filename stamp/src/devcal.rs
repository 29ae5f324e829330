//! A local OpenTimestamps calendar for demos and tests (`anchor ots calendar --listen ADDR`),
//! with a local **regtest** chain it can mine on request.
//!
//! It speaks the calendar protocol:
//! - `POST /digest` answers a timestamp of the submitted digest (a per-server random salt
//!   appended, `sha256`, then a pending attestation naming this server's public URL). The
//!   result, the *commitment*, is kept until a block is mined over it. Unlike a public
//!   calendar it does not batch on its own; it never mines unless asked.
//! - `GET /timestamp/{commitment hex}`: `404 Pending confirmation in Bitcoin blockchain` until
//!   a block was mined over the commitment, then `200` with the upgrade path, as a real
//!   calendar answers: the commitment's merkle path (`append`/`prepend` a sibling, `sha256`,
//!   per level, pairs taken left to right and an odd last node carried up unchanged, as
//!   python-opentimestamps' `make_merkle_tree` builds it) to the tree's root, then into the
//!   block's transaction: the tree root sits in a coinbase-style transaction's `OP_RETURN`
//!   output ([`crate::tx::coinbase_around`]), so the path goes on with `prepend` the bytes
//!   before it, `append` those after it, `sha256`, `sha256` (the transaction id, which a
//!   one-transaction block's header carries as its merkle root), and there a Bitcoin
//!   attestation at the mined height. `ots info` names that transaction as it does a public
//!   calendar's, and so do receipts.
//!
//! **Mining** happens only on an explicit request: [`DevCalendar::mine`] (what the demo and
//! the tests call on the handle [`crate::dev::DevServices`] keeps) or `POST /mine` (for
//! `anchor ots calendar`; `204` when nothing was pending, else `200` and the
//! [`MinedBlock`] as JSON). It builds one block over every commitment not yet mined: version
//! `0x20000000`, `prev` the previous block's hash (zeros for the first), the transaction's id, time
//! now (never before the previous block's), bits `0x207fffff` (regtest's `powLimit`), and a
//! nonce searched until [`BlockHeader::check_proof_of_work_on`]`(Network::Regtest)` passes
//! (about one nonce in two does). Heights start at [`FIRST_HEIGHT`] = 1, on a [`DevChain`]
//! that several calendars may share (the dev services' calendars do, so one header source
//! serves every attestation they issue).
//!
//! **Headers** of the chain are served as the Esplora endpoints
//! [`crate::headers::RemoteHeaders::esplora`] calls, with the calendar's URL as the Esplora
//! base: `GET /block-height/{h}` (the block hash, display hex; `404` for an unknown height),
//! `GET /block/{hash}/header` (160 hex digits), plus `GET /blocks/tip/height`; and as a
//! [`HeadersFile`] JSON (`GET /headers.json`, [`DevChain::headers_file`]). Regtest work proves
//! nothing about time: a verifier accepts these headers only when told the chain is regtest.
//!
//! Mined commitments' paths are kept in memory for the life of the process (a dev service:
//! nothing is persisted, and a restarted calendar has forgotten its chain).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore as _;
use serde::Serialize;

use crate::bitcoin::{BlockHeader, HeadersFile, Network};
use crate::ots::{Attestation, Entry, Op, Timestamp};
use crate::tx::{Txid, coinbase_around};

/// The longest digest the reference calendar server accepts.
pub const MAX_DIGEST: usize = 64;
/// The height of the first block a [`DevChain`] mines.
pub const FIRST_HEIGHT: u64 = 1;
/// The block version the dev chain writes (BIP 9 signalling bits, no deployments).
const BLOCK_VERSION: u32 = 0x2000_0000;
/// The 404 body while a commitment waits for a block, as the reference calendar words it.
const PENDING: &str = "Pending confirmation in Bitcoin blockchain";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A local regtest chain: the headers mined so far, the first at [`FIRST_HEIGHT`]. Clones
/// share the chain.
#[derive(Clone, Debug, Default)]
pub struct DevChain {
    blocks: Arc<Mutex<Vec<BlockHeader>>>,
}

impl DevChain {
    pub fn new() -> DevChain {
        DevChain::default()
    }

    /// The height of the last block, `None` before the first.
    pub fn tip_height(&self) -> Option<u64> {
        let n = lock(&self.blocks).len() as u64;
        n.checked_sub(1).map(|last| FIRST_HEIGHT + last)
    }

    /// The header at `height`, if mined.
    pub fn header(&self, height: u64) -> Option<BlockHeader> {
        let index = usize::try_from(height.checked_sub(FIRST_HEIGHT)?).ok()?;
        lock(&self.blocks).get(index).copied()
    }

    /// The header whose hash, in display hex, is `hash`.
    pub fn by_hash(&self, hash: &str) -> Option<BlockHeader> {
        lock(&self.blocks)
            .iter()
            .find(|h| h.hash_display().eq_ignore_ascii_case(hash))
            .copied()
    }

    /// Every header, as a headers file checked against regtest's floor (its
    /// [`HeadersFile::to_json`] is what `anchor ots verify --headers` reads).
    pub fn headers_file(&self) -> HeadersFile {
        let mut file = HeadersFile::default().on_network(Network::Regtest);
        for (height, header) in (FIRST_HEIGHT..).zip(lock(&self.blocks).iter()) {
            file.insert(height, *header);
        }
        file
    }

    /// Mines the next block with the merkle root `root_at(height)`, timed `now` (or the
    /// previous block's time if that is later); returns its height and header.
    fn mine(&self, root_at: impl FnOnce(u64) -> [u8; 32], now: u32) -> (u64, BlockHeader) {
        let mut blocks = lock(&self.blocks);
        let (prev, time) = match blocks.last() {
            Some(last) => (last.hash(), now.max(last.time())),
            None => ([0u8; 32], now),
        };
        let height = FIRST_HEIGHT + blocks.len() as u64;
        let header = mine_header(&prev, &root_at(height), time);
        blocks.push(header);
        (height, header)
    }
}

/// A header over `merkle_root` at regtest difficulty: the nonce is counted up from 0 until
/// the header meets regtest's target.
fn mine_header(prev: &[u8; 32], merkle_root: &[u8; 32], time: u32) -> BlockHeader {
    let mut raw = [0u8; 80];
    raw[0..4].copy_from_slice(&BLOCK_VERSION.to_le_bytes());
    raw[4..36].copy_from_slice(prev);
    raw[36..68].copy_from_slice(merkle_root);
    raw[68..72].copy_from_slice(&time.to_le_bytes());
    raw[72..76].copy_from_slice(&Network::Regtest.pow_limit_bits().to_le_bytes());
    for nonce in 0..=u32::MAX {
        raw[76..80].copy_from_slice(&nonce.to_le_bytes());
        let header =
            BlockHeader::from_hex(&merkle::hash::encode_hex(&raw)).expect("80 bytes are a header");
        if header.check_proof_of_work_on(Network::Regtest).is_ok() {
            return header;
        }
    }
    unreachable!("about one nonce in two meets regtest's target; 2^32 in a row missed it")
}

/// The OTS operations from each leaf to the root of the merkle tree over `leaves`, and that
/// root: pairs left to right, `left → append right → sha256` and `right → prepend left →
/// sha256`; an odd last node goes up a level unchanged. `leaves` must not be empty.
fn merkle_paths(leaves: &[Vec<u8>]) -> (Vec<u8>, Vec<Vec<Op>>) {
    let mut paths: Vec<Vec<Op>> = vec![Vec::new(); leaves.len()];
    // Each node of the current level: its message and the leaves below it.
    let mut level: Vec<(Vec<u8>, Vec<usize>)> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), vec![i]))
        .collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut nodes = level.into_iter();
        while let Some((left, mut under_left)) = nodes.next() {
            let Some((right, under_right)) = nodes.next() else {
                next.push((left, under_left));
                break;
            };
            for &i in &under_left {
                paths[i].extend([Op::Append(right.clone()), Op::Sha256]);
            }
            for &i in &under_right {
                paths[i].extend([Op::Prepend(left.clone()), Op::Sha256]);
            }
            let parent = Op::Sha256.apply(&[left, right].concat());
            under_left.extend(under_right);
            next.push((parent, under_left));
        }
        level = next;
    }
    let (root, _) = level.pop().expect("at least one leaf");
    (root, paths)
}

/// What [`DevCalendar::mine`] mined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinedBlock {
    pub height: u64,
    /// Display hex, as explorers and Esplora show it.
    pub block_hash: String,
    /// Seconds since the Unix epoch.
    pub time: u32,
    /// The id of the block's one transaction (display hex), which carries the commitments'
    /// tree root.
    pub txid: String,
    /// How many commitments the block confirmed.
    pub commitments: usize,
}

#[derive(Debug, Default)]
struct Commitments {
    /// Issued and not yet in a block, in order, each once.
    pending: Vec<Vec<u8>>,
    /// The upgrade answer (a bare timestamp) of each commitment in a block.
    confirmed: HashMap<Vec<u8>, Vec<u8>>,
}

/// One dev calendar: its salt, the URL its pending attestations name, the commitments it
/// issued, and the chain it mines on.
pub struct DevCalendar {
    uri: String,
    salt: [u8; 16],
    chain: DevChain,
    commitments: Mutex<Commitments>,
}

impl std::fmt::Debug for DevCalendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCalendar")
            .field("uri", &self.uri)
            .field("tip_height", &self.chain.tip_height())
            .finish_non_exhaustive()
    }
}

impl DevCalendar {
    /// A calendar naming `public_url` in its pending attestations, on a chain of its own.
    pub fn new(public_url: &str) -> Arc<DevCalendar> {
        DevCalendar::on_chain(public_url, DevChain::new())
    }

    /// A calendar that mines on `chain` (shared with other calendars).
    pub fn on_chain(public_url: &str, chain: DevChain) -> Arc<DevCalendar> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        Arc::new(DevCalendar {
            uri: public_url.trim_end_matches('/').to_owned(),
            salt,
            chain,
            commitments: Mutex::new(Commitments::default()),
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn chain(&self) -> &DevChain {
        &self.chain
    }

    /// The timestamp answering a submission of `digest` (the bare timestamp's bytes), or why
    /// it is refused. The commitment is remembered for the next block.
    pub fn submit(&self, digest: &[u8]) -> Result<Vec<u8>, String> {
        if digest.is_empty() || digest.len() > MAX_DIGEST {
            return Err(format!("digest must be 1 to {MAX_DIGEST} bytes"));
        }
        let mut t = Timestamp::new(digest.to_vec());
        let commitment = t
            .push_op(Op::Append(self.salt.to_vec()))
            .push_op(Op::Sha256);
        commitment
            .entries
            .push(Entry::Attestation(Attestation::Pending {
                uri: self.uri.clone(),
            }));
        let c = commitment.msg.clone();
        let bytes = t.to_bytes().map_err(|e| e.to_string())?;
        let mut state = lock(&self.commitments);
        if !state.pending.contains(&c) {
            state.pending.push(c);
        }
        Ok(bytes)
    }

    /// The upgrade answer for `commitment` once a block was mined over it.
    pub fn upgrade(&self, commitment: &[u8]) -> Option<Vec<u8>> {
        lock(&self.commitments).confirmed.get(commitment).cloned()
    }

    /// Mines one block over every commitment not yet in a block; `None` when there is none.
    pub fn mine(&self) -> Option<MinedBlock> {
        let mut state = lock(&self.commitments);
        if state.pending.is_empty() {
            return None;
        }
        let leaves = std::mem::take(&mut state.pending);
        let (root, paths) = merkle_paths(&leaves);
        let root: [u8; 32] = root
            .try_into()
            .expect("commitments are SHA-256 digests, so is the root");
        let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        // The block's one transaction carries the tree root; its id is the block's merkle
        // root (a one-transaction block's merkle tree is that id).
        let mut tx = (Vec::new(), Vec::new());
        let (height, header) = self.chain.mine(
            |height| {
                tx = coinbase_around(height);
                Txid::of(&[tx.0.as_slice(), &root, &tx.1].concat())
                    .bytes()
                    .to_owned()
            },
            now,
        );
        let (prefix, suffix) = tx;
        let txid = Txid::of(&[prefix.as_slice(), &root, &suffix].concat());
        for (leaf, ops) in leaves.iter().zip(paths) {
            let mut t = Timestamp::new(leaf.clone());
            let mut at = &mut t;
            for op in ops.into_iter().chain([
                Op::Prepend(prefix.clone()),
                Op::Append(suffix.clone()),
                Op::Sha256,
                Op::Sha256,
            ]) {
                at = at.push_op(op);
            }
            debug_assert_eq!(at.msg, header.merkle_root());
            at.entries
                .push(Entry::Attestation(Attestation::Bitcoin { height }));
            let bytes = t.to_bytes().expect("a timestamp ending in an attestation");
            state.confirmed.insert(leaf.clone(), bytes);
        }
        Some(MinedBlock {
            height,
            block_hash: header.hash_display(),
            time: header.time(),
            txid: txid.to_display_hex(),
            commitments: leaves.len(),
        })
    }

    /// The calendar's routes (see the module documentation).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/digest", post(submit))
            .route("/timestamp/{commitment}", get(timestamp))
            .route("/mine", post(mine))
            .route("/block-height/{height}", get(block_height))
            .route("/block/{hash}/header", get(block_header))
            .route("/blocks/tip/height", get(tip_height))
            .route("/headers.json", get(headers_json))
            .with_state(self.clone())
    }
}

/// The routes of a new calendar naming `public_url`, on a chain of its own.
pub fn router(public_url: &str) -> Router {
    DevCalendar::new(public_url).router()
}

/// Serves a new calendar naming `public_url` ([`router`]) on `listener` until Ctrl-C: what
/// `anchor ots calendar` runs.
pub async fn serve(listener: tokio::net::TcpListener, public_url: &str) -> std::io::Result<()> {
    axum::serve(listener, router(public_url))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

type Cal = State<Arc<DevCalendar>>;

async fn submit(State(cal): Cal, body: Bytes) -> Response {
    match cal.submit(&body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

async fn timestamp(State(cal): Cal, Path(commitment): Path<String>) -> Response {
    let Ok(c) = merkle::hash::decode_hex("commitment", &commitment) else {
        return (StatusCode::BAD_REQUEST, "the commitment must be hex").into_response();
    };
    match cal.upgrade(&c) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, PENDING).into_response(),
    }
}

async fn mine(State(cal): Cal) -> Response {
    match cal.mine() {
        Some(block) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&block).expect("a flat struct serialises"),
        )
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Block not found").into_response()
}

async fn block_height(State(cal): Cal, Path(height): Path<String>) -> Response {
    match height.parse().ok().and_then(|h| cal.chain.header(h)) {
        Some(h) => h.hash_display().into_response(),
        None => not_found(),
    }
}

async fn block_header(State(cal): Cal, Path(hash): Path<String>) -> Response {
    match cal.chain.by_hash(&hash) {
        Some(h) => encode_header(&h).into_response(),
        None => not_found(),
    }
}

async fn tip_height(State(cal): Cal) -> Response {
    match cal.chain.tip_height() {
        Some(h) => h.to_string().into_response(),
        None => not_found(),
    }
}

async fn headers_json(State(cal): Cal) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        cal.chain.headers_file().to_json(),
    )
        .into_response()
}

/// A header's 160 hex digits (through its headers-file form, the one serialisation
/// [`BlockHeader`] offers).
fn encode_header(header: &BlockHeader) -> String {
    let mut one = HeadersFile::default();
    one.insert(0, *header);
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&one.to_json()).expect("to_json writes a string map");
    map.into_values().next().expect("one header")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> Vec<u8> {
        Op::Sha256.apply(&[i])
    }

    #[test]
    fn every_leaf_path_reaches_the_root_and_odd_nodes_go_up_unchanged() {
        for n in 1..=7u8 {
            let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
            let (root, paths) = merkle_paths(&leaves);
            for (l, path) in leaves.iter().zip(&paths) {
                let end = path.iter().fold(l.clone(), |msg, op| op.apply(&msg));
                assert_eq!(end, root, "{n} leaves");
            }
        }
        // Three leaves: (0,1) pair, 2 is carried up and then prepended with their parent.
        let leaves: Vec<Vec<u8>> = (0..3).map(leaf).collect();
        let (_, paths) = merkle_paths(&leaves);
        assert_eq!(paths[0][0], Op::Append(leaves[1].clone()));
        assert_eq!(paths[1][0], Op::Prepend(leaves[0].clone()));
        assert_eq!(paths[2].len(), 2);
        assert!(matches!(paths[2][0], Op::Prepend(_)));
        // One leaf is its own root.
        assert_eq!(
            merkle_paths(&leaves[..1]),
            (leaves[0].clone(), vec![vec![]])
        );
    }

    #[test]
    fn mined_headers_chain_meet_regtest_work_and_never_go_back_in_time() {
        let chain = DevChain::new();
        assert_eq!(chain.tip_height(), None);
        let (h1, b1) = chain.mine(|_| [1; 32], 2_000_000_000);
        let (h2, b2) = chain.mine(|_| [2; 32], 1_000);
        assert_eq!((h1, h2), (FIRST_HEIGHT, FIRST_HEIGHT + 1));
        assert_eq!(
            b2.time(),
            b1.time(),
            "a clock that went back is not followed"
        );
        assert_eq!(b1.bits(), 0x207f_ffff);
        assert_eq!(b1.merkle_root(), [1; 32]);
        b1.check_proof_of_work_on(Network::Regtest).unwrap();
        assert!(b1.check_proof_of_work_on(Network::Bitcoin).is_err());
        assert_eq!(chain.header(h2), Some(b2));
        assert_eq!(chain.by_hash(&b1.hash_display().to_uppercase()), Some(b1));
        assert_eq!(chain.header(0), None);
        let file = chain.headers_file();
        let json: serde_json::Value = serde_json::from_str(&file.to_json()).unwrap();
        assert_eq!(json["2"].as_str().unwrap(), encode_header(&b2));
        // The second header links to the first.
        let prev = merkle::hash::decode_hex("prev", &encode_header(&b2)[8..72]).unwrap();
        assert_eq!(prev, b1.hash());
    }
}
