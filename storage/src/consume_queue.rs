//! Consume queues: per (topic, queueId), the index from logical offset to
//! the record's place in the commit log, kept on disk in RocketMQ's shape
//! and read with `pread`, so that memory does not grow with the number of
//! messages and a failing disk is an I/O error, never a SIGBUS.
//!
//! Files: `consumequeue/<topic>/<queueId>/<20-digit byte offset>`, each
//! exactly `units_per_file * 20` bytes (created sparse), holding the units
//! of logical offsets `[first, first + units_per_file)` where the file name
//! is `first * 20`. A unit, big-endian (spec §5.2):
//!
//! ```text
//! 0        8      12       20
//! +--------+------+--------+
//! | phys   | size | tags   |   phys: shard-qualified physical offset (i64)
//! +--------+------+--------+   size: TOTALSIZE (i32); tags: tag hash (i64)
//! ```
//!
//! A unit with size <= 0 or phys < 0 (never written: zeros) is empty.
//!
//! In memory each queue is `(min_offset, max_offset)` plus its **tail**:
//! the units appended since they were last written (at most
//! [`TAIL_UNITS_MAX`], one file's worth at a time). The index rebuilder
//! appends units to the tail and writes every tail with one `pwrite` per
//! queue after each dispatched chunk ([`ConsumeQueues::write_tails`]);
//! reads look at the tail first, then `pread` the file, through a cache of
//! at most `cq_mapped_files_max` open files (least recently used closed).
//! An I/O error reading a unit reads as no unit (logged), never as a
//! signal: these files used to be memory-mapped, and a mapped page the
//! disk cannot read kills the process. The periodic index flush
//! ([`ConsumeQueues::take_dirty`], which writes the tails first, +
//! fdatasync) then records the checkpoint's `indexed` offset; a tail lost
//! to a crash is re-dispatched from the log like any unit past it.
//!
//! Start-up ([`recover`]) never reads the units into memory: per queue it
//! lists the files and binary-searches the last one for the end of the
//! units whose records lie below the trusted log offset, zeroes what
//! follows (a unit past the checkpoint may be torn, or point at bytes
//! recovery truncated), and binary-searches the first file for the first
//! unit still in the log. Recovery then re-dispatches the log from that
//! trusted offset, re-creating the units it zeroed.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ringmq_net::codec::{ByteReader, ByteWriter, Decode, Encode, encode_into};

use crate::fileio::Io;
use crate::physical_offset::local_of;

/// Bytes per consume-queue unit.
pub const CQ_UNIT_BYTES: usize = 20;
/// Most units a queue's tail holds before it is written out.
pub const TAIL_UNITS_MAX: usize = 256;

/// One consume-queue unit (layout in the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqUnit {
    /// Shard-qualified physical offset of the record.
    pub physical_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

/// Why 20 bytes are not a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("consume-queue unit shorter than {CQ_UNIT_BYTES} bytes")]
    Truncated,
    #[error("empty consume-queue unit (never written)")]
    Empty,
}

impl Encode for CqUnit {
    const ENCODED_BYTES: usize = CQ_UNIT_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        w.i64(self.physical_offset)
            .i32(self.size)
            .i64(self.tags_code);
    }
}

impl Decode for CqUnit {
    type Error = UnitError;
    fn decode(bytes: &[u8]) -> Result<CqUnit, UnitError> {
        let mut r = ByteReader::new(bytes);
        let (Some(physical_offset), Some(size), Some(tags_code)) = (r.i64(), r.i32(), r.i64())
        else {
            return Err(UnitError::Truncated);
        };
        if size <= 0 || physical_offset < 0 {
            return Err(UnitError::Empty);
        }
        Ok(CqUnit {
            physical_offset,
            size,
            tags_code,
        })
    }
}

impl CqUnit {
    pub fn encode(&self) -> [u8; CQ_UNIT_BYTES] {
        let mut out = [0u8; CQ_UNIT_BYTES];
        // Cannot fail: the layout is exactly CQ_UNIT_BYTES (round-trip test).
        let _ = encode_into(self, &mut out);
        out
    }
}

