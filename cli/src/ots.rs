//! `anchor ots`: stamp, upgrade, calendar, info and verify. The work is `stamp`'s
//! (`stamp::calendar`, `stamp::verify`, `stamp::headers`, `stamp::report`); this module reads
//! the files, prints and picks the exit code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{HeadersFile, Network};
use stamp::calendar::{CalendarConfig, http_client};
use stamp::epochs::Epochs;
use stamp::headers::{RemoteHeaders, fetch_proof_headers};
use stamp::report::{HeaderOrigin, findings_report};
use stamp::verify::{Verdict, check_digest, data_digest, digest_from_hex, verify_file};
use stamp::{DetachedTimestamp, StampError};

pub(crate) use crate::edge::{dir_of, runtime, write_atomically};
use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum OtsCmd {
    /// Stamp a file or digest through OpenTimestamps calendars and write the pending .ots.
    Stamp {
        /// The file to stamp (its SHA-256 is submitted, blinded by a random nonce).
        #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
        file: Option<PathBuf>,
        /// A SHA-256 digest to stamp, 64 hex (instead of --file).
        #[arg(long)]
        digest: Option<String>,
        /// Calendar base URL; repeat for several (default: the reference client's four).
        #[arg(long = "calendar", value_name = "URL")]
        calendars: Vec<String>,
        /// How many calendars must accept (default 2, or all when fewer are given).
        #[arg(short = 'm', long)]
        min: Option<usize>,
        /// Per-calendar timeout in seconds.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Where to write the .ots (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
    /// Ask the calendars of an .ots for Bitcoin attestations and rewrite it in place when one
    /// answers. Exit 0 complete, 3 still pending, 1 a calendar failed and nothing is complete.
    Upgrade {
        file: PathBuf,
        /// Calendars allowed to be contacted (default: the reference client's four); pending
        /// attestations naming any other URL are not followed.
        #[arg(long = "calendar", value_name = "URL")]
        calendars: Vec<String>,
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Serve a local calendar for demos and tests. Proofs stay pending until `POST /mine` mines
    /// a block over them on the calendar's own regtest chain (no proof of time), whose headers
    /// it serves as an Esplora API at its URL and as a headers file at `/headers.json`.
    Calendar {
        /// Address to listen on, e.g. 127.0.0.1:14788.
        #[arg(long)]
        listen: String,
        /// The URL its pending attestations name (default: http:// and the bound address).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Print the operations and attestations of an .ots file.
    Info {
        /// The .ots file, or `-` for stdin.
        file: PathBuf,
    },
    /// Verify an .ots file: exit 0 verified, 1 not verified (reason; also when the header source
    /// cannot be reached), 2 bad input, 3 pending only.
    Verify {
        /// The .ots file.
        file: PathBuf,
        /// The stamped file, hashed with the proof's own file hash (sha256, sha1, ripemd160
        /// or keccak256, as `anchor ots info` shows); the hash must be the proof's digest.
        #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
        data: Option<PathBuf>,
        /// The stamped digest in hex (instead of --data), as long as the proof's file hash
        /// makes it (64 hex digits for sha256, 40 for sha1 and ripemd160); else exit 2.
        #[arg(long)]
        digest: Option<String>,
        /// Block headers from a file: JSON `{"height": "80-byte header hex"}`.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["esplora", "bitcoind"])]
        headers: Option<PathBuf>,
        /// Block headers from an Esplora API, e.g. `https://blockstream.info/api`.
        #[arg(long, value_name = "URL", conflicts_with = "bitcoind")]
        esplora: Option<String>,
        /// Block headers from bitcoind's JSON-RPC, `http://user:pass@host:8332`.
        #[arg(long, value_name = "URL")]
        bitcoind: Option<String>,
        /// Per-request timeout for --esplora and --bitcoind, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        timeout: u64,
        /// The headers are a regtest chain's (local demos only): held to regtest's
        /// proof-of-work limit instead of mainnet's difficulty. Regtest work proves nothing
        /// about time.
        #[arg(long)]
        regtest: bool,
        /// A newer Bitcoin mainnet epoch table (the format of stamp/data/mainnet-epochs.txt),
        /// used instead of the shipped one when it agrees with it on every epoch both hold and
        /// each new epoch is within the 4x clamp of the one before (else exit 2, naming the
        /// first bad epoch).
        #[arg(long, value_name = "FILE", conflicts_with = "regtest")]
        epochs: Option<PathBuf>,
    },
}

pub fn run(cmd: OtsCmd) -> Outcome {
    match cmd {
        OtsCmd::Info { file } => {
            let ots = load(&file)?;
            Ok(write_stdout(ots.describe().as_bytes())?)
        }
        OtsCmd::Verify {
            file,
            data,
            digest,
            headers,
            esplora,
            bitcoind,
            timeout,
            regtest,
            epochs,
        } => {
            let epochs = epochs.as_deref().map(load_epochs).transpose()?;
            let network = if regtest {
                Network::Regtest
            } else {
                Network::Bitcoin
            };
            let source = match (headers, esplora, bitcoind) {
                (Some(path), _, _) => Headers::File(path),
                (None, Some(url), _) => Headers::Remote(
                    RemoteHeaders::esplora(&url).map_err(|e| anyhow!("--esplora: {e}"))?,
                ),
                (None, None, Some(url)) => Headers::Remote(
                    RemoteHeaders::bitcoind(&url).map_err(|e| anyhow!("--bitcoind: {e}"))?,
                ),
                (None, None, None) => Headers::None,
            };
            verify(
                &file,
                data,
                digest,
                &source,
                network,
                epochs.as_ref(),
                Duration::from_secs(timeout),
            )
        }
        OtsCmd::Stamp {
            file,
            digest,
            calendars,
            min,
            timeout,
            out,
        } => {
            let digest = digest_of(file.as_ref(), digest.as_deref())?;
            let mut cfg = CalendarConfig::or_defaults(calendars);
            if let Some(m) = min {
                cfg.min_ok = m;
            }
            cfg.timeout = Duration::from_secs(timeout);
            runtime()?.block_on(stamp_cmd(cfg, digest, &out))
        }
        OtsCmd::Upgrade {
            file,
            calendars,
            timeout,
        } => {
            let mut cfg = CalendarConfig::or_defaults(calendars);
            cfg.timeout = Duration::from_secs(timeout);
            runtime()?.block_on(upgrade_cmd(cfg, &file))
        }
        OtsCmd::Calendar { listen, public_url } => {
            runtime()?.block_on(serve_calendar(&listen, public_url))
        }
    }
}

fn load(file: &PathBuf) -> anyhow::Result<DetachedTimestamp> {
    let bytes = read_input(file)?;
    DetachedTimestamp::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid .ots proof", file.display()))
}

/// Where `ots verify` gets block headers (at most one of `--headers`, `--esplora`,
/// `--bitcoind`).
enum Headers {
    None,
    File(PathBuf),
    Remote(RemoteHeaders),
}

impl Headers {
    /// How the report names it.
    fn origin(&self) -> HeaderOrigin {
        match self {
            Headers::None => HeaderOrigin::None,
            Headers::File(path) => HeaderOrigin::File(path.clone()),
            Headers::Remote(remote) => HeaderOrigin::Remote(remote.to_string()),
        }
    }
}

fn verify(
    file: &PathBuf,
    data: Option<PathBuf>,
    digest: Option<String>,
    source: &Headers,
    network: Network,
    epochs: Option<&Arc<Epochs>>,
    timeout: Duration,
) -> Outcome {
    let ots = load(file)?;
    let want = wanted_digest(file, &ots, data, digest)?;
    let not_valid = |e| Failure::Check(anyhow::Error::new(e).context("proof is NOT valid"));
    // Wrong data is known before any header is fetched.
    check_digest(&ots, &want).map_err(not_valid)?;
    let headers = load_headers(&ots, source, network, epochs, timeout)?;
    let (verdict, findings) = verify_file(&ots, &want, &headers).map_err(not_valid)?;
    write_stdout(findings_report(&findings, &source.origin(), network).as_bytes())?;
    match verdict {
        Verdict::Verified => Ok(()),
        Verdict::PendingOnly => Err(Failure::Pending(anyhow!(
            "only pending attestations; upgrade the proof later"
        ))),
        Verdict::NotVerified => Err(Failure::Check(anyhow!("no attestation could be verified"))),
    }
}

/// The digest the proof must commit to: `--data` hashed with the proof's own hash op, or
/// `--digest` as given (its length checked against that op).
fn wanted_digest(
    file: &std::path::Path,
    ots: &DetachedTimestamp,
    data: Option<PathBuf>,
    digest: Option<String>,
) -> Result<Vec<u8>, Failure> {
    match (data, digest) {
        (Some(path), _) => Ok(data_digest(ots, &read_input(&path)?)),
        (None, Some(hex)) => digest_from_hex("--digest", ots, &hex).map_err(|e| {
            let context = match e {
                StampError::Hex(_) => "--digest".to_owned(),
                _ => format!("--digest for {}", file.display()),
            };
            Failure::Input(anyhow::Error::new(e).context(context))
        }),
        (None, None) => Err(Failure::Input(anyhow!("pass --data or --digest"))),
    }
}

/// The headers of the proof's Bitcoin heights from `source`; a remote source that cannot
/// answer is a check that could not be done (exit 1), the proof and the data being fine.
fn load_headers(
    ots: &DetachedTimestamp,
    source: &Headers,
    network: Network,
    epochs: Option<&Arc<Epochs>>,
    timeout: Duration,
) -> Result<HeadersFile, Failure> {
    Ok(match source {
        Headers::File(path) => HeadersFile::from_json(&read_input(path)?)
            .with_context(|| format!("{}", path.display()))?
            .on_network(network)
            .with_table(epochs),
        Headers::Remote(remote) => runtime()?
            .block_on(fetch_proof_headers(ots, remote, network, epochs, timeout))
            .map_err(|e| match e {
                // The HTTP client could not be built: not the source's failure.
                StampError::Calendar(_) => Failure::Input(anyhow::Error::new(e)),
                e => Failure::Check(
                    anyhow::Error::new(e).context("could not fetch the block headers"),
                ),
            })?,
        Headers::None => HeadersFile::default().on_network(network),
    })
}

/// A newer mainnet epoch table (`--epochs FILE`), checked against the shipped one; a table
/// that cannot be read or fails the checks is bad input (exit 2).
pub(crate) fn load_epochs(path: &std::path::Path) -> anyhow::Result<Arc<Epochs>> {
    Ok(Arc::new(
        Epochs::mainnet_from_file(path).context("--epochs")?,
    ))
}

fn digest_of(file: Option<&PathBuf>, digest: Option<&str>) -> anyhow::Result<[u8; 32]> {
    match (file, digest) {
        (Some(path), _) => Ok(Sha256::digest(read_input(path)?).into()),
        (None, Some(hex)) => Ok(merkle::Hash::from_hex("--digest", hex.trim())?.0),
        (None, None) => Err(anyhow!("pass --file or --digest")),
    }
}

async fn stamp_cmd(cfg: CalendarConfig, digest: [u8; 32], out: &PathBuf) -> Outcome {
    if out.exists() {
        return Err(Failure::Input(anyhow!(
            "{} exists; refusing to overwrite",
            out.display()
        )));
    }
    let client = http_client(cfg.timeout).map_err(anyhow::Error::new)?;
    let (file, report) = stamp::calendar::stamp(&client, &cfg, digest)
        .await
        .map_err(|e| Failure::Check(anyhow::Error::new(e)))?;
    let mut lines = report.text();
    write_atomically(out, &file.to_bytes().map_err(anyhow::Error::new)?, false)?;
    lines.push_str("wrote ");
    lines.push_str(&out.display().to_string());
    lines.push('\n');
    Ok(write_stdout(lines.as_bytes())?)
}

async fn upgrade_cmd(cfg: CalendarConfig, path: &PathBuf) -> Outcome {
    let mut file = load(path)?;
    let report = stamp::calendar::upgrade_file(&cfg, &mut file)
        .await
        .map_err(anyhow::Error::new)?;
    if report.changed() {
        write_atomically(path, &file.to_bytes().map_err(anyhow::Error::new)?, true)?;
    }
    write_stdout(report.text().as_bytes())?;
    if report.complete {
        Ok(())
    } else if report.any_failed() {
        Err(Failure::Check(anyhow!(
            "not complete, and a calendar failed"
        )))
    } else {
        Err(Failure::Pending(anyhow!("still pending; try again later")))
    }
}

async fn serve_calendar(listen: &str, public_url: Option<String>) -> Outcome {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr().context("local address")?;
    let url = public_url.unwrap_or_else(|| format!("http://{local}"));
    eprintln!(
        "local OpenTimestamps calendar on http://{local} (proofs name {url}; pending until POST /mine mines a block on its regtest chain)"
    );
    stamp::devcal::serve(listener, &url)
        .await
        .context("serving")?;
    Ok(())
}
