//! Owner-only creation of everything that holds the system of record on disk: the data
//! directory, the SQLite files, the blob directory and its objects, key directories.
//!
//! Directories are created `0700` and files `0600` whatever the process umask is (a umask
//! only clears bits, so the mode asked for at creation is the most anyone gets; nothing is
//! created wider and then narrowed, so there is no window in which another user can open
//! it). Private tenants' receipts, roots and trees sit in the blob directory beside public
//! ones, and the store cannot know which is which for ever (visibility changes), so all of it
//! is owner-only: the API serves what is public. Directories that already exist are left as
//! the operator made them.

use std::io;
use std::path::Path;

/// Mode of every directory created here.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file created here.
pub const FILE_MODE: u32 = 0o600;

/// `create_dir_all` with every directory it creates owner-only.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(path)
}

/// `create_dir` (one level, `AlreadyExists` when it exists), owner-only.
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(path)
}

/// Options that create a new file owner-only (add `.write(true)` and `.create_new(true)` or
/// `.create(true)` as needed).
pub fn file_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

/// Creates the file of a `sqlite:` URL (and its directory) owner-only when it does not exist
/// yet, so that SQLite, which gives its `-wal` and `-shm` files the database file's mode,
/// never creates any of them readable by others. In-memory databases are left alone.
pub fn precreate_sqlite(url: &str) -> io::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(());
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return Ok(());
    }
    let path = Path::new(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    match file_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
