//! The fleet roles and the demo: `anchor up | scheduler | worker | run | demo`.
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anchor_api::{ApiConfig, ApiState, Parts};
use anyhow::{Context, anyhow};
use chrono::Utc;
use clap::Args;
use ledger::blob::{BlobKey, ReceiptFormat, RootArtifact};
use ledger::config::Config;
use ledger::formats::Receipt;
use ledger::sql::{
    ConsentAction, ConsentEntry, NewTenant, RunFilter, RunStatus, Trigger, Visibility,
};
use ledger::{Period, Plan, TenantId};
use merkle::ManifestDigest;
use proofs::PeriodProofs;
use scheduler_process::scheduler_loop;
use stamp::bitcoin::{HeadersFile, Network};
use stamp::dev::DevServices;
use stamp::tsp::{Certificate, VerifyOptions};
use verifier::{Evidence, HeaderInput, SummaryInput, Verdict};
use workers::Ctx;
use workers::service::{shutdown_pair, wait_until_idle, worker_pool};

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

/// The configuration with `overrides` taking precedence over the environment.
fn config_with(file: Option<&Path>, overrides: &[(&str, String)]) -> anyhow::Result<Config> {
    let text = file
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LEDGER_"))
        .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), v.clone());
    }
    Config::from_sources(text.as_deref(), &env).context("configuration")
}

async fn start_dev_services(dir: &Path) -> anyhow::Result<DevServices> {
    DevServices::start(dir, 2)
        .await
        .with_context(|| format!("starting the dev TSA and calendars in {}", dir.display()))
}

/// Fires `trigger` on Ctrl-C (SIGINT) or SIGTERM (systemd, Kubernetes). The handlers are
/// registered before this returns, so a signal sent as soon as a server announces itself
/// already stops it cleanly.
fn on_ctrl_c(trigger: workers::service::ShutdownTrigger) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("shutting down: finishing jobs and requests in flight");
        trigger.fire();
    });
    Ok(())
}

pub fn up(args: &UpArgs) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let mut overrides = Vec::new();
        if let Some(d) = &args.data {
            overrides.push(("LEDGER_DATA_DIR", d.display().to_string()));
        }
        let mut config = config_with(args.config.config.as_deref(), &overrides)?;
        if config.var("LEDGER_TSA_URL").is_none() && config.var("LEDGER_OTS_CALENDARS").is_none() {
            let dev = start_dev_services(&config.data_dir).await?;
            eprintln!(
                "no TSA or calendars configured: using the dev TSA at {} and dev calendars at {} (receipts will name them; they prove nothing outside this machine)",
                dev.tsa_url,
                dev.calendars.join(", ")
            );
            overrides.extend(dev.vars());
            config = config_with(args.config.config.as_deref(), &overrides)?;
        }
        let ctx = Arc::new(open_ctx(&config, config.is_embedded()).await?);
        let mut api_config = ApiConfig::from_config(&config).map_err(anyhow::Error::new)?;
        if let Some(addr) = args.api_addr {
            api_config.addr = addr;
        }
        let api = ApiState::new(
            Parts {
                store: ctx.store.clone(),
                blobs: ctx.blobs.clone(),
                kv: ctx.kv.clone(),
                queue: Arc::new(ctx.queue.clone()),
                policy: ctx.policy.clone(),
                reserves: reserves::sql::ReserveStore::connect(&config.database_url)
                    .await
                    .map_err(anyhow::Error::new)?,
            },
            api_config,
        );
        let listener = bind(api.config.addr).await?;
        let (trigger, shutdown) = shutdown_pair();
        on_ctrl_c(trigger)?;
        // The bound address, not the configured one: with port 0 the OS picks the port.
        eprintln!(
            "anchor up: scheduler, {} workers and the API on http://{} ({})",
            args.concurrency,
            listener.local_addr().context("local address")?,
            ctx.blobs.describe()
        );
        let sched = tokio::spawn(scheduler_loop(ctx.clone(), shutdown.clone()));
        let api_stop = shutdown.clone();
        let header_timeout = api.config.header_timeout;
        let server = tokio::spawn(anchor_api::serve_with(
            listener,
            anchor_api::app(api),
            header_timeout,
            api_stop.wait(),
        ));
        worker_pool(ctx, args.concurrency, shutdown).await?;
        let _ = sched.await;
        server.await.context("the API task")?.context("the API server")?;
        Ok::<(), Failure>(())
    })
}