/// One (topic, queueId) consume queue: its offsets only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeQueue {
    /// Key of this queue's mappings in the cache.
    uid: u32,
    /// Smallest logical offset still readable (raised by retention).
    min_offset: i64,
    /// Next logical offset to be written (RocketMQ maxOffset).
    max_offset: i64,
}

impl ConsumeQueue {
    pub fn max_offset(&self) -> i64 {
        self.max_offset
    }

    pub fn min_offset(&self) -> i64 {
        self.min_offset
    }
}

type MapKey = (u32, i64);

/// Bounded cache of open consume-queue files.
#[derive(Debug)]
struct FileCache {
    limit: usize,
    tick: u64,
    files: HashMap<MapKey, (std::fs::File, u64)>,
}

impl FileCache {
    /// The open file for `key`; with `create`, the file (and its directory)
    /// is created, and a shorter one extended with zeros (sparse), to
    /// `file_bytes`.
    fn get(
        &mut self,
        io: &Io,
        key: MapKey,
        file_bytes: usize,
        create: bool,
        path: impl FnOnce() -> PathBuf,
    ) -> io::Result<&std::fs::File> {
        self.tick += 1;
        let tick = self.tick;
        if !self.files.contains_key(&key) {
            if self.files.len() >= self.limit.max(1) {
                self.evict_one();
            }
            let file = io.open_sized(&path(), file_bytes, create)?;
            self.files.insert(key, (file, tick));
        }
        let entry = self
            .files
            .get_mut(&key)
            .ok_or_else(|| io::Error::other("open file vanished"))?;
        entry.1 = tick;
        Ok(&entry.0)
    }

    fn evict_one(&mut self) {
        let oldest = self
            .files
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(key, _)| *key);
        if let Some(key) = oldest {
            self.files.remove(&key);
        }
    }
}

/// A queue's units appended and not yet written: contiguous, in one file.
#[derive(Debug)]
struct Tail {
    /// First logical offset of the file.
    first: i64,
    /// Logical offset of the first unit held.
    from: i64,
    /// The encoded units.
    bytes: Vec<u8>,
    path: PathBuf,
}

impl Tail {
    fn end(&self) -> i64 {
        self.from + (self.bytes.len() / CQ_UNIT_BYTES) as i64
    }

    fn unit(&self, logical: i64) -> Option<CqUnit> {
        if logical < self.from || logical >= self.end() {
            return None;
        }
        let at = usize::try_from(logical - self.from).ok()? * CQ_UNIT_BYTES;
        CqUnit::decode(self.bytes.get(at..)?).ok()
    }
}

/// All consume queues of a store, by topic then queue id, and the cache of
/// their mapped files.
#[derive(Debug)]
pub struct ConsumeQueues {
    root: PathBuf,
    units_per_file: i64,
    topics: HashMap<String, HashMap<i32, ConsumeQueue>>,
    next_uid: u32,
    files: FileCache,
    /// Each queue's units not yet written, by queue uid.
    tails: HashMap<u32, Tail>,
    /// Files written since the last [`ConsumeQueues::take_dirty`].
    dirty: HashMap<MapKey, PathBuf>,
    /// Files created since then (their directory entries need a sync).
    created: Vec<PathBuf>,
    /// Directories files were removed from (recovery, retention) since the
    /// last [`ConsumeQueues::take_new_dirs`]: an unlink not yet covered by
    /// a directory fsync comes back after a power loss.
    unlinked_in: Vec<PathBuf>,
    /// Set by [`recover`]: the lowest local log offset from which a damaged
    /// queue's records must be re-dispatched.
    pub damage: Option<u64>,
    io: Io,
}

