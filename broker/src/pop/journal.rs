//! The pop log file of one shard (`<shard dir>/pop/checkpoints.log`,
//! records in [`super::log`]'s format): appends with group commit, the
//! replay at open that cuts a torn tail, and compaction.
//!
//! Lives on its shard's event loop. Appends are synchronous (they only
//! queue bytes); [`PopJournal::sync`] waits until a single flusher task has
//! written and `fdatasync`ed everything appended before it, so one sync
//! covers every operation that arrived meanwhile. The flusher writes
//! strictly in append order, so a synced record never follows a hole.
//!
//! Compaction replaces the file with the records of the book's current
//! state ([`super::book::PopBook::snapshot`]): written to
//! `checkpoints.log.tmp`, synced, renamed over the log, directory synced.
//! Records appended before the snapshot was taken are in it and are
//! dropped from the queue; their waiters are released by the compacted
//! file's sync.
//!
//! After a failed write or sync the journal refuses every later append
//! (the broker must be restarted), as the store does after a failed fsync.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use futures::channel::oneshot;

use super::log::{EncodeError, LogRecord, replay};

/// File name of the log inside `<shard dir>/pop/`.
pub const LOG_FILE: &str = "checkpoints.log";
/// Largest log read at open (a larger one is refused rather than loaded).
pub const LOG_BYTES_MAX: u64 = 1 << 30;
/// A log smaller than this is never compacted.
pub const COMPACT_BYTES_MIN: u64 = 4 << 20;
/// Compact when the log is this many times larger than its snapshot.
pub const COMPACT_RATIO: u64 = 4;

/// Why the pop log cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    #[error("pop log {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("a pop log record cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    #[error("pop log {path} is {len} bytes, above the {LOG_BYTES_MAX} bytes read at start-up")]
    TooLarge { path: PathBuf, len: u64 },
    #[error("the pop log failed earlier ({0}); restart the broker")]
    Failed(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |err| JournalError::Io {
        path: path.to_owned(),
        message: err.to_string(),
    }
}

/// Told when the appends up to its ticket are durable (or failed).
type SyncWaiter = oneshot::Sender<Result<(), JournalError>>;

/// One shard's pop log (see the module doc).
pub struct PopJournal {
    path: PathBuf,
    file: RefCell<Rc<File>>,
    /// Encoded records not yet handed to the flusher.
    queued: RefCell<Vec<u8>>,
    /// Bytes in the file (written by the flusher).
    written: Cell<u64>,
    /// Appends so far (each a ticket) and the last one known durable.
    appended: Cell<u64>,
    durable: Cell<u64>,
    waiters: RefCell<Vec<(u64, SyncWaiter)>>,
    flushing: Cell<bool>,
    failed: RefCell<Option<String>>,
}

impl PopJournal {
    /// Opens (creating) the log of `dir` and replays it; a torn or corrupt
    /// tail is cut off (and synced) before anything is appended.
    pub fn open(dir: &Path) -> Result<(Rc<PopJournal>, Vec<LogRecord>), JournalError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let path = dir.join(LOG_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        let len = file.metadata().map_err(io_error(&path))?.len();
        if len > LOG_BYTES_MAX {
            return Err(JournalError::TooLarge { path, len });
        }
        let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
        file.read_exact_at(&mut bytes, 0).map_err(io_error(&path))?;
        let (records, valid) = replay(&bytes);
        let valid = valid as u64;
        if valid < len {
            tracing::warn!(
                path = %path.display(),
                cut_bytes = len - valid,
                "pop log: cutting a torn or corrupt tail"
            );
            file.set_len(valid).map_err(io_error(&path))?;
            file.sync_all().map_err(io_error(&path))?;
        }
        let journal = PopJournal {
            path,
            file: RefCell::new(Rc::new(file)),
            queued: RefCell::new(Vec::new()),
            written: Cell::new(valid),
            appended: Cell::new(0),
            durable: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            failed: RefCell::new(None),
        };
        Ok((Rc::new(journal), records))
    }

