//! Digest files for `anchor tree`: parsing, and an external sort so that inputs of any size are
//! sorted and de-duplicated in bounded memory.
//!
//! Format: one 64-hex-digit SHA-256 digest per line, any order, duplicates allowed. Blank lines
//! (and lines of only spaces, tabs or a CR) are ignored; surrounding spaces, tabs and a
//! trailing CR are trimmed, so CRLF files work; upper-case hex is accepted and normalised.
//! Anything else — `sha256sum` output with a file name after the digest, 63 digits, a stray
//! character — is an error naming the line.
//!
//! Memory: at most `chunk` digests (32 bytes each; default 2^20, i.e. 32 MiB) are held while
//! reading. A larger input is cut into chunks that are sorted and written to temporary run
//! files, then merged; a chunk that starts above the end of the previous run is appended to it,
//! so already sorted input of any length becomes one run and a plain sequential read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use merkle::ManifestDigest;

/// Default number of digests sorted in memory before spilling to a run file.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// Most run files merged at once. Beyond it the input is refused with advice rather than
/// exhausting file descriptors (1024 runs of 2^20 digests is 2^30 unsorted digests).
pub const MAX_RUNS: usize = 1024;

/// Reads digest lines, reporting malformed ones by line number.
pub struct DigestLines<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> DigestLines<R> {
    pub fn new(reader: R) -> Self {
        DigestLines {
            reader,
            line: 0,
            buf: Vec::with_capacity(128),
        }
    }

    /// The next digest, or `None` at the end of input.
    pub fn next_digest(&mut self) -> Result<Option<[u8; 32]>> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .context("reading digests")?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            return match ManifestDigest::from_hex_bytes(text) {
                Ok(d) => Ok(Some(d.0)),
                Err(merkle::MerkleError::Hex { reason, .. }) => {
                    bail!(
                        "line {}: {reason} (expected one 64-hex-digit SHA-256 digest)",
                        self.line
                    )
                }
                Err(e) => bail!("line {}: {e}", self.line),
            };
        }
    }
}

/// A sorted, de-duplicated set of digests that can be read any number of times.
pub enum SortedDigests {
    Memory(Vec<[u8; 32]>),
    Runs(Vec<File>),
}

/// What the sort did, for `--stats`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SortStats {
    pub lines: u64,
    pub runs: usize,
}

impl SortedDigests {
    /// Reads all of `input`, sorting in chunks of `chunk` digests with run files in `tmp`.
    pub fn read(input: impl Read, chunk: usize, tmp: &Path) -> Result<(SortedDigests, SortStats)> {
        let chunk = chunk.max(1);
        let mut lines = DigestLines::new(BufReader::with_capacity(1 << 16, input));
        let mut buf: Vec<[u8; 32]> = Vec::with_capacity(chunk.min(1 << 16));
        let mut runs: Vec<(BufWriter<File>, [u8; 32])> = Vec::new();
        let mut stats = SortStats::default();
        while let Some(d) = lines.next_digest()? {
            stats.lines += 1;
            buf.push(d);
            if buf.len() == chunk {
                spill(&mut buf, &mut runs, tmp)?;
            }
        }
        if runs.is_empty() {
            buf.sort_unstable();
            buf.dedup();
            return Ok((SortedDigests::Memory(buf), stats));
        }
        if !buf.is_empty() {
            spill(&mut buf, &mut runs, tmp)?;
        }
        stats.runs = runs.len();
        let files = runs
            .into_iter()
            .map(|(w, _)| {
                w.into_inner()
                    .map_err(|e| anyhow!("writing a sort run: {e}"))
            })
            .collect::<Result<Vec<File>>>()?;
        Ok((SortedDigests::Runs(files), stats))
    }

    /// Calls `f` with each distinct digest in ascending order.
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8; 32]) -> Result<()>) -> Result<()> {
        match self {
            SortedDigests::Memory(v) => v.iter().try_for_each(f),
            SortedDigests::Runs(files) => {
                let mut readers = files
                    .iter_mut()
                    .map(|file| {
                        file.seek(SeekFrom::Start(0))?;
                        Ok(BufReader::with_capacity(1 << 16, file))
                    })
                    .collect::<io::Result<Vec<_>>>()
                    .context("rewinding sort runs")?;
                let mut heap = BinaryHeap::with_capacity(readers.len());
                for (i, r) in readers.iter_mut().enumerate() {
                    if let Some(d) = read_record(r)? {
                        heap.push(Reverse((d, i)));
                    }
                }
                let mut last: Option<[u8; 32]> = None;
                while let Some(Reverse((d, i))) = heap.pop() {
                    if last != Some(d) {
                        f(&d)?;
                        last = Some(d);
                    }
                    if let Some(next) = read_record(&mut readers[i])? {
                        heap.push(Reverse((next, i)));
                    }
                }
                Ok(())
            }
        }
    }

    /// The in-memory slice, when the input fit in one chunk.
    pub fn as_slice(&self) -> Option<&[[u8; 32]]> {
        match self {
            SortedDigests::Memory(v) => Some(v),
            SortedDigests::Runs(_) => None,
        }
    }
}

fn spill(
    buf: &mut Vec<[u8; 32]>,
    runs: &mut Vec<(BufWriter<File>, [u8; 32])>,
    tmp: &Path,
) -> Result<()> {
    buf.sort_unstable();
    buf.dedup();
    let (first, last) = (buf[0], buf[buf.len() - 1]);
    // Sorted input continues the last run (an equal first digest is a duplicate across the
    // chunk boundary and is skipped below).
    let append = matches!(runs.last(), Some((_, end)) if *end <= first);
    if !append {
        if runs.len() == MAX_RUNS {
            bail!(
                "input needs more than {MAX_RUNS} sorted runs; pass a larger --sort-chunk \
                 (each run is one chunk of unsorted digests)"
            );
        }
        let file = tempfile::tempfile_in(tmp)
            .with_context(|| format!("creating a sort run in {}", tmp.display()))?;
        runs.push((BufWriter::with_capacity(1 << 16, file), first));
    }
    let (writer, end) = runs.last_mut().expect("a run exists");
    let skip = usize::from(append && *end == first);
    for d in &buf[skip..] {
        writer.write_all(d).context("writing a sort run")?;
    }
    *end = last;
    buf.clear();
    Ok(())
}

fn read_record(r: &mut impl Read) -> Result<Option<[u8; 32]>> {
    let mut d = [0u8; 32];
    match r.read_exact(&mut d) {
        Ok(()) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e).context("reading a sort run"),
    }
}
