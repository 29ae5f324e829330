//! The CLI's edge helpers shared by its commands: the async runtime and writing files whole.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

/// The multi-threaded tokio runtime a command blocks on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` beside `path` in a temporary file, syncs it, then moves it into place —
/// only if nothing is there when `replace` is false — so a reader never sees half a proof.
pub(crate) fn write_atomically(path: &PathBuf, bytes: &[u8], replace: bool) -> anyhow::Result<()> {
    let dir = dir_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes).context("writing the proof")?;
    tmp.as_file().sync_all().context("syncing the proof")?;
    let placed = if replace {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    placed.map_err(|e| anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}
