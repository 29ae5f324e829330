//! Support shared by the process-level tests: the dev stamping services served in-process, a
//! fresh Postgres database, an isolated Redis database, and `anchor` child processes.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The `anchor` binary with no `LEDGER_*` variable of the test's own environment (a developer's
/// shell must not choose a child's backends) and `ANCHOR_TEST_CRASH_AT` removed.
pub fn anchor() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anchor"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEDGER_")) {
        cmd.env_remove(k);
    }
    cmd.env_remove("ANCHOR_TEST_CRASH_AT")
        .env_remove("RUST_LOG");
    cmd
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `out` exited 0, or a panic showing its stdout and stderr.
pub fn success(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The dev TSA and two dev calendars (`stamp::dev`, what `anchor up` and `anchor demo` serve),
/// on a runtime of their own for as long as this value lives.
pub struct DevServices {
    pub services: stamp::dev::DevServices,
    runtime: tokio::runtime::Runtime,
}

impl DevServices {
    /// Starts the services; the CA certificate is written to `dir/dev-tsa-ca.pem`.
    pub fn start(dir: &Path) -> DevServices {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let services = runtime
            .block_on(stamp::dev::DevServices::start(dir, 2))
            .unwrap();
        DevServices { services, runtime }
    }

    /// The configuration that points a process at these services, both calendars required.
    pub fn env(&self) -> Vec<(String, String)> {
        self.services
            .vars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Runs `f` on the services' runtime (for the test's own store and blob reads).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

/// Child processes killed (`SIGKILL`) and reaped when this value drops, so a failing test
/// never leaves a worker behind.
#[derive(Default)]
pub struct Children(pub Vec<(String, Child)>);

impl Children {
    pub fn push(&mut self, name: &str, child: Child) {
        self.0.push((name.to_owned(), child));
    }

    /// Panics naming the first child that has exited (a role that dies early is a failure,
    /// not a hang until the timeout); `logs` gives its stderr.
    pub fn assert_running(&mut self, logs: impl Fn(&str) -> String) {
        for (name, child) in &mut self.0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{name} exited early ({status}); its stderr:\n{}",
                    logs(name)
                );
            }
        }
    }

    /// SIGKILLs the child called `name` and forgets it.
    pub fn kill(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn kill_all(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.0.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Calls `ready` every 200 ms until it returns `Some`, or panics with `what` and
/// `diagnostics()` after `timeout`.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> Option<T>,
    diagnostics: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ----------------------------------------------------------------------------------- Postgres

/// A fresh database on the test Postgres server (`LEDGER_TEST_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`, trust authentication), dropped on drop.
pub struct PgDatabase {
    base: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// `None` (after a `SKIPPED` line) when no server answers; under `CI=true` a panic.
    /// `prefix` starts the database's name (a SQL identifier: lowercase letters and `_`).
    pub fn create(prefix: &str) -> Option<PgDatabase> {
        let base = std::env::var("LEDGER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        match pg::execute(&base, &format!("CREATE DATABASE {name}")) {
            Ok(()) => {}
            Err(pg::Error::Unreachable(why)) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "Postgres unavailable and CI=true: refusing to skip ({base}: {why})"
                );
                eprintln!("SKIPPED: Postgres unavailable ({base}: {why})");
                return None;
            }
            Err(pg::Error::Server(e)) => panic!("CREATE DATABASE {name} on {base}: {e}"),
        }
        let (server, _) = base.rsplit_once('/').expect("the URL ends with /DATABASE");
        let url = format!("{server}/{name}");
        Some(PgDatabase { base, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = pg::execute(&self.base, &drop) {
            eprintln!("could not drop {}: {e:?}", self.name);
        }
    }
}

/// Just enough of the PostgreSQL frontend protocol (v3, simple query, trust authentication)
/// to create and drop the test database, so the tests need no SQL client crate.
mod pg {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpStream, ToSocketAddrs as _};
    use std::time::Duration;

    #[derive(Debug)]
    pub enum Error {
        /// No server to talk to (or one that wants a password): the test skips.
        Unreachable(String),
        /// The server refused the statement.
        Server(String),
    }

    /// Runs one statement on the server and database of `url`
    /// (`postgres://USER@HOST[:PORT]/DB`).
    pub fn execute(url: &str, sql: &str) -> Result<(), Error> {
        let unreachable = |e: &dyn std::fmt::Display| Error::Unreachable(e.to_string());
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| unreachable(&"not a postgres:// URL"))?;
        let (user, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
        let user = user.split(':').next().unwrap_or("postgres");
        let (host, db) = rest.split_once('/').unwrap_or((rest, "postgres"));
        let db = db.split('?').next().unwrap_or(db);
        let host = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:5432")
        };
        let addr = host
            .to_socket_addrs()
            .map_err(|e| unreachable(&e))?
            .next()
            .ok_or_else(|| unreachable(&"no address"))?;
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map_err(|e| unreachable(&e))?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();

        let mut startup = 196_608u32.to_be_bytes().to_vec(); // protocol 3.0
        for field in ["user", user, "database", db] {
            startup.extend_from_slice(field.as_bytes());
            startup.push(0);
        }
        startup.push(0);
        s.write_all(&framed(None, &startup))
            .map_err(|e| unreachable(&e))?;
        ready(&mut s).map_err(|e| match e {
            Error::Server(m) => Error::Unreachable(m),
            e @ Error::Unreachable(_) => e,
        })?;

        let mut query = sql.as_bytes().to_vec();
        query.push(0);
        s.write_all(&framed(Some(b'Q'), &query))
            .map_err(|e| Error::Server(e.to_string()))?;
        let result = ready(&mut s);
        let _ = s.write_all(&framed(Some(b'X'), &[]));
        result
    }

    fn framed(tag: Option<u8>, body: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = tag.into_iter().collect();
        out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Reads messages up to `ReadyForQuery`; the first `ErrorResponse`'s message is the error.
    fn ready(s: &mut TcpStream) -> Result<(), Error> {
        let mut error: Option<String> = None;
        loop {
            let mut head = [0u8; 5];
            if let Err(e) = s.read_exact(&mut head) {
                return Err(Error::Server(error.unwrap_or_else(|| e.to_string())));
            }
            let len = u32::from_be_bytes(head[1..].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len.saturating_sub(4)];
            s.read_exact(&mut body)
                .map_err(|e| Error::Server(e.to_string()))?;
            match head[0] {
                b'R' if body[..4] != [0, 0, 0, 0] => {
                    return Err(Error::Unreachable(
                        "the server asks for a password; these tests need trust authentication"
                            .into(),
                    ));
                }
                b'E' if error.is_none() => {
                    // Fields: a type byte and a NUL-terminated string each; 'M' is the message.
                    let message = body
                        .split(|&b| b == 0)
                        .find_map(|f| f.strip_prefix(b"M"))
                        .map_or_else(
                            || "unknown error".into(),
                            |m| String::from_utf8_lossy(m).into_owned(),
                        );
                    error = Some(message);
                }
                b'Z' => return error.map_or(Ok(()), |m| Err(Error::Server(m))),
                _ => {}
            }
        }
    }
}

// -------------------------------------------------------------------------------------- Redis

/// A Redis database (1 to 15) of the test server (`LEDGER_TEST_REDIS_URL`, default
/// `redis://127.0.0.1:6379/`) that was empty when this test claimed it with a claim key
/// (`SET … NX EX`), so two tests (or two checkouts) never share one. On drop it deletes the
/// keys this test made there — the ones under [`RedisDb::PATTERNS`] — and the claim; nothing
/// else is flushed.
pub struct RedisDb {
    /// `redis://HOST:PORT/N`.
    pub url: String,
    addr: String,
    db: u8,
    token: String,
    patterns: Vec<String>,
}

impl RedisDb {
    const CLAIM: &'static str = "anchor-cli-tests:claim";

    /// Claims an empty database; `patterns` are the `KEYS` patterns of what the test will
    /// create there (deleted on drop). `None` (after a `SKIPPED` line) when no server answers;
    /// under `CI=true` a panic.
    pub fn claim(patterns: &[&str]) -> Option<RedisDb> {
        let base = std::env::var("LEDGER_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        let addr = base
            .strip_prefix("redis://")
            .and_then(|r| r.split('/').next())
            .filter(|a| !a.is_empty() && !a.contains('@'))
            .unwrap_or_else(|| panic!("LEDGER_TEST_REDIS_URL {base:?}: want redis://HOST:PORT/"))
            .to_owned();
        let token = format!("{}-{}", std::process::id(), rand_u64());
        for db in 1..=15u8 {
            let claimed =
                match resp::command(&addr, db, &["SET", Self::CLAIM, &token, "NX", "EX", "900"]) {
                    Ok(reply) => reply == resp::Reply::Status("OK".into()),
                    Err(e) => {
                        assert!(
                            std::env::var("CI").as_deref() != Ok("true"),
                            "Redis unavailable and CI=true: refusing to skip ({addr}: {e})"
                        );
                        eprintln!("SKIPPED: Redis unavailable ({addr}: {e})");
                        return None;
                    }
                };
            if !claimed {
                continue;
            }
            let size = resp::command(&addr, db, &["DBSIZE"]).unwrap();
            if size == resp::Reply::Int(1) {
                return Some(RedisDb {
                    url: format!("redis://{addr}/{db}"),
                    addr,
                    db,
                    token,
                    patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
                });
            }
            // Someone else's keys are there: leave them alone, and our claim too.
            let _ = resp::command(&addr, db, &["DEL", Self::CLAIM]);
        }
        panic!("no empty Redis database among 1..15 on {addr}");
    }

    /// Every key of this database matching `pattern`.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        match resp::command(&self.addr, self.db, &["KEYS", pattern]).unwrap() {
            resp::Reply::Array(items) => items
                .into_iter()
                .filter_map(|i| match i {
                    resp::Reply::Bulk(Some(b)) => Some(text(&b)),
                    _ => None,
                })
                .collect(),
            other => panic!("KEYS {pattern}: {other:?}"),
        }
    }
}

