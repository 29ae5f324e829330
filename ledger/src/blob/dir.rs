//! The embedded backend: objects as files under one directory, `{root}/{key}`.
//!
//! # How a write becomes visible
//!
//! A create-only write ([`DirStore::put_new`]):
//! 1. writes the bytes to a new temporary file `{root}/.tmp/{pid}.{n}.{random}` — never to a
//!    path under a key, so a crash at any moment leaves nothing at the key;
//! 2. `fsync`s it, so the data is on disk before any name points at it;
//! 3. `link(2)`s it to the key's path. `link` fails with `EEXIST` if the key exists, atomically,
//!    so of two concurrent writers exactly one creates the key (the create-only check and the
//!    write are one step, as `If-None-Match: *` is on S3); the loser compares the stored bytes
//!    with its own and answers `AlreadyIdentical` or `Conflict`;
//! 4. removes the temporary name and `fsync`s the key's directory, so the new name survives a
//!    power loss. Directories created on the way are fsynced into their parents too.
//!
//! A latest-pointer write ([`DirStore::put_latest`]) does steps 1–2, then `rename(2)`s the
//! temporary file over the key (atomic replacement: a reader opens the old file or the new
//! one), then fsyncs the directory.
//!
//! The directory must therefore be on one POSIX file system that supports hard links (ext4,
//! xfs, btrfs, tmpfs, …), with `.tmp/` on the same file system as the keys, which it is unless
//! something is mounted inside the store.
//!
//! # Modes
//!
//! Every directory and object is created owner-only (`0700` / `0600`, whatever the umask:
//! [`crate::private`]): private tenants' artifacts share the tree with public ones.
//!
//! # Leftovers
//!
//! A process killed between steps 1 and 4 leaves a file in `.tmp/` and nothing else.
//! [`DirStore::new`] removes files in `.tmp/` whose last modification is more than an hour old:
//! another process may share the directory (an `anchor` command beside a running worker), and
//! an hour is far longer than any write takes, so a temporary file that old belongs to a
//! process that died. Younger ones are left for the next start.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::{BlobKey, PutOutcome, compare_existing, refuse_latest_pointer, require_latest_pointer};
use crate::error::{LedgerError, Result};

/// Temporary files older than this are removed by [`DirStore::new`].
pub const STALE_TEMP_AGE: Duration = Duration::from_hours(1);

/// The directory under the root that holds temporary files (no key starts with a dot).
const TMP_DIR: &str = ".tmp";

/// The directory backend. Cloning is cheap (the root is shared).
#[derive(Clone, Debug)]
pub struct DirStore {
    root: Arc<Path>,
}

