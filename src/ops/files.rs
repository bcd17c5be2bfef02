//! Files for backup and restore: a sorted walk of a tree, a copy that
//! hashes what it writes (so the manifest describes the bytes on the
//! backup's disk, not what was read), and progress for long copies.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::OpsError;

/// Read and write in pieces this large: big enough for disk throughput,
/// small enough that a recording of several GiB never sits in memory.
const CHUNK_BYTES: usize = 1024 * 1024;

/// A progress line at most this often: a copy of gigabytes of recordings
/// shows it is alive without flooding a terminal or the journal.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

const MIB: u64 = 1024 * 1024;

/// Every regular file under `root`, as paths relative to it, sorted;
/// symbolic links and other special files are listed apart (never
/// followed: a link could lead out of the tree).
pub fn walk(root: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), OpsError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(OpsError::io("read the folder", &dir))?;
        for entry in entries {
            let entry = entry.map_err(OpsError::io("read the folder", &dir))?;
            let kind = entry
                .file_type()
                .map_err(OpsError::io("read", entry.path()))?;
            let path = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                files.push(path);
            } else {
                skipped.push(path);
            }
        }
    }
    files.sort();
    skipped.sort();
    Ok((files, skipped))
}

/// Size and SHA-256 (hex) of a file, reading it once.
pub fn hash_file(path: &Path, progress: &mut Progress) -> Result<(u64, String), OpsError> {
    let mut f = File::open(path).map_err(OpsError::io("read", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(OpsError::io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        progress.add(n as u64);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Copy `from` to a new file `to` (refusing to replace one) with `mode`,
/// synced to disk; returns the size and SHA-256 of what was written.
/// `limit`: copy only this many bytes (an append-only file cut at its last
/// complete line).
pub fn copy_hashed(
    from: &Path,
    to: &Path,
    mode: u32,
    limit: Option<u64>,
    progress: &mut Progress,
) -> Result<(u64, String), OpsError> {
    if let Some(parent) = to.parent() {
        create_private_dirs(parent)?;
    }
    let src = File::open(from).map_err(OpsError::io("read", from))?;
    let mut src: Box<dyn Read> = match limit {
        Some(n) => Box::new(src.take(n)),
        None => Box::new(src),
    };
    let mut dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)
        .map_err(OpsError::io("create", to))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(OpsError::io("read", from))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .map_err(OpsError::io("write", to))?;
        hasher.update(&buf[..n]);
        size += n as u64;
        progress.add(n as u64);
    }
    dst.sync_all().map_err(OpsError::io("sync", to))?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// A file's permission bits (0o600 for the key files, as they were).
pub fn mode_of(path: &Path) -> Result<u32, OpsError> {
    let meta = std::fs::metadata(path).map_err(OpsError::io("read", path))?;
    Ok(meta.permissions().mode() & 0o777)
}

/// Make `dir` and its missing parents, new ones readable by the owner
/// only: a backup holds the audit key and the TLS CA's private key.
pub fn create_private_dirs(dir: &Path) -> Result<(), OpsError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(OpsError::io("create the folder", dir))
}

/// The length of `path` up to and including its last newline: an
/// append-only log copied while the server may be writing its next line.
pub fn complete_lines_len(path: &Path) -> Result<u64, OpsError> {
    let bytes = std::fs::read(path).map_err(OpsError::io("read", path))?;
    Ok(bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i as u64 + 1))
}

/// Total bytes of `files` under `root`.
pub fn total_size(root: &Path, files: &[PathBuf]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(root.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Progress of a long copy or hash, printed to standard error.
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    last: Instant,
    printed: bool,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            last: Instant::now(),
            printed: false,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            self.printed = true;
            self.print();
        }
    }

    fn print(&self) {
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        eprintln!(
            "  {}: {} / {} MiB ({pct} %)",
            self.label,
            self.done / MIB,
            self.total.max(self.done) / MIB
        );
    }

    /// The last line, if any line was printed (short copies stay quiet).
    pub fn finish(self) {
        if self.printed {
            self.print();
        }
    }
}
