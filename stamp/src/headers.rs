//! Remote sources of Bitcoin block headers: fetch, asynchronously, exactly the headers a proof
//! needs, check them, and hand them to the pure, synchronous verifier as a [`HeadersFile`].
//!
//! - **Esplora** (Blockstream, mempool.space, a self-hosted electrs): `GET
//!   {base}/block-height/{height}` answers the block hash (display hex; `404` when the height is
//!   unknown), then `GET {base}/block/{hash}/header` answers the 80-byte header as 160 hex
//!   digits.
//! - **bitcoind JSON-RPC** (1.0, as `bitcoin-cli` speaks it): `getblockhash [height]` (RPC error
//!   -8, "Block height out of range", when the node does not have it), then `getblockheader
//!   [hash, false]`, the header as hex. Basic-auth credentials come from the URL's userinfo
//!   (`http://user:pass@host:8332`) and are taken out of the URL before it is used, logged or
//!   named in an error.
//!
//! The heights the proof's Bitcoin attestations name are fetched
//! ([`crate::Timestamp::bitcoin_heights`], at most [`MAX_HEIGHTS`]), one after another, each
//! request with a timeout and a [`MAX_RESPONSE`]-byte cap on the answer. A height the source does
//! not know is left out, so the verifier reports it as `NoHeader`. Every header must hash to the
//! block hash the source named for its height: a source whose two answers disagree is broken,
//! and that is an error. A header that is consistent but lacks its proof of work is kept (and
//! logged): the verifier re-checks the work and reports that attestation as failed, exactly as
//! for the same header in a headers file. Each height's outcome and latency is logged
//! (`tracing`, target `stamp::headers`).
//!
//! On mainnet each header is also tied to the epoch table ([`Epochs::link`]) by walking back
//! through previous-block hashes (`GET {base}/block/{hash}/header`, `getblockheader [hash,
//! false]`): in the table, from the header or from the nearest block whose hash the table knows,
//! best effort (a source that cannot supply the chain leaves the header checked by its
//! difficulty alone); past the table, down to the start of the table's last epoch, required.
//! At most [`MAX_CHAIN_HEADERS`] headers are walked per fetch.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bitcoin::{BlockHeader, HeadersFile, Network};
use crate::calendar::fetch;
use crate::epochs::{Epochs, Link, MAX_CHAIN_HEADERS};
use crate::error::{Result, StampError};

/// Largest answer accepted from a header source, in bytes (a header is 160 hex digits; a
/// JSON-RPC envelope around it stays far below this).
pub const MAX_RESPONSE: usize = 4096;
/// Per-request timeout unless the caller chooses another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most distinct heights one fetch asks for: a proof naming more is refused rather than turned
/// into that many requests.
pub const MAX_HEIGHTS: usize = 32;

/// Basic-auth credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where to fetch block headers from. `url` never holds credentials (see [`RemoteHeaders::esplora`]
/// and [`RemoteHeaders::bitcoind`]); `Display` names the kind and the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteHeaders {
    /// An Esplora HTTP API base, e.g. `https://blockstream.info/api`.
    Esplora {
        url: String,
        auth: Option<BasicAuth>,
    },
    /// A bitcoind JSON-RPC endpoint, e.g. `http://127.0.0.1:8332`.
    Bitcoind {
        url: String,
        auth: Option<BasicAuth>,
    },
}

impl RemoteHeaders {
    /// An Esplora API base URL (`http` or `https`, no query or fragment; a trailing `/` is
    /// dropped). Credentials in the URL are sent as basic auth.
    pub fn esplora(url: &str) -> Result<RemoteHeaders> {
        let (url, auth) = endpoint("Esplora", url)?;
        Ok(RemoteHeaders::Esplora { url, auth })
    }

    /// A bitcoind RPC URL, `http://user:pass@host:port` (credentials percent-decoded and sent as
    /// basic auth).
    pub fn bitcoind(url: &str) -> Result<RemoteHeaders> {
        let (url, auth) = endpoint("bitcoind", url)?;
        Ok(RemoteHeaders::Bitcoind { url, auth })
    }

