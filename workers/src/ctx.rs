//! What every job needs: the backends, the signing key, the policy and the stamping
//! endpoints, read once from the configuration.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::LedgerError;
use ledger::blob::BlobStore;
use ledger::config::{Backends, Config};
use ledger::keys::SigningKey;
use ledger::kv::Kv;
use ledger::sql::{Run, Store};
use scheduler::Policy;
use stamp::bitcoin::Network;
use stamp::calendar::CalendarConfig;
use stamp::epochs::Epochs;
use stamp::headers::RemoteHeaders;
use stamp::tsp::client::TsaClient;
use stamp::tsp::{Certificate, ObjectIdentifier, VerifyOptions};

use crate::error::{Result, WorkerError};
use crate::queue::{Queue, QueueTarget};

/// The public OpenTimestamps calendars the reference client uses, when none are configured.
pub const DEFAULT_CALENDARS: &[&str] = &[
    "https://a.pool.opentimestamps.org",
    "https://b.pool.opentimestamps.org",
    "https://a.pool.eternitywall.com",
    "https://ots.btc.catallaxy.com",
];

/// An RFC 3161 TSA and what its replies must satisfy.
#[derive(Clone, Debug)]
pub struct Tsa {
    /// `LEDGER_TSA_URL`'s authorities in order: the first that grants a checked token stamps
    /// the root (failover); all must chain to `verify`'s CA bundle.
    pub clients: Vec<TsaClient>,
    /// The checks as configured when the process started (see [`Tsa::verify`]).
    verify: VerifyOptions,
    pub policy: Option<ObjectIdentifier>,
    /// `LEDGER_TSA_CA_FILE` and the bundle last read from it, with the file's modification
    /// time then: [`Tsa::verify`] reads the file again when it changed.
    ca: Option<Arc<CaFile>>,
}

#[derive(Debug)]
struct CaFile {
    path: PathBuf,
    loaded: std::sync::Mutex<(Option<std::time::SystemTime>, Vec<Certificate>)>,
}

impl Tsa {
    /// A tenant's own authority (`anchor tenants tsa`): its URLs in order, its policy (requested
    /// and required; else the fleet's) and its CA bundle (else the fleet's, as it is now).
    /// Built per stamp, so a change to the tenant applies to its next run.
    pub fn for_tenant(own: &ledger::sql::TenantTsa, fleet: Option<&Tsa>) -> Result<Tsa> {
        let bad =
            |what: &str, e: String| WorkerError::Permanent(format!("the tenant's TSA {what}: {e}"));
        let timeout = Duration::from_secs(15);
        let clients = own
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| TsaClient::new(u, timeout))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(bad("url", format!("{:?} names no authority", own.url)));
        }
        let mut verify = match fleet {
            Some(f) => f.verify()?,
            None => VerifyOptions::default(),
        };
        if let Some(pem) = &own.ca_pem {
            verify.trusted = Certificate::from_pem_bundle(pem).map_err(|e| bad("CA bundle", e))?;
        }
        let policy = match &own.policy {
            Some(p) => Some(stamp::tsp::parse_oid(p).map_err(|e| bad("policy", e))?),
            None => fleet.and_then(|f| f.policy.clone()),
        };
        if let Some(p) = &policy {
            verify.policies = vec![p.clone()];
        }
        Ok(Tsa {
            clients,
            verify,
            policy,
            ca: None,
        })
    }

    /// The checks a TSA reply must pass now. Decision: CA bundle rotation without a restart —
    /// `LEDGER_TSA_CA_FILE` is re-read whenever its modification time changed since the last
    /// read (a `stat` per stamp, cheap next to the stamp's round trip), so an operator rotates
    /// the bundle by replacing the file (atomically: write and rename). A file that became
    /// unreadable or unparsable is an error naming it, and the stamp fails (and is retried)
    /// rather than being checked against nothing.
    pub fn verify(&self) -> Result<VerifyOptions> {
        let mut v = self.verify.clone();
        let Some(ca) = &self.ca else { return Ok(v) };
        let named = |e: String| {
            WorkerError::Config(format!("LEDGER_TSA_CA_FILE {}: {e}", ca.path.display()))
        };
        let modified = std::fs::metadata(&ca.path)
            .and_then(|m| m.modified())
            .map_err(|e| named(e.to_string()))?;
        let mut loaded = ca.loaded.lock().expect("the CA bundle lock");
        if loaded.0 != Some(modified) {
            let pem = std::fs::read_to_string(&ca.path).map_err(|e| named(e.to_string()))?;
            let certs = Certificate::from_pem_bundle(&pem).map_err(named)?;
            if loaded.0.is_some() {
                tracing::info!(file = %ca.path.display(), certificates = certs.len(), "TSA CA bundle re-read");
            }
            *loaded = (Some(modified), certs);
        }
        v.trusted.clone_from(&loaded.1);
        Ok(v)
    }
}