/// The anchoring policy, read once at this process's edge and handed down typed. A bad
/// variable is bad configuration: exit 2, from every role (before, the workers' roles exited
/// 1 for it and `anchor api` 2).
fn policy(config: &Config) -> Result<scheduler::policy::Policy, Failure> {
    scheduler::policy::Policy::from_vars(|name| config.var(name).map(str::to_owned))
        .map_err(|e| Failure::Input(anyhow::Error::new(e).context("configuration")))
}

/// The workers' context: the policy and the workers' settings are read first, so a bad
/// variable stops the process before it connects to anything, then handed down typed.
async fn open_ctx(config: &Config, embedded: bool) -> Result<Ctx, Failure> {
    let policy = policy(config)?;
    let settings = workers::ctx::WorkerSettings::from_config(config)?;
    Ok(Ctx::open_with(config, policy, settings, embedded).await?)
}

async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

pub fn api(args: &ApiArgs) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let config = args.config.load()?;
        let policy = policy(&config)?;
        let mut api_config = ApiConfig::from_config(&config).map_err(anyhow::Error::new)?;
        if let Some(addr) = args.addr {
            api_config.addr = addr;
        }
        let backends = config.open().await?;
        let queue = workers::ctx::open_queue(&config, &backends.store).await?;
        let parts = Parts::new(&config, policy, backends, Arc::new(queue))
            .await
            .map_err(anyhow::Error::new)?;
        let state = ApiState::new(parts, api_config);
        let listener = bind(state.config.addr).await?;
        let (trigger, shutdown) = shutdown_pair();
        on_ctrl_c(trigger)?;
        eprintln!(
            "anchor api: listening on http://{} (admin routes {})",
            listener.local_addr().context("local address")?,
            if state.config.admin_token_hash.is_some() {
                "enabled"
            } else {
                "disabled: no LEDGER_ADMIN_TOKEN"
            }
        );
        let header_timeout = state.config.header_timeout;
        anchor_api::serve_with(
            listener,
            anchor_api::app(state),
            header_timeout,
            shutdown.wait(),
        )
        .await
        .context("the API server")?;
        Ok::<(), Failure>(())
    })
}

/// `anchor migrate`: the schema of the SQL store (and the reserves tables) at this build's
/// version. Prints `{"schema_version","fleet","queue"}`.
pub fn migrate(config: &ConfigArg) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let config = config.load()?;
        crate::ledger_cmd::ensure_sqlite_dir(&config)?;
        let store =
            ledger::config::connect_store(&config.database_url, ledger::sql::Schema::Migrate)
                .await?;
        reserves::sql::ReserveStore::connect(&config.database_url)
            .await
            .map_err(anyhow::Error::new)?;
        let fleet = store.fleet_id().await?;
        let line = serde_json::json!({
            "schema_version": store.schema_version().await?,
            "fleet": fleet,
            "queue": workers::Queue::name_for(&fleet),
        });
        crate::write_stdout(format!("{line}\n").as_bytes())?;
        Ok::<(), Failure>(())
    })
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

pub fn queue(cmd: &QueueCmd) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let (QueueCmd::Status { config } | QueueCmd::DeadLetters { config }) = cmd;
        let config = config.load()?;
        crate::ledger_cmd::ensure_sqlite_dir(&config)?;
        let store = config.open_store().await?;
        let queue = workers::ctx::open_queue(&config, &store).await?;
        let mut out = String::new();
        match cmd {
            QueueCmd::Status { .. } => {
                out = serde_json::to_string(&queue.stats().await?).expect("stats serialise");
                out.push('\n');
            }
            QueueCmd::DeadLetters { .. } => {
                for d in queue.dead_letters().await? {
                    out.push_str(&serde_json::to_string(&d).expect("a letter serialises"));
                    out.push('\n');
                }
            }
        }
        crate::write_stdout(out.as_bytes())?;
        Ok::<(), Failure>(())
    })
}

pub fn scheduler(config: &ConfigArg) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let config = config.load()?;
        let ctx = Arc::new(open_ctx(&config, config.is_embedded()).await?);
        let (trigger, shutdown) = shutdown_pair();
        on_ctrl_c(trigger)?;
        eprintln!("anchor scheduler: ticking every {:?}", ctx.policy.tick);
        scheduler_loop(ctx, shutdown).await;
        Ok::<(), Failure>(())
    })
}

