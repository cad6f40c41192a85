//! Start-up recovery (blocking; runs on `spawn_blocking` from
//! [`crate::MessageStore::open`]). Its cost depends on what the checkpoint
//! does not cover, never on the size of the log or the number of messages:
//!
//! 1. The commit log is verified record by record (magic, size, physical
//!    offset, body CRC) only from the checkpoint's `min(log flushed,
//!    indexed)` forward (everything below was fdatasync'd before the
//!    checkpoint was written), cut at the first bad record, its tail
//!    zeroed. Without a valid checkpoint the whole log is verified.
//! 2. Consume queues and key index are opened from their files without
//!    reading them ([`consume_queue::recover`], [`KeyIndex::recover`]):
//!    what they hold for records at or after the trusted offset
//!    `min(indexed, log end)` is cut (it may be torn, or point at bytes
//!    step 1 cut and the next run rewrites).
//! 3. The log is re-dispatched from the trusted offset to its end.
//! 4. Index files are synced and a fresh checkpoint written before the
//!    store opens.
//!
//! Without a valid checkpoint (first start, or a version-1 store) the index
//! directories are cleared and rebuilt from the whole log.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::checkpoint::Checkpoint;
use crate::config::{RECORD_BYTES_MAX, SEGMENT_BYTES_MIN, StoreConfig};
use crate::consume_queue::{self, RecoverBounds};
use crate::fileio::Io;
use crate::indexes::{IndexError, Indexes};
use crate::key_index::{KEYS_PER_RECORD_MAX, KeyIndex};
use crate::log_record::{self, BLANK_MARKER_BYTES, Scan};
use crate::physical_offset::{SHARD_ID_MAX, compose};
use crate::segment;

/// Bytes read from a segment at a time while scanning.
const SCAN_WINDOW_BYTES: usize = 8 << 20;

/// Why a store could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("store at {0} is locked by another process")]
    Locked(PathBuf),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("segment {path} is {actual} bytes, expected {expected}")]
    SegmentSize {
        path: PathBuf,
        actual: u64,
        expected: u64,
    },
}

fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> OpenError {
    let context = context.into();
    move |source| OpenError::Io { context, source }
}

/// What recovery hands to the running store.
#[derive(Debug)]
pub struct Recovered {
    /// The `lock` file, flock'ed for the store's lifetime.
    pub lock: File,
    /// Segment bases present, ascending (the last holds `log_end` or ends at it).
    pub segment_bases: Vec<u64>,
    /// Local offset where the next record goes.
    pub log_end: u64,
    pub indexes: Indexes,
    /// Whether the previous run ended without a clean shutdown.
    pub crashed: bool,
    pub last_store_timestamp: i64,
}

pub fn recover(config: &StoreConfig) -> Result<Recovered, OpenError> {
    validate(config)?;
    let io = &config.io;
    for dir in [
        config.data_dir.clone(),
        config.commitlog_dir(),
        config.consumequeue_dir(),
        config.keyindex_dir(),
    ] {
        io.create_dir_all(&dir)
            .map_err(io_context(format!("creating {}", dir.display())))?;
    }
    let lock = lock_store(config)?;
    let log_dir = config.commitlog_dir();
    let mut bases = segment::list(&log_dir).map_err(io_context("listing segments"))?;
    check_segment_sizes(config, &bases)?;
    let crashed = config.abort_path().exists();
    let checkpoint = read_checkpoint(config)?;
    let log_min = bases.first().copied().unwrap_or(0);
    let log_max = bases.last().map_or(0, |b| b + config.segment_bytes);
    let verify_from = checkpoint
        .map_or(log_min, |cp| cp.log_flushed.min(cp.indexed))
        .clamp(log_min, log_max.max(log_min));
    let (log_end, _) = walk_log(config, &bases, verify_from, u64::MAX, None)?;
    let flushed_before = checkpoint.map_or(0, |cp| cp.log_flushed);
    if crashed || checkpoint.is_none() || log_end != flushed_before {
        cut_tail(config, &mut bases, log_end)?;
    }
    let trusted_end = checkpoint
        .map_or(log_min, |cp| cp.indexed.min(log_end))
        .max(log_min);
    let (mut indexes, trusted_end) = match checkpoint {
        Some(_) => open_indexes(config, trusted_end, log_min, crashed)?,
        None => {
            clear_indexes(config)?;
            (Indexes::empty(config), log_min)
        }
    };
    let (_, last_ts) = walk_log(config, &bases, trusted_end, log_end, Some(&mut indexes))?;
    sync_indexes(&config.io, &mut indexes)?;
    let last_store_timestamp = last_ts.max(checkpoint.map_or(0, |cp| cp.last_store_timestamp));
    let fresh = Checkpoint {
        log_flushed: log_end,
        indexed: log_end,
        last_store_timestamp,
    };
    io.write_atomically(&config.checkpoint_path(), &fresh.encode())
        .map_err(io_context("writing checkpoint"))?;
    io.open(&config.abort_path(), true)
        .map_err(io_context("creating abort marker"))?;
    io.sync_dir(&config.data_dir)
        .map_err(io_context("syncing store directory"))?;
    Ok(Recovered {
        lock,
        segment_bases: bases,
        log_end,
        indexes,
        crashed,
        last_store_timestamp,
    })
}

