//! One typed configuration choosing every backend.
//!
//! **Sources**, later wins: built-in defaults < a config file < the process environment. The
//! file is an environment file — `NAME=value` lines, `#` comments, blank lines, optional
//! matching quotes around the value — using exactly the variable names below, so one set of
//! names is documented once, and the same file serves `anchor --config FILE`, systemd's
//! `EnvironmentFile=` and a container's `--env-file`. Unknown `LEDGER_` names in the file are
//! an error (a typo must not silently select a default backend).
//!
//! **Embedded defaults** need no configuration at all: everything lives under one data
//! directory (`./anchor-data`): `ledger.sqlite` (system of record, and the KV), `blobs/`
//! (artifacts), and the job queue's own SQLite file beside them.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LEDGER_DATA_DIR` | `./anchor-data` | where embedded backends keep their files |
//! | `LEDGER_DATABASE_URL` | `sqlite://{data}/ledger.sqlite` | `sqlite://PATH` or `postgres://…` |
//! | `LEDGER_BLOBS` | `dir:{data}/blobs` | `dir:PATH` or `s3://BUCKET` |
//! | `LEDGER_S3_ENDPOINT` | (AWS) | S3-compatible endpoint, e.g. `https://ACCOUNT.r2.cloudflarestorage.com` |
//! | `LEDGER_S3_REGION` | `us-east-1` | region (`auto` for R2) |
//! | `LEDGER_S3_PATH_STYLE` | `true` | path-style addressing (needed by most S3-compatible stores) |
//! | `LEDGER_S3_ACCESS_KEY_ID`, `LEDGER_S3_SECRET_ACCESS_KEY` (or `…_FILE`) | | S3 credentials |
//! | `LEDGER_KV` | `embedded` | `embedded` (the SQL store) or `redis://…` |
//! | `LEDGER_KV_PREFIX` | `ledger-anchors:` | prefix of every Redis key |
//! | `LEDGER_SIGNING_KEY` or `LEDGER_SIGNING_KEY_FILE` | | ES256 private key (PEM), never both |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::blob::{BlobStore, DirStore, S3Config, S3Store};
use crate::error::{LedgerError, Result};
use crate::kv::Kv;
use crate::sql::{Schema, Store};

/// Every backend, connected: what `anchor` processes share.
#[derive(Clone, Debug)]
pub struct Backends {
    pub store: Store,
    pub blobs: BlobStore,
    pub kv: Kv,
}

