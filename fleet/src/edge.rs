//! The process edge: configuration read once and typed before anything connects, signals,
//! listening sockets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use ledger::config::Config;
use scheduler::policy::Policy;
use stamp::dev::DevServices;
use workers::Ctx;
use workers::ctx::WorkerSettings;
use workers::service::{Shutdown, ShutdownTrigger};

use crate::error::{FleetError, Result, io};

/// The configuration of `file` (an environment file) and the `LEDGER_*` environment, with
/// `overrides` taking precedence over both.
pub fn config_with(file: Option<&Path>, overrides: &[(&str, String)]) -> Result<Config> {
    let text = file
        .map(|p| std::fs::read_to_string(p).map_err(io(format!("reading {}", p.display()))))
        .transpose()?;
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LEDGER_"))
        .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), v.clone());
    }
    Ok(Config::from_sources(text.as_deref(), &env)?)
}

/// The configuration of `overrides` alone: no file, no environment (the demo's data never
/// mixes with a configured fleet).
pub fn config_of(overrides: &[(&str, String)]) -> Result<Config> {
    let env: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Ok(Config::from_sources(None, &env)?)
}

/// The anchoring policy, read once at the process's edge and handed down typed. A bad
/// variable is bad configuration, from every role.
pub fn policy(config: &Config) -> Result<Policy> {
    Policy::from_vars(|name| config.var(name).map(str::to_owned)).map_err(FleetError::Policy)
}

/// The workers' context: the policy and the workers' settings are read first, so a bad
/// variable stops the process before it connects to anything, then handed down typed.
pub async fn open_ctx(config: &Config, embedded: bool) -> Result<Ctx> {
    let policy = policy(config)?;
    let settings = WorkerSettings::from_config(config)?;
    Ok(Ctx::open_with(config, policy, settings, embedded).await?)
}

/// Creates the data directory when the SQL store is embedded SQLite, whose file lives there
/// (`Store::connect` creates the file, not its directory), for commands that open the store
/// alone rather than every backend through `Config::open`.
pub fn ensure_sqlite_dir(config: &Config) -> Result<()> {
    if config.database_url.starts_with("sqlite:") {
        ledger::private::create_dir_all(&config.data_dir)
            .map_err(io(format!("creating {}", config.data_dir.display())))?;
    }
    Ok(())
}

/// The dev TSA and two dev calendars, serving from `dir`.
pub async fn start_dev_services(dir: &Path) -> Result<DevServices> {
    DevServices::start(dir, 2).await.map_err(io(format!(
        "starting the dev TSA and calendars in {}",
        dir.display()
    )))
}

/// Fires `trigger` on Ctrl-C (SIGINT) or SIGTERM (systemd, Kubernetes). The handlers are
/// registered before this returns, so a signal sent as soon as a server announces itself
/// already stops it cleanly.
pub fn on_ctrl_c(trigger: ShutdownTrigger) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).map_err(io("installing the SIGINT handler"))?;
    let mut term = signal(SignalKind::terminate()).map_err(io("installing the SIGTERM handler"))?;
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

/// Serves the process's Prometheus exposition at `http://{addr}/metrics` until `shutdown`;
/// returns the bound address (with port 0 the OS picks it). The recorder is installed first,
/// so what the role records from its start is there.
pub async fn serve_metrics(addr: SocketAddr, shutdown: Shutdown) -> Result<SocketAddr> {
    let router = anchor_api::server::metrics_router();
    let listener = bind(addr).await?;
    let bound = listener.local_addr().map_err(io("local address"))?;
    tokio::spawn(anchor_api::server::serve_with(
        listener,
        router,
        METRICS_HEADER_TIMEOUT,
        shutdown.wait(),
    ));
    Ok(bound)
}

/// How long a scrape may take to send its request headers.
const METRICS_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Records `anchor_process_info{role, version} 1`: which role this process runs, so a scrape
/// (and a dashboard) can tell a worker from a scheduler and see the build.
pub fn record_role(role: &'static str) {
    metrics::gauge!(
        "anchor_process_info",
        "role" => role,
        "version" => env!("CARGO_PKG_VERSION")
    )
    .set(1.0);
}

/// A listening socket on `addr`.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(io(format!("listening on {addr}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_alone_make_an_embedded_configuration_in_their_data_directory() {
        let dir = std::env::temp_dir().join("fleet-config-of");
        let config = config_of(&[("LEDGER_DATA_DIR", dir.display().to_string())]).unwrap();
        assert_eq!(config.data_dir, dir);
        assert!(config.is_embedded(), "{}", config.database_url);
    }

    #[test]
    fn a_bad_policy_variable_is_a_configuration_error_naming_the_variable() {
        let dir = std::env::temp_dir().join("fleet-policy");
        let config = config_of(&[
            ("LEDGER_DATA_DIR", dir.display().to_string()),
            ("LEDGER_TICK", "soon".into()),
        ])
        .unwrap();
        let err = policy(&config).unwrap_err();
        assert!(matches!(err, FleetError::Policy(_)), "{err:?}");
        let said = crate::rollup::chain(&err);
        assert!(
            said.starts_with("configuration: ") && said.contains("LEDGER_TICK"),
            "{said}"
        );
    }
}