/// The checkpoint, `None` if absent or not valid (then everything is
/// verified and rebuilt); an unreadable file is an error.
fn read_checkpoint(config: &StoreConfig) -> Result<Option<Checkpoint>, OpenError> {
    let path = config.checkpoint_path();
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OpenError::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    match Checkpoint::decode(&bytes) {
        Ok(cp) => Ok(Some(cp)),
        Err(err) => {
            tracing::warn!(%err, "checkpoint not usable; verifying the whole log and rebuilding the indexes");
            Ok(None)
        }
    }
}

fn validate(config: &StoreConfig) -> Result<(), OpenError> {
    let seg = config.segment_bytes;
    if !(SEGMENT_BYTES_MIN..=(1 << 31) - 1).contains(&seg) {
        return Err(OpenError::Config(format!(
            "segment_bytes {seg} outside [{SEGMENT_BYTES_MIN}, 2^31)"
        )));
    }
    if config.shard_id > SHARD_ID_MAX {
        return Err(OpenError::Config(format!(
            "shard_id {} above {SHARD_ID_MAX}",
            config.shard_id
        )));
    }
    if config.cq_units_per_file == 0 || config.cq_mapped_files_max == 0 {
        return Err(OpenError::Config(
            "cq_units_per_file and cq_mapped_files_max must be positive".into(),
        ));
    }
    if config.key_index_slots == 0 || (config.key_index_entries as usize) < KEYS_PER_RECORD_MAX {
        return Err(OpenError::Config(format!(
            "key_index_slots must be positive and key_index_entries at least {KEYS_PER_RECORD_MAX}"
        )));
    }
    Ok(())
}

fn lock_store(config: &StoreConfig) -> Result<File, OpenError> {
    let lock = config
        .io
        .open(&config.lock_path(), true)
        .map_err(io_context("opening lock file"))?;
    // SAFETY: the fd belongs to `lock`, alive for the call.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(OpenError::Locked(config.data_dir.clone()));
    }
    Ok(lock)
}

/// Every segment must have the configured size. A shorter one (an
/// interrupted creation, or a filesystem that lost its tail) is extended with
/// zeros: the missing bytes then read as the end of the log.
fn check_segment_sizes(config: &StoreConfig, bases: &[u64]) -> Result<(), OpenError> {
    let dir = config.commitlog_dir();
    for base in bases {
        let path = segment::path(&dir, *base);
        let actual = std::fs::metadata(&path)
            .map_err(io_context(format!("stat {}", path.display())))?
            .len();
        if actual == config.segment_bytes {
            continue;
        }
        if actual > config.segment_bytes {
            return Err(OpenError::SegmentSize {
                path,
                actual,
                expected: config.segment_bytes,
            });
        }
        tracing::warn!(path = %path.display(), actual, "short commit-log segment extended with zeros");
        segment::create_preallocated(&config.io, &dir, *base, config.segment_bytes)
            .map_err(io_context(format!("completing {}", path.display())))?;
    }
    if bases
        .windows(2)
        .any(|w| matches!(w, [a, b] if b - a != config.segment_bytes))
    {
        return Err(OpenError::Config(
            "commit-log segments are not contiguous".into(),
        ));
    }
    Ok(())
}

/// Reads a segment sequentially through a window large enough for any record.
struct SegmentReader {
    file: File,
    len: u64,
    window: Vec<u8>,
    window_at: u64,
}

impl SegmentReader {
    fn open(path: &Path, len: u64) -> io::Result<Self> {
        Ok(Self {
            file: File::open(path)?,
            len,
            window: Vec::new(),
            window_at: 0,
        })
    }

