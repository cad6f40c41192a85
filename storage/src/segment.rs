//! Commit-log segment files: fixed-size, preallocated files named by the
//! 20-digit zero-padded local log offset of their first byte
//! (`commitlog/00000000001073741824`). A local offset `p` lives in the
//! segment starting at `p - p % segment_bytes`, at position
//! `p % segment_bytes`. The blocking helpers here run on recovery or on
//! `spawn_blocking`, never on the event loop; every change goes through
//! [`Io`].

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::fileio::Io;

/// Digits in a segment / consume-queue file name.
pub const FILE_NAME_DIGITS: usize = 20;

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
pub fn create_preallocated(io: &Io, dir: &Path, base: u64, len: u64) -> io::Result<()> {
    let path = path(dir, base);
    let file = io.open(&path, true)?;
    io.preallocate(&path, &file, len)?;
    io.sync_all(&path, &file)?;
    io.sync_dir(dir)
}

/// Makes bytes `[from, len)` of the file at `path` read as zeros and syncs
/// it, so a torn or stale tail can never be mistaken for records later.
pub fn zero_tail(io: &Io, path: &Path, file: &File, from: u64, len: u64) -> io::Result<()> {
    if from >= len {
        return Ok(());
    }
    io.zero_range(path, file, from, len)?;
    io.sync_data(path, file)
}
