//! `anchor verify receipt` and `anchor verify bundle`: a tenant's independent check of an
//! anchor, from nothing but downloaded files (or the public API) and, for the trust anchors,
//! the TSA's CA certificate and a Bitcoin header source.
//!
//! The checks are pure functions over bytes in the `verifier` crate (`verifier::receipt`,
//! `verifier::bundle`); this module reads the files, fetches from `--api` and the header
//! source, and prints one line per check (`verifier::report`): `✓ name: detail`, `✗ name:
//! reason`, `pending name: reason`. Exit 0 when
//! every check verified, 1 when one failed, 3 when none failed but one is pending, 2 for bad
//! input (an unreadable or malformed file, a missing artifact, bad flags).
//!
//! # Where `verify receipt` reads the artifacts
//!
//! `--artifacts DIR` is a flat directory of what a tenant downloads for one period:
//!
//! | file          | what it is | from the API |
//! |---------------|------------|--------------|
//! | `root.bin`    | the 32 root bytes | `GET /anchor/artifact/{tenant}/{period}/root.bin` |
//! | `root.ots`    | the root `.ots` the receipt names (`root.v{n}.ots` after an upgrade, saved as `root.ots`); needed when the receipt has a stored OTS anchor | `GET /anchor/artifact/{tenant}/{period}/root.ots` |
//! | `root.tsr`    | the RFC 3161 response; needed when the receipt has a stored TSA anchor | `GET /anchor/artifact/{tenant}/{period}/root.tsr` |
//! | `jwks.json`   | the operator's public keys | `GET /.well-known/jwks.json` |
//! | `chain.jsonl` | the tenant's run-summary chain | `GET /anchor/chain/{tenant}` (or `anchor ledger export`) |
//!
//! Without `--artifacts` or `--api`, the receipt's own directory is that directory. `--api
//! URL` fetches the same files from the API instead (`--token` for a private tenant).
//! `--jwks FILE` and `--chain FILE` override where those two come from. Nothing else is
//! read: no data directory, no database, no configuration.

mod proof;

pub use proof::verify_proof;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use ledger::formats::Receipt;
use ledger::{Period, TenantId};
use proofs::Bundle;
use stamp::DetachedTimestamp;
use stamp::headers::{RemoteHeaders, fetch_headers_against, fetch_headers_on, fetch_tip_height};
use stamp::tsp::VerifyOptions;

use crate::{Failure, Outcome, read_input, write_stdout};
use verifier::input::{self, Downloads};
use verifier::receipt::Latest;
use verifier::report::{self, Check, Verdict};
use verifier::{HeaderInput, bundle, receipt};

/// The trust anchors: the TSA's CA and a Bitcoin header source.
#[derive(Args, Debug)]
pub struct TrustArgs {
    /// PEM CA certificate(s) the TSA's certificate must chain to (at genTime).
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
    /// Bitcoin block headers from a file: JSON `{"height": "80-byte header hex"}`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["esplora", "bitcoind"])]
    pub headers: Option<PathBuf>,
    /// Verify on a local regtest chain (local demos only: regtest work proves nothing about
    /// time): headers from any source are held to regtest's proof-of-work floor, and a
    /// receipt must name the regtest network. Without it, receipts must name Bitcoin's main
    /// network and headers meet their height's real difficulty.
    #[arg(long)]
    pub regtest: bool,
    /// Bitcoin block headers from an Esplora API, e.g. `https://blockstream.info/api`.
    #[arg(long, value_name = "URL", conflicts_with = "bitcoind")]
    pub esplora: Option<String>,
    /// Bitcoin block headers from bitcoind's JSON-RPC, `http://user:pass@host:8332`.
    #[arg(long, value_name = "URL")]
    pub bitcoind: Option<String>,
    /// Per-request timeout for `--api`, `--esplora` and `--bitcoind`, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// A newer Bitcoin mainnet epoch table (the format of stamp/data/mainnet-epochs.txt),
    /// used instead of the shipped one when it agrees with it and keeps to the 4x clamp (else
    /// exit 2, naming the first bad epoch).
    #[arg(long, value_name = "FILE", conflicts_with = "regtest")]
    pub epochs: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The receipt (`c2c.receipt.v1`, exactly as downloaded).
    #[arg(value_name = "RECEIPT.json")]
    pub receipt: PathBuf,
    /// The flat directory of downloaded artifacts (default: the receipt's directory).
    #[arg(long, value_name = "DIR", conflicts_with = "api")]
    pub artifacts: Option<PathBuf>,
    /// Fetch the artifacts from this API base URL instead, e.g. `https://anchors.example`.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Bearer token for `--api` (a private tenant's own token).
    #[arg(long, value_name = "TOKEN", requires = "api")]
    pub token: Option<String>,
    /// The JWKS to check signatures with (overrides `jwks.json` of the artifacts).
    #[arg(long, value_name = "keys.json")]
    pub jwks: Option<PathBuf>,
    /// The tenant's run-summary chain (overrides `chain.jsonl` of the artifacts).
    #[arg(long, value_name = "CHAIN.jsonl")]
    pub chain: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Args, Debug)]
