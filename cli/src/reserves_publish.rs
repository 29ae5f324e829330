//! `anchor reserves publish`: the operator's publication of a reserve attestation
//! (reserves/README.md, "Binding to anchoring: the flow"), in two phases with one command.
//! The workflow and its rules are `reserves::publish`; this adapter parses the arguments,
//! prints what the workflow did, appends the audit log and sets the exit code.
//!
//! Every run computes the balances document from the registry and the latest snapshots at
//! `--period-end`, the operator's liabilities and the period's minimum ratio, and runs seed
//! 001's checks (±1 bps for a submitted `--ratio-bps`, then I3). Then:
//!
//! 1. **Not yet anchored** (the balance digest is in no anchored tree of the tenant
//!    `LEDGER_RESERVES_TENANT`): the digest is submitted as a manifest of that tenant and the
//!    command exits 3 (pending) saying which `anchor run --tenant T --period P` anchors it.
//! 2. **Anchored**: the same command again (same period, liabilities and ratios; the
//!    snapshots observed up to `--period-end` are what they were, so the digest is the same)
//!    finds the newest run summary whose tree holds the digest, derives the inclusion proof
//!    with `proofs::PeriodProofs`, refuses a summary older than
//!    `LEDGER_RESERVES_MAX_SUMMARY_AGE`, signs with the operator's key, stores the attestation
//!    `pending` with one outbox row per `LEDGER_RESERVES_WEBHOOKS` URL, runs one delivery cycle
//!    and prints the attestation id (and writes the served JSON to `--out`). Running it a third
//!    time finds the attestation already stored for that digest and prints its id again: a
//!    retry never publishes twice.
//!
//! `--dry-run` prints the computation (per-asset eligible amounts, missing, stale, totals,
//! ratio, fully backed) and the result of the checks, and stores and submits nothing.
//!
//! **Audit log.** Every invocation appends one JSON line to `--audit-log` (default
//! `{LEDGER_DATA_DIR}/reserves-audit.jsonl`): `at`, `operator` (`--operator`, else `$USER`),
//! `action` (`dry-run`, `submitted`, `published`, `already-published`, `refused`), the
//! parameters (period, liabilities, ratios), the balance digest, the attestation id and
//! status when there is one, and the error when refused. The file is only ever appended to.
//!
//! Exit codes: 0 published (or dry run with passing checks); 3 digest submitted, waiting for
//! anchoring; 1 a check failed (I3, ratio mismatch, stale summary, binding) or the store
//! failed; 2 bad input.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use chrono::Utc;
use clap::Args;
use ledger::config::Config;
use merkle::ManifestDigest;
use reserves::attestation::AttestedPeriod;
use reserves::compute::{Claims, Liabilities};
use reserves::config::ReservesConfig;
use reserves::publish::{Request, Step, Stores};
use reserves::sql::ReserveStore;
use reserves::types::{Amount, AttestationId, Label};
use serde_json::{Value, json};

use crate::ledger_cmd::ConfigArg;
use crate::reserves_exit::classify;
use crate::{Failure, Outcome, read_input};

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// Start of the attested period (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub period_start: String,
    /// End of the attested period: the instant the reserves are computed at (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub period_end: String,
    /// Liabilities as JSON `{"total": "N", "by_bucket": {"NAME": "N", …}}` (`-` for stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["liabilities_total", "bucket"])]
    pub liabilities: Option<PathBuf>,
    /// Total liabilities (an integer, in the reserves' unit).
    #[arg(long, value_name = "N")]
    pub liabilities_total: Option<String>,
    /// A liability bucket `NAME=N` (repeatable; the buckets must add up to the total).
    #[arg(long, value_name = "NAME=N")]
    pub bucket: Vec<String>,
    /// The minimum coverage ratio observed during the period, in basis points (seed 001's
    /// `min_reserve_ratio_bps`; I3: ≥ 10000).
    #[arg(long, value_name = "BPS")]
    pub min_ratio_bps: u64,
    /// The ratio the operator expects; refused unless within ±1 bps of the computed one.
    #[arg(long, value_name = "BPS")]
    pub ratio_bps: Option<u64>,
    /// Print the computation and the checks; store and submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Who publishes, for the audit log (default `$USER`).
    #[arg(long)]
    pub operator: Option<String>,
    /// The audit log (JSON lines, appended; default `{LEDGER_DATA_DIR}/reserves-audit.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Also write the served attestation here once published.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