/// Every variable this module reads (the file may set only these among `LEDGER_*`).
pub const VARIABLES: &[&str] = &[
    "LEDGER_DATA_DIR",
    "LEDGER_DATABASE_URL",
    "LEDGER_BLOBS",
    "LEDGER_S3_ENDPOINT",
    "LEDGER_S3_REGION",
    "LEDGER_S3_PATH_STYLE",
    "LEDGER_S3_ACCESS_KEY_ID",
    "LEDGER_S3_ACCESS_KEY_ID_FILE",
    "LEDGER_S3_SECRET_ACCESS_KEY",
    "LEDGER_S3_SECRET_ACCESS_KEY_FILE",
    "LEDGER_KV",
    "LEDGER_KV_PREFIX",
    "LEDGER_SIGNING_KEY",
    "LEDGER_SIGNING_KEY_FILE",
    // `text` (default) or `json`: the log format of the `anchor` binary. Read from the process
    // environment when the process starts, before any `--config` file (logging starts
    // first); listed so that the environment of a configured process may carry it.
    "LEDGER_LOG_FORMAT",
    // Read by the workers (stamping, queue) and the scheduler (policy); listed here because
    // one process reads one configuration, and an unknown name must stay an error.
    "LEDGER_QUEUE",
    "LEDGER_FLEET",
    "LEDGER_QUEUE_RETAIN_DONE",
    "LEDGER_OTS_CALENDARS",
    "LEDGER_OTS_MIN",
    "LEDGER_TSA_URL",
    "LEDGER_TSA_CA_FILE",
    "LEDGER_TSA_POLICY",
    "LEDGER_ESPLORA_URL",
    // `bitcoin` (default) or `regtest`: the chain whose proof-of-work floor the headers from
    // LEDGER_ESPLORA_URL must meet when an upgrade confirms a Bitcoin attestation. `regtest`
    // only for a local dev chain (the dev calendars'): its work proves nothing about time.
    "LEDGER_BITCOIN_NETWORK",
    // A newer Bitcoin mainnet epoch table than the one shipped with the release (the format of
    // stamp/data/mainnet-epochs.txt), checked against it when the workers start.
    "LEDGER_BITCOIN_EPOCHS_FILE",
    "LEDGER_RUN_LEASE",
    // The calendar canary (workers/src/canary.rs): `off` or the least time between two
    // canaries of one calendar (default 1h in a fleet, off on the embedded defaults), and how
    // long a stamp may stay pending at a calendar before an incident names it (default 24h).
    "LEDGER_CANARY_INTERVAL",
    "LEDGER_CANARY_DEADLINE",
    "LEDGER_PLAN_STARTER",
    "LEDGER_PLAN_PRO",
    "LEDGER_PLAN_ENTERPRISE",
    "LEDGER_GRACE",
    "LEDGER_UPGRADE_HORIZON",
    "LEDGER_TICK",
    "LEDGER_COST_OTS_USD",
    "LEDGER_COST_TSA_USD",
    "LEDGER_OUTAGE_THRESHOLD",
    "LEDGER_SAMPLE_SIZE",
    // Read by the API (anchor_api::ApiConfig).
    "LEDGER_ADMIN_TOKEN",
    "LEDGER_ADMIN_TOKEN_FILE",
    "LEDGER_API_ADDR",
    "LEDGER_API_RATE",
    "LEDGER_API_BURST",
    "LEDGER_API_BODY_LIMIT",
    "LEDGER_API_MAX_BATCH",
    "LEDGER_API_TIMEOUT",
    "LEDGER_API_CACHE_TTL",
    "LEDGER_API_HEADER_TIMEOUT",
    "LEDGER_API_CLIENT_IP_HEADER",
    // Read by reserve attestations (reserves::config).
    "LEDGER_RESERVES_TENANT",
    "LEDGER_RESERVES_MAX_SUMMARY_AGE",
    "LEDGER_RESERVES_WEBHOOKS",
];

/// Where artifacts go. `Debug` redacts the endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum BlobTarget {
    Dir(PathBuf),
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        path_style: bool,
    },
}

/// Where the KV lives. `Debug` redacts the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum KvTarget {
    /// The SQL store's `kv` table.
    Embedded,
    Redis {
        url: String,
        prefix: String,
    },
}

/// The resolved configuration. Its `Debug` leaves out the raw variables (they hold secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub blobs: BlobTarget,
    pub kv: KvTarget,
    /// The merged variables, for the readers that resolve secrets themselves (S3
    /// credentials, the signing key) so that they never sit in this struct's `Debug`.
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("blobs", &self.blobs)
            .field("kv", &self.kv)
            .finish_non_exhaustive()
    }
}

pub use crate::redact::redact_url;

impl std::fmt::Debug for KvTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvTarget::Embedded => f.write_str("Embedded"),
            KvTarget::Redis { url, prefix } => f
                .debug_struct("Redis")
                .field("url", &redact_url(url))
                .field("prefix", prefix)
                .finish(),
        }
    }
}