pub fn worker(args: &WorkerArgs) -> Outcome {
    crate::ots::runtime()?.block_on(async {
        let config = args.config.load()?;
        let ctx = Arc::new(open_ctx(&config, config.is_embedded()).await?);
        let (trigger, shutdown) = shutdown_pair();
        on_ctrl_c(trigger)?;
        eprintln!(
            "anchor worker {}: {} concurrent jobs",
            ctx.worker_id, args.concurrency
        );
        worker_pool(ctx, args.concurrency, shutdown).await?;
        Ok::<(), Failure>(())
    })
}

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
    crate::ots::runtime()?.block_on(async {
        let config = args.config.load()?;
        let mut ctx = open_ctx(&config, config.is_embedded()).await?;
        ctx.store
            .tenant(&tenant)
            .await
            .map_err(|e| Failure::Input(e.into()))?;
        if std::io::stderr().is_terminal() {
            ctx.progress = Some(workers::ctx::Progress(Box::new(progress_bar)));
        }
        let (run, _) = ctx
            .store
            .create_run(&tenant, period, Trigger::Manual, Utc::now())
            .await?;
        if ctx.progress.is_some() {
            eprint!("rolling up {} …", run.id);
        }
        let leased = workers::handler::rollup_leased(&ctx, &run.id).await;
        // A deferral or a retry goes to the queue, where a worker picks it up (a no-op when
        // the run's rollup job is queued already).
        if let Some(next) = leased.follow_up {
            ctx.queue.push(next.job, next.delay).await?;
        }
        let row = ctx.store.run(&run.id).await?;
        let (result, failure) = run_result(&run.id, &row, leased.result, ctx.run_lease);
        let line = serde_json::json!({
            "run": row.id,
            "status": row.status.as_str(),
            "result": result,
            "root": row.root.map(|r| r.to_string()),
            "tree_size": row.tree_size,
            "errors": row.errors,
        });
        crate::write_stdout(format!("{line}\n").as_bytes())?;
        failure.map_or(Ok(()), Err)
    })
}

