//! Test support: where the shared vectors and external tools are, and the one rule for when
//! they are missing — say so loudly and skip, except in CI (`CI=true`), where it is a failure.

use std::path::{Path, PathBuf};

/// Returns `path` if it exists; otherwise panics under `CI=true` and, elsewhere, prints a
/// `SKIPPED` line naming `what` and how to get it, and returns `None`.
pub fn require(path: PathBuf, what: &str, how: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} not found at {} and CI=true: refusing to skip ({how})",
        path.display()
    );
    eprintln!("SKIPPED: {what} not found at {} ({how})", path.display());
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
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what}: {var} is not set and CI=true: refusing to skip ({how})"
    );
    eprintln!("SKIPPED: {what}: {var} is not set ({how})");
    None
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