    fn url(&self) -> &str {
        match self {
            RemoteHeaders::Esplora { url, .. } | RemoteHeaders::Bitcoind { url, .. } => url,
        }
    }

    fn auth(&self) -> Option<&BasicAuth> {
        match self {
            RemoteHeaders::Esplora { auth, .. } | RemoteHeaders::Bitcoind { auth, .. } => {
                auth.as_ref()
            }
        }
    }
}

impl fmt::Display for RemoteHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteHeaders::Esplora { url, .. } => write!(f, "Esplora {url}"),
            RemoteHeaders::Bitcoind { url, .. } => write!(f, "bitcoind {url}"),
        }
    }
}

/// Parses and checks an endpoint URL, and takes the credentials out of it. Errors never echo
/// the URL, which may hold a password.
fn endpoint(what: &str, raw: &str) -> Result<(String, Option<BasicAuth>)> {
    let bad = |reason: String| StampError::HeaderSource(format!("{what} URL: {reason}"));
    let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme {}:// is not http:// or https://",
            url.scheme()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment".into()));
    }
    let auth = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let auth = BasicAuth {
            user: percent_decode(url.username()),
            password: percent_decode(url.password().unwrap_or("")),
        };
        url.set_username("")
            .and_then(|()| url.set_password(None))
            .map_err(|()| bad("cannot remove the credentials".into()))?;
        Some(auth)
    };
    Ok((url.as_str().trim_end_matches('/').to_owned(), auth))
}

/// Decodes `%XX` escapes (as URL userinfo carries them); anything else is kept as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Fetches the header of every height in `heights` (each once) from `source` and returns the
/// checked headers; heights the source does not know are left out. Fails, naming the source
/// and the request, when the source cannot be reached, times out, answers more than
/// [`MAX_RESPONSE`] bytes, answers something malformed, or names a block hash its header does
/// not have.
pub async fn fetch_headers(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    heights: impl IntoIterator<Item = u64>,
    timeout: Duration,
) -> Result<HeadersFile> {
    fetch_headers_on(client, source, heights, timeout, Network::Bitcoin).await
}

/// [`fetch_headers`] from a source on `network`: the headers are logged and returned
/// ([`HeadersFile::on_network`]) as checked against that network's rules. Only a caller
/// configured for a test chain (`Network::Regtest`) should pass anything but Bitcoin.
pub async fn fetch_headers_on(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    heights: impl IntoIterator<Item = u64>,
    timeout: Duration,
    network: Network,
) -> Result<HeadersFile> {
    fetch_all(client, source, heights, timeout, network, None).await
}

/// [`fetch_headers`] for mainnet rules over `epochs` instead of the shipped table (for tests
/// with a synthetic chain); the [`HeadersFile`] carries `epochs`.
pub async fn fetch_headers_against(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    heights: impl IntoIterator<Item = u64>,
    timeout: Duration,
    epochs: Arc<Epochs>,
) -> Result<HeadersFile> {
    fetch_all(
        client,
        source,
        heights,
        timeout,
        Network::Bitcoin,
        Some(epochs),
    )
    .await
}

/// The headers of the Bitcoin heights `file` attests to, from `source`, checked against
/// `network`'s rules or, on mainnet, `epochs` when given (a run-time table): what `anchor ots
/// verify --esplora|--bitcoind` verifies with. A proof naming no Bitcoin height needs no
/// request (and no client). Errors: [`StampError::Calendar`] when the HTTP client cannot be
/// built, else the source's ([`fetch_headers_on`]).
pub async fn fetch_proof_headers(
    file: &crate::DetachedTimestamp,
    source: &RemoteHeaders,
    network: Network,
    epochs: Option<&Arc<Epochs>>,
    timeout: Duration,
) -> Result<HeadersFile> {
    let heights = file.timestamp.bitcoin_heights();
    if heights.is_empty() {
        return Ok(HeadersFile::default().on_network(network));
    }
    let client = crate::calendar::http_client(timeout)?;
    match epochs {
        Some(e) => fetch_headers_against(&client, source, heights, timeout, e.clone()).await,
        None => fetch_headers_on(&client, source, heights, timeout, network).await,
    }
}

