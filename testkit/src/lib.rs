//! Test support shared by every crate's tests: the one rule for a missing server, tool or
//! file — say so loudly and skip, except in CI (`CI=true`), where it is a failure — and the
//! fixtures built on it: where the shared vectors and external tools are, a fresh Postgres
//! database ([`pg`]), a Redis database or key prefix of the test's own ([`redis`]) and the
//! S3 server ([`s3_endpoint`]); the JSON Schemas of `schemas/`, checked by Python's
//! `jsonschema` ([`schema`]). What this crate owns and must never depend on: `README.md`.

pub mod nginx;
pub mod pg;
pub mod redis;
pub mod schema;

use std::path::{Path, PathBuf};

/// Whether the tests run in CI (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The one "skip unless CI" rule: under `CI=true` panics with `reason` and `how`; elsewhere
/// prints `SKIPPED: {reason} ({how})` on stderr, and the caller skips (returns early).
pub fn skip(reason: &str, how: &str) {
    assert!(!in_ci(), "{reason} and CI=true: refusing to skip ({how})");
    eprintln!("SKIPPED: {reason} ({how})");
}

/// Returns `path` if it exists; otherwise panics under `CI=true` and, elsewhere, prints a
/// `SKIPPED` line naming `what` and how to get it, and returns `None`.
pub fn require(path: PathBuf, what: &str, how: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    skip(&format!("{what} not found at {}", path.display()), how);
    None
}

/// The value of the environment variable `var` when it is set and not empty; otherwise, as
/// [`require`], panics under `CI=true` and elsewhere prints a `SKIPPED` line naming `what`,
/// the variable and how to set it, and returns `None`. For services a test reaches by URL
/// (`LEDGER_TEST_S3_ENDPOINT`).
pub fn env_or_skip(var: &str, what: &str, how: &str) -> Option<String> {
    if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Some(value);
    }
    skip(&format!("{what}: {var} is not set"), how);
    None
}

/// The S3 server of the tests (`LEDGER_TEST_S3_ENDPOINT`, which `scripts/test.sh` sets), or
/// `None` after a `SKIPPED` line naming `what` needs it; under `CI=true` a panic.
pub fn s3_endpoint(what: &str) -> Option<String> {
    env_or_skip(
        "LEDGER_TEST_S3_ENDPOINT",
        what,
        "run scripts/test.sh, or export LEDGER_TEST_S3_ENDPOINT=$(scripts/s3-server.sh start)",
    )
}

/// A name no other test, process or checkout uses at the same time: `prefix`, the process id,
/// a per-process sequence number and a random number, joined by `_` (a SQL identifier when
/// `prefix` is one: lowercase letters, digits and `_`).
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        h.finish() as u32
    )
}

/// Runs `f` to completion on a small runtime of its own, on a thread of its own — so it works
/// from a plain `#[test]`, from inside a `#[tokio::test]` and from `Drop`.
pub fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread tokio runtime")
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/vectors` beside the checkout, or `$LEDGER_VECTORS_DIR`.
pub fn vectors() -> Option<PathBuf> {
    let dir = std::env::var_os("LEDGER_VECTORS_DIR")
        .map_or_else(|| workspace().join("../shared/vectors"), PathBuf::from);
    require(dir, "the shared test vectors", "set LEDGER_VECTORS_DIR")
}

/// The venv `scripts/python-tools.sh` makes (`target/py-tools/bin`), or `$LEDGER_PY_TOOLS`,
/// when it holds the reference `ots` client.
pub fn python_tools() -> Option<PathBuf> {
    let bin = std::env::var_os("LEDGER_PY_TOOLS")
        .map_or_else(|| workspace().join("target/py-tools/bin"), PathBuf::from);
    require(
        bin.join("ots"),
        "the Python OpenTimestamps tools",
        "run scripts/python-tools.sh",
    )
    .map(|_| bin)
}

/// The Go tools `scripts/go-tools.sh` builds (`target/go-tools`), or `$LEDGER_GO_TOOLS`, when
/// they hold `tlogcheck` (golang.org/x/mod/sumdb/tlog reading our tiles).
pub fn go_tools() -> Option<PathBuf> {
    let bin = std::env::var_os("LEDGER_GO_TOOLS")
        .map_or_else(|| workspace().join("target/go-tools"), PathBuf::from);
    require(
        bin.join("tlogcheck"),
        "the Go tile checker (golang.org/x/mod/sumdb/tlog)",
        "run scripts/go-tools.sh",
    )
    .map(|_| bin)
}

/// The `openssl` command on `PATH` (Debian's `/usr/bin/openssl` when `PATH` has none).
pub fn openssl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("openssl"))
            .find(|p| p.exists())
    });
    require(
        found.unwrap_or_else(|| PathBuf::from("/usr/bin/openssl")),
        "the openssl command",
        "install Debian's openssl package",
    )
}

/// Reads the first line a just-started server writes on stderr and returns the `http://` URL
/// in it (`anchor ots calendar` and `anchor tsa serve` announce themselves that way).
pub fn announced_url(child: &mut std::process::Child) -> String {
    use std::io::BufRead as _;
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().expect("stderr is piped"))
        .read_line(&mut line)
        .expect("read the server's first line");
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned()
}

/// "N cores, <CPU model>" for the header of a bench's table.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l[l.find(':').map_or(0, |i| i + 2)..].to_string())
        })
        .unwrap_or_default();
    format!(
        "{} cores, {cpu}",
        std::thread::available_parallelism().map_or(1, usize::from)
    )
}