/// What `anchor run` reports for one rollup attempt: the `result` word of its JSON line and
/// the failure that sets the exit code (`None`: exit 0).
///
/// | result | exit | when |
/// |---|---|---|
/// | `anchored`, `complete`, `already-done` | 0 | the run is anchored (OTS may still be pending) or was before |
/// | `lease-held` | 3 | another process holds the run's lease: it is rolling the run up now, or died and its lease (at most `LEDGER_RUN_LEASE`) has not expired; nothing was done here |
/// | `deferred` | 3 | not now (kill switch `paused`, root limit): the workers look again later |
/// | `retrying` | 3 | a transient failure (TSA, calendar, database, S3 unreachable); the run stays queued and the workers retry it with backoff |
/// | `held` | 1 | held by policy (cost ceiling, consent withdrawn) until an operator acts |
/// | `failed` | 1 | a permanent failure, or the last of the retries; recorded in the run and its summary |
fn run_result(
    id: &str,
    row: &ledger::sql::Run,
    outcome: workers::Result<Option<workers::rollup::Rollup>>,
    lease: Duration,
) -> (&'static str, Option<Failure>) {
    use workers::rollup::Rollup;
    match outcome {
        Ok(Some(Rollup::Anchored { status, .. })) => (status.as_str(), None),
        Ok(Some(Rollup::AlreadyDone(_))) => ("already-done", None),
        Ok(None) => (
            "lease-held",
            Some(Failure::Pending(anyhow!(
                "run {id} not rolled up here: another process holds its lease (it is rolling \
                 the run up now, or stopped and its lease expires within {}s); run this again \
                 later or let the workers finish it",
                lease.as_secs()
            ))),
        ),
        Ok(Some(Rollup::Deferred { reason, retry_in })) => (
            "deferred",
            Some(Failure::Pending(anyhow!(
                "run {id} deferred: {reason}; the workers look again in {}s",
                retry_in.as_secs()
            ))),
        ),
        Ok(Some(Rollup::Held(reason))) => (
            "held",
            Some(Failure::Check(anyhow!("run {id} is held: {reason}"))),
        ),
        Err(e) if e.is_transient() && row.status != RunStatus::Failed => (
            "retrying",
            Some(Failure::Pending(anyhow!(
                "run {id} not done yet: transient failure (attempt {} of {}), queued for a \
                 retry in {}s by the workers (`anchor worker` or `anchor up`): {e}",
                row.attempt.max(1),
                workers::handler::MAX_ATTEMPTS,
                workers::handler::backoff(row.attempt).as_secs()
            ))),
        ),
        Err(e) => (
            "failed",
            Some(Failure::Check(
                anyhow::Error::new(e).context(format!("run {id} failed")),
            )),
        ),
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

/// The sample manifests of the demo: small JSON documents, canonicalised like a tenant's.
fn sample_digest(tenant: &str, i: u32) -> ManifestDigest {
    let json = format!(
        r#"{{"tenant":"{tenant}","artifact":"build-{i}.tar.gz","size":{}}}"#,
        1000 + i
    );
    merkle::canon::manifest_digest(json.as_bytes()).expect("valid JSON")
}

#[allow(clippy::too_many_lines)] // the demo's steps, in the order the module documentation lists them
pub fn demo(args: &DemoArgs) -> Outcome {
    if args.data.exists() && std::fs::read_dir(&args.data).map_or(true, |mut d| d.next().is_some())
    {
        return Err(Failure::Input(anyhow!(
            "{} exists and is not empty: pass --data with a new directory",
            args.data.display()
        )));
    }
    let started = std::time::Instant::now();
    crate::ots::runtime()?.block_on(async {
        let dev = start_dev_services(&args.data).await?;
        let mut overrides = vec![
            ("LEDGER_DATA_DIR", args.data.display().to_string()),
            ("LEDGER_TICK", "1s".to_owned()),
            ("LEDGER_RUN_LEASE", "60s".to_owned()),
        ];
        overrides.extend(dev.vars());
        // The demo's data never mixes with a configured fleet: only its own variables count.
        let env: BTreeMap<String, String> = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let config = Config::from_sources(None, &env).context("demo configuration")?;
        let ctx = Arc::new(open_ctx(&config, true).await?);
        seed_tenants(&ctx, args.manifests).await?;
        eprintln!(
            "demo: 3 tenants × {} manifests in {}; dev TSA {}; dev calendars {}",
            args.manifests,
            args.data.display(),
            dev.tsa_url,
            dev.calendars.join(", ")
        );
        run_until_idle(&ctx).await?;
        let headers = confirm_on_dev_chain(&ctx, &dev, &args.data).await?;
        let report = verify_all(&ctx, &args.data, &dev.ca_file, &headers).await?;
        print!("{report}");
        eprintln!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
        Ok::<(), Failure>(())
    })
}

/// The demo's three tenants, one per plan, created 40 days ago and opted in, with `manifests`
/// sample manifests each spread over the 35 days before today.
async fn seed_tenants(ctx: &Ctx, manifests: u32) -> Result<(), Failure> {
    let now = Utc::now();
    let created = now - chrono::Duration::days(40);
    for (name, plan) in [
        ("starter-co", Plan::Starter),
        ("pro-co", Plan::Pro),
        ("enterprise-co", Plan::Enterprise),
    ] {
        let id = TenantId::new(name).map_err(anyhow::Error::new)?;
        ctx.store
            .create_tenant(
                &NewTenant {
                    id: id.clone(),
                    plan,
                    token_hash: ledger::sql::hash_token(&ledger::sql::new_token()),
                    max_roots_per_period: 100,
                    cost_ceiling_micro_usd: 50_000_000,
                },
                created,
            )
            .await?;
        ctx.store
            .record_consent(
                &id,
                &ConsentEntry {
                    action: ConsentAction::OptIn,
                    visibility: Visibility::Public,
                    signer: "demo".into(),
                    reason: "anchor demo".into(),
                    at: created,
                },
            )
            .await?;
        // Spread over the 35 days before today.
        let mut by_day: BTreeMap<i64, Vec<ManifestDigest>> = BTreeMap::new();
        for i in 0..manifests {
            by_day
                .entry(1 + i64::from(i % 35))
                .or_default()
                .push(sample_digest(name, i));
        }
        for (days_ago, digests) in by_day {
            let at = now - chrono::Duration::days(days_ago);
            ctx.store.insert_manifests(&id, &digests, at).await?;
        }
    }
    Ok(())
}

/// Runs the real scheduler loop and a pool of four workers until no run is queued or running
/// (at most 10 minutes).
async fn run_until_idle(ctx: &Arc<Ctx>) -> Result<(), Failure> {
    let (trigger, shutdown) = shutdown_pair();
    let sched = tokio::spawn(scheduler_loop(ctx.clone(), shutdown.clone()));
    // The pool runs in this task (apalis's parallel executor future is not 'static-general
    // enough for tokio::spawn); the driver stops it once the fleet is idle.
    let pool = worker_pool(ctx.clone(), 4, shutdown.clone());
    let drive = async {
        // Let the first tick create the runs, then wait for the workers to drain them.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let idle = wait_until_idle(ctx, Duration::from_mins(10)).await;
        trigger.fire();
        idle
    };
    let (pooled, idle) = tokio::join!(pool, drive);
    pooled?;
    let idle = idle?;
    let _ = sched.await;
    if !idle {
        return Err(Failure::Check(anyhow!(
            "runs still queued or running after 10 minutes"
        )));
    }
    Ok(())
}

/// File name, in the demo's data directory, of the dev chain's headers (a `HeadersFile`).
pub const DEV_HEADERS: &str = "dev-headers.json";

/// Mines one block on each dev calendar, writes the chain's headers to `data/`[`DEV_HEADERS`],
/// and runs the workers' upgrade job now for every run still waiting on its OTS anchor (the
/// job returns at once for the others). Returns the headers as read back from the file,
/// checked against regtest's floor.
async fn confirm_on_dev_chain(
    ctx: &Ctx,
    dev: &DevServices,
    data: &Path,
) -> Result<HeadersFile, Failure> {
    let blocks = dev.mine();
    let path = data.join(DEV_HEADERS);
    std::fs::write(&path, dev.headers().to_json())
        .with_context(|| format!("writing {}", path.display()))?;
    let heights: Vec<String> = blocks.iter().map(|b| b.height.to_string()).collect();
    eprintln!(
        "demo: mined block(s) {} on a local regtest chain (the dev calendars'; regtest work is no proof of time), headers in {}",
        heights.join(", "),
        path.display()
    );
    let runs = workers::ctx::anchored_runs(ctx)
        .await
        .map_err(anyhow::Error::new)?;
    for run in &runs {
        // The demo confirms in-process; a pending proof's follow-up is the queue's business.
        workers::upgrade::job(ctx, &run.id, 0)
            .await
            .with_context(|| format!("upgrading {}", run.id))?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(HeadersFile::from_json(&bytes)
        .with_context(|| format!("reading {}", path.display()))?
        .on_network(Network::Regtest))
}

/// Checks that `file` stamps `digest` and that one of its Bitcoin attestations verifies
/// against `headers` as exactly the block `btc` names.
fn check_bitcoin(
    file: &stamp::DetachedTimestamp,
    digest: &[u8],
    headers: &HeadersFile,
    btc: &ledger::formats::Bitcoin,
) -> Result<(), String> {
    let (_, findings) =
        stamp::verify::verify_file(file, digest, headers).map_err(|e| e.to_string())?;
    let named = findings.iter().any(|f| {
        matches!(f, stamp::verify::Finding::Bitcoin { height, block_hash, time, txid }
            if *height == btc.height
                && *block_hash == btc.block_hash
                && i64::from(*time) == btc.time.timestamp()
                && (btc.txid.is_none() || *txid == btc.txid))
    });
    if named {
        Ok(())
    } else {
        Err(format!(
            "no attestation verifies as block {} {}: {findings:?}",
            btc.height, btc.block_hash
        ))
    }
}

/// The stored artifacts of a receipt, as a tenant would download them: `root.bin`, the root
/// `.ots` it names, and the `.tsr`.
struct StoredEvidence {
    bin: Vec<u8>,
    ots: Option<Vec<u8>>,
    tsr: Option<Vec<u8>>,
}

async fn stored_evidence(ctx: &Ctx, receipt: &Receipt) -> anyhow::Result<StoredEvidence> {
    let (t, p) = (&receipt.tenant, &receipt.period);
    let root_bin = ctx
        .blobs
        .get(&BlobKey::root_artifact(t, p, RootArtifact::Bin))
        .await?
        .unwrap_or_default();
    let root_ots = match proofs::named_root_ots(receipt)? {
        Some(key) => ctx.blobs.get(&key).await?,
        None => None,
    };
    let root_tsr = ctx
        .blobs
        .get(&BlobKey::root_artifact(t, p, RootArtifact::Tsr))
        .await?;
    Ok(StoredEvidence {
        bin: root_bin,
        ots: root_ots,
        tsr: root_tsr,
    })
}

/// Verifies every anchored run's receipt (every check of `anchor verify receipt`, through the
/// `verifier` library), a sample of its manifests' proofs and, when installed, its `.tsr` with
/// `openssl ts -verify`; returns the table.
async fn verify_all(
    ctx: &Ctx,
    data: &Path,
    ca_file: &Path,
    headers: &HeadersFile,
) -> Result<String, Failure> {
    let jwks = ctx.store.jwks(true).await.map_err(anyhow::Error::new)?;
    let tsa = trusting(ca_file)?;
    let header_input = HeaderInput::Source {
        headers: headers.clone(),
        name: DEV_HEADERS.to_owned(),
        tip: None,
    };
    let runs = all_runs(ctx).await.map_err(anyhow::Error::new)?;
    let openssl = which("openssl");
    let blobs = data.join("blobs");
    let mut table = format!(
        "{:<16} {:<11} {:<9} {:>6}  {:<22} {}\n",
        "tenant", "period", "status", "leaves", "anchors", "receipt"
    );
    let mut failures = Vec::new();
    let mut verified = 0;
    let mut chains: BTreeMap<TenantId, Vec<u8>> = BTreeMap::new();
    for run in runs.iter().rev() {
        if !matches!(run.status, RunStatus::Anchored | RunStatus::Complete) {
            failures.push(format!("{}: {} {:?}", run.id, run.status, run.errors));
            continue;
        }
        let (key, receipt) = latest_receipt(ctx, run).await?;
        // Every check `anchor verify receipt` makes, by the same library.
        let chain = tenant_chain(ctx, &mut chains, &run.tenant).await?;
        let report = check_receipt(ctx, &receipt, chain, &jwks, &tsa, &header_input).await?;
        if report.verdict() != Verdict::Verified {
            failures.push(format!(
                "{}: {}\n{}",
                run.id,
                report.verdict(),
                report.lines()
            ));
        }
        failures.extend(check_sample(ctx, run, &receipt, headers).await?);
        if openssl
            && receipt
                .anchors
                .iter()
                .any(|a| a.kind == ledger::AnchorKind::Tsa)
        {
            failures.extend(openssl_ts_verify(run, &blobs, ca_file)?);
        }
        verified += 1;
        table.push_str(&table_row(run, &receipt, &blobs.join(key.as_str())));
    }
    let _ = writeln!(
        table,
        "\n{verified} receipts verified (signature, root.bin, sampled proofs, Bitcoin attestations against {DEV_HEADERS} on regtest{}); artifacts under {}",
        if openssl {
            ", openssl ts -verify"
        } else {
            "; openssl not installed, .tsr not checked by it"
        },
        blobs.display()
    );
    if failures.is_empty() && verified > 0 {
        Ok(table)
    } else {
        Err(Failure::Check(anyhow!(
            "{table}\nfailures:\n{}",
            failures.join("\n")
        )))
    }
}

/// The latest JSON receipt of `run`'s period, and its key.
async fn latest_receipt(ctx: &Ctx, run: &ledger::sql::Run) -> anyhow::Result<(BlobKey, Receipt)> {
    let key = BlobKey::receipt_latest(&run.tenant, &run.period, ReceiptFormat::Json);
    let bytes = ctx
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| anyhow!("{key} missing"))?;
    Ok((key, Receipt::from_json(&bytes)?))
}

/// `tenant`'s exported run-summary chain, exported once per tenant (not once per run) and kept
/// in `chains`.
async fn tenant_chain<'a>(
    ctx: &Ctx,
    chains: &'a mut BTreeMap<TenantId, Vec<u8>>,
    tenant: &TenantId,
) -> anyhow::Result<&'a [u8]> {
    if !chains.contains_key(tenant) {
        let chain = ctx.store.export_jsonl(tenant).await?;
        chains.insert(tenant.clone(), chain);
    }
    Ok(&chains[tenant])
}