impl Drop for RedisDb {
    fn drop(&mut self) {
        for pattern in self.patterns.clone() {
            for key in self.keys(&pattern) {
                let _ = resp::command(&self.addr, self.db, &["DEL", &key]);
            }
        }
        if resp::command(&self.addr, self.db, &["GET", Self::CLAIM]).ok()
            == Some(resp::Reply::Bulk(Some(self.token.clone().into_bytes())))
        {
            let _ = resp::command(&self.addr, self.db, &["DEL", Self::CLAIM]);
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// Just enough of RESP2 to claim a database and delete the test's keys, so the tests need no
/// Redis client crate.
mod resp {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Reply {
        Status(String),
        Error(String),
        Int(i64),
        Bulk(Option<Vec<u8>>),
        Array(Vec<Reply>),
    }

    /// `SELECT db`, then `args`; the reply to `args`.
    pub fn command(addr: &str, db: u8, args: &[&str]) -> std::io::Result<Reply> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut w = s.try_clone()?;
        let mut r = BufReader::new(s);
        w.write_all(&encode(&["SELECT", &db.to_string()]))?;
        match read(&mut r)? {
            Reply::Status(_) => {}
            other => return Err(std::io::Error::other(format!("SELECT {db}: {other:?}"))),
        }
        w.write_all(&encode(args))?;
        read(&mut r)
    }

    fn encode(args: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn read(r: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end_matches("\r\n");
        let bad = || std::io::Error::other(format!("unexpected reply {line:?}"));
        let (tag, rest) = line.split_at_checked(1).ok_or_else(bad)?;
        Ok(match tag {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().map_err(|_| bad())?),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; usize::try_from(n).map_err(|_| bad())? + 2];
                    r.read_exact(&mut b)?;
                    b.truncate(b.len() - 2);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(read(r)?);
                }
                Reply::Array(items)
            }
            _ => return Err(bad()),
        })
    }
}