/// The header `source` has at `height` (`None` when it does not know the height), checked only
/// against the block hash the source named for it: no proof-of-work or table check, no chain
/// walk. For comparing a table with a node (`anchor headers check`).
pub async fn fetch_header_at(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    height: u64,
    timeout: Duration,
) -> Result<Option<BlockHeader>> {
    let fetcher = Fetcher {
        client,
        source,
        timeout,
    };
    match source {
        RemoteHeaders::Esplora { url, .. } => fetcher.esplora(url, height).await,
        RemoteHeaders::Bitcoind { .. } => fetcher.bitcoind(height).await,
    }
}

/// The height of the best block `source` knows (Esplora `GET /blocks/tip/height`, bitcoind
/// `getblockcount`): how deep an attestation's block is, in the source's own word. It is
/// reported, never relied on: a lying source can only misstate depth, not forge work.
pub async fn fetch_tip_height(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    timeout: Duration,
) -> Result<u64> {
    let fetcher = Fetcher {
        client,
        source,
        timeout,
    };
    match source {
        RemoteHeaders::Esplora { url, .. } => {
            let request = format!("GET {url}/blocks/tip/height");
            let (status, body) = fetcher
                .get(&format!("{url}/blocks/tip/height"))
                .await
                .map_err(|r| fetcher.fail(&request, r))?;
            if status != StatusCode::OK {
                return Err(fetcher.fail(&request, format!("HTTP {status}{}", snippet(&body))));
            }
            String::from_utf8_lossy(&body)
                .trim()
                .parse()
                .map_err(|_| fetcher.fail(&request, format!("not a height{}", snippet(&body))))
        }
        RemoteHeaders::Bitcoind { .. } => {
            let request = "getblockcount []";
            match fetcher.rpc("getblockcount", json!([])).await {
                Ok(v) => v
                    .as_u64()
                    .ok_or_else(|| fetcher.fail(request, format!("result {v} is not a height"))),
                Err(e) => Err(fetcher.rpc_fail(request, e)),
            }
        }
    }
}

async fn fetch_all(
    client: &reqwest::Client,
    source: &RemoteHeaders,
    heights: impl IntoIterator<Item = u64>,
    timeout: Duration,
    network: Network,
    epochs: Option<Arc<Epochs>>,
) -> Result<HeadersFile> {
    let heights: BTreeSet<u64> = heights.into_iter().collect();
    if heights.len() > MAX_HEIGHTS {
        return Err(StampError::HeaderSource(format!(
            "{source}: the proof names {} Bitcoin blocks, more than the {MAX_HEIGHTS} fetched at most",
            heights.len()
        )));
    }
    let fetcher = Fetcher {
        client,
        source,
        timeout,
    };
    let mut out = HeadersFile::default().on_network(network);
    let table: &Epochs = epochs.as_deref().unwrap_or(Epochs::mainnet());
    let mut budget = MAX_CHAIN_HEADERS;
    for height in heights {
        let started = Instant::now();
        let result = match source {
            RemoteHeaders::Esplora { url, .. } => fetcher.esplora(url, height).await,
            RemoteHeaders::Bitcoind { .. } => fetcher.bitcoind(height).await,
        };
        log(source, network, table, height, &result, started.elapsed());
        let Some(header) = result? else { continue };
        out.insert(height, header);
        // A header that fails its own difficulty is not worth a walk: the verifier refuses it.
        let own_work = if height <= table.last_height() {
            table.check_in_table(&header, height)
        } else {
            header.check_target()
        };
        if network == Network::Bitcoin && own_work.is_ok() {
            fetcher
                .walk(&mut out, table, height, &header, &mut budget)
                .await?;
        }
    }
    Ok(match epochs {
        Some(e) => out.with_epochs(e),
        None => out,
    })
}