/// Every run of the fleet, newest first.
async fn all_runs(ctx: &Ctx) -> ledger::Result<Vec<ledger::sql::Run>> {
    ctx.store
        .runs(&RunFilter {
            tenant: None,
            status: None,
            limit: Some(100_000),
        })
        .await
}

/// One line of the demo's table: tenant, period, status, leaves, anchors, receipt path.
fn table_row(run: &ledger::sql::Run, receipt: &Receipt, path: &Path) -> String {
    let anchors: Vec<String> = receipt
        .anchors
        .iter()
        .map(|a| format!("{}:{}", a.kind, a.status))
        .collect();
    format!(
        "{:<16} {:<11} {:<9} {:>6}  {:<22} {}\n",
        run.tenant.as_str(),
        run.period.to_string(),
        run.status.as_str(),
        receipt.tree_size,
        anchors.join(","),
        path.display()
    )
}

/// TSA verification options trusting the CA certificates in `ca_file`.
fn trusting(ca_file: &Path) -> anyhow::Result<VerifyOptions> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    Ok(VerifyOptions {
        trusted: Certificate::from_file_bytes(&pem)
            .map_err(|e| anyhow!("{}: {e}", ca_file.display()))?,
        ..VerifyOptions::default()
    })
}

/// Every check of `anchor verify receipt` on a stored receipt, with its artifacts read from
/// the blob store and the tenant's exported `chain`.
async fn check_receipt(
    ctx: &Ctx,
    receipt: &Receipt,
    chain: &[u8],
    jwks: &ledger::keys::Jwks,
    tsa: &VerifyOptions,
    headers: &HeaderInput,
) -> anyhow::Result<verifier::Report> {
    let evidence = stored_evidence(ctx, receipt).await?;
    Ok(verifier::receipt::check(&Evidence {
        receipt,
        jwks,
        root_bin: &evidence.bin,
        root_ots: evidence.ots.as_deref(),
        root_tsr: evidence.tsr.as_deref(),
        summary: SummaryInput::Chain(chain),
        tsa,
        headers,
    }))
}