/// Where roots get stamped.
#[derive(Clone, Debug)]
pub struct Stamping {
    pub calendars: CalendarConfig,
    pub http: reqwest::Client,
    /// `None`: no TSA configured, so runs that need one fail with that reason.
    pub tsa: Option<Tsa>,
    /// Header source that confirms Bitcoin attestations during upgrades.
    pub headers: Option<RemoteHeaders>,
    /// The chain whose proof-of-work floor those headers must meet (Bitcoin unless
    /// `LEDGER_BITCOIN_NETWORK=regtest`).
    pub network: Network,
    /// A newer mainnet epoch table than the shipped one (`LEDGER_BITCOIN_EPOCHS_FILE`), checked
    /// against it when the configuration is read.
    pub epochs: Option<Arc<Epochs>>,
}

impl Stamping {
    /// From `LEDGER_OTS_CALENDARS` (comma-separated; default [`DEFAULT_CALENDARS`]),
    /// `LEDGER_OTS_MIN` (default 2, or n when fewer), `LEDGER_TSA_URL` (one URL, or several
    /// comma-separated, tried in order), `LEDGER_TSA_CA_FILE`
    /// (PEM roots the TSA must chain to; without it the chain is not checked, which a
    /// warning says), `LEDGER_TSA_POLICY` (OID to request and require), `LEDGER_ESPLORA_URL`,
    /// `LEDGER_BITCOIN_NETWORK` (`bitcoin`, the default, or `regtest`),
    /// `LEDGER_BITCOIN_EPOCHS_FILE` (a newer mainnet epoch table; refused, naming the first bad
    /// epoch, unless it agrees with the shipped one and keeps to the 4x clamp).
    pub fn from_config(config: &Config) -> Result<Stamping> {
        let calendars = calendars(config)?;
        let timeout = Duration::from_secs(15);
        let http = stamp::calendar::http_client(timeout)?;
        let tsa = match config.var("LEDGER_TSA_URL") {
            None => None,
            Some(url) => Some(Tsa::from_config(url, config, timeout)?),
        };
        let headers = config
            .var("LEDGER_ESPLORA_URL")
            .map(|u| {
                RemoteHeaders::esplora(u)
                    .map_err(|e| WorkerError::Config(format!("LEDGER_ESPLORA_URL: {e}")))
            })
            .transpose()?;
        let network = network(config)?;
        let epochs = epochs(config, network)?;
        Ok(Stamping {
            calendars,
            http,
            tsa,
            headers,
            network,
            epochs,
        })
    }
}

/// `LEDGER_OTS_CALENDARS` (http(s) URLs) and `LEDGER_OTS_MIN`.
fn calendars(config: &Config) -> Result<CalendarConfig> {
    let calendars: Vec<String> = match config.var("LEDGER_OTS_CALENDARS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => DEFAULT_CALENDARS.iter().map(|s| (*s).to_owned()).collect(),
    };
    for c in &calendars {
        if !(c.starts_with("https://") || c.starts_with("http://")) {
            return Err(WorkerError::Config(format!(
                "LEDGER_OTS_CALENDARS: {:?} is not an http(s) URL",
                ledger::redact::redact_url(c)
            )));
        }
    }
    let mut cal = CalendarConfig::new(calendars);
    if let Some(m) = config.var("LEDGER_OTS_MIN") {
        cal.min_ok = m
            .parse()
            .ok()
            .filter(|m| *m >= 1 && *m <= cal.calendars.len())
            .ok_or_else(|| {
                WorkerError::Config(format!(
                    "LEDGER_OTS_MIN: {m:?} must be between 1 and the {} calendars",
                    cal.calendars.len()
                ))
            })?;
    }
    Ok(cal)
}