    /// Bytes from `pos` (within the segment), at least a record's worth
    /// unless the segment ends first.
    fn at(&mut self, pos: u64) -> io::Result<&[u8]> {
        let needed = (RECORD_BYTES_MAX + BLANK_MARKER_BYTES) as u64;
        let window_end = self.window_at + self.window.len() as u64;
        let want_end = (pos + needed).min(self.len);
        if pos < self.window_at || want_end > window_end {
            let size = (SCAN_WINDOW_BYTES as u64)
                .max(needed)
                .min(self.len.saturating_sub(pos));
            self.window
                .resize(usize::try_from(size).unwrap_or(SCAN_WINDOW_BYTES), 0);
            self.file.read_exact_at(&mut self.window, pos)?;
            self.window_at = pos;
        }
        // Invariant: the window was just (re)read to start at or before `pos`.
        usize::try_from(pos - self.window_at)
            .ok()
            .and_then(|start| self.window.get(start..))
            .ok_or_else(|| io::Error::other("scan window does not cover the position"))
    }
}

/// Walks valid records from `from` (up to `until`) and returns the end of
/// the valid log and the newest store timestamp seen. With `indexes`,
/// applies each record.
fn walk_log(
    config: &StoreConfig,
    bases: &[u64],
    from: u64,
    until: u64,
    mut indexes: Option<&mut Indexes>,
) -> Result<(u64, i64), OpenError> {
    let seg_bytes = config.segment_bytes;
    let dir = config.commitlog_dir();
    let mut pos = from;
    let mut last_ts = 0i64;
    loop {
        let base = pos - pos % seg_bytes;
        if !bases.contains(&base) || pos >= until {
            return Ok((pos, last_ts));
        }
        let path = segment::path(&dir, base);
        let mut reader = SegmentReader::open(&path, seg_bytes)
            .map_err(io_context(format!("opening {}", path.display())))?;
        while pos < until {
            let in_seg = pos - base;
            let bytes = reader
                .at(in_seg)
                .map_err(io_context(format!("reading {}", path.display())))?;
            let physical = compose(config.shard_id, pos);
            match log_record::scan(
                bytes,
                physical,
                config.verify_crc_on_recovery && indexes.is_none(),
            ) {
                Scan::Record(record) => {
                    let len = record.len();
                    // A verified record always holds a store timestamp.
                    let Ok(store_ts) = log_record::store_timestamp(record) else {
                        return Ok((pos, last_ts));
                    };
                    if store_ts < last_ts {
                        // Store timestamps never go backwards: a torn header.
                        tracing::warn!(
                            pos,
                            "commit log cut at a record with a backwards store timestamp"
                        );
                        return Ok((pos, last_ts));
                    }
                    last_ts = store_ts;
                    match indexes.as_deref_mut().map(|ix| ix.apply(record, pos)) {
                        Some(Err(IndexError::Io(source))) => {
                            return Err(OpenError::Io {
                                context: format!("indexing the record at {pos}"),
                                source,
                            });
                        }
                        Some(Err(err)) => {
                            tracing::warn!(%err, pos, "record not indexable during recovery");
                        }
                        _ => {}
                    }
                    pos += len as u64;
                    if in_seg + len as u64 + BLANK_MARKER_BYTES as u64 > seg_bytes {
                        // No room left even for a blank marker: writers never do this.
                        return Ok((pos, last_ts));
                    }
                }
                Scan::EndOfSegment => {
                    pos = base + seg_bytes;
                    break;
                }
                Scan::End => return Ok((pos, last_ts)),
                Scan::Corrupt(err) => {
                    if indexes.is_none() {
                        tracing::warn!(%err, pos, "commit log cut at the first invalid record");
                    }
                    return Ok((pos, last_ts));
                }
            }
        }
        if pos >= until {
            return Ok((pos, last_ts));
        }
    }
}

/// Zeroes everything after `log_end` and removes later segments.
fn cut_tail(config: &StoreConfig, bases: &mut Vec<u64>, log_end: u64) -> Result<(), OpenError> {
    let dir = config.commitlog_dir();
    let seg_bytes = config.segment_bytes;
    let end_base = log_end - log_end % seg_bytes;
    for base in bases.iter().filter(|b| **b > end_base) {
        let path = segment::path(&dir, *base);
        config
            .io
            .remove_file(&path)
            .map_err(io_context(format!("removing {}", path.display())))?;
    }
    bases.retain(|b| *b <= end_base);
    if bases.contains(&end_base) {
        let path = segment::path(&dir, end_base);
        let file = config
            .io
            .open(&path, false)
            .map_err(io_context(format!("opening {}", path.display())))?;
        segment::zero_tail(&config.io, &path, &file, log_end - end_base, seg_bytes)
            .map_err(io_context("zeroing log tail"))?;
    }
    for base in bases.iter() {
        let path = segment::path(&dir, *base);
        File::open(&path)
            .and_then(|f| config.io.sync_data(&path, &f))
            .map_err(io_context(format!("syncing {}", path.display())))?;
    }
    config
        .io
        .sync_dir(&dir)
        .map_err(io_context("syncing commitlog dir"))
}