impl ConsumeQueues {
    pub fn new(io: &Io, root: &Path, units_per_file: u64, mapped_files_max: usize) -> Self {
        Self {
            io: io.clone(),
            root: root.to_path_buf(),
            units_per_file: i64::try_from(units_per_file.max(1)).unwrap_or(i64::MAX),
            topics: HashMap::new(),
            next_uid: 0,
            files: FileCache {
                limit: mapped_files_max,
                tick: 0,
                files: HashMap::new(),
            },
            tails: HashMap::new(),
            dirty: HashMap::new(),
            created: Vec::new(),
            unlinked_in: Vec::new(),
            damage: None,
        }
    }

    fn file_bytes(&self) -> usize {
        usize::try_from(self.units_per_file)
            .unwrap_or(usize::MAX)
            .saturating_mul(CQ_UNIT_BYTES)
    }

    fn first_of(&self, logical: i64) -> i64 {
        logical - logical.rem_euclid(self.units_per_file)
    }

    pub fn get(&self, topic: &str, queue_id: i32) -> Option<ConsumeQueue> {
        self.topics.get(topic)?.get(&queue_id).copied()
    }

    /// Every queue: (topic, queue id, max offset).
    pub fn max_offsets(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.topics.iter().flat_map(|(topic, queues)| {
            queues
                .iter()
                .map(move |(id, q)| (topic.as_str(), *id, q.max_offset))
        })
    }