/// `LEDGER_BITCOIN_NETWORK`: `bitcoin` (the default) or `regtest`, which is warned about.
fn network(config: &Config) -> Result<Network> {
    let network = match config.var("LEDGER_BITCOIN_NETWORK") {
        None | Some("bitcoin") => Network::Bitcoin,
        Some("regtest") => Network::Regtest,
        Some(other) => {
            return Err(WorkerError::Config(format!(
                "LEDGER_BITCOIN_NETWORK: {other:?} is neither bitcoin nor regtest"
            )));
        }
    };
    if network == Network::Regtest {
        tracing::warn!(
            "LEDGER_BITCOIN_NETWORK=regtest: upgrades accept headers at regtest difficulty, which prove nothing about time"
        );
    }
    Ok(network)
}

/// `LEDGER_BITCOIN_EPOCHS_FILE`: a newer mainnet epoch table, checked against the shipped one.
fn epochs(config: &Config, network: Network) -> Result<Option<Arc<Epochs>>> {
    Ok(match config.var("LEDGER_BITCOIN_EPOCHS_FILE") {
        None => None,
        Some(_) if network == Network::Regtest => {
            return Err(WorkerError::Config(
                "LEDGER_BITCOIN_EPOCHS_FILE is a mainnet table; LEDGER_BITCOIN_NETWORK is regtest"
                    .into(),
            ));
        }
        Some(path) => {
            let table = Epochs::mainnet_from_file(std::path::Path::new(path))
                .map_err(|e| WorkerError::Config(format!("LEDGER_BITCOIN_EPOCHS_FILE: {e}")))?;
            tracing::info!(
                path,
                bits_to = table.last_height(),
                hashes_to = table.last_known_height(),
                "mainnet epoch table from LEDGER_BITCOIN_EPOCHS_FILE"
            );
            Some(Arc::new(table))
        }
    })
}

impl Tsa {
    fn from_config(urls: &str, config: &Config, timeout: Duration) -> Result<Tsa> {
        let clients = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| TsaClient::new(u, timeout))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(WorkerError::Config(
                "LEDGER_TSA_URL names no time-stamping authority".into(),
            ));
        }
        let url = urls;
        let mut verify = VerifyOptions::default();
        let mut ca = None;
        if let Some(path) = config.var("LEDGER_TSA_CA_FILE") {
            let file = Arc::new(CaFile {
                path: path.into(),
                loaded: std::sync::Mutex::new((None, Vec::new())),
            });
            ca = Some(file);
        } else {
            tracing::warn!(
                tsa = url,
                "LEDGER_TSA_CA_FILE is not set: TSA replies are checked but their certificate chain is not"
            );
        }
        let policy = config
            .var("LEDGER_TSA_POLICY")
            .map(|p| {
                stamp::tsp::parse_oid(p)
                    .map_err(|e| WorkerError::Config(format!("LEDGER_TSA_POLICY: {e}")))
            })
            .transpose()?;
        if let Some(p) = &policy {
            verify.policies = vec![p.clone()];
        }
        let tsa = Tsa {
            clients,
            verify,
            policy,
            ca,
        };
        // Read once now: a bundle that does not parse is a configuration error at start.
        tsa.verify()?;
        Ok(tsa)
    }
}

