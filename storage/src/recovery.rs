//! Start-up recovery (blocking; runs on `spawn_blocking` from
//! [`crate::MessageStore::open`]). After a clean shutdown the checkpoint is
//! trusted; after a crash (the `abort` marker is present) or without a valid
//! checkpoint, the commit log is verified record by record (magic, size,
//! physical offset, body CRC) from the start of the segment holding the last
//! safe point, cut at the first bad record, its tail zeroed, and the consume
//! queues and key index truncated and re-dispatched to match. Everything is
//! synced and a fresh checkpoint written before the store opens.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::checkpoint::Checkpoint;
use crate::config::{RECORD_BYTES_MAX, SEGMENT_BYTES_MIN, StoreConfig};
use crate::consume_queue::{self, CQ_UNIT_BYTES};
use crate::indexes::Indexes;
use crate::key_index;
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
    for dir in [
        config.data_dir.clone(),
        config.commitlog_dir(),
        config.consumequeue_dir(),
        config.keyindex_dir(),
    ] {
        std::fs::create_dir_all(&dir).map_err(io_context(format!("creating {}", dir.display())))?;
    }
    let lock = lock_store(config)?;
    let log_dir = config.commitlog_dir();
    let mut bases = segment::list(&log_dir).map_err(io_context("listing segments"))?;
    check_segment_sizes(config, &bases)?;
    let crashed = config.abort_path().exists();
    let checkpoint = std::fs::read(config.checkpoint_path())
        .ok()
        .and_then(|b| Checkpoint::decode(&b).ok());
    let (scan_start, indexed) = match checkpoint {
        Some(cp) if !crashed => (cp.log_flushed.min(cp.indexed), Some(cp.indexed)),
        Some(cp) => {
            let last_base = bases.last().copied().unwrap_or(0);
            let safe = cp.log_flushed.min(cp.indexed).min(last_base);
            (safe - safe % config.segment_bytes, Some(cp.indexed))
        }
        None => (bases.first().copied().unwrap_or(0), None),
    };
    let scan_start = scan_start.max(bases.first().copied().unwrap_or(0));
    let (log_end, _) = walk_log(config, &bases, scan_start, u64::MAX, None)?;
    if crashed || checkpoint.is_none() {
        cut_tail(config, &mut bases, log_end)?;
    }
    let redispatch_from = match indexed {
        Some(indexed) => indexed
            .min(log_end)
            .max(bases.first().copied().unwrap_or(0)),
        None => bases.first().copied().unwrap_or(0),
    };
    let mut indexes = if indexed.is_some() {
        load_indexes(config, &bases, redispatch_from)?
    } else {
        clear_indexes(config)?;
        Indexes::default()
    };
    let (_, last_ts) = walk_log(config, &bases, redispatch_from, log_end, Some(&mut indexes))?;
    persist_indexes(config, &mut indexes)?;
    let last_store_timestamp = last_ts.max(checkpoint.map_or(0, |cp| cp.last_store_timestamp));
    let fresh = Checkpoint {
        log_flushed: log_end,
        indexed: log_end,
        last_store_timestamp,
    };
    segment::write_atomically(&config.checkpoint_path(), &fresh.encode())
        .map_err(io_context("writing checkpoint"))?;
    File::create(config.abort_path()).map_err(io_context("creating abort marker"))?;
    segment::sync_dir(&config.data_dir).map_err(io_context("syncing store directory"))?;
    Ok(Recovered {
        lock,
        segment_bases: bases,
        log_end,
        indexes,
        crashed,
        last_store_timestamp,
    })
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
    if config.cq_units_per_file == 0 {
        return Err(OpenError::Config(
            "cq_units_per_file must be positive".into(),
        ));
    }
    Ok(())
}

fn lock_store(config: &StoreConfig) -> Result<File, OpenError> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(config.lock_path())
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
        segment::create_preallocated(&dir, *base, config.segment_bytes)
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
        let start = usize::try_from(pos - self.window_at).unwrap_or(usize::MAX);
        Ok(self.window.get(start..).unwrap_or_default())
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
                Scan::Record { len } => {
                    let record = bytes.get(..len).unwrap_or_default();
                    let store_ts = log_record::store_timestamp(record).unwrap_or(0);
                    if store_ts < last_ts {
                        // Store timestamps never go backwards: a torn header.
                        tracing::warn!(
                            pos,
                            "commit log cut at a record with a backwards store timestamp"
                        );
                        return Ok((pos, last_ts));
                    }
                    last_ts = store_ts;
                    if let Some(Err(err)) = indexes
                        .as_deref_mut()
                        .map(|ix| ix.apply(record, pos, base, config.cq_units_per_file))
                    {
                        tracing::warn!(%err, pos, "record not indexable during recovery");
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
        std::fs::remove_file(&path).map_err(io_context(format!("removing {}", path.display())))?;
    }
    bases.retain(|b| *b <= end_base);
    if bases.contains(&end_base) {
        let path = segment::path(&dir, end_base);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_context(format!("opening {}", path.display())))?;
        segment::zero_tail(&file, log_end - end_base, seg_bytes)
            .map_err(io_context("zeroing log tail"))?;
    }
    for base in bases.iter() {
        let path = segment::path(&dir, *base);
        File::open(&path)
            .and_then(|f| f.sync_data())
            .map_err(io_context(format!("syncing {}", path.display())))?;
    }
    segment::sync_dir(&dir).map_err(io_context("syncing commitlog dir"))
}

