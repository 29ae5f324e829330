//! The fleet roles and the demo: `anchor up | scheduler | worker | run | demo`. The roles
//! themselves are the `fleet` crate; this module parses their arguments, prints what they
//! return and gives each failure its exit code.
//!
//! - `api [--addr HOST:PORT]`: the HTTP API (anchor-api) on the configuration; it never
//!   signs or stamps, so it needs no signing key. Stops on Ctrl-C or SIGTERM after requests in flight.
//! - `up`: scheduler, workers and the API in one process on the configuration (embedded defaults:
//!   SQLite store, SQLite queue, a local directory). With no `LEDGER_TSA_URL` and no
//!   `LEDGER_OTS_CALENDARS` configured it starts the dev TSA and two dev calendars in-process
//!   and says so: receipts then name those local services, honestly.
//! - `scheduler`, `worker [--concurrency N]`: the fleet's roles, sharing Postgres, Redis and
//!   S3 through the configuration; any number of workers.
//! - `run --tenant T --period P`: one rollup now, in this process.
//! - `demo`: a fresh data directory, the dev TSA and calendars, one tenant per plan, sample
//!   manifests over past periods, every due rollup through the real scheduler and workers;
//!   then one block mined on each dev calendar (a local regtest chain, whose headers go to
//!   `DATA/dev-headers.json`) and the workers' upgrade job run at once for every run whose
//!   OTS anchor is pending, so every OTS anchor ends confirmed in a regtest block; then every
//!   receipt and a sample of proofs verified (each Bitcoin attestation against
//!   `dev-headers.json` on regtest, each `.tsr` by `openssl ts -verify` when openssl is
//!   installed), and a table of the runs.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use fleet::roles::{QueueView, Up};
use fleet::rollup::{RollupNow, Unfinished};
use ledger::{Period, TenantId};

use crate::ledger_cmd::ConfigArg;
use crate::{Failure, Outcome};

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Data directory for the embedded defaults (overrides `LEDGER_DATA_DIR`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Concurrent jobs in this process.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Where the API listens (overrides `LEDGER_API_ADDR`; default 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub api_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Listen address (overrides `LEDGER_API_ADDR`; default 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Concurrent jobs in this process.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Serve Prometheus metrics at `http://HOST:PORT/metrics` (port 0: any free port, named
    /// on stderr).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Serve Prometheus metrics at `http://HOST:PORT/metrics` (port 0: any free port, named
    /// on stderr).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[arg(long)]
    pub tenant: String,
    /// `2026-11-22`, `2026-W47` or `2026-11` (its form gives the cadence).
    #[arg(long)]
    pub period: String,
    /// `daily`, `weekly` or `monthly`: optional, and refused when the period's form says
    /// otherwise (a period has exactly one cadence).
    #[arg(long)]
    pub cadence: Option<ledger::Cadence>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// A new directory for the demo's data (refused if it exists and is not empty).
    #[arg(long, value_name = "DIR", default_value = "anchor-demo")]
    pub data: PathBuf,
    /// Sample manifests per tenant.
    #[arg(long, default_value_t = 1000)]
    pub manifests: u32,
}

/// `anchor queue …`.
#[derive(clap::Subcommand, Debug)]
pub enum QueueCmd {
    /// Jobs by state (pending, scheduled, running, done, dead, dead letters) as JSON.
    Status {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Jobs that could not be done in this fleet, with the reason, as JSON lines.
    DeadLetters {
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn up(args: &UpArgs) -> Outcome {
    let up = Up {
        config_file: args.config.config.clone(),
        data: args.data.clone(),
        concurrency: args.concurrency,
        api_addr: args.api_addr,
    };
    Ok(crate::ots::runtime()?.block_on(fleet::roles::up(&up))?)
}

pub fn api(args: &ApiArgs) -> Outcome {
    let config = args.config.load()?;
    Ok(crate::ots::runtime()?.block_on(fleet::roles::api(&config, args.addr))?)
}

/// `anchor migrate`: the schema of the SQL store (and the reserves tables) at this build's
/// version. Prints `{"schema_version","fleet","queue"}`.
pub fn migrate(config: &ConfigArg) -> Outcome {
    let config = config.load()?;
    let line = crate::ots::runtime()?.block_on(fleet::roles::migrate(&config))?;
    Ok(crate::write_stdout(format!("{line}\n").as_bytes())?)
}

pub fn queue(cmd: &QueueCmd) -> Outcome {
    let (view, config) = match cmd {
        QueueCmd::Status { config } => (QueueView::Status, config),
        QueueCmd::DeadLetters { config } => (QueueView::DeadLetters, config),
    };
    let config = config.load()?;
    let out = crate::ots::runtime()?.block_on(fleet::roles::queue(&config, view))?;
    Ok(crate::write_stdout(out.as_bytes())?)
}

pub fn scheduler(args: &SchedulerArgs) -> Outcome {
    let config = args.config.load()?;
    Ok(crate::ots::runtime()?.block_on(fleet::roles::scheduler(&config, args.metrics_addr))?)
}

pub fn worker(args: &WorkerArgs) -> Outcome {
    let config = args.config.load()?;
    Ok(crate::ots::runtime()?.block_on(fleet::roles::worker(
        &config,
        args.concurrency,
        args.metrics_addr,
    ))?)
}

/// `anchor run`: one rollup now; the exit code of each `result` is
/// [`fleet::rollup::classify`]'s table.
pub fn run(args: &RunArgs) -> Outcome {
    let tenant = TenantId::new(&args.tenant).map_err(anyhow::Error::new)?;
    let period: Period = args.period.parse().map_err(anyhow::Error::new)?;
    if let Some(c) = args.cadence
        && c != period.cadence()
    {
        return Err(Failure::Input(anyhow!(
            "period {period} is {}, not {c}",
            period.cadence()
        )));
    }
    let config = args.config.load()?;
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| workers::ctx::Progress(Box::new(progress_bar)));
    let RollupNow {
        line, unfinished, ..
    } = crate::ots::runtime()?.block_on(fleet::rollup::rollup_now(
        &config, &tenant, period, progress,
    ))?;
    crate::write_stdout(format!("{line}\n").as_bytes())?;
    match unfinished {
        None => Ok(()),
        Some(Unfinished::NotYet(why)) => Err(Failure::Pending(anyhow!(why))),
        Some(Unfinished::Stopped(why)) => Err(Failure::Check(anyhow!(why))),
    }
}

/// Redraws one terminal line: `[███░░░] 3/6 stamped` for the rollup step just passed.
fn progress_bar(step: &str) {
    let steps = workers::rollup::CHECKPOINTS;
    let done = steps.iter().position(|s| *s == step).map_or(0, |i| i + 1);
    let bar: String = (0..steps.len())
        .map(|i| if i < done { '█' } else { '░' })
        .collect();
    eprint!("\r\x1b[2K[{bar}] {done}/{} {step}", steps.len());
    if done == steps.len() {
        eprintln!();
    }
}

pub fn demo(args: &DemoArgs) -> Outcome {
    let started = std::time::Instant::now();
    let table = crate::ots::runtime()?.block_on(fleet::demo::demo(&args.data, args.manifests))?;
    print!("{table}");
    eprintln!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