pub struct BundleArgs {
    /// The `c2c.bundle.v1` file (`anchor bundle`, `GET /anchor/bundle/…`).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// How many times `--api` is asked again after `429 Too Many Requests`.
const MAX_RETRIES: u32 = 4;
/// The longest `Retry-After` `--api` waits out; a longer one fails at once, naming it.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// `GET url` from `--api`: the body, `None` on 404. A `429 Too Many Requests` is waited out
/// and asked again, at most [`MAX_RETRIES`] times: the wait is its `Retry-After` in seconds
/// (RFC 9110 §10.2.3; an HTTP-date or a missing header counts as 1 s), and a wait longer than
/// `max_wait` fails at once. Decision: a verifier run by hand or in a tenant's CI should ride
/// out a rate limit it shares with other tenants, but never sleep for minutes unasked.
pub(crate) async fn api_get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    max_wait: Duration,
) -> anyhow::Result<Option<Vec<u8>>> {
    let mut tries = 0;
    loop {
        let mut request = client.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            if tries >= MAX_RETRIES {
                return Err(anyhow!(
                    "GET {url}: HTTP 429 Too Many Requests, still after {MAX_RETRIES} retries"
                ));
            }
            if wait > max_wait {
                return Err(anyhow!(
                    "GET {url}: HTTP 429 Too Many Requests with Retry-After {} s, longer than \
                     the {} s this verifier waits",
                    wait.as_secs(),
                    max_wait.as_secs()
                ));
            }
            tries += 1;
            tokio::time::sleep(wait).await;
            continue;
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(anyhow!("GET {url}: HTTP {status}"));
        }
        let body = response
            .bytes()
            .await
            .with_context(|| format!("GET {url}"))?;
        return Ok(Some(body.to_vec()));
    }
}

/// Where the artifacts of a receipt come from.
enum Source {
    Dir(PathBuf),
    Api {
        base: String,
        client: reqwest::Client,
        token: Option<String>,
        tenant: TenantId,
        period: Period,
    },
}

impl Source {
    fn describe(&self, name: &str) -> String {
        match self {
            Source::Dir(dir) => dir.join(name).display().to_string(),
            Source::Api { .. } => self.url(name),
        }
    }

    fn url(&self, name: &str) -> String {
        let Source::Api {
            base,
            tenant,
            period,
            ..
        } = self
        else {
            unreachable!("only --api has URLs")
        };
        match name {
            "jwks.json" => format!("{base}/.well-known/jwks.json"),
            "receipt.json" => format!("{base}/anchor/receipt/{tenant}/{period}"),
            "chain.jsonl" => format!("{base}/anchor/chain/{tenant}"),
            artifact => format!("{base}/anchor/artifact/{tenant}/{period}/{artifact}"),
        }
    }