fn clear_indexes(config: &StoreConfig) -> Result<(), OpenError> {
    for dir in [config.consumequeue_dir(), config.keyindex_dir()] {
        std::fs::remove_dir_all(&dir).map_err(io_context(format!("clearing {}", dir.display())))?;
        std::fs::create_dir_all(&dir).map_err(io_context(format!("creating {}", dir.display())))?;
    }
    Ok(())
}

/// Loads consume queues and key index, drops what covers records at or after
/// `end`, and makes the files on disk match what was kept.
fn load_indexes(config: &StoreConfig, bases: &[u64], end: u64) -> Result<Indexes, OpenError> {
    let cq_root = config.consumequeue_dir();
    let mut queues =
        consume_queue::load_all(&cq_root).map_err(io_context("loading consume queues"))?;
    queues.truncate_from_log(end);
    // Units whose segments retention deleted are below every queue's minimum.
    let log_min = bases.first().copied().unwrap_or(0);
    for topic_queues in queues.topics.values_mut() {
        for queue in topic_queues.values_mut() {
            queue.drop_below_log(log_min);
        }
    }
    trim_cq_files(&cq_root, &queues)?;
    let key_root = config.keyindex_dir();
    let mut keys = key_index::KeyIndex::default();
    for base in segment::list(&key_root).map_err(io_context("listing key index"))? {
        let path = key_index::file_path(&key_root, base);
        if !bases.contains(&base) || base > end - end % config.segment_bytes {
            std::fs::remove_file(&path)
                .map_err(io_context(format!("removing {}", path.display())))?;
            continue;
        }
        let bytes =
            std::fs::read(&path).map_err(io_context(format!("reading {}", path.display())))?;
        let kept = keys.load_file(base, &bytes, end);
        if kept != bytes.len() as u64 {
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(kept))
                .map_err(io_context(format!("truncating {}", path.display())))?;
        }
    }
    Ok(Indexes { queues, keys })
}

/// Removes consume-queue files not kept in memory and truncates kept ones to
/// their kept length.
fn trim_cq_files(root: &Path, queues: &consume_queue::ConsumeQueues) -> Result<(), OpenError> {
    let Ok(topics) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for topic_dir in topics.flatten() {
        let topic = topic_dir.file_name().to_string_lossy().into_owned();
        let Ok(queue_dirs) = std::fs::read_dir(topic_dir.path()) else {
            continue;
        };
        for queue_dir in queue_dirs.flatten() {
            let queue_id = queue_dir
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok());
            let queue = queue_id.and_then(|q| queues.get(&topic, q));
            let Ok(files) = std::fs::read_dir(queue_dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_str().and_then(segment::parse_file_name);
                let first = name.map(|n| i64::try_from(n / CQ_UNIT_BYTES as u64).unwrap_or(-1));
                let kept = queue.and_then(|q| q.files.iter().find(|f| Some(f.first) == first));
                let result = match kept {
                    Some(kept) if kept.durable_len > 0 => OpenOptions::new()
                        .write(true)
                        .open(file.path())
                        .and_then(|f| f.set_len(kept.durable_len as u64)),
                    _ => std::fs::remove_file(file.path()),
                };
                result.map_err(io_context(format!("trimming {}", file.path().display())))?;
            }
        }
    }
    Ok(())
}

/// Writes and syncs all index bytes not yet durable (blocking).
pub fn persist_indexes(config: &StoreConfig, indexes: &mut Indexes) -> Result<(), OpenError> {
    let cq_root = config.consumequeue_dir();
    for (topic, queues) in indexes.queues.topics.iter_mut() {
        for (queue_id, queue) in queues.iter_mut() {
            for file in queue
                .files
                .iter_mut()
                .filter(|f| f.durable_len < f.bytes.len())
            {
                let path = consume_queue::file_path(&cq_root, topic, *queue_id, file.first);
                let pending = file.bytes.get(file.durable_len..).unwrap_or_default();
                write_synced(&path, file.durable_len as u64, pending)?;
                file.durable_len = file.bytes.len();
            }
        }
    }
    let key_root = config.keyindex_dir();
    for (base, file) in indexes
        .keys
        .files
        .iter_mut()
        .filter(|(_, f)| !f.pending.is_empty())
    {
        let path = key_index::file_path(&key_root, *base);
        write_synced(&path, file.durable_len, &file.pending)?;
        file.durable_len += file.pending.len() as u64;
        file.pending.clear();
    }
    Ok(())
}

fn write_synced(path: &Path, at: u64, bytes: &[u8]) -> Result<(), OpenError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_context(format!("creating {}", dir.display())))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_context(format!("opening {}", path.display())))?;
    file.write_all_at(bytes, at)
        .and_then(|()| file.sync_data())
        .map_err(io_context(format!("writing {}", path.display())))
}