/// A sample of a run's manifests (every fifth of its digests): each one's inclusion proof in
/// the receipt's root, and its `.ots` as the receipt's Bitcoin block; returns what failed.
async fn check_sample(
    ctx: &Ctx,
    run: &ledger::sql::Run,
    receipt: &Receipt,
    headers: &HeadersFile,
) -> Result<Vec<String>, Failure> {
    let mut failures = Vec::new();
    let bitcoin = receipt
        .anchors
        .iter()
        .find(|a| a.kind == ledger::AnchorKind::Ots)
        .and_then(|a| a.bitcoin.as_ref());
    let digests = ctx
        .store
        .period_digests(&run.tenant, run.period)
        .await
        .map_err(anyhow::Error::new)?;
    // Proofs are derived from the stored tree, as the API and `anchor proof` serve them.
    let stored = PeriodProofs::load(&ctx.blobs, &run.tenant, run.period)
        .await
        .map_err(|e| Failure::Check(anyhow!("{}: {e}", run.id)))?;
    for d in digests.iter().step_by((digests.len() / 5).max(1)) {
        let checked = stored
            .proof(d)
            .and_then(|proof| {
                proof.verify(Some(&receipt.root))?;
                stored.manifest_ots(d)
            })
            .map_err(|e| e.to_string())
            .and_then(|ots| match (ots, bitcoin) {
                (Some(ots), Some(btc)) => check_bitcoin(&ots, &d.0, headers, btc),
                _ => Ok(()),
            });
        if let Err(e) = checked {
            failures.push(format!("{}: proof of {d}: {e}", run.id));
        }
    }
    Ok(failures)
}

/// `openssl ts -verify` of the run's `.tsr` against `root.bin` and the dev CA (an independent
/// implementation of RFC 3161); returns what it refused.
fn openssl_ts_verify(
    run: &ledger::sql::Run,
    blobs: &Path,
    ca_file: &Path,
) -> Result<Option<String>, Failure> {
    let tsr = BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Tsr);
    let out = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(
            blobs
                .join(BlobKey::root_artifact(&run.tenant, &run.period, RootArtifact::Bin).as_str()),
        )
        .arg("-in")
        .arg(blobs.join(tsr.as_str()))
        .arg("-CAfile")
        .arg(ca_file)
        .output()
        .context("running openssl ts -verify")?;
    Ok((!out.status.success()).then(|| {
        format!(
            "{}: openssl ts -verify: {}",
            run.id,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }))
}

fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}