impl std::fmt::Debug for BlobTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobTarget::Dir(p) => f.debug_tuple("Dir").field(p).finish(),
            BlobTarget::S3 {
                bucket,
                endpoint,
                region,
                path_style,
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", &endpoint.as_deref().map(redact_url))
                .field("region", region)
                .field("path_style", path_style)
                .finish(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let text = file
            .map(|p| {
                std::fs::read_to_string(p).map_err(|source| LedgerError::Io {
                    path: p.display().to_string(),
                    source,
                })
            })
            .transpose()?;
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("LEDGER_"))
            .collect();
        Config::from_sources(text.as_deref(), &env)
    }

    /// The pure core of [`Config::load`]: `file` is the env-file text, `env` the environment.
    pub fn from_sources(file: Option<&str>, env: &BTreeMap<String, String>) -> Result<Config> {
        let mut vars = match file {
            Some(text) => parse_env_file(text)?,
            None => BTreeMap::new(),
        };
        for (k, v) in env {
            if VARIABLES.contains(&k.as_str()) {
                vars.insert(k.clone(), v.clone());
            }
        }
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let data_dir =
            PathBuf::from(get("LEDGER_DATA_DIR").unwrap_or_else(|| "anchor-data".into()));
        let database_url = get("LEDGER_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ledger.sqlite").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(LedgerError::invalid(
                "LEDGER_DATABASE_URL",
                &redact_url(&database_url),
                "must start with sqlite:// or postgres://",
            ));
        }
        let blobs = match get("LEDGER_BLOBS") {
            None => BlobTarget::Dir(data_dir.join("blobs")),
            Some(v) => parse_blobs(&v, &get)?,
        };
        let kv = match get("LEDGER_KV").as_deref() {
            None | Some("embedded") => KvTarget::Embedded,
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                KvTarget::Redis {
                    url: url.to_owned(),
                    prefix: get("LEDGER_KV_PREFIX").unwrap_or_else(|| "ledger-anchors:".into()),
                }
            }
            Some(other) => {
                return Err(LedgerError::invalid(
                    "LEDGER_KV",
                    &redact_url(other),
                    "expected embedded or redis://… or rediss://…",
                ));
            }
        };
        Ok(Config {
            data_dir,
            database_url,
            blobs,
            kv,
            vars,
        })
    }

    /// A merged variable (file or environment), e.g. for secrets read by their owners.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Reads a secret given as `NAME` (the value) or `NAME_FILE` (a path to it, trimmed);
    /// both set is a `Config` error naming both.
    pub fn secret(&self, name: &str) -> Result<Option<String>> {
        let file_var = format!("{name}_FILE");
        match (self.var(name), self.var(&file_var)) {
            (Some(_), Some(_)) => Err(LedgerError::Config(format!(
                "both {name} and {file_var} are set; set one"
            ))),
            (Some(v), None) => Ok(Some(v.to_owned())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|source| LedgerError::Io {
                    path: format!("{file_var}={path}"),
                    source,
                }),
            (None, None) => Ok(None),
        }
    }

    /// Whether this is the embedded deployment: SQL store on SQLite, artifacts in a
    /// directory and the job queue in the data directory's SQLite file. Its data directory
    /// is the whole fleet, so any command on it may create its schema.
    pub fn is_embedded(&self) -> bool {
        self.database_url.starts_with("sqlite:")
            && matches!(self.blobs, BlobTarget::Dir(_))
            && self.var("LEDGER_QUEUE").is_none_or(|q| q == "embedded")
    }

    /// Connects every backend: on the embedded defaults creating or migrating the schema, in
    /// a fleet requiring one that `anchor migrate` made ([`Schema`]).
    pub async fn open(&self) -> Result<Backends> {
        self.open_with(self.schema()).await
    }

    /// What opening the store may do to its schema: migrate it on the embedded defaults,
    /// require `anchor migrate`'s in a fleet.
    pub fn schema(&self) -> Schema {
        if self.is_embedded() {
            Schema::Migrate
        } else {
            Schema::Require
        }
    }

    /// The SQL store alone, under the same schema rule as [`Config::open`].
    pub async fn open_store(&self) -> Result<Store> {
        connect_store(&self.database_url, self.schema()).await
    }

    /// Connects every backend (creating the data directory when an embedded one needs it),
    /// migrating or requiring the SQL schema as `schema` says.
    pub async fn open_with(&self, schema: Schema) -> Result<Backends> {
        if self.database_url.starts_with("sqlite:") || matches!(self.blobs, BlobTarget::Dir(_)) {
            crate::private::create_dir_all(&self.data_dir).map_err(|source| LedgerError::Io {
                path: self.data_dir.display().to_string(),
                source,
            })?;
        }
        let store = connect_store(&self.database_url, schema).await?;
        let blobs = match &self.blobs {
            BlobTarget::Dir(path) => BlobStore::Dir(DirStore::new(path.clone())?),
            BlobTarget::S3 { .. } => BlobStore::S3(S3Store::new(
                &self.s3_config()?.expect("an S3 target has an S3 config"),
            )?),
        };
        let kv = match &self.kv {
            KvTarget::Embedded => Kv::Sql(store.clone()),
            KvTarget::Redis { url, prefix } => Kv::redis(url, prefix).await?,
        };
        Ok(Backends { store, blobs, kv })
    }

    /// The S3 client configuration when artifacts go to S3 (`None` for a directory). The
    /// bucket comes from `LEDGER_BLOBS`; credentials from `LEDGER_S3_ACCESS_KEY_ID` /
    /// `LEDGER_S3_SECRET_ACCESS_KEY` (or their `_FILE` forms), else `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` from the process environment.
    pub fn s3_config(&self) -> Result<Option<S3Config>> {
        let BlobTarget::S3 {
            bucket,
            endpoint,
            region,
            path_style,
        } = &self.blobs
        else {
            return Ok(None);
        };
        let mut c = S3Config::from_vars(|name| match name {
            "LEDGER_S3_BUCKET" => Some(bucket.clone()),
            n if n.starts_with("AWS_") => std::env::var(n).ok(),
            n => self.var(n).map(str::to_owned),
        })?;
        c.endpoint.clone_from(endpoint);
        c.region.clone_from(region);
        c.path_style = *path_style;
        Ok(Some(c))
    }

    /// The job queue's SQLite file for the embedded deployment: its own file, because the
    /// queue turns `synchronous` off on its connection and the ledger must not share that.
    pub fn queue_path(&self) -> PathBuf {
        self.data_dir.join("queue.sqlite")
    }
}