    /// The bytes of `name`, or `None` when the directory or the API does not have it.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(name);
                if !path.exists() {
                    return Ok(None);
                }
                Ok(Some(read_input(&path)?))
            }
            Source::Api { client, token, .. } => {
                let url = self.url(name);
                let bytes = crate::ots::runtime()?.block_on(api_get(
                    client,
                    &url,
                    token.as_deref(),
                    MAX_RETRY_WAIT,
                ))?;
                Ok(bytes)
            }
        }
    }
}

/// `--ca`: PEM (as openssl reads it) or one DER certificate (`verifier::input::tsa_options`).
fn tsa_options(trust: &TrustArgs) -> anyhow::Result<VerifyOptions> {
    let ca = trust
        .ca
        .as_deref()
        .map(|path| std::fs::read(path).with_context(|| format!("reading {}", path.display())))
        .transpose()?;
    input::tsa_options(ca.as_deref()).map_err(|e| {
        let path = trust.ca.as_deref().unwrap_or(Path::new("--ca"));
        anyhow!("{}: {e}", path.display())
    })
}

/// The header source of the flags; remote ones are asked for exactly the heights the `.ots`
/// files name.
fn header_input(trust: &TrustArgs, ots: &[Option<&[u8]>]) -> Result<HeaderInput, Failure> {
    let epochs = trust
        .epochs
        .as_deref()
        .map(crate::ots::load_epochs)
        .transpose()?;
    let network = input::network(trust.regtest);
    if let Some(path) = &trust.headers {
        let name = path.display().to_string();
        return input::headers_file(&read_input(path)?, &name, network, epochs.as_ref())
            .map_err(|e| Failure::Input(anyhow!("{name} is {e}")));
    }
    let remote = match (&trust.esplora, &trust.bitcoind) {
        (Some(url), _) => RemoteHeaders::esplora(url).map_err(|e| anyhow!("--esplora: {e}"))?,
        (None, Some(url)) => {
            RemoteHeaders::bitcoind(url).map_err(|e| anyhow!("--bitcoind: {e}"))?
        }
        (None, None) => return Ok(HeaderInput::None(network)),
    };
    let heights: std::collections::BTreeSet<u64> = ots
        .iter()
        .flatten()
        .filter_map(|b| DetachedTimestamp::from_bytes(b).ok())
        .flat_map(|f| f.timestamp.bitcoin_heights())
        .collect();
    let timeout = Duration::from_secs(trust.timeout);
    let client = stamp::calendar::http_client(timeout).map_err(anyhow::Error::new)?;
    let (fetched, tip) = crate::ots::runtime()?.block_on(async {
        let fetched = match epochs {
            Some(e) => fetch_headers_against(&client, &remote, heights, timeout, e).await,
            None => fetch_headers_on(&client, &remote, heights, timeout, network).await,
        };
        // Depth is reported, not relied on: a source that cannot say leaves it out.
        let tip = fetch_tip_height(&client, &remote, timeout).await.ok();
        (fetched, tip)
    });
    Ok(match fetched {
        Ok(headers) => HeaderInput::Source {
            headers,
            name: remote.to_string(),
            tip,
        },
        Err(e) => HeaderInput::Unreachable(e.to_string(), network),
    })
}

fn finish(report: &report::Report) -> Outcome {
    write_stdout(report.lines().as_bytes())?;
    outcome(report.verdict())
}

/// The exit code of a verdict: 2 when an artifact was malformed (or nothing was checked), 1
/// when a check failed, 3 when one is pending, else 0; the verdict's words are the message.
pub fn outcome(verdict: Verdict) -> Outcome {
    let said = anyhow!("{verdict}");
    match verdict {
        Verdict::Verified => Ok(()),
        Verdict::Malformed(_) | Verdict::NothingChecked => Err(Failure::Input(said)),
        Verdict::Failed(_) => Err(Failure::Check(said)),
        Verdict::Pending(_) => Err(Failure::Pending(said)),
    }
}