fn parse_request(args: &PublishArgs) -> anyhow::Result<Request> {
    let ts = |what: &str, s: &str| {
        ledger::ids::parse_ts(s).with_context(|| format!("--{what} {s:?} is not an RFC 3339 time"))
    };
    let period = AttestedPeriod::new(
        ts("period-start", &args.period_start)?,
        ts("period-end", &args.period_end)?,
    )?;
    let liabilities = match (&args.liabilities, &args.liabilities_total) {
        (Some(file), None) => serde_json::from_slice(&read_input(file)?).with_context(|| {
            format!(
                "{} is not {{\"total\": \"N\", \"by_bucket\": {{…}}}} with integer strings",
                file.display()
            )
        })?,
        (None, Some(total)) => {
            let mut by_bucket = std::collections::BTreeMap::new();
            for b in &args.bucket {
                let (name, n) = b
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--bucket {b:?} is not NAME=N"))?;
                if by_bucket
                    .insert(Label::new(name)?, n.parse::<Amount>()?)
                    .is_some()
                {
                    return Err(anyhow!("--bucket {name} is given twice"));
                }
            }
            Liabilities {
                total: total.parse()?,
                by_bucket,
            }
        }
        _ => return Err(anyhow!("give --liabilities FILE or --liabilities-total N")),
    };
    liabilities.check()?;
    Ok(Request {
        period,
        liabilities,
        claims: Claims {
            reserve_ratio_bps: args.ratio_bps.map(u128::from),
            min_reserve_ratio_bps: u128::from(args.min_ratio_bps),
        },
    })
}

/// What one invocation did, for stdout and the audit log.
struct Done {
    action: &'static str,
    digest: Option<ManifestDigest>,
    attestation: Option<(AttestationId, String)>,
    pending: Option<String>,
}

pub fn publish(args: &PublishArgs) -> Outcome {
    let req = parse_request(args).map_err(Failure::Input)?;
    let config = args.config.load().map_err(Failure::Input)?;
    let audit = args
        .audit_log
        .clone()
        .unwrap_or_else(|| config.data_dir.join("reserves-audit.jsonl"));
    let operator = args
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let rt = crate::ots::runtime().map_err(Failure::Check)?;
    let result = rt.block_on(run(args, &req, &config));
    let mut entry = json!({
        "at": ledger::ids::format_ts(Utc::now()),
        "operator": operator,
        "period": req.period,
        "liabilities": req.liabilities,
        "min_reserve_ratio_bps": req.claims.min_reserve_ratio_bps.to_string(),
        "reserve_ratio_bps": req.claims.reserve_ratio_bps.map(|r| r.to_string()),
        "dry_run": args.dry_run,
    });
    match &result {
        Ok(done) => {
            entry["action"] = json!(done.action);
            entry["balance_digest"] = json!(done.digest.map(|d| d.to_hex()));
            if let Some((id, status)) = &done.attestation {
                entry["attestation_id"] = json!(id);
                entry["status"] = json!(status);
            }
            if let Some(p) = &done.pending {
                entry["anchoring"] = json!(p);
            }
        }
        Err(e) => {
            entry["action"] = json!("refused");
            entry["error"] = json!(format!("{e:#}"));
        }
    }
    append_audit(&audit, &entry).map_err(Failure::Check)?;
    let done = result.map_err(classify)?;
    match done.pending {
        Some(msg) => Err(Failure::Pending(anyhow!(msg))),
        None => Ok(()),
    }
}

fn append_audit(path: &PathBuf, entry: &Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    f.write_all(format!("{entry}\n").as_bytes())
        .and_then(|()| f.sync_data())
        .with_context(|| format!("appending to the audit log {}", path.display()))
}

async fn run(args: &PublishArgs, req: &Request, config: &Config) -> anyhow::Result<Done> {
    let rc = ReservesConfig::from_config(config)?;
    crate::ledger_cmd::ensure_sqlite_dir(config)?;
    // As every role: exit 4 naming host:port when unreachable, refused when unmigrated.
    config.open_store().await?.close().await;
    let rstore = ReserveStore::connect(&config.database_url).await?;
    let out = run_with(args, req, config, &rc, &rstore).await;
    rstore.close().await;
    out
}