fn log(
    source: &RemoteHeaders,
    network: Network,
    table: &Epochs,
    height: u64,
    result: &Result<Option<BlockHeader>>,
    took: Duration,
) {
    let latency_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Some(header)) => {
            let work = match network {
                Network::Bitcoin if height <= table.last_height() => {
                    table.check_in_table(header, height)
                }
                Network::Bitcoin => header.check_target(),
                Network::Regtest => header.check_proof_of_work_on(network),
            };
            if let Err(e) = work {
                tracing::warn!(
                    target: "stamp::headers", source = %source, height, latency_ms,
                    outcome = "no_work", reason = %e,
                    "header source served a header without its proof of work"
                );
            } else {
                tracing::info!(
                    target: "stamp::headers", source = %source, height, latency_ms,
                    outcome = "ok", block_hash = %header.hash_display(), "block header fetched"
                );
            }
        }
        Ok(None) => tracing::info!(
            target: "stamp::headers", source = %source, height, latency_ms,
            outcome = "unknown", "header source does not know this height"
        ),
        Err(e) => tracing::warn!(
            target: "stamp::headers", source = %source, height, latency_ms,
            outcome = "failed", reason = %e, "block header request failed"
        ),
    }
}

/// A JSON-RPC call's failure: the node's error, or anything else (transport, HTTP, format).
enum RpcFailure {
    Rpc { code: i64, message: String },
    Other(String),
}

struct Fetcher<'a> {
    client: &'a reqwest::Client,
    source: &'a RemoteHeaders,
    timeout: Duration,
}

