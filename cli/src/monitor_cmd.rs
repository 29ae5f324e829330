//! `anchor monitor`: what a tenant runs on a schedule to hold the operator to its receipt log
//! (`proofs::monitor` does the checks; this adapter picks the source, keeps the state file,
//! prints and sets the exit code).
//!
//! Exit codes: 0 the log extends what was verified before and every receipt is logged (the
//! state file now holds the new checkpoint); 1 a finding (rollback, fork, missing or changed
//! receipt, a receipt not in the log, a cut chain) or a checkpoint that does not verify —
//! the state file is left as it was, holding the evidence; 2 bad input (arguments, state
//! file, a key the state does not pin); 3 the tenant has no receipt log yet.
//!
//! The verifier key is pinned in the state on the first run: from `--vkey` (given out of band
//! by the operator, `anchor keys show --key K --log-tenant T`), or else read from the source
//! and announced on stderr as trusted on first use.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use ledger::TenantId;
use ledger::blob::BlobKey;
use ledger::keys::Jwks;
use ledger::note::NoteVerifier;
use proofs::ProofsError;
use proofs::monitor::{MonitorState, Watch, watch};
use proofs::tiles::{DirSource, ObjectSource};

use crate::proof_cmd::HttpBucket;
use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[arg(long)]
    tenant: String,
    /// The monitor's state (created on the first run, replaced after each clean run).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// The API's base URL.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    api: Option<String>,
    /// The tenant's token for `--api` (a private tenant's log needs it).
    #[arg(long, value_name = "TOKEN", requires = "api")]
    token: Option<String>,
    /// A static copy of the bucket: a base URL or a directory.
    #[arg(long, value_name = "URL|DIR")]
    from: Option<String>,
    /// The log's verifier key (`name+id+key`); required to match the state's once pinned.
    #[arg(long, value_name = "VKEY")]
    vkey: Option<String>,
    /// Check each logged receipt's signature against this JWKS (with `--api`, default the
    /// API's `/.well-known/jwks.json`).
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// The tenant's run-summary chain as JSONL (`anchor ledger export`); every logged
    /// receipt's summary must be a line of it. With `--api`, default the API's chain.
    #[arg(long, value_name = "FILE")]
    chain: Option<PathBuf>,
    /// A receipt the tenant was shown elsewhere; it must be in the log. Repeatable.
    #[arg(long = "receipt", value_name = "FILE")]
    receipts: Vec<PathBuf>,
}

/// The API's routes as an object source: `log/{t}/…` is `/anchor/log/{t}/…`, and receipt
/// versions are `/anchor/receipt/{t}/{p}[?version=n]`.
struct ApiSource {
    http: HttpBucket,
    token: Option<String>,
}

impl ApiSource {
    fn url(&self, key: &str) -> Option<String> {
        let base = &self.http.base;
        if let Some(rest) = key.strip_prefix("log/") {
            return Some(format!("{base}/anchor/log/{rest}"));
        }
        let rest = key.strip_prefix("receipts/")?.strip_suffix(".json")?;
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [t, p] => Some(format!("{base}/anchor/receipt/{t}/{p}")),
            [t, p, v] => Some(format!(
                "{base}/anchor/receipt/{t}/{p}?version={}",
                v.strip_prefix('v')?
            )),
            _ => None,
        }
    }

    async fn fetch(&self, url: &str) -> proofs::Result<Option<Vec<u8>>> {
        crate::verify::api_get(
            &self.http.client,
            url,
            self.token.as_deref(),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| ProofsError::Invalid(format!("{e:#}")))
    }
}

impl ObjectSource for ApiSource {
    async fn get(&self, key: &BlobKey) -> proofs::Result<Option<Vec<u8>>> {
        let url = self
            .url(key.as_str())
            .ok_or_else(|| ProofsError::Invalid(format!("the API serves no {key}")))?;
        self.fetch(&url).await
    }
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(anyhow!("{e}"))
}

pub fn run(args: &MonitorArgs) -> Outcome {
    let tenant = TenantId::new(&args.tenant).map_err(input)?;
    let state = match std::fs::read(&args.state) {
        Ok(bytes) => Some(
            MonitorState::from_json(&bytes)
                .map_err(|e| input(format!("{}: {e}", args.state.display())))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(input(format!("{}: {e}", args.state.display()))),
    };
    if let Some(s) = &state
        && s.tenant != tenant.as_str()
    {
        return Err(input(format!(
            "{} is the state of tenant {}, not {tenant}",
            args.state.display(),
            s.tenant
        )));
    }
    let shown = args
        .receipts
        .iter()
        .map(read_input)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let jwks = match &args.jwks {
        Some(path) => Some(Jwks::from_json(&read_input(path)?).map_err(input)?),
        None => None,
    };
    let chain_file = args.chain.as_ref().map(read_input).transpose()?;
    let client = stamp::calendar::http_client(Duration::from_secs(30)).map_err(input)?;
    let given = Given {
        jwks: jwks.as_ref(),
        chain: chain_file.as_deref(),
        shown: &shown,
    };
    crate::ots::runtime()?.block_on(by_source(args, &tenant, state.as_ref(), client, given))
}

/// What the caller passed besides the source.
struct Given<'a> {
    jwks: Option<&'a Jwks>,
    chain: Option<&'a [u8]>,
    shown: &'a [Vec<u8>],
}