/// Everything a job handler needs. Shared behind an `Arc` by every worker of a process.
#[derive(Debug)]
pub struct Ctx {
    pub store: Store,
    pub blobs: BlobStore,
    pub kv: Kv,
    pub key: SigningKey,
    pub policy: Policy,
    pub stamping: Stamping,
    pub queue: Queue,
    /// How long a worker may hold a run before another may take it over (crash recovery).
    pub run_lease: Duration,
    /// How long finished jobs stay in the queue before the tick trims them
    /// (`LEDGER_QUEUE_RETAIN_DONE`, default [`crate::queue::RETAIN_DONE`]).
    pub queue_retain_done: Duration,
    /// The calendar canary (`LEDGER_CANARY_INTERVAL`, `LEDGER_CANARY_DEADLINE`); `None`:
    /// off ([`crate::canary`]).
    pub canary: Option<CanaryPolicy>,
    /// Names this process in leases and logs.
    pub worker_id: String,
    /// Test hook: the step at which to stop dead (see [`Ctx::checkpoint`]).
    pub crash_at: Option<String>,
    /// Called with each step a rollup passes (`anchor run`'s progress bar).
    pub progress: Option<Progress>,
}

/// A callback for the steps of a rollup ([`crate::rollup::CHECKPOINTS`]).
pub struct Progress(pub Box<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Where the queue is, from `LEDGER_QUEUE` (`embedded`, the default: a SQLite file beside
/// the data; or `redis://…`).
pub fn queue_target(config: &Config) -> Result<QueueTarget> {
    match config.var("LEDGER_QUEUE") {
        None | Some("embedded") => Ok(QueueTarget::Sqlite(config.queue_path())),
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            Ok(QueueTarget::Redis(url.to_owned()))
        }
        Some(other) => Err(WorkerError::Config(format!(
            "LEDGER_QUEUE: {:?} is neither embedded nor redis://…",
            ledger::redact::redact_url(other)
        ))),
    }
}

/// The fleet's job queue: named after the fleet id of `store`'s database. With `LEDGER_FLEET`
/// set, that id must equal it: a process pointed at another fleet's (migrated) database then
/// refuses to start instead of serving an empty queue of its own.
pub async fn open_queue(config: &Config, store: &Store) -> Result<Queue> {
    let fleet = store.fleet_id().await?;
    if let Some(pinned) = config.var("LEDGER_FLEET")
        && pinned != fleet
    {
        return Err(WorkerError::Config(format!(
            "LEDGER_FLEET is {pinned} but the database {} belongs to fleet {fleet}: is \
             LEDGER_DATABASE_URL this fleet's database?",
            ledger::config::redact_url(&config.database_url)
        )));
    }
    let target = queue_target(config)?;
    if let QueueTarget::Sqlite(path) = &target {
        // The embedded SQLite file is created owner-only first ([`ledger::private`]).
        ledger::private::precreate_sqlite(&format!("sqlite://{}", path.display()))
            .map_err(|e| WorkerError::Config(format!("{}: {e}", path.display())))?;
    }
    // A Redis queue that cannot be reached is `Unavailable` naming `host:port` and the
    // cause, as the database and the KV are, so every role exits the same way for it.
    Queue::open(&target, &fleet)
        .await
        .map_err(|e| match (&target, e) {
            (QueueTarget::Redis(url), WorkerError::Queue(cause)) => {
                WorkerError::Ledger(LedgerError::Unavailable {
                    what: "Redis queue (LEDGER_QUEUE)",
                    endpoint: ledger::redact::endpoint(url),
                    cause: cause
                        .split_once(": ")
                        .filter(|(head, _)| head.starts_with("connecting to Redis"))
                        .map_or(cause.as_str(), |(_, rest)| rest)
                        .to_owned(),
                })
            }
            (_, e) => e,
        })
}

/// The signing key from `LEDGER_SIGNING_KEY(_FILE)`; otherwise, on the embedded defaults only,
/// `{data}/signing-key.pem`, generated on first use (0600). A fleet must configure its key: two
/// workers with two generated keys would sign one chain with keys nobody published.
pub fn signing_key(config: &Config, embedded: bool) -> Result<SigningKey> {
    let lookup = |name: &str| config.var(name).map(std::ffi::OsString::from);
    if let Some(key) = ledger::keys::load_with("LEDGER_SIGNING_KEY", lookup)? {
        return Ok(key);
    }
    if !embedded {
        return Err(WorkerError::Config(
            "LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE must be set outside the embedded defaults"
                .into(),
        ));
    }
    let path: PathBuf = config.data_dir.join("signing-key.pem");
    match std::fs::read_to_string(&path) {
        Ok(pem) => Ok(SigningKey::from_pem(&pem)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            write_private(&path, key.to_pkcs8_pem().as_bytes())?;
            tracing::warn!(path = %path.display(), kid = %key.key_id(), "generated a signing key for the embedded defaults");
            // Another process may have won the race: use whatever is on disk.
            Ok(SigningKey::from_pem(
                &std::fs::read_to_string(&path)
                    .map_err(|e| WorkerError::Config(format!("{}: {e}", path.display())))?,
            )?)
        }
        Err(e) => Err(WorkerError::Config(format!("{}: {e}", path.display()))),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        ledger::private::create_dir_all(dir)
            .map_err(|e| WorkerError::Config(format!("{}: {e}", dir.display())))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| WorkerError::Config(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(WorkerError::Config(format!("{}: {e}", path.display()))),
    }
}

/// The workers' part of the configuration, typed: read once from the loaded [`Config`] (at the
/// binary's edge) and handed to [`Ctx::open_with`]. The anchoring policy is the scheduler's
/// part, handed down beside it; the backends, the queue and the signing key are opened from
/// the [`Config`] itself (connections and secrets, not settings).
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub stamping: Stamping,
    /// `LEDGER_RUN_LEASE` (default 10 minutes).
    pub run_lease: Duration,
    /// `LEDGER_QUEUE_RETAIN_DONE` (default [`crate::queue::RETAIN_DONE`]).
    pub queue_retain_done: Duration,
    /// `LEDGER_CANARY_INTERVAL`, `LEDGER_CANARY_DEADLINE`.
    pub canary: Option<CanaryPolicy>,
}

impl WorkerSettings {
    /// Every variable the workers read, checked now: a bad one fails the process at start.
    pub fn from_config(config: &Config) -> Result<WorkerSettings> {
        Ok(WorkerSettings {
            stamping: Stamping::from_config(config)?,
            run_lease: duration_var(config, "LEDGER_RUN_LEASE")?.unwrap_or(Duration::from_mins(10)),
            queue_retain_done: duration_var(config, "LEDGER_QUEUE_RETAIN_DONE")?
                .unwrap_or(crate::queue::RETAIN_DONE),
            canary: CanaryPolicy::from_config(config)?,
        })
    }
}

/// The duration variable `name` as a `std` duration, when set.
fn duration_var(config: &Config, name: &'static str) -> Result<Option<Duration>> {
    config
        .var(name)
        .map(|s| {
            scheduler::policy::parse_duration(name, s)?
                .to_std()
                .map_err(|_| WorkerError::Config(format!("{name} must be positive")))
        })
        .transpose()
}

impl Ctx {
    /// Opens everything from the configuration, reading the policy and the workers' settings
    /// from it (tests and benches; a binary reads them once at its edge and calls
    /// [`Ctx::open_with`]). `embedded` allows the generated signing key.
    pub async fn open(config: &Config, embedded: bool) -> Result<Ctx> {
        let policy = Policy::from_vars(|name| config.var(name).map(str::to_owned))?;
        Ctx::open_with(
            config,
            policy,
            WorkerSettings::from_config(config)?,
            embedded,
        )
        .await
    }

    /// Opens the backends, the queue and the signing key from `config`, with the policy and
    /// the workers' settings already read.
    pub async fn open_with(
        config: &Config,
        policy: Policy,
        settings: WorkerSettings,
        embedded: bool,
    ) -> Result<Ctx> {
        let Backends { store, blobs, kv } = config.open().await?;
        let queue = open_queue(config, &store).await?;
        let key = signing_key(config, embedded)?;
        let WorkerSettings {
            stamping,
            run_lease,
            queue_retain_done,
            canary,
        } = settings;
        Ok(Ctx {
            store,
            blobs,
            kv,
            key,
            policy,
            stamping,
            queue,
            run_lease,
            queue_retain_done,
            canary,
            worker_id: format!(
                "{}-{}",
                std::process::id(),
                merkle::hash::encode_hex(&rand::random::<[u8; 4]>())
            ),
            crash_at: std::env::var("ANCHOR_TEST_CRASH_AT")
                .ok()
                .filter(|s| !s.is_empty()),
            progress: None,
        })
    }

    /// The current time (one place, so a later simulated clock has one seam).
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A rollup passed `step`: report it to [`Ctx::progress`]; and, the crash-test hook, when
    /// `ANCHOR_TEST_CRASH_AT` names `step`, announce it on stderr and stop dead, leaving the
    /// process for the test to SIGKILL. Never set in production.
    pub async fn checkpoint(&self, step: &str) {
        if let Some(Progress(report)) = &self.progress {
            report(step);
        }
        if self.crash_at.as_deref() == Some(step) {
            eprintln!("CRASHPOINT {step}");
            std::future::pending::<()>().await;
        }
    }
}

/// When to stamp canaries and when one is late ([`crate::canary`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryPolicy {
    /// The least time between two canaries of one calendar.
    pub interval: chrono::Duration,
    /// How long a stamp may stay pending at a calendar before an incident names it.
    pub deadline: chrono::Duration,
}