impl Fetcher<'_> {
    fn fail(&self, request: &str, reason: impl fmt::Display) -> StampError {
        StampError::HeaderSource(format!("{}: {request}: {reason}", self.source))
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.timeout(self.timeout);
        match self.source.auth() {
            Some(a) => request.basic_auth(&a.user, Some(&a.password)),
            None => request,
        }
    }

    async fn get(&self, url: &str) -> std::result::Result<(StatusCode, Vec<u8>), String> {
        fetch(self.with_auth(self.client.get(url)), MAX_RESPONSE).await
    }

    async fn esplora(&self, base: &str, height: u64) -> Result<Option<BlockHeader>> {
        let request = format!("GET {base}/block-height/{height}");
        let (status, body) = self
            .get(&format!("{base}/block-height/{height}"))
            .await
            .map_err(|r| self.fail(&request, r))?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            s => return Err(self.fail(&request, format!("HTTP {s}{}", snippet(&body)))),
        }
        let hash = block_hash(&body).map_err(|r| self.fail(&request, r))?;

        let request = format!("GET {base}/block/{hash}/header");
        let (status, body) = self
            .get(&format!("{base}/block/{hash}/header"))
            .await
            .map_err(|r| self.fail(&request, r))?;
        if status != StatusCode::OK {
            return Err(self.fail(&request, format!("HTTP {status}{}", snippet(&body))));
        }
        let hex = String::from_utf8_lossy(&body);
        checked_header(&hex, &hash, height)
            .map(Some)
            .map_err(|r| self.fail(&request, r))
    }

    /// Walks back through previous-block hashes from the header at `height` (or from the
    /// block the table knows above it) to tie it to the table ([`Epochs::link`]), adding every
    /// header to `out`. In the table a failure only ends the walk (the verifier then relies on
    /// the header's difficulty); past it a failed request is an error. Stops at a height
    /// already fetched: the verifier checks that link too.
    async fn walk(
        &self,
        out: &mut HeadersFile,
        table: &Epochs,
        height: u64,
        header: &BlockHeader,
        budget: &mut u64,
    ) -> Result<()> {
        let (mut hash, top, bottom, required) = match table.link(height) {
            Link::Known => return Ok(()),
            Link::Below { from } => (header.prev_hash(), height - 1, from, false),
            Link::Above { to } => match table.known_hash(to) {
                Some(known) => (known, to, height + 1, false),
                None => return Ok(()),
            },
            Link::Chain { from } => (header.prev_hash(), height - 1, from, true),
        };
        if bottom > top {
            return Ok(());
        }
        let count = top - bottom + 1;
        if count > *budget {
            tracing::warn!(
                target: "stamp::headers", source = %self.source, height, count, budget = *budget,
                "not walking the chain: more headers than this fetch may still ask for"
            );
            return Ok(());
        }
        let started = Instant::now();
        for h in (bottom..=top).rev() {
            if out.contains(h) {
                break;
            }
            let wanted = display_hex(&hash);
            match self.header_by_hash(&wanted, h).await {
                Ok(Some(found)) => {
                    out.insert(h, found);
                    hash = found.prev_hash();
                    *budget -= 1;
                }
                Ok(None) => {
                    tracing::warn!(
                        target: "stamp::headers", source = %self.source, height, at = h,
                        block_hash = %wanted, "chain walk: the source does not know this block"
                    );
                    break;
                }
                Err(e) if required => return Err(e),
                Err(e) => {
                    tracing::warn!(
                        target: "stamp::headers", source = %self.source, height, at = h,
                        reason = %e, "chain walk stopped; the header is checked by its difficulty alone"
                    );
                    break;
                }
            }
        }
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            target: "stamp::headers", source = %self.source, height, from = bottom, to = top,
            latency_ms, "chain walked"
        );
        Ok(())
    }

    /// The header of block `hash` (display hex), expected at `height`; `None` when the source
    /// does not know the block.
    async fn header_by_hash(&self, hash: &str, height: u64) -> Result<Option<BlockHeader>> {
        let (request, hex) = match self.source {
            RemoteHeaders::Esplora { url, .. } => {
                let request = format!("GET {url}/block/{hash}/header");
                let (status, body) = self
                    .get(&format!("{url}/block/{hash}/header"))
                    .await
                    .map_err(|r| self.fail(&request, r))?;
                match status {
                    StatusCode::OK => {}
                    StatusCode::NOT_FOUND => return Ok(None),
                    s => return Err(self.fail(&request, format!("HTTP {s}{}", snippet(&body)))),
                }
                (request, String::from_utf8_lossy(&body).into_owned())
            }
            RemoteHeaders::Bitcoind { .. } => {
                let request = format!("getblockheader [\"{hash}\", false]");
                match self.rpc("getblockheader", json!([hash, false])).await {
                    Ok(Value::String(s)) => (request, s),
                    Ok(v) => {
                        return Err(self.fail(&request, format!("result {v} is not a hex string")));
                    }
                    // bitcoind's RPC_INVALID_ADDRESS_OR_KEY, "Block not found".
                    Err(RpcFailure::Rpc { code: -5, .. }) => return Ok(None),
                    Err(e) => return Err(self.rpc_fail(&request, e)),
                }
            }
        };
        checked_header(&hex, hash, height)
            .map(Some)
            .map_err(|r| self.fail(&request, r))
    }

    async fn bitcoind(&self, height: u64) -> Result<Option<BlockHeader>> {
        let request = format!("getblockhash [{height}]");
        let hash = match self.rpc("getblockhash", json!([height])).await {
            Ok(v) => v
                .as_str()
                .ok_or_else(|| format!("result {v} is not a string"))
                .and_then(|s| block_hash(s.as_bytes()))
                .map_err(|r| self.fail(&request, r))?,
            // bitcoind's RPC_INVALID_PARAMETER, "Block height out of range".
            Err(RpcFailure::Rpc { code: -8, .. }) => return Ok(None),
            Err(e) => return Err(self.rpc_fail(&request, e)),
        };

        let request = format!("getblockheader [\"{hash}\", false]");
        let hex = match self.rpc("getblockheader", json!([hash, false])).await {
            Ok(Value::String(s)) => s,
            Ok(v) => return Err(self.fail(&request, format!("result {v} is not a hex string"))),
            Err(e) => return Err(self.rpc_fail(&request, e)),
        };
        checked_header(&hex, &hash, height)
            .map(Some)
            .map_err(|r| self.fail(&request, r))
    }

    fn rpc_fail(&self, request: &str, e: RpcFailure) -> StampError {
        match e {
            RpcFailure::Rpc { code, message } => {
                self.fail(request, format!("RPC error {code}: {message}"))
            }
            RpcFailure::Other(reason) => self.fail(request, reason),
        }
    }

    async fn rpc(&self, method: &str, params: Value) -> std::result::Result<Value, RpcFailure> {
        let body = json!({"jsonrpc": "1.0", "id": "anchor", "method": method, "params": params});
        let request = self
            .with_auth(self.client.post(self.source.url()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let (status, body) = fetch(request, MAX_RESPONSE)
            .await
            .map_err(RpcFailure::Other)?;
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let hint = if self.source.auth().is_none() {
                " (no credentials were given; put them in the URL, http://user:pass@host:port)"
            } else {
                " (check the credentials in the URL)"
            };
            return Err(RpcFailure::Other(format!("HTTP {status}{hint}")));
        }
        let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
            return Err(RpcFailure::Other(format!(
                "HTTP {status}, not a JSON-RPC answer{}",
                snippet(&body)
            )));
        };
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            let code = error.get("code").and_then(Value::as_i64);
            let message = error.get("message").and_then(Value::as_str);
            return Err(match (code, message) {
                (Some(code), Some(message)) => RpcFailure::Rpc {
                    code,
                    message: message.to_owned(),
                },
                _ => RpcFailure::Other(format!("HTTP {status}, malformed JSON-RPC error {error}")),
            });
        }
        if status != StatusCode::OK {
            return Err(RpcFailure::Other(format!(
                "HTTP {status}{}",
                snippet(&body)
            )));
        }
        answer
            .get("result")
            .cloned()
            .ok_or_else(|| RpcFailure::Other("JSON-RPC answer without a result".into()))
    }
}