/// The run over the source the arguments name; with `--api`, the chain and the JWKS default
/// to the API's.
async fn by_source(
    args: &MonitorArgs,
    tenant: &TenantId,
    state: Option<&MonitorState>,
    client: reqwest::Client,
    given: Given<'_>,
) -> Outcome {
    match (&args.api, &args.from) {
        (Some(api), _) => {
            let source = ApiSource {
                http: HttpBucket {
                    base: api.trim_end_matches('/').to_owned(),
                    client,
                },
                token: args.token.clone(),
            };
            let base = &source.http.base;
            let chain = match given.chain {
                Some(c) => Some(c.to_vec()),
                None => source
                    .fetch(&format!("{base}/anchor/chain/{tenant}"))
                    .await
                    .map_err(check)?,
            };
            let jwks = match given.jwks {
                Some(j) => Some(j.clone()),
                None => source
                    .fetch(&format!("{base}/.well-known/jwks.json"))
                    .await
                    .map_err(check)?
                    .map(|b| Jwks::from_json(&b))
                    .transpose()
                    .map_err(|e| Failure::Check(anyhow!("the API's JWKS: {e}")))?,
            };
            let extra = Extra {
                jwks: jwks.as_ref(),
                chain: chain.as_deref(),
                shown: given.shown,
            };
            monitor(&source, args, tenant, state, extra).await
        }
        (None, Some(from)) if from.starts_with("http://") || from.starts_with("https://") => {
            let source = HttpBucket {
                base: from.trim_end_matches('/').to_owned(),
                client,
            };
            let extra = Extra {
                jwks: given.jwks,
                chain: given.chain,
                shown: given.shown,
            };
            monitor(&source, args, tenant, state, extra).await
        }
        (None, Some(dir)) => {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(input(format!(
                    "--from {}: not a URL and not a directory",
                    dir.display()
                )));
            }
            let extra = Extra {
                jwks: given.jwks,
                chain: given.chain,
                shown: given.shown,
            };
            monitor(&DirSource(dir), args, tenant, state, extra).await
        }
        (None, None) => Err(input("pass --api or --from")),
    }
}

/// What the source gave besides the log, or the caller passed.
struct Extra<'a> {
    jwks: Option<&'a Jwks>,
    chain: Option<&'a [u8]>,
    shown: &'a [Vec<u8>],
}

fn check(e: ProofsError) -> Failure {
    match e {
        ProofsError::NotFound(m) => Failure::Pending(anyhow!("{m}")),
        e => Failure::Check(anyhow!("{e}")),
    }
}

async fn monitor<S: ObjectSource>(
    source: &S,
    args: &MonitorArgs,
    tenant: &TenantId,
    state: Option<&MonitorState>,
    extra: Extra<'_>,
) -> Outcome {
    let verifier = pinned_key(source, args, tenant, state).await?;
    let watched = watch(
        source,
        &Watch {
            tenant,
            verifier: &verifier,
            state,
            jwks: extra.jwks,
            chain: extra.chain,
            shown: extra.shown,
        },
    )
    .await
    .map_err(check)?;
    let cp = &watched.checkpoint;
    let summary = format!(
        "{tenant}: checkpoint size {} root {} ({} new entries, {} receipts checked{}{})\n",
        cp.size,
        cp.root.to_hex(),
        watched.new_entries,
        watched.receipts_checked,
        if extra.chain.is_some() {
            ", chain checked"
        } else {
            ""
        },
        if extra.jwks.is_some() {
            ", signatures checked"
        } else {
            ""
        },
    );
    if !watched.findings.is_empty() {
        let list = watched.findings.join("\n  ");
        return Err(Failure::Check(anyhow!(
            "{}the receipt log is NOT as it must be ({} finding(s); the state file keeps the \
             last good checkpoint):\n  {list}",
            summary,
            watched.findings.len()
        )));
    }
    crate::edge::write_atomically(&args.state, watched.state.to_json_pretty().as_bytes(), true)
        .map_err(Failure::Input)?;
    Ok(write_stdout(summary.as_bytes())?)
}

/// The verifier key: the state's (a different `--vkey` is bad input), `--vkey`, or the
/// source's, trusted on first use.
async fn pinned_key<S: ObjectSource>(
    source: &S,
    args: &MonitorArgs,
    tenant: &TenantId,
    state: Option<&MonitorState>,
) -> Result<NoteVerifier, Failure> {
    let given = args
        .vkey
        .as_deref()
        .map(NoteVerifier::parse)
        .transpose()
        .map_err(input)?;
    if let Some(s) = state {
        let pinned = NoteVerifier::parse(&s.vkey).map_err(input)?;
        if given.as_ref().is_some_and(|g| *g != pinned) {
            return Err(input(format!(
                "--vkey is not the key {} pins ({pinned}); a new log key needs a new state file",
                args.state.display()
            )));
        }
        return Ok(pinned);
    }
    if let Some(g) = given {
        return Ok(g);
    }
    let key = BlobKey::log_vkey(tenant);
    let bytes = source
        .get(&key)
        .await
        .map_err(check)?
        .ok_or_else(|| Failure::Pending(anyhow!("{key}: {tenant} has no receipt log yet")))?;
    let text = String::from_utf8_lossy(&bytes);
    let vkey = NoteVerifier::parse(text.trim_end()).map_err(|e| Failure::Check(anyhow!("{e}")))?;
    eprintln!("anchor monitor: pinned the log key {vkey} on first use (pass --vkey to check it)");
    Ok(vkey)
}