/// [`Store::connect`], with a failure to reach the database as [`LedgerError::Unavailable`]
/// naming `host:port` (or the SQLite path) and the innermost cause once, never the URL's
/// credentials. Every process that opens the store goes through here (`Config::open` and the
/// CLI's operator commands), so the same misconfiguration reads, and exits, the same in every
/// role.
///
/// A SQLite file that does not exist yet is created owner-only first ([`crate::private`]).
pub async fn connect_store(url: &str, schema: Schema) -> Result<Store> {
    crate::private::precreate_sqlite(url).map_err(|e| LedgerError::Unavailable {
        what: "database (LEDGER_DATABASE_URL)",
        endpoint: crate::redact::endpoint(url),
        cause: e.to_string(),
    })?;
    // One plain connection first: the pool retries a refused connection until its acquire
    // time-out and then reports only "timed out", so the cause would be lost (and a closed
    // port would take 10 s to report).
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        use sqlx::Connection as _;
        match sqlx::postgres::PgConnection::connect(url).await {
            Ok(c) => {
                let _ = c.close().await;
            }
            Err(e) => return Err(unavailable_or_sql(url, e)),
        }
    }
    Store::open(url, schema).await.map_err(|e| match e {
        LedgerError::Sql(e) => unavailable_or_sql(url, e),
        other => other,
    })
}

/// A connection failure as `Unavailable`, a URL sqlx cannot use as `Config` (naming the
/// variable and the redacted URL), anything else as it was.
fn unavailable_or_sql(url: &str, e: sqlx::Error) -> LedgerError {
    if let sqlx::Error::Configuration(c) = &e {
        return LedgerError::Config(format!("LEDGER_DATABASE_URL {}: {c}", redact_url(url)));
    }
    match sql_cause(&e) {
        Some(cause) => LedgerError::Unavailable {
            what: "database (LEDGER_DATABASE_URL)",
            endpoint: crate::redact::endpoint(url),
            cause,
        },
        None => LedgerError::Sql(e),
    }
}

/// The reason a connection could not be made, once; `None` for errors of a working
/// connection (a failed query), which keep their own type.
fn sql_cause(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Io(io) => Some(io.to_string()),
        sqlx::Error::Tls(t) => Some(format!("TLS: {t}")),
        sqlx::Error::PoolTimedOut => Some("no connection before the pool timed out".to_owned()),
        sqlx::Error::PoolClosed => Some("the connection pool is closed".to_owned()),
        sqlx::Error::Protocol(p) => Some(format!("protocol: {p}")),
        sqlx::Error::Database(d) if d.code().is_some_and(|c| connect_code(&c)) => {
            Some(d.message().to_owned())
        }
        _ => None,
    }
}

/// Postgres SQLSTATE classes 08 (connection), 28 (authorisation), 3D (no such database) and
/// 53 (insufficient resources: too many connections); SQLite `CANTOPEN` and its extended codes.
fn connect_code(code: &str) -> bool {
    ["08", "28", "3D", "53"]
        .iter()
        .any(|class| code.len() == 5 && code.starts_with(class))
        || code.parse::<i32>().is_ok_and(|n| n & 0xff == 14)
}