impl CanaryPolicy {
    pub const DEFAULT_INTERVAL: chrono::Duration = chrono::Duration::hours(1);
    pub const DEFAULT_DEADLINE: chrono::Duration = chrono::Duration::hours(24);

    /// From `LEDGER_CANARY_INTERVAL` (`off`, or a duration of at least 1s; unset: 1h in a
    /// fleet, off on the embedded defaults) and `LEDGER_CANARY_DEADLINE` (a positive
    /// duration; default 24h). `None`: the canary is off.
    pub fn from_config(config: &Config) -> Result<Option<CanaryPolicy>> {
        CanaryPolicy::from_vars(config.is_embedded(), |name| config.var(name))
    }

    /// [`CanaryPolicy::from_config`] over a variable lookup (pure).
    pub fn from_vars<'a>(
        embedded: bool,
        var: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Option<CanaryPolicy>> {
        let deadline = match var("LEDGER_CANARY_DEADLINE") {
            Some(s) => positive("LEDGER_CANARY_DEADLINE", s)?,
            None => CanaryPolicy::DEFAULT_DEADLINE,
        };
        let interval = match var("LEDGER_CANARY_INTERVAL") {
            Some("off") => return Ok(None),
            Some(s) => positive("LEDGER_CANARY_INTERVAL", s)?,
            None if embedded => return Ok(None),
            None => CanaryPolicy::DEFAULT_INTERVAL,
        };
        Ok(Some(CanaryPolicy { interval, deadline }))
    }
}

fn positive(name: &'static str, s: &str) -> Result<chrono::Duration> {
    let d = scheduler::policy::parse_duration(name, s)?;
    if d < chrono::Duration::seconds(1) {
        return Err(WorkerError::Config(format!(
            "{name}: {s:?} must be at least 1s (or LEDGER_CANARY_INTERVAL=off)"
        )));
    }
    Ok(d)
}

/// The run a job names, or [`WorkerError::RunMissing`] when this database has no such run.
pub async fn job_run(ctx: &Ctx, run_id: &str) -> Result<Run> {
    match ctx.store.run(run_id).await {
        Err(LedgerError::NotFound { what: "run", .. }) => {
            Err(WorkerError::RunMissing(run_id.to_owned()))
        }
        other => Ok(other?),
    }
}

/// Every run whose OTS anchor waits for Bitcoin (status `anchored`), at most 100 000: what
/// the upgrade reconciliation, the calendar canary and the demo walk.
pub async fn anchored_runs(ctx: &Ctx) -> Result<Vec<Run>> {
    Ok(ctx
        .store
        .runs(&ledger::sql::RunFilter {
            tenant: None,
            status: Some(ledger::sql::RunStatus::Anchored),
            limit: Some(100_000),
        })
        .await?)
}
