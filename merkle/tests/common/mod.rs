//! Shared test helpers: the naive reference implementation and the vectors folder.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod reference;

use std::path::PathBuf;

/// `../shared/vectors` beside the checkout (or `$LEDGER_VECTORS_DIR`). When it is missing the
/// test says so loudly and skips, except in CI (`CI=true`), where it fails.
pub fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LEDGER_VECTORS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "test vectors not found at {} and CI=true: refusing to skip",
        dir.display()
    );
    eprintln!(
        "SKIPPED: test vectors not found at {} (set LEDGER_VECTORS_DIR)",
        dir.display()
    );
    None
}