    /// Next logical offset of the queue (0 if unknown).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.get(topic, queue_id).map_or(0, |q| q.max_offset)
    }

    fn insert_queue(&mut self, topic: &str, queue_id: i32, min: i64, max: i64) -> ConsumeQueue {
        let queue = ConsumeQueue {
            uid: self.next_uid,
            min_offset: min,
            max_offset: max,
        };
        self.next_uid = self.next_uid.wrapping_add(1);
        self.topics
            .entry(topic.to_owned())
            .or_default()
            .insert(queue_id, queue);
        queue
    }

    /// The unit at a logical offset, if readable.
    pub fn unit(&mut self, topic: &str, queue_id: i32, logical: i64) -> Option<CqUnit> {
        let queue = self.get(topic, queue_id)?;
        self.unit_in(queue, topic, queue_id, logical)
    }

    /// The unit at a logical offset of `queue` (as returned by
    /// [`ConsumeQueues::get`] for `topic`/`queue_id`), if readable; saves
    /// the queue lookup when reading many units.
    pub fn unit_in(
        &mut self,
        queue: ConsumeQueue,
        topic: &str,
        queue_id: i32,
        logical: i64,
    ) -> Option<CqUnit> {
        if logical < queue.min_offset || logical >= queue.max_offset {
            return None;
        }
        if let Some(unit) = self.tails.get(&queue.uid).and_then(|t| t.unit(logical)) {
            return Some(unit);
        }
        let first = self.first_of(logical);
        let file_bytes = self.file_bytes();
        let path = || file_path(&self.root, topic, queue_id, first);
        let file = match self
            .files
            .get(&self.io, (queue.uid, first), file_bytes, false, path)
        {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(%err, topic, queue_id, logical, "consume-queue file unreadable");
                return None;
            }
        };
        match read_unit(file, logical - first) {
            Ok(unit) => unit,
            Err(err) => {
                tracing::warn!(%err, topic, queue_id, logical, "consume-queue unit unreadable");
                None
            }
        }
    }

    /// Appends a unit at the queue's max offset (creating the queue and its
    /// file as needed) and returns the new max offset.
    pub fn push(&mut self, topic: &str, queue_id: i32, unit: CqUnit) -> io::Result<i64> {
        let queue = match self.get(topic, queue_id) {
            Some(queue) => queue,
            None => self.insert_queue(topic, queue_id, 0, 0),
        };
        let logical = queue.max_offset;
        let first = self.first_of(logical);
        let continues = self.tails.get(&queue.uid).is_some_and(|t| {
            t.first == first && t.end() == logical && t.bytes.len() < TAIL_UNITS_MAX * CQ_UNIT_BYTES
        });
        if !continues {
            self.write_tail(queue.uid)?;
            // The file exists (created, full length) before units go to it.
            let file_bytes = self.file_bytes();
            let root = &self.root;
            self.files
                .get(&self.io, (queue.uid, first), file_bytes, true, || {
                    file_path(root, topic, queue_id, first)
                })?;
            let path = file_path(&self.root, topic, queue_id, first);
            self.tails.insert(
                queue.uid,
                Tail {
                    first,
                    from: logical,
                    bytes: Vec::with_capacity(CQ_UNIT_BYTES * 4),
                    path,
                },
            );
        }
        let tail = self
            .tails
            .get_mut(&queue.uid)
            .ok_or_else(|| io::Error::other("queue tail vanished"))?;
        tail.bytes.extend_from_slice(&unit.encode());
        if !self.dirty.contains_key(&(queue.uid, first)) {
            let path = file_path(&self.root, topic, queue_id, first);
            if logical == first {
                self.created.push(path.clone());
            }
            self.dirty.insert((queue.uid, first), path);
        }
        let max = logical + 1;
        if let Some(q) = self
            .topics
            .get_mut(topic)
            .and_then(|qs| qs.get_mut(&queue_id))
        {
            q.max_offset = max;
        }
        Ok(max)
    }

    /// Writes the queue's tail to its file (one `pwrite`) and forgets it.
    fn write_tail(&mut self, uid: u32) -> io::Result<()> {
        let Some(tail) = self.tails.remove(&uid) else {
            return Ok(());
        };
        if tail.bytes.is_empty() {
            return Ok(());
        }
        let file_bytes = self.file_bytes();
        let path = tail.path.clone();
        let file = self
            .files
            .get(&self.io, (uid, tail.first), file_bytes, false, || path)?;
        let at = u64::try_from(tail.from - tail.first).unwrap_or(0) * CQ_UNIT_BYTES as u64;
        self.io.write_all_at(&tail.path, file, &tail.bytes, at)
    }

    /// Writes every queue's tail to its file (the index rebuilder, after
    /// each dispatched chunk: one `pwrite` per queue that grew).
    pub fn write_tails(&mut self) -> io::Result<()> {
        let uids: Vec<u32> = self.tails.keys().copied().collect();
        for uid in uids {
            self.write_tail(uid)?;
        }
        Ok(())
    }

    /// Writes the tails, then returns the paths of the files written since
    /// the last call (to be fdatasync'd).
    pub fn take_dirty(&mut self) -> io::Result<Vec<PathBuf>> {
        self.write_tails()?;
        Ok(self.dirty.drain().map(|(_, path)| path).collect())
    }

    /// Directories whose entries changed since the last call (new files,
    /// new queue and topic directories, removed files), to be fsync'd
    /// before a checkpoint covers the change.
    pub fn take_new_dirs(&mut self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .created
            .drain(..)
            .flat_map(|path| {
                path.ancestors()
                    .skip(1)
                    .take(3)
                    .map(Path::to_path_buf)
                    .collect::<Vec<_>>()
            })
            .collect();
        dirs.append(&mut self.unlinked_in);
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Records directories whose entries changed elsewhere (a recovery
    /// pass whose result was replaced), for the next
    /// [`ConsumeQueues::take_new_dirs`].
    pub fn note_changed_dirs(&mut self, dirs: Vec<PathBuf>) {
        self.unlinked_in.extend(dirs);
    }

    /// Raises every queue's minimum to its first unit whose record is at or
    /// after local log offset `log_min`, unmapping whole files below it
    /// (never a queue's last file). Returns the files to delete (the caller
    /// syncs their directories).
    pub fn drop_below_log(&mut self, log_min: u64) -> Vec<PathBuf> {
        let mut doomed = Vec::new();
        let keys: Vec<(String, i32)> = self
            .topics
            .iter()
            .flat_map(|(t, qs)| qs.keys().map(move |q| (t.clone(), *q)))
            .collect();
        for (topic, queue_id) in keys {
            doomed.extend(self.drop_queue_below_log(&topic, queue_id, log_min));
        }
        doomed
    }

    fn drop_queue_below_log(&mut self, topic: &str, queue_id: i32, log_min: u64) -> Vec<PathBuf> {
        let mut doomed = Vec::new();
        let Some(queue) = self.get(topic, queue_id) else {
            return doomed;
        };
        let below =
            |unit: Option<CqUnit>| unit.is_none_or(|u| local_of(u.physical_offset) < log_min);
        let mut min = queue.min_offset;
        let last_first = self.first_of((queue.max_offset - 1).max(queue.min_offset));
        // Whole files below the log minimum (their last unit is below it).
        while self.first_of(min) < last_first {
            let first = self.first_of(min);
            let file_last = first + self.units_per_file - 1;
            if !below(self.unit(topic, queue_id, file_last)) {
                break;
            }
            self.files.files.remove(&(queue.uid, first));
            self.dirty.remove(&(queue.uid, first));
            doomed.push(file_path(&self.root, topic, queue_id, first));
            min = first + self.units_per_file;
            self.set_min(topic, queue_id, min);
        }
        // Within the first kept file: the first unit still in the log.
        let (mut low, mut high) = (min, queue.max_offset);
        while low < high {
            let mid = low + (high - low) / 2;
            if below(self.unit(topic, queue_id, mid)) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        self.set_min(topic, queue_id, low);
        doomed
    }

    fn set_min(&mut self, topic: &str, queue_id: i32, min: i64) {
        if let Some(q) = self
            .topics
            .get_mut(topic)
            .and_then(|qs| qs.get_mut(&queue_id))
        {
            q.min_offset = q.min_offset.max(min.min(q.max_offset));
        }
    }

    /// Forgets a topic's queues (and their unwritten tails) and closes their
    /// files.
    pub fn remove_topic(&mut self, topic: &str) {
        if let Some(queues) = self.topics.remove(topic) {
            let uids: Vec<u32> = queues.values().map(|q| q.uid).collect();
            self.files.files.retain(|(uid, _), _| !uids.contains(uid));
            self.tails.retain(|uid, _| !uids.contains(uid));
            self.dirty.retain(|(uid, _), _| !uids.contains(uid));
        }
    }

    /// Number of files open right now (bounded by the configured limit).
    pub fn open_files(&self) -> usize {
        self.files.files.len()
    }
}

/// Path of the file holding logical offsets from `first`.
pub fn file_path(root: &Path, topic: &str, queue_id: i32, first: i64) -> PathBuf {
    let byte_offset = u64::try_from(first)
        .unwrap_or(0)
        .saturating_mul(CQ_UNIT_BYTES as u64);
    root.join(topic)
        .join(queue_id.to_string())
        .join(crate::segment::file_name(byte_offset))
}

/// What recovery must do to the consume queues.
#[derive(Debug, Clone, Copy)]
pub struct RecoverBounds {
    /// Units whose record starts at or after this local offset are zeroed
    /// (they are re-dispatched from the log).
    pub trusted_end: u64,
    /// Smallest local offset still in the log (first segment's base).
    pub log_min: u64,
    /// The previous run crashed: the tail after the trusted units may hold
    /// torn bytes, so it is zeroed even if its first unit is empty.
    pub crashed: bool,
}

/// Finds every queue under `root` and makes its files consistent with the
/// log (blocking; recovery). Reads O(log units) units per queue, never all.
/// [`ConsumeQueues::damage`] then tells from where the log must be
/// re-dispatched if some files were damaged (truncated, missing).
pub fn recover(
    io: &Io,
    root: &Path,
    units_per_file: u64,
    mapped_files_max: usize,
    bounds: RecoverBounds,
) -> io::Result<ConsumeQueues> {
    let mut queues = ConsumeQueues::new(io, root, units_per_file, mapped_files_max);
    let Ok(topics) = std::fs::read_dir(root) else {
        return Ok(queues);
    };
    for topic_dir in topics.flatten() {
        let Some(topic) = topic_dir.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for queue_dir in std::fs::read_dir(topic_dir.path())?.flatten() {
            let Some(queue_id) = queue_dir
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let per_file = queues.units_per_file;
            let found = recover_queue(io, &queue_dir.path(), per_file, bounds)?;
            if let Some(found) = found.filter(|f| f.removed_files) {
                queues.unlinked_in.push(queue_dir.path());
                tracing::debug!(
                    topic,
                    queue_id,
                    max = found.max,
                    "consume-queue files removed"
                );
            }
            if let Some(found) = found {
                queues.insert_queue(&topic, queue_id, found.min, found.max);
                if let Some(point) = found.damage {
                    tracing::warn!(
                        topic,
                        queue_id,
                        point,
                        "damaged consume-queue files; re-dispatching"
                    );
                    queues.damage = Some(queues.damage.map_or(point, |d| d.min(point)));
                }
            }
        }
    }
    Ok(queues)
}

/// Reads the unit at `index` of a file (a short read is an empty unit).
fn read_unit(file: &std::fs::File, index: i64) -> io::Result<Option<CqUnit>> {
    let mut buf = [0u8; CQ_UNIT_BYTES];
    let at = u64::try_from(index).unwrap_or(0) * CQ_UNIT_BYTES as u64;
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match file.read_at(rest, at + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(CqUnit::decode(&buf).ok())
}

/// First index in `[low, high)` where `keep` is false (binary search; `keep`
/// is true on a prefix).
fn first_false(
    file: &std::fs::File,
    mut low: i64,
    mut high: i64,
    keep: impl Fn(Option<CqUnit>) -> bool,
) -> io::Result<i64> {
    while low < high {
        let mid = low + (high - low) / 2;
        if keep(read_unit(file, mid)?) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    Ok(low)
}

/// One recovered queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecoveredQueue {
    min: i64,
    max: i64,
    /// The files were damaged (truncated, missing, or with a hole in a
    /// full file): the local log offset from which this queue's records
    /// must be re-dispatched.
    damage: Option<u64>,
    /// Files were removed from the queue's directory.
    removed_files: bool,
}

/// Recovers one queue directory; `None` if it holds no file.
fn recover_queue(
    io: &Io,
    dir: &Path,
    per_file: i64,
    bounds: RecoverBounds,
) -> io::Result<Option<RecoveredQueue>> {
    let full_len = u64::try_from(per_file).unwrap_or(0) * CQ_UNIT_BYTES as u64;
    let mut firsts: Vec<i64> = crate::segment::list(dir)?
        .into_iter()
        .map(|name| i64::try_from(name / CQ_UNIT_BYTES as u64).unwrap_or(i64::MAX))
        .collect();
    let trusted = |unit: Option<CqUnit>| {
        unit.is_some_and(|u| local_of(u.physical_offset) < bounds.trusted_end)
    };
    let path_of = |first: i64| {
        dir.join(crate::segment::file_name(
            u64::try_from(first).unwrap_or(0) * CQ_UNIT_BYTES as u64,
        ))
    };
    let open = |first: i64| io.open(&path_of(first), false);
    // Damage: a missing file, or a file before the last that is short or
    // not full. Everything after it is dropped and re-dispatched.
    let mut damaged = false;
    let mut keep = firsts.len();
    for (i, first) in firsts.iter().enumerate() {
        let next_missing = firsts
            .get(i + 1)
            .is_some_and(|next| *next != first + per_file);
        let is_last = i + 1 == firsts.len();
        let broken = !is_last && {
            let file = open(*first)?;
            file.metadata()?.len() < full_len || read_unit(&file, per_file - 1)?.is_none()
        };
        if next_missing || broken {
            damaged = true;
            keep = i + 1;
            break;
        }
    }
    let mut removed_files = false;
    for first in firsts.drain(keep..) {
        remove(io, dir, first)?;
        removed_files = true;
    }
    // The last file whose first unit is trusted; later files are dropped.
    while let Some(&last) = firsts.last() {
        if firsts.len() == 1 || trusted(read_unit(&open(last)?, 0)?) {
            break;
        }
        remove(io, dir, last)?;
        removed_files = true;
        firsts.pop();
    }
    let (Some(&first_file), Some(&last_file)) = (firsts.first(), firsts.last()) else {
        return Ok(None);
    };
    let file = open(last_file)?;
    let len = file.metadata()?.len();
    let end = first_false(&file, 0, per_file, trusted)?;
    let from = u64::try_from(end).unwrap_or(0) * CQ_UNIT_BYTES as u64;
    // The search ran into a truncated tail: units may be missing there.
    damaged |= len < full_len && from + CQ_UNIT_BYTES as u64 > len;
    let tail_dirty = end < per_file && (bounds.crashed || read_unit(&file, end)?.is_some());
    if tail_dirty && from < len {
        crate::segment::zero_tail(io, &path_of(last_file), &file, from, len)?;
    }
    let max = last_file + end;
    // Leading files entirely below the log minimum (never the last one).
    let in_log =
        |unit: Option<CqUnit>| unit.is_some_and(|u| local_of(u.physical_offset) >= bounds.log_min);
    let mut first_file = first_file;
    while first_file < last_file {
        if in_log(read_unit(&open(first_file)?, per_file - 1)?) {
            break;
        }
        remove(io, dir, first_file)?;
        removed_files = true;
        first_file += per_file;
    }
    let head = open(first_file)?;
    let head_end = if first_file == last_file {
        end
    } else {
        per_file
    };
    let min = first_file + first_false(&head, 0, head_end, |u| !in_log(u))?;
    let damage = if damaged {
        // Re-dispatch from just after the last unit that survived.
        let last = max - 1;
        let last_unit = if max > first_file {
            let index = last.rem_euclid(per_file);
            read_unit(&open(last - index)?, index)?
        } else {
            None
        };
        Some(last_unit.map_or(bounds.log_min, |u| {
            local_of(u.physical_offset) + u64::try_from(u.size).unwrap_or(0)
        }))
    } else {
        None
    };
    Ok(Some(RecoveredQueue {
        min,
        max,
        damage,
        removed_files,
    }))
}

fn remove(io: &Io, dir: &Path, first: i64) -> io::Result<()> {
    let name = crate::segment::file_name(u64::try_from(first).unwrap_or(0) * CQ_UNIT_BYTES as u64);
    io.remove_file(&dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(i: i64) -> CqUnit {
        CqUnit {
            physical_offset: i * 100,
            size: 100,
            tags_code: i,
        }
    }

    proptest! {
        #[test]
        fn cq_unit_round_trips(phys in 0i64..i64::MAX, size in 1i32..i32::MAX, tags in any::<i64>()) {
            let unit = CqUnit { physical_offset: phys, size, tags_code: tags };
            prop_assert_eq!(CqUnit::decode(&unit.encode()), Ok(unit));
        }

        #[test]
        fn cq_unit_garbage_is_rejected_or_valid(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            match CqUnit::decode(&bytes) {
                Ok(unit) => prop_assert!(unit.size > 0 && unit.physical_offset >= 0 && bytes.len() >= CQ_UNIT_BYTES),
                Err(UnitError::Truncated) => prop_assert!(bytes.len() < CQ_UNIT_BYTES),
                Err(UnitError::Empty) => {}
            }
        }

        #[test]
        fn units_are_found_at_their_logical_offsets(count in 0i64..120, per_file in 1u64..20, mapped in 1usize..4) {
            let dir = tempfile::tempdir().unwrap();
            let mut queues = ConsumeQueues::new(&Io::default(), dir.path(), per_file, mapped);
            for i in 0..count {
                prop_assert_eq!(queues.push("T", 1, unit(i)).unwrap(), i + 1);
            }
            prop_assert_eq!(queues.max_offset("T", 1), count);
            prop_assert!(queues.open_files() <= mapped);
            for i in 0..count {
                prop_assert_eq!(queues.unit("T", 1, i), Some(unit(i)));
            }
            prop_assert_eq!(queues.unit("T", 1, count), None);
            queues.write_tails().unwrap();
            // Recovery finds the same queue without reading it all.
            let bounds = RecoverBounds { trusted_end: u64::MAX >> 9, log_min: 0, crashed: false };
            let mut again = recover(&Io::default(), dir.path(), per_file, mapped, bounds).unwrap();
            prop_assert_eq!(again.max_offset("T", 1), count);
            for i in 0..count {
                prop_assert_eq!(again.unit("T", 1, i), Some(unit(i)));
            }
        }

        #[test]
        fn recovery_cuts_units_beyond_the_trusted_offset(count in 1i64..80, cut in 0i64..80, per_file in 1u64..16, crashed in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let mut queues = ConsumeQueues::new(&Io::default(), dir.path(), per_file, 2);
            for i in 0..count {
                queues.push("T", 0, unit(i)).unwrap();
            }
            queues.write_tails().unwrap();
            drop(queues);
            let bounds = RecoverBounds { trusted_end: (cut * 100) as u64, log_min: 0, crashed };
            let mut again = recover(&Io::default(), dir.path(), per_file, 2, bounds).unwrap();
            let kept = cut.min(count);
            prop_assert_eq!(again.max_offset("T", 0), kept);
            for i in kept..count {
                prop_assert_eq!(again.push("T", 0, unit(i)).unwrap(), i + 1);
            }
            for i in 0..count {
                prop_assert_eq!(again.unit("T", 0, i), Some(unit(i)));
            }
        }

        #[test]
        fn dropping_below_the_log_raises_the_minimum(count in 1i64..80, log_min in 0u64..9000, per_file in 1u64..16) {
            let dir = tempfile::tempdir().unwrap();
            let mut queues = ConsumeQueues::new(&Io::default(), dir.path(), per_file, 3);
            for i in 0..count {
                queues.push("T", 0, unit(i)).unwrap();
            }
            queues.write_tails().unwrap();
            let doomed = queues.drop_below_log(log_min);
            let expected_min = (i64::try_from(log_min).unwrap() + 99).div_euclid(100).min(count);
            let q = queues.get("T", 0).unwrap();
            prop_assert_eq!(q.min_offset(), expected_min);
            for path in &doomed {
                std::fs::remove_file(path).unwrap();
            }
            for i in expected_min..count {
                prop_assert_eq!(queues.unit("T", 0, i), Some(unit(i)));
            }
            let bounds = RecoverBounds { trusted_end: u64::MAX >> 9, log_min, crashed: false };
            let again = recover(&Io::default(), dir.path(), per_file, 3, bounds).unwrap();
            let q = again.get("T", 0).unwrap();
            prop_assert_eq!((q.min_offset(), q.max_offset()), (expected_min, count));
        }
    }

    #[test]
    fn a_torn_unit_after_the_checkpoint_is_zeroed_on_crash_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let mut queues = ConsumeQueues::new(&Io::default(), dir.path(), 10, 2);
        for i in 0..4 {
            queues.push("T", 0, unit(i)).unwrap();
        }
        queues.write_tails().unwrap();
        drop(queues);
        let path = file_path(dir.path(), "T", 0, 0);
        // A torn half-unit at index 5 (after a hole at 4).
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_at(&[0xFF; 10], 5 * CQ_UNIT_BYTES as u64)
            .unwrap();
        let bounds = RecoverBounds {
            trusted_end: 10_000,
            log_min: 0,
            crashed: true,
        };
        let mut again = recover(&Io::default(), dir.path(), 10, 2, bounds).unwrap();
        assert_eq!(again.max_offset("T", 0), 4);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[4 * CQ_UNIT_BYTES..].iter().all(|b| *b == 0));
        again.push("T", 0, unit(4)).unwrap();
        assert_eq!(again.unit("T", 0, 4), Some(unit(4)));
    }
}