/// A digest from the middle of `tenant`'s `period` in the demo data under `data`, read from
/// the demo's own store.
pub fn demo_digest(data: &Path, tenant: &str, period: &str) -> String {
    let digests = demo_digests(data, tenant, period);
    digests[digests.len() / 2].clone()
}

/// Every manifest digest of `tenant`'s `period` in the demo data under `data` (lowercase hex,
/// as the store lists them), read from the demo's own store.
pub fn demo_digests(data: &Path, tenant: &str, period: &str) -> Vec<String> {
    let config = ledger::config::Config::from_sources(
        None,
        &[("LEDGER_DATA_DIR".to_owned(), data.display().to_string())].into(),
    )
    .unwrap();
    let tenant = ledger::TenantId::new(tenant).unwrap();
    let period: ledger::Period = period.parse().unwrap();
    let digests = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let b = config.open().await.unwrap();
        b.store.period_digests(&tenant, period).await.unwrap()
    });
    digests.iter().map(ToString::to_string).collect()
}

pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Says why the test skips (a `SKIPPED` line); under `CI=true` panics instead.
pub fn skipping(why: &str) {
    assert!(!in_ci(), "{why} and CI=true: refusing to skip");
    eprintln!("SKIPPED: {why}");
}

/// The Python tools' bin directory, with `ots`, `rfc8785` and `cryptography` importable.
pub fn py_tools() -> Option<PathBuf> {
    let bin = std::env::var_os("LEDGER_PY_TOOLS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py-tools/bin"),
        PathBuf::from,
    );
    let ready = bin.join("ots").exists()
        && Command::new(bin.join("python3"))
            .args(["-c", "import rfc8785, cryptography, opentimestamps"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(bin);
    }
    skipping(&format!(
        "ots, rfc8785 or cryptography missing in {} (scripts/python-tools.sh)",
        bin.display()
    ));
    None
}
