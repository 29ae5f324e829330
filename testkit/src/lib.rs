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
