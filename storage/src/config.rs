//! Store configuration: directory, shard id, segment size, flush mode,
//! retention, disk-usage threshold, and the fault-injection and free-space
//! probes (off by default) that tests use to simulate failing disks.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// RocketMQ's default commit-log segment size: 1 GiB.
pub const SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Smallest segment size accepted (tests use small segments to rotate often).
pub const SEGMENT_BYTES_MIN: u64 = 4096;
/// Largest record accepted by `put` (RocketMQ `maxMessageSize`, 4 MiB).
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;
/// RocketMQ's consume-queue file size in 20-byte units.
pub const CQ_UNITS_PER_FILE_DEFAULT: u64 = 300_000;
/// Most consume-queue files kept open at once per store (least recently
/// used closed): one file descriptor each. (The name is from when they were
/// memory-mapped.)
pub const CQ_MAPPED_FILES_MAX_DEFAULT: usize = 128;
/// Commit-log writes up to this size are plain `pwrite`s on the shard's
/// loop instead of io_uring WRITEs (see `StoreConfig::inline_write_bytes_max`).
pub const INLINE_WRITE_BYTES_MAX_DEFAULT: usize = 0;
/// Interval between two background flushes of the consume queues, the key
/// index and the checkpoint (RocketMQ `flushIntervalConsumeQueue`).
pub const INDEX_FLUSH_INTERVAL_MS_DEFAULT: u64 = 1000;
/// Default of `disk_max_used_space_percent` (RocketMQ's `diskMaxUsedSpaceRatio`).
pub const DISK_MAX_USED_SPACE_PERCENT_DEFAULT: u8 = 75;
/// Interval between two disk-usage checks by the background watcher.
pub const DISK_CHECK_INTERVAL_MS: u64 = 1000;

/// When appended bytes become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushMode {
    /// A background task fdatasyncs every `interval_ms`; `put` returns once
    /// the record is written (page cache) and indexed.
    Async { interval_ms: u64 },
    /// Group commit: `put` (with `wait_flush`) returns once an fdatasync
    /// covering the record completed, or reports `FlushTimeout` after
    /// `timeout_ms` (RocketMQ FLUSH_DISK_TIMEOUT).
    Sync { timeout_ms: u64 },
}

impl Default for FlushMode {
    fn default() -> Self {
        FlushMode::Async { interval_ms: 500 }
    }
}

/// A place in the store's I/O where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The write of appended bytes into a commit-log segment.
    CommitLogWrite,
    /// The fdatasync of a commit-log segment. An error of kind `TimedOut`
    /// does not fail the sync but delays it by `store::SYNC_STALL` (a slow
    /// disk); any other error fails it.
    CommitLogSync,
    /// Creating and preallocating a new commit-log segment.
    SegmentCreate,
}

/// Fault-injection probe: returns `Some(error)` to make the I/O at that point
/// fail. Part of production code, `None` (off) by default.
pub type FaultProbe = Arc<dyn Fn(FaultPoint) -> Option<io::Error> + Send + Sync>;

/// Disk-usage probe: used space of the filesystem holding the path, in
/// percent (0..=100). The default asks `statvfs`.
pub type DiskUsageProbe = Arc<dyn Fn(&Path) -> io::Result<u8> + Send + Sync>;

/// Everything a [`crate::MessageStore`] needs to open.
#[derive(Clone)]
pub struct StoreConfig {
    /// Root directory of this shard's store (commitlog/, consumequeue/, ...).
    pub data_dir: PathBuf,
    /// Shard owning this store; encoded in the top bits of physical offsets.
    pub shard_id: u16,
    /// Size of one commit-log segment file.
    pub segment_bytes: u64,
    pub flush: FlushMode,
    /// Segments whose last write is older than this are deleted.
    pub retention_hours: u64,
    /// Writes are refused while disk usage is above this percentage.
    pub disk_usage_max_percent: u8,
    /// Past this disk usage, retention deletes the oldest full segments
    /// whatever their age (RocketMQ `diskMaxUsedSpaceRatio`, 75).
    pub disk_max_used_space_percent: u8,
    /// Units (20 bytes each) per consume-queue file.
    pub cq_units_per_file: u64,
    /// Commit-log writes of at most this many bytes are done with a plain
    /// buffered `pwrite` on the loop (a page-cache copy, cheaper than an
    /// io_uring WRITE that ext4 punts to an io-wq thread); larger ones go
    /// through io_uring. The trade-off: a `pwrite` can stall the loop when
    /// the kernel throttles dirty pages. 0 = always io_uring.
    pub inline_write_bytes_max: usize,
    /// Most consume-queue files kept open at once (one descriptor each).
    pub cq_mapped_files_max: usize,
    /// Slot-table size of one key-index file (RocketMQ: 5,000,000).
    pub key_index_slots: u32,
    /// Entries per key-index file (RocketMQ: 20,000,000).
    pub key_index_entries: u32,
    /// Period of the consume-queue / key-index / checkpoint flush.
    pub index_flush_interval_ms: u64,
    /// Verify the body CRC of every record scanned during recovery.
    pub verify_crc_on_recovery: bool,
    pub fault_probe: Option<FaultProbe>,
    pub disk_usage_probe: Option<DiskUsageProbe>,
    /// Delay of each delay level in ms (level 1 first): the schedule
    /// topic's consume-queue tag code is `store time + delay of its level`.
    pub delay_levels_ms: Arc<[i64]>,
    /// Every file-system change of the store goes through it (tests hook
    /// the power-loss model in; none by default).
    pub io: crate::fileio::Io,
}