/// One publication through `reserves::publish`, printed.
async fn run_with(
    args: &PublishArgs,
    req: &Request,
    config: &Config,
    rc: &ReservesConfig,
    rstore: &ReserveStore,
) -> anyhow::Result<Done> {
    let backends = config.open().await?;
    let policy = scheduler::policy::Policy::from_vars(|n| config.var(n).map(str::to_owned))?;
    let stores = Stores {
        store: &backends.store,
        blobs: &backends.blobs,
        reserves: rstore,
        config: rc,
        policy: &policy,
    };
    let signing_key =
        || workers::ctx::signing_key(config, config.is_embedded()).map_err(|e| e.to_string());
    let step =
        reserves::publish::publish(&stores, req, args.dry_run, signing_key, Utc::now()).await?;
    print_step(args, req, step)
}

/// `--dry-run`: the computation and the checks as JSON; the checks' failure is the error.
fn print_dry_run(
    req: &Request,
    computation: &reserves::compute::Computation,
    checked: Result<reserves::attestation::Balances, reserves::ReserveError>,
) -> anyhow::Result<Done> {
    let report = json!({
        "dry_run": true,
        "computation": computation,
        "min_reserve_ratio_bps": req.claims.min_reserve_ratio_bps.to_string(),
        "checks": checked.as_ref().map_or_else(ToString::to_string, |_| "ok".into()),
        "balance_digest": checked.as_ref().ok().map(|b| b.digest().to_hex()),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let balances = checked?;
    Ok(Done {
        action: "dry-run",
        digest: Some(balances.digest()),
        attestation: None,
        pending: None,
    })
}

/// Phase 1: the digest was submitted; says which runs anchor it (exit 3 follows).
fn print_submitted(
    digest: ManifestDigest,
    tenant: &ledger::TenantId,
    periods: &[ledger::ids::Period],
) -> Done {
    let runs: Vec<String> = periods
        .iter()
        .map(|p| format!("`anchor run --tenant {tenant} --period {p}`"))
        .collect();
    let periods: Vec<String> = periods.iter().map(ToString::to_string).collect();
    let msg = format!(
        "balance digest {} submitted to tenant {tenant} (period {}); waiting for anchoring: \
         run {} (or let the scheduler close the period), then run this publish command again",
        digest.to_hex(),
        periods.join(", "),
        runs.join(" or ")
    );
    println!("{msg}");
    Done {
        action: "submitted",
        digest: Some(digest),
        attestation: None,
        pending: Some(msg),
    }
}

/// Prints what the publication did (stdout; delivery failures on stderr) and writes `--out`.
fn print_step(args: &PublishArgs, req: &Request, step: Step) -> anyhow::Result<Done> {
    match step {
        Step::DryRun {
            computation,
            checked,
        } => print_dry_run(req, &computation, *checked),
        Step::AlreadyPublished { digest, id, status } => {
            println!(
                "attestation {id} already published for balance digest {} (status {status:?})",
                digest.to_hex(),
            );
            Ok(Done {
                action: "already-published",
                digest: Some(digest),
                attestation: Some((id, status)),
                pending: None,
            })
        }
        Step::Submitted {
            digest,
            tenant,
            periods,
        } => Ok(print_submitted(digest, &tenant, &periods)),
        Step::Published {
            digest,
            tenant,
            signed,
            status,
            delivery_errors,
        } => {
            for e in &delivery_errors {
                eprintln!("anchor: delivery failed (retried by `anchor reserves deliver`): {e}");
            }
            if let Some(out) = &args.out {
                crate::ots::write_atomically(out, signed.served_json.as_bytes(), false)?;
            }
            println!(
                "attestation {} published ({status}): coverage {} bps, balance digest {} anchored by {}",
                signed.id(),
                signed
                    .served
                    .payload
                    .attestation
                    .balances
                    .computation
                    .coverage_ratio_bps,
                digest.to_hex(),
                tenant
            );
            Ok(Done {
                action: "published",
                digest: Some(digest),
                attestation: Some((signed.id().clone(), status)),
                pending: None,
            })
        }
    }
}
