//! Shared test helpers: the naive reference implementation and the vectors folder.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod reference;

/// `../shared/vectors` (see `testkit::vectors`).
pub fn vectors_dir() -> Option<std::path::PathBuf> {
    testkit::vectors()
}
