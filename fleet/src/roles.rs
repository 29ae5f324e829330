//! The roles: `up`, `api`, `scheduler`, `worker`, and the operator's `migrate` and queue views.
//! Each runs until Ctrl-C or SIGTERM, then finishes the jobs and requests in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anchor_api::{ApiConfig, ApiState, Parts};
use ledger::config::Config;
use scheduler_process::scheduler_loop;
use workers::service::{Shutdown, shutdown_pair, worker_pool};

use crate::edge::{
    bind, config_with, ensure_sqlite_dir, on_ctrl_c, open_ctx, record_role, serve_metrics,
    start_dev_services,
};
use crate::error::{Result, io};

/// `anchor up`: what to run in one process.
#[derive(Debug, Clone)]
pub struct Up {
    /// The environment file (`--config`).
    pub config_file: Option<PathBuf>,
    /// Overrides `LEDGER_DATA_DIR`.
    pub data: Option<PathBuf>,
    /// Concurrent jobs.
    pub concurrency: usize,
    /// Overrides `LEDGER_API_ADDR`.
    pub api_addr: Option<SocketAddr>,
}

/// Scheduler, workers and the API in one process on the configuration. With no
/// `LEDGER_TSA_URL` and no `LEDGER_OTS_CALENDARS` configured it starts the dev TSA and two dev
/// calendars in-process and says so: receipts then name those local services, honestly.
pub async fn up(up: &Up) -> Result<()> {
    let mut overrides = Vec::new();
    if let Some(d) = &up.data {
        overrides.push(("LEDGER_DATA_DIR", d.display().to_string()));
    }
    let file = up.config_file.as_deref();
    let mut config = config_with(file, &overrides)?;
    if config.var("LEDGER_TSA_URL").is_none() && config.var("LEDGER_OTS_CALENDARS").is_none() {
        let dev = start_dev_services(&config.data_dir).await?;
        eprintln!(
            "no TSA or calendars configured: using the dev TSA at {} and dev calendars at {} (receipts will name them; they prove nothing outside this machine)",
            dev.tsa_url,
            dev.calendars.join(", ")
        );
        overrides.extend(dev.vars());
        config = config_with(file, &overrides)?;
    }
    let ctx = Arc::new(open_ctx(&config, config.is_embedded()).await?);
    let mut api_config = ApiConfig::from_config(&config)?;
    if let Some(addr) = up.api_addr {
        api_config.addr = addr;
    }
    let reserve_store = reserves::sql::ReserveStore::connect(&config.database_url).await?;
    let api = ApiState::new(
        Parts {
            store: ctx.store.clone(),
            blobs: ctx.blobs.clone(),
            kv: ctx.kv.clone(),
            queue: Arc::new(ctx.queue.clone()),
            policy: ctx.policy.clone(),
            reserves: reserve_store.clone(),
        },
        api_config,
    );
    let listener = bind(api.config.addr).await?;
    record_role("up");
    let (trigger, shutdown) = shutdown_pair();
    on_ctrl_c(trigger)?;
    // The bound address, not the configured one: with port 0 the OS picks the port.
    eprintln!(
        "anchor up: scheduler, {} workers and the API on http://{} ({})",
        up.concurrency,
        listener.local_addr().map_err(io("local address"))?,
        ctx.blobs.describe()
    );
    let sched = tokio::spawn(scheduler_loop(ctx.clone(), shutdown.clone()));
    let publisher = tokio::spawn(publish_reserves(reserve_store, shutdown.clone()));
    let api_stop = shutdown.clone();
    let header_timeout = api.config.header_timeout;
    let server = tokio::spawn(anchor_api::serve_with(
        listener,
        anchor_api::app(api),
        header_timeout,
        api_stop.wait(),
    ));
    worker_pool(ctx, up.concurrency, shutdown).await?;
    let _ = sched.await;
    let _ = publisher.await;
    server
        .await
        .map_err(|e| io("the API task")(std::io::Error::other(e)))?
        .map_err(io("the API server"))
}