    /// Bytes of the log file.
    pub fn len(&self) -> u64 {
        self.written.get()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<(), JournalError> {
        match self.failed.borrow().as_ref() {
            Some(why) => Err(JournalError::Failed(why.clone())),
            None => Ok(()),
        }
    }

    /// Queues records; the ticket to pass to [`PopJournal::sync`].
    pub fn append(&self, records: &[LogRecord]) -> Result<u64, JournalError> {
        self.check()?;
        let mut encoded = Vec::new();
        for record in records {
            encoded.extend(record.encode()?);
        }
        self.queued.borrow_mut().extend(encoded);
        self.appended.set(self.appended.get() + 1);
        Ok(self.appended.get())
    }

    /// Waits until the append with `ticket` (and all before it) is durable.
    pub async fn sync(self: &Rc<Self>, ticket: u64) -> Result<(), JournalError> {
        self.check()?;
        if ticket <= self.durable.get() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push((ticket, tx));
        self.start_flusher();
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(JournalError::Failed("the pop log flusher stopped".into())),
        }
    }

    /// Appends and waits until durable.
    pub async fn write(self: &Rc<Self>, records: &[LogRecord]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        let ticket = self.append(records)?;
        self.sync(ticket).await
    }

    fn start_flusher(self: &Rc<Self>) {
        if self.flushing.replace(true) {
            return;
        }
        let journal = self.clone();
        compio::runtime::spawn(async move {
            journal.flush_loop().await;
            journal.flushing.set(false);
        })
        .detach();
    }

    async fn flush_loop(self: &Rc<Self>) {
        loop {
            let covered = self.appended.get();
            let bytes = std::mem::take(&mut *self.queued.borrow_mut());
            if covered == self.durable.get() && bytes.is_empty() {
                return;
            }
            let result = self.write_and_sync(bytes).await;
            match result {
                Ok(()) => {
                    self.durable.set(covered);
                    self.release(covered, None);
                }
                Err(err) => {
                    tracing::error!(%err, "pop log write failed; POP state is read-only until restart");
                    *self.failed.borrow_mut() = Some(err.to_string());
                    self.release(u64::MAX, Some(err));
                    return;
                }
            }
        }
    }

    async fn write_and_sync(&self, bytes: Vec<u8>) -> Result<(), JournalError> {
        let file = self.file.borrow().clone();
        let at = self.written.get();
        file.write_all_at(&bytes, at)
            .map_err(io_error(&self.path))?;
        self.written.set(at + bytes.len() as u64);
        sync_file(&file, &self.path).await
    }

    fn release(&self, covered: u64, err: Option<JournalError>) {
        let mut waiters = self.waiters.borrow_mut();
        let (done, waiting): (Vec<_>, Vec<_>) = waiters
            .drain(..)
            .partition(|(ticket, _)| *ticket <= covered);
        *waiters = waiting;
        drop(waiters);
        for (_, tx) in done {
            let _ = tx.send(match &err {
                None => Ok(()),
                Some(err) => Err(err.clone()),
            });
        }
    }

    /// Whether the log is worth compacting, given its snapshot's size.
    pub fn wants_compaction(&self, snapshot_bytes: u64) -> bool {
        let len = self.len();
        len >= COMPACT_BYTES_MIN && len >= snapshot_bytes.saturating_mul(COMPACT_RATIO)
    }

    /// Replaces the log with `snapshot` (the records of the state, which
    /// already contains every queued append). Skipped (`Ok(false)`) while
    /// a flush is in progress. Must be called with `snapshot` taken
    /// synchronously right before (no `.await` in between).
    pub async fn compact(self: &Rc<Self>, snapshot: &[LogRecord]) -> Result<bool, JournalError> {
        self.check()?;
        if self.flushing.replace(true) {
            return Ok(false);
        }
        let covered = self.appended.get();
        self.queued.borrow_mut().clear();
        let result = self.rewrite(snapshot).await;
        match &result {
            Ok(()) => {
                self.durable.set(covered);
                self.release(covered, None);
            }
            Err(err) => {
                *self.failed.borrow_mut() = Some(err.to_string());
                self.release(u64::MAX, Some(err.clone()));
            }
        }
        self.flushing.set(false);
        if result.is_ok() && !self.queued.borrow().is_empty() {
            self.start_flusher();
        }
        result.map(|()| true)
    }

