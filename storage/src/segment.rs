//! Commit-log segment files: fixed-size, preallocated files named by the
//! 20-digit zero-padded local log offset of their first byte
//! (`commitlog/00000000001073741824`). A local offset `p` lives in the
//! segment starting at `p - p % segment_bytes`, at position
//! `p % segment_bytes`. The blocking helpers here run on recovery or on
//! `spawn_blocking`, never on the event loop.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Digits in a segment / consume-queue file name.
pub const FILE_NAME_DIGITS: usize = 20;
/// Zero buffer size used when a filesystem cannot zero a range itself.
const ZERO_CHUNK_BYTES: usize = 1 << 20;

/// `offset` as a 20-digit zero-padded file name.
pub fn file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// Parses a 20-digit file name back into its offset.
pub fn parse_file_name(name: &str) -> Option<u64> {
    (name.len() == FILE_NAME_DIGITS && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// Segment bases present in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(parse_file_name))
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

pub fn path(dir: &Path, base: u64) -> PathBuf {
    dir.join(file_name(base))
}

/// Creates (or completes) the segment file at `base` with `len` bytes
/// preallocated, synced together with its directory entry.
pub fn create_preallocated(dir: &Path, base: u64, len: u64) -> io::Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path(dir, base))?;
    preallocate(&file, len)?;
    file.sync_all()?;
    sync_dir(dir)
}

fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let len_off = libc::off_t::try_from(len).map_err(|_| io::Error::other("segment too large"))?;
    // SAFETY: the fd is owned by `file`, valid for the duration of the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len_off) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len),
        _ => Err(err),
    }
}

/// Makes bytes `[from, len)` of a segment read as zeros and syncs it, so a
/// torn or stale tail can never be mistaken for records later.
pub fn zero_tail(file: &File, from: u64, len: u64) -> io::Result<()> {
    if from >= len {
        return Ok(());
    }
    let (Ok(start), Ok(count)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(len - from),
    ) else {
        return Err(io::Error::other("segment offset out of range"));
    };
    // SAFETY: the fd is owned by `file`, valid for the duration of the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_ZERO_RANGE, start, count) };
    if rc != 0 {
        write_zeros(file, from, len)?;
    }
    file.sync_data()
}

fn write_zeros(file: &File, from: u64, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < len {
        let n =
            usize::try_from((len - at).min(ZERO_CHUNK_BYTES as u64)).unwrap_or(ZERO_CHUNK_BYTES);
        file.write_all_at(zeros.get(..n).unwrap_or(&zeros), at)?;
        at += n as u64;
    }
    Ok(())
}

/// fsyncs a directory so created, renamed or removed entries are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, dir fsync).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}