fn parse_blobs(v: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<BlobTarget> {
    if let Some(path) = v.strip_prefix("dir:") {
        if path.is_empty() {
            return Err(LedgerError::invalid("LEDGER_BLOBS", v, "dir: needs a path"));
        }
        return Ok(BlobTarget::Dir(PathBuf::from(path)));
    }
    if let Some(bucket) = v.strip_prefix("s3://") {
        let bucket = bucket.trim_end_matches('/');
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !ok {
            return Err(LedgerError::invalid(
                "LEDGER_BLOBS",
                &redact_url(v),
                "bucket names are 3 to 63 of [a-z0-9.-]",
            ));
        }
        let path_style = match get("LEDGER_S3_PATH_STYLE").as_deref() {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(LedgerError::invalid(
                    "LEDGER_S3_PATH_STYLE",
                    other,
                    "expected true or false",
                ));
            }
        };
        return Ok(BlobTarget::S3 {
            bucket: bucket.to_owned(),
            endpoint: get("LEDGER_S3_ENDPOINT"),
            region: get("LEDGER_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            path_style,
        });
    }
    Err(LedgerError::invalid(
        "LEDGER_BLOBS",
        &redact_url(v),
        "expected dir:PATH or s3://BUCKET",
    ))
}

/// Parses an environment file (see the module documentation). An error names the line and
/// the variable, never the value (values are secrets: passwords in URLs, keys, tokens), and a
/// line without `=` is not shown at all (it may be a pasted secret).
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(LedgerError::Config(format!(
                "config file line {}: expected NAME=value (the line is not shown: it may hold a secret)",
                i + 1
            )));
        };
        let name = name.trim();
        let at = |reason: &str| {
            LedgerError::Config(format!("config file line {} ({name}): {reason}", i + 1))
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(LedgerError::Config(format!(
                "config file line {}: the name before '=' is not a variable name (the line is not shown: it may hold a secret)",
                i + 1
            )));
        }
        if name.starts_with("LEDGER_") && !VARIABLES.contains(&name) {
            return Err(at("unknown variable"));
        }
        let value = value.trim();
        let value = match value.as_bytes() {
            [q @ (b'"' | b'\''), .., last] if last == q => &value[1..value.len() - 1],
            [b'"' | b'\'', ..] => return Err(at("unterminated quote")),
            _ => value,
        };
        out.insert(name.to_owned(), value.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn no_configuration_at_all_is_the_embedded_deployment_under_one_directory() {
        let c = Config::from_sources(None, &BTreeMap::new()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("anchor-data"));
        assert_eq!(c.database_url, "sqlite://anchor-data/ledger.sqlite");
        assert_eq!(c.blobs, BlobTarget::Dir(PathBuf::from("anchor-data/blobs")));
        assert_eq!(c.kv, KvTarget::Embedded);
        assert_eq!(c.queue_path(), PathBuf::from("anchor-data/queue.sqlite"));
    }

    #[test]
    fn the_environment_overrides_the_file_and_selects_the_fleet_backends() {
        let file = "# fleet\nLEDGER_DATABASE_URL=postgres://anchor@db/anchor\n\
                    export LEDGER_BLOBS=\"s3://anchors\"\nLEDGER_S3_REGION=auto\n\
                    LEDGER_KV=redis://cache:6379/\n";
        let c = Config::from_sources(
            Some(file),
            &env(&[
                (
                    "LEDGER_S3_ENDPOINT",
                    "https://acct.r2.cloudflarestorage.com",
                ),
                ("LEDGER_KV_PREFIX", "prod:"),
            ]),
        )
        .unwrap();
        assert_eq!(c.database_url, "postgres://anchor@db/anchor");
        assert_eq!(
            c.blobs,
            BlobTarget::S3 {
                bucket: "anchors".into(),
                endpoint: Some("https://acct.r2.cloudflarestorage.com".into()),
                region: "auto".into(),
                path_style: true
            }
        );
        assert_eq!(
            c.kv,
            KvTarget::Redis {
                url: "redis://cache:6379/".into(),
                prefix: "prod:".into()
            }
        );
        let env_wins =
            Config::from_sources(Some(file), &env(&[("LEDGER_KV", "embedded")])).unwrap();
        assert_eq!(env_wins.kv, KvTarget::Embedded);
    }

    #[test]
    fn bad_values_and_typos_are_errors_naming_the_variable() {
        for (file, needle) in [
            ("LEDGER_DATABSE_URL=sqlite://x", "unknown variable"),
            ("LEDGER_BLOBS=ftp://x", "LEDGER_BLOBS"),
            ("LEDGER_BLOBS=s3://A_B", "bucket names"),
            ("LEDGER_KV=memcached://x", "LEDGER_KV"),
            ("LEDGER_DATABASE_URL=mysql://x", "LEDGER_DATABASE_URL"),
            (
                "LEDGER_BLOBS=s3://ok-bucket\nLEDGER_S3_PATH_STYLE=maybe",
                "LEDGER_S3_PATH_STYLE",
            ),
            ("JUST TEXT", "expected NAME=value"),
            ("LEDGER_KV=\"redis://x", "unterminated quote"),
        ] {
            let err = Config::from_sources(Some(file), &BTreeMap::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{file}: {err}");
        }
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let c = Config::from_sources(
            None,
            &env(&[
                ("LEDGER_DATABASE_URL", "postgres://u:hunter2@db/x"),
                ("LEDGER_SIGNING_KEY", "PEM-SECRET"),
            ]),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("PEM-SECRET"),
            "{dbg}"
        );
        assert!(dbg.contains("postgres://u:***@db/x"), "{dbg}");
    }

    #[test]
    fn config_file_errors_name_the_line_and_variable_never_the_value() {
        for (file, needle) in [
            (
                "# c\n\nLEDGER_KV=\"redis://u:hunter2@cache/",
                "line 3 (LEDGER_KV): unterminated quote",
            ),
            (
                "LEDGER_DATABASE_URL=x\nLEDGER_KVV=redis://:hunter2@c/",
                "line 2 (LEDGER_KVV): unknown variable",
            ),
            (
                "LEDGER_KV=redis://c/\nhunter2",
                "line 2: expected NAME=value",
            ),
            ("pass word hunter2=x", "line 1: the name before '='"),
        ] {
            let err = Config::from_sources(Some(file), &BTreeMap::new())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{file}: {err}");
            assert!(!err.contains("hunter2"), "{file}: {err}");
        }
    }

    #[test]
    fn urls_with_credentials_are_redacted_in_errors_and_debug() {
        let err =
            Config::from_sources(None, &env(&[("LEDGER_KV", "redis:/u:hunter2@cache:6379/")]))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("LEDGER_KV") && err.contains("u:***@cache"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::from_sources(
            None,
            &env(&[("LEDGER_DATABASE_URL", "mysql://u:hunter2@db/x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("mysql://u:***@db/x"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let c = Config::from_sources(
            None,
            &env(&[
                ("LEDGER_KV", "redis://:hunter2@cache:6379/"),
                ("LEDGER_BLOBS", "s3://anchors"),
                ("LEDGER_S3_ENDPOINT", "https://h.example/?token=hunter2"),
            ]),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("redis://:***@cache:6379/"), "{dbg}");
    }

    #[test]
    fn a_secret_comes_from_its_variable_or_its_file_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        let p = path.display().to_string();
        let from_file =
            Config::from_sources(None, &env(&[("LEDGER_S3_SECRET_ACCESS_KEY_FILE", &p)])).unwrap();
        assert_eq!(
            from_file
                .secret("LEDGER_S3_SECRET_ACCESS_KEY")
                .unwrap()
                .as_deref(),
            Some("s3cr3t")
        );
        let both = Config::from_sources(
            None,
            &env(&[
                ("LEDGER_S3_SECRET_ACCESS_KEY_FILE", &p),
                ("LEDGER_S3_SECRET_ACCESS_KEY", "x"),
            ]),
        )
        .unwrap();
        let err = both
            .secret("LEDGER_S3_SECRET_ACCESS_KEY")
            .unwrap_err()
            .to_string();
        assert!(err.contains("LEDGER_S3_SECRET_ACCESS_KEY_FILE"), "{err}");
        assert_eq!(from_file.secret("LEDGER_SIGNING_KEY").unwrap(), None);
    }
}