impl DirStore {
    /// Opens the store at `root`, creating it and its `.tmp/` if needed, and removes temporary
    /// files older than [`STALE_TEMP_AGE`] (see the module's "Leftovers"). Blocking: call it
    /// at start-up.
    pub fn new(root: PathBuf) -> Result<DirStore> {
        let tmp = root.join(TMP_DIR);
        crate::private::create_dir_all(&tmp)
            .map_err(|e| io_error(&tmp, "create the blob directory", &e))?;
        let removed = remove_stale_temp_files(&tmp, SystemTime::now());
        if removed > 0 {
            tracing::info!(
                dir = %tmp.display(),
                removed,
                "removed temporary blob files left by a process that stopped mid-write"
            );
        }
        Ok(DirStore {
            root: Arc::from(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key`'s object.
    pub fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// See [`super::BlobStore::put_new`] and the module's "How a write becomes visible".
    pub async fn put_new(&self, key: &BlobKey, bytes: &[u8]) -> Result<PutOutcome> {
        refuse_latest_pointer(key)?;
        let (this, key2, bytes) = (self.clone(), key.clone(), bytes.to_vec());
        blocking(key, move || this.put_new_blocking(&key2, &bytes)).await
    }

    /// See [`super::BlobStore::put_latest`].
    pub async fn put_latest(&self, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        require_latest_pointer(key)?;
        let (this, key2, bytes) = (self.clone(), key.clone(), bytes.to_vec());
        blocking(key, move || this.put_latest_blocking(&key2, &bytes)).await
    }

    pub async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        let (path, key2) = (self.path(key), key.clone());
        blocking(key, move || {
            read_if_exists(&path).map_err(|e| blob_error(&key2, &path, "read", &e))
        })
        .await
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        let (path, key2) = (self.path(key), key.clone());
        blocking(key, move || match fs::metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(blob_error(&key2, &path, "stat", &e)),
        })
        .await
    }

    fn put_new_blocking(&self, key: &BlobKey, bytes: &[u8]) -> Result<PutOutcome> {
        let path = self.path(key);
        let err = |what: &str, e: &io::Error| blob_error(key, &path, what, e);
        // A retried job usually finds its object already there: answer without writing.
        if let Some(existing) = read_if_exists(&path).map_err(|e| err("read", &e))? {
            return compare_existing(key, &existing, bytes);
        }
        let dir = self
            .create_parents(key)
            .map_err(|e| err("create directories for", &e))?;
        let tmp = self
            .write_temp(bytes)
            .map_err(|e| err("write a temporary file for", &e))?;
        match fs::hard_link(&tmp.0, &path) {
            Ok(()) => {
                drop(tmp);
                sync_dir(&dir).map_err(|e| err("fsync the directory of", &e))?;
                Ok(PutOutcome::Created)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                drop(tmp);
                let existing = fs::read(&path).map_err(|e| err("read", &e))?;
                compare_existing(key, &existing, bytes)
            }
            Err(e) => Err(err("link the temporary file to", &e)),
        }
    }

    fn put_latest_blocking(&self, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        let path = self.path(key);
        let err = |what: &str, e: &io::Error| blob_error(key, &path, what, e);
        let dir = self
            .create_parents(key)
            .map_err(|e| err("create directories for", &e))?;
        let tmp = self
            .write_temp(bytes)
            .map_err(|e| err("write a temporary file for", &e))?;
        fs::rename(&tmp.0, &path).map_err(|e| err("rename the temporary file to", &e))?;
        tmp.disarm();
        sync_dir(&dir).map_err(|e| err("fsync the directory of", &e))
    }

    /// Creates the directories of `key` below the root, fsyncing each new one into its parent,
    /// and returns the key's directory.
    fn create_parents(&self, key: &BlobKey) -> io::Result<PathBuf> {
        let mut dir = self.root.to_path_buf();
        let mut parts: Vec<&str> = key.as_str().split('/').collect();
        parts.pop();
        for part in parts {
            let next = dir.join(part);
            match crate::private::create_dir(&next) {
                Ok(()) => sync_dir(&dir)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            dir = next;
        }
        Ok(dir)
    }

    /// Writes `bytes` to a fresh file in `.tmp/` and fsyncs it. The guard removes the file
    /// when dropped.
    fn write_temp(&self, bytes: &[u8]) -> io::Result<TempFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}.{}.{:016x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u64>()
        );
        let path = self.root.join(TMP_DIR).join(name);
        let mut file = crate::private::file_options()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let tmp = TempFile(path);
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(tmp)
    }
}

/// A temporary file that is removed when dropped, unless it was renamed away.
struct TempFile(PathBuf);

impl TempFile {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: a leftover is harmless (nothing points at it) and swept by `new`.
        let _ = fs::remove_file(&self.0);
    }
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes the files in `tmp` last modified more than [`STALE_TEMP_AGE`] before `now`;
/// returns how many. Failures are logged, not returned: a leftover only costs disk space.
fn remove_stale_temp_files(tmp: &Path, now: SystemTime) -> usize {
    let Ok(entries) = fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TEMP_AGE));
        if stale {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(
                    file = %entry.path().display(),
                    error = %e,
                    "cannot remove a stale temporary blob file"
                ),
            }
        }
    }
    removed
}

/// Runs blocking file I/O on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    key: &BlobKey,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LedgerError::Blob {
            key: key.to_string(),
            detail: format!("the blocking file task failed: {e}"),
        })?
}

fn blob_error(key: &BlobKey, path: &Path, what: &str, e: &io::Error) -> LedgerError {
    LedgerError::Blob {
        key: key.to_string(),
        detail: format!("cannot {what} {}: {e}", path.display()),
    }
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> LedgerError {
    LedgerError::Io {
        path: path.display().to_string(),
        source: io::Error::new(e.kind(), format!("cannot {what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_removes_only_temporary_files_older_than_an_hour() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(TMP_DIR);
        fs::create_dir_all(&tmp).unwrap();
        let old = tmp.join("old");
        let young = tmp.join("young");
        fs::write(&old, b"partial").unwrap();
        fs::write(&young, b"in flight").unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_hours(2);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        DirStore::new(dir.path().to_path_buf()).unwrap();
        assert!(!old.exists(), "a two-hour-old temporary file survived");
        assert!(young.exists(), "a fresh temporary file was removed");
    }
}