/// Removes and re-creates the index directories, durably: the store
/// directory is synced before anything is rebuilt into them.
fn clear_indexes(config: &StoreConfig) -> Result<(), OpenError> {
    let io = &config.io;
    for dir in [config.consumequeue_dir(), config.keyindex_dir()] {
        io.remove_dir_all(&dir)
            .map_err(io_context(format!("clearing {}", dir.display())))?;
        io.create_dir_all(&dir)
            .map_err(io_context(format!("creating {}", dir.display())))?;
    }
    io.sync_dir(&config.data_dir)
        .map_err(io_context("syncing store directory"))
}

/// Opens consume queues and key index from their files, cutting what
/// covers records at or after `trusted_end` (re-dispatched next). Damaged
/// files (truncated, torn) lower that offset to where their lost entries
/// begin; returns the indexes and the offset to re-dispatch from.
fn open_indexes(
    config: &StoreConfig,
    trusted_end: u64,
    log_min: u64,
    crashed: bool,
) -> Result<(Indexes, u64), OpenError> {
    let mut trusted = trusted_end;
    let mut queues = recover_queues(config, trusted, log_min, crashed)?;
    if let Some(point) = queues.damage.filter(|p| *p < trusted) {
        trusted = point.max(log_min);
        let unlinked = queues.take_new_dirs();
        queues = recover_queues(config, trusted, log_min, crashed)?;
        queues.note_changed_dirs(unlinked);
    }
    let mut keys = recover_keys(config, trusted)?;
    if let Some(point) = keys.damage.filter(|p| *p < trusted) {
        trusted = point.max(log_min);
        // The passes being replaced removed files: their directories must
        // still be synced before the checkpoint.
        let unlinked = queues.take_new_dirs();
        queues = recover_queues(config, trusted, log_min, crashed)?;
        queues.note_changed_dirs(unlinked);
        let unlinked = keys.take_new_dirs();
        keys = recover_keys(config, trusted)?;
        keys.note_changed_dirs(&unlinked);
    }
    for path in keys.drop_below_log(log_min) {
        config
            .io
            .remove_file(&path)
            .map_err(io_context(format!("removing {}", path.display())))?;
    }
    Ok((
        Indexes {
            queues,
            keys,
            delay_levels_ms: config.delay_levels_ms.clone(),
        },
        trusted,
    ))
}

fn recover_queues(
    config: &StoreConfig,
    trusted_end: u64,
    log_min: u64,
    crashed: bool,
) -> Result<consume_queue::ConsumeQueues, OpenError> {
    let bounds = RecoverBounds {
        trusted_end,
        log_min,
        crashed,
    };
    consume_queue::recover(
        &config.io,
        &config.consumequeue_dir(),
        config.cq_units_per_file,
        config.cq_mapped_files_max,
        bounds,
    )
    .map_err(io_context("recovering consume queues"))
}

fn recover_keys(config: &StoreConfig, trusted_end: u64) -> Result<KeyIndex, OpenError> {
    KeyIndex::recover(
        &config.io,
        &config.keyindex_dir(),
        config.key_index_slots,
        config.key_index_entries,
        trusted_end,
    )
    .map_err(io_context("recovering the key index"))
}

/// fdatasyncs every index file written during recovery and fsyncs every
/// directory a file was created in or removed from (an unlink not covered
/// by its directory's fsync comes back after a power loss, and the
/// checkpoint written next would then trust it).
fn sync_indexes(io: &Io, indexes: &mut Indexes) -> Result<(), OpenError> {
    let mut dirty = indexes
        .queues
        .take_dirty()
        .map_err(io_context("writing consume-queue units"))?;
    dirty.extend(indexes.keys.take_dirty());
    let mut dirs = indexes.queues.take_new_dirs();
    dirs.extend(indexes.keys.take_new_dirs());
    dirs.extend(
        dirty
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf)),
    );
    dirs.sort();
    dirs.dedup();
    io.sync_paths(&dirty)
        .map_err(io_context("syncing index files"))?;
    for dir in &dirs {
        io.sync_dir(dir)
            .map_err(io_context(format!("syncing {}", dir.display())))?;
    }
    Ok(())
}