pub fn receipt(args: &ReceiptArgs) -> Outcome {
    let bytes = read_input(&args.receipt)?;
    let receipt = Receipt::from_json(&bytes).with_context(|| {
        format!(
            "{} is not a well-formed c2c.receipt.v1",
            args.receipt.display()
        )
    })?;
    let source = match (&args.api, &args.artifacts) {
        (Some(url), _) => Source::Api {
            base: url.trim_end_matches('/').to_owned(),
            client: stamp::calendar::http_client(Duration::from_secs(args.trust.timeout))
                .map_err(anyhow::Error::new)?,
            token: args.token.clone(),
            tenant: receipt.tenant.clone(),
            period: receipt.period,
        },
        (None, Some(dir)) => Source::Dir(dir.clone()),
        (None, None) => Source::Dir(crate::ots::dir_of(&args.receipt).to_path_buf()),
    };
    // The files `verifier::input::receipt_needs` lists, from the source, `--jwks` and `--chain`.
    let files = Downloads::gather(&receipt, |needed| {
        match (needed.name, &args.jwks, &args.chain) {
            ("jwks.json", Some(path), _) | ("chain.jsonl", _, Some(path)) => Ok(read_input(path)?),
            (name, ..) => source.get(name)?.ok_or_else(|| {
                Failure::Input(anyhow::Error::new(needed.missing(&source.describe(name))))
            }),
        }
    })?;
    let tsa = tsa_options(&args.trust)?;
    let headers = header_input(&args.trust, &[files.root_ots.as_deref()])?;
    let mut report = files
        .check(&receipt, &tsa, &headers)
        .map_err(|e| Failure::Input(anyhow::Error::new(e)))?;
    report.push(version_note(&receipt, &source));
    finish(&report)
}

/// Which receipt version was checked, and whether a newer one supersedes it: asked of `--api`
/// (its latest receipt of the period); offline only the version is known.
fn version_note(receipt: &Receipt, source: &Source) -> Check {
    let latest = match source {
        Source::Dir(_) => Latest::Offline,
        Source::Api { .. } => Latest::AtApi(
            source
                .get("receipt.json")
                .ok()
                .flatten()
                .and_then(|b| Receipt::from_json(&b).ok())
                .map(|l| l.version),
        ),
    };
    receipt::version_note(receipt, latest)
}

pub fn bundle(args: &BundleArgs) -> Outcome {
    let bytes = read_input(&args.bundle)?;
    let bundle = Bundle::from_json(&bytes)
        .with_context(|| format!("{} is not a usable bundle", args.bundle.display()))?;
    let tsa = tsa_options(&args.trust)?;
    let headers = header_input(
        &args.trust,
        &[bundle.root_ots.as_deref(), bundle.manifest_ots.as_deref()],
    )?;
    finish(&bundle::check(&bundle, &tsa, &headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn client() -> reqwest::Client {
        stamp::calendar::http_client(Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn a_429_with_retry_after_is_waited_out_and_asked_again() {
        let server = MockServer::start().await;
        Mock::given(path("/a"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(path("/a"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let started = std::time::Instant::now();
        let got = api_get(
            &client(),
            &format!("{}/a", server.uri()),
            None,
            MAX_RETRY_WAIT,
        )
        .await
        .unwrap();
        assert_eq!(got.as_deref(), Some(b"ok".as_slice()));
        assert!(started.elapsed() >= Duration::from_secs(2), "waited twice");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_429_that_never_ends_or_asks_too_long_a_wait_fails_naming_it() {
        let server = MockServer::start().await;
        Mock::given(path("/long"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
            .mount(&server)
            .await;
        let err = api_get(
            &client(),
            &format!("{}/long", server.uri()),
            None,
            MAX_RETRY_WAIT,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("Retry-After 3600 s"), "{err}");
        Mock::given(path("/always"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .mount(&server)
            .await;
        let err = api_get(
            &client(),
            &format!("{}/always", server.uri()),
            None,
            MAX_RETRY_WAIT,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("after 4 retries"), "{err}");
        let asked = server.received_requests().await.unwrap();
        assert_eq!(
            asked.iter().filter(|r| r.url.path() == "/always").count(),
            1 + MAX_RETRIES as usize
        );
    }
}
