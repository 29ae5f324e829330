//! Support shared by the process-level tests: the dev stamping services served in-process,
//! `anchor` child processes and the demo's data; a fresh Postgres database and an isolated
//! Redis database (`testkit`'s).
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

/// A fresh Postgres database and a Redis database of the test's own: `testkit`'s, on the real
/// client crates (`PgDatabase::create_blocking` from these sync tests).
#[allow(unused_imports)] // each test binary uses a part of this module
pub use testkit::{pg::PgDatabase, redis::RedisDb};

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
    testkit::skip(
        &format!("ots, rfc8785 or cryptography missing in {}", bin.display()),
        "run scripts/python-tools.sh",
    );
    None
}

/// `anchor api` over the data directory `data` on a free port, its stderr in `log`; its base
/// URL once it listens.
pub fn start_api(children: &mut Children, data: &Path, log: &Path) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = anchor()
        .args(["api", "--addr", &format!("127.0.0.1:{port}")])
        .env("LEDGER_DATA_DIR", data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    children.push("anchor api", child);
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    poll(
        "anchor api to listen",
        Duration::from_mins(1),
        || read().contains("listening on http://").then_some(()),
        read,
    );
    format!("http://127.0.0.1:{port}")
}