/// `anchor api`: the HTTP API on the configuration. It never signs or stamps, so it needs no
/// signing key.
pub async fn api(config: &Config, addr: Option<SocketAddr>) -> Result<()> {
    let policy = crate::edge::policy(config)?;
    let mut api_config = ApiConfig::from_config(config)?;
    if let Some(addr) = addr {
        api_config.addr = addr;
    }
    let backends = config.open().await?;
    let queue = workers::ctx::open_queue(config, &backends.store).await?;
    let parts = Parts::new(config, policy, backends, Arc::new(queue)).await?;
    let state = ApiState::new(parts, api_config);
    let listener = bind(state.config.addr).await?;
    record_role("api");
    let (trigger, shutdown) = shutdown_pair();
    on_ctrl_c(trigger)?;
    eprintln!(
        "anchor api: listening on http://{} (admin routes {})",
        listener.local_addr().map_err(io("local address"))?,
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
    .map_err(io("the API server"))
}

/// `anchor scheduler`: the scheduler loop (any number of them share a KV lease per tick),
/// and the process's metrics at `metrics` when given.
pub async fn scheduler(config: &Config, metrics: Option<SocketAddr>) -> Result<()> {
    let ctx = Arc::new(open_ctx(config, config.is_embedded()).await?);
    let (trigger, shutdown) = shutdown_pair();
    on_ctrl_c(trigger)?;
    serve_metrics_of("scheduler", metrics, &shutdown).await?;
    eprintln!("anchor scheduler: ticking every {:?}", ctx.policy.tick);
    scheduler_loop(ctx, shutdown).await;
    Ok(())
}

/// `anchor worker`: `concurrency` jobs at a time from the fleet's queue, and the process's
/// metrics at `metrics` when given.
pub async fn worker(
    config: &Config,
    concurrency: usize,
    metrics: Option<SocketAddr>,
) -> Result<()> {
    let ctx = Arc::new(open_ctx(config, config.is_embedded()).await?);
    let (trigger, shutdown) = shutdown_pair();
    on_ctrl_c(trigger)?;
    serve_metrics_of("worker", metrics, &shutdown).await?;
    eprintln!(
        "anchor worker {}: {concurrency} concurrent jobs",
        ctx.worker_id
    );
    let reserve_store = reserves::sql::ReserveStore::connect(&config.database_url).await?;
    let publisher = tokio::spawn(publish_reserves(reserve_store, shutdown.clone()));
    worker_pool(ctx, concurrency, shutdown).await?;
    let _ = publisher.await;
    Ok(())
}

/// How often the reserve publication service runs (seed 001: "every 15 s").
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Seed 001's publication service beside the workers: pending reserve attestations are
/// delivered to their webhooks and failed ones retried with backoff
/// (`reserves::publisher::Publisher::run_until`), until shutdown.
async fn publish_reserves(store: reserves::sql::ReserveStore, shutdown: Shutdown) {
    match reserves::publisher::Publisher::new(std::time::Duration::from_secs(10)) {
        Ok(p) => p.run_until(&store, PUBLISH_EVERY, shutdown.wait()).await,
        Err(e) => eprintln!("anchor: the reserve publication service did not start: {e}"),
    }
}

/// Records the role and, when `addr` is given, serves `/metrics` there and says where.
async fn serve_metrics_of(
    role: &'static str,
    addr: Option<SocketAddr>,
    shutdown: &Shutdown,
) -> Result<()> {
    let Some(addr) = addr else {
        return Ok(());
    };
    let bound = serve_metrics(addr, shutdown.clone()).await?;
    record_role(role);
    eprintln!("anchor {role}: metrics on http://{bound}/metrics");
    Ok(())
}

/// `anchor migrate`: the schema of the SQL store (and the reserves tables) at this build's
/// version. Returns `{"schema_version","fleet","queue"}`.
pub async fn migrate(config: &Config) -> Result<serde_json::Value> {
    ensure_sqlite_dir(config)?;
    let store =
        ledger::config::connect_store(&config.database_url, ledger::sql::Schema::Migrate).await?;
    reserves::sql::ReserveStore::connect(&config.database_url).await?;
    let fleet = store.fleet_id().await?;
    Ok(serde_json::json!({
        "schema_version": store.schema_version().await?,
        "fleet": fleet,
        "queue": workers::Queue::name_for(&fleet),
    }))
}

/// What `anchor queue` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueView {
    /// Jobs by state, one JSON object.
    Status,
    /// Jobs that could not be done, one JSON line each.
    DeadLetters,
}

/// The queue's `view`, as the lines `anchor queue` prints.
pub async fn queue(config: &Config, view: QueueView) -> Result<String> {
    ensure_sqlite_dir(config)?;
    let store = config.open_store().await?;
    let queue = workers::ctx::open_queue(config, &store).await?;
    let mut out = String::new();
    match view {
        QueueView::Status => {
            out = serde_json::to_string(&queue.stats().await?).expect("stats serialise");
            out.push('\n');
        }
        QueueView::DeadLetters => {
            for d in queue.dead_letters().await? {
                out.push_str(&serde_json::to_string(&d).expect("a letter serialises"));
                out.push('\n');
            }
        }
    }
    Ok(out)
}