/// A block hash as a source names it: 64 hex digits (display order), lowercased.
fn block_hash(body: &[u8]) -> std::result::Result<String, String> {
    let text = String::from_utf8_lossy(body);
    let hash = text.trim();
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_ascii_lowercase())
    } else {
        let got = snippet(body);
        Err(match got.strip_prefix(": ") {
            Some(got) => format!("expected a 64-hex block hash, got {got:?}"),
            None => "expected a 64-hex block hash, got an empty answer".into(),
        })
    }
}

/// A hash in internal byte order as display hex.
fn display_hex(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    merkle::hash::encode_hex(&h)
}

/// Parses a header and checks that it is the block the source named for `height`.
fn checked_header(hex: &str, hash: &str, height: u64) -> std::result::Result<BlockHeader, String> {
    let header = BlockHeader::from_hex(hex).map_err(|e| format!("not a block header: {e}"))?;
    let actual = header.hash_display();
    if actual != hash {
        return Err(format!(
            "the header hashes to {actual}, not to {hash}, the block hash the source named for height {height}"
        ));
    }
    Ok(header)
}

/// `": <the first 100 characters>"` of an answer for an error message, printable only; empty
/// for an empty answer.
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_and_are_percent_decoded() {
        let s = RemoteHeaders::bitcoind("http://al%40ce:p%3Ass@127.0.0.1:8332/").unwrap();
        assert_eq!(
            s,
            RemoteHeaders::Bitcoind {
                url: "http://127.0.0.1:8332".into(),
                auth: Some(BasicAuth {
                    user: "al@ce".into(),
                    password: "p:ss".into()
                }),
            }
        );
        assert!(!format!("{s:?} {s}").contains("p:ss"));
        assert_eq!(
            RemoteHeaders::esplora("https://blockstream.info/api/").unwrap(),
            RemoteHeaders::Esplora {
                url: "https://blockstream.info/api".into(),
                auth: None
            }
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_echoing_them() {
        for (url, needle) in [
            ("ftp://u:secret@x", "scheme ftp://"),
            ("not a url", "relative URL"),
            ("https://x/api?key=secret", "query"),
        ] {
            let e = RemoteHeaders::esplora(url).unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: {e}");
        }
    }

    #[test]
    fn block_hashes_must_be_64_hex() {
        assert_eq!(
            block_hash(b" ABcd").unwrap_err(),
            "expected a 64-hex block hash, got \"ABcd\""
        );
        let h = "AB".repeat(32);
        assert_eq!(
            block_hash(format!("{h}\n").as_bytes()).unwrap(),
            "ab".repeat(32)
        );
        assert!(block_hash(b"").unwrap_err().ends_with("an empty answer"));
        assert!(block_hash("g".repeat(64).as_bytes()).is_err());
    }
}