impl StoreConfig {
    /// A configuration with RocketMQ's defaults rooted at `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            shard_id: 0,
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            flush: FlushMode::default(),
            retention_hours: 72,
            disk_usage_max_percent: 90,
            disk_max_used_space_percent: DISK_MAX_USED_SPACE_PERCENT_DEFAULT,
            cq_units_per_file: CQ_UNITS_PER_FILE_DEFAULT,
            cq_mapped_files_max: CQ_MAPPED_FILES_MAX_DEFAULT,
            inline_write_bytes_max: INLINE_WRITE_BYTES_MAX_DEFAULT,
            key_index_slots: crate::key_index::KEY_INDEX_SLOTS_DEFAULT,
            key_index_entries: crate::key_index::KEY_INDEX_ENTRIES_DEFAULT,
            index_flush_interval_ms: INDEX_FLUSH_INTERVAL_MS_DEFAULT,
            verify_crc_on_recovery: true,
            fault_probe: None,
            disk_usage_probe: None,
            delay_levels_ms: Arc::from(crate::indexes::DELAY_LEVELS_MS.as_slice()),
            io: crate::fileio::Io::default(),
        }
    }

    pub(crate) fn fault(&self, point: FaultPoint) -> Option<io::Error> {
        self.fault_probe.as_ref().and_then(|probe| probe(point))
    }

    pub(crate) fn sync_timeout(&self) -> Option<Duration> {
        match self.flush {
            FlushMode::Sync { timeout_ms } => Some(Duration::from_millis(timeout_ms)),
            FlushMode::Async { .. } => None,
        }
    }

    pub(crate) fn commitlog_dir(&self) -> PathBuf {
        self.data_dir.join("commitlog")
    }

    pub(crate) fn consumequeue_dir(&self) -> PathBuf {
        self.data_dir.join("consumequeue")
    }

    pub(crate) fn keyindex_dir(&self) -> PathBuf {
        self.data_dir.join("keyindex")
    }

    pub(crate) fn checkpoint_path(&self) -> PathBuf {
        self.data_dir.join("checkpoint")
    }

    pub(crate) fn abort_path(&self) -> PathBuf {
        self.data_dir.join("abort")
    }

    pub(crate) fn lock_path(&self) -> PathBuf {
        self.data_dir.join("lock")
    }

    /// Disk usage of the store's filesystem in percent.
    pub(crate) fn disk_usage_percent(&self) -> io::Result<u8> {
        match &self.disk_usage_probe {
            Some(probe) => probe(&self.data_dir),
            None => statvfs_usage_percent(&self.data_dir),
        }
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field("shard_id", &self.shard_id)
            .field("segment_bytes", &self.segment_bytes)
            .field("flush", &self.flush)
            .field("retention_hours", &self.retention_hours)
            .field("disk_usage_max_percent", &self.disk_usage_max_percent)
            .field(
                "disk_max_used_space_percent",
                &self.disk_max_used_space_percent,
            )
            .field("cq_units_per_file", &self.cq_units_per_file)
            .field("cq_mapped_files_max", &self.cq_mapped_files_max)
            .field("inline_write_bytes_max", &self.inline_write_bytes_max)
            .field("key_index_slots", &self.key_index_slots)
            .field("key_index_entries", &self.key_index_entries)
            .field("fault_probe", &self.fault_probe.is_some())
            .field("disk_usage_probe", &self.disk_usage_probe.is_some())
            .field("delay_levels_ms", &self.delay_levels_ms)
            .field("io", &self.io)
            .finish()
    }
}

fn statvfs_usage_percent(path: &Path) -> io::Result<u8> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to
    // writable memory of the right type; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let stat = unsafe { stat.assume_init() };
    // As df reports it: blocks reserved for root count neither as used nor
    // as available.
    let used = u128::from(stat.f_blocks).saturating_sub(u128::from(stat.f_bfree));
    let usable = used + u128::from(stat.f_bavail);
    if usable == 0 {
        return Ok(0);
    }
    let percent = used.saturating_mul(100) / usable;
    Ok(u8::try_from(percent.min(100)).unwrap_or(100))
}