    async fn rewrite(&self, snapshot: &[LogRecord]) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for record in snapshot {
            bytes.extend(record.encode()?);
        }
        let tmp = self.path.with_extension("log.tmp");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_error(&tmp))?;
        file.write_all_at(&bytes, 0).map_err(io_error(&tmp))?;
        let file = Rc::new(file);
        sync_file(&file, &tmp).await?;
        std::fs::rename(&tmp, &self.path).map_err(io_error(&self.path))?;
        if let Some(dir) = self.path.parent() {
            let dir_file = Rc::new(File::open(dir).map_err(io_error(dir))?);
            sync_file(&dir_file, dir).await?;
        }
        tracing::info!(
            path = %self.path.display(),
            before = self.written.get(),
            after = bytes.len(),
            "pop log compacted"
        );
        *self.file.borrow_mut() = file;
        self.written.set(bytes.len() as u64);
        Ok(())
    }
}

/// `fdatasync` off the event loop.
async fn sync_file(file: &File, path: &Path) -> Result<(), JournalError> {
    let clone = file.try_clone().map_err(io_error(path))?;
    compio::runtime::spawn_blocking(move || clone.sync_data())
        .await
        .map_err(|_| JournalError::Io {
            path: path.to_owned(),
            message: "the sync task panicked".into(),
        })?
        .map_err(io_error(path))
}

/// Encoded size of records (for [`PopJournal::wants_compaction`]).
pub fn encoded_len(records: &[LogRecord]) -> u64 {
    records
        .iter()
        .map(|r| r.encode().map_or(0, |b| b.len() as u64))
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pop::log::Checkpoint;

    fn ck(id: u64) -> LogRecord {
        LogRecord::Checkpoint(Checkpoint {
            id,
            pop_time: 1,
            invisible_time: 2,
            queue_id: 0,
            start_offset: 10,
            count: 2,
            pending: 3,
            fifo: false,
            attempts: 0,
            group: "g".into(),
            topic: "t".into(),
        })
    }

    #[test]
    fn synced_records_are_replayed_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        compio::runtime::Runtime::new().unwrap().block_on(async {
            let (journal, records) = PopJournal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            let a = journal.append(&[ck(1)]).unwrap();
            let b = journal.append(&[LogRecord::Ack { id: 1, bit: 0 }]).unwrap();
            let (ra, rb) = futures::join!(journal.sync(a), journal.sync(b));
            ra.unwrap();
            rb.unwrap();
        });
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend([0x00, 0x00, 0x00, 0x10, 0xde, 0xad]);
        std::fs::write(&path, &bytes).unwrap();
        let (_, records) = PopJournal::open(dir.path()).unwrap();
        assert_eq!(records, vec![ck(1), LogRecord::Ack { id: 1, bit: 0 }]);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);
    }

    #[test]
    fn compaction_replaces_the_log_with_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        compio::runtime::Runtime::new().unwrap().block_on(async {
            let (journal, _) = PopJournal::open(dir.path()).unwrap();
            for id in 1..50 {
                journal
                    .write(&[ck(id), LogRecord::Done { id }])
                    .await
                    .unwrap();
            }
            let queued = journal.append(&[LogRecord::Done { id: 99 }]).unwrap();
            assert!(journal.compact(&[ck(7)]).await.unwrap());
            journal.sync(queued).await.unwrap();
            journal
                .write(&[LogRecord::Ack { id: 7, bit: 1 }])
                .await
                .unwrap();
        });
        let (_, records) = PopJournal::open(dir.path()).unwrap();
        assert_eq!(records, vec![ck(7), LogRecord::Ack { id: 7, bit: 1 }]);
    }
}
