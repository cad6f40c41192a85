//! The store's file-system changes, all through one type: [`Io`]. Every
//! write, fdatasync/fsync, create, set_len/fallocate, rename, unlink and
//! directory fsync of the storage crate (commit-log segments, consume-queue
//! files, key-index files, checkpoint, abort marker) is one [`IoOp`] here,
//! so that a test can watch them and cut "power" between any two.
//!
//! Production runs with no [`IoHook`]: each helper is the plain syscall
//! behind one `Option` check, no allocation and no dynamic call (the op and
//! its path are only built when a hook is set). With a hook (tests, and
//! the power-loss model in `power`, built for tests and with the
//! `power-loss-model` feature), [`IoHook::before`] sees each operation
//! before it runs and may refuse it (power is off), and [`IoHook::after`]
//! sees it completed and may still report it failed (power went off while
//! it ran, so its outcome is unknown to the caller).
//!
//! Reads are not routed here: the live files are the page cache; only
//! what reaches the disk is modelled.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(any(test, feature = "power-loss-model"))]
pub mod power;

/// Zero buffer size used when a filesystem cannot zero a range itself.
const ZERO_CHUNK_BYTES: usize = 1 << 20;

/// One change of the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoOp {
    /// A file is created (or opened with create; a no-op if it exists).
    Create(PathBuf),
    /// A directory and its missing ancestors are created.
    CreateDir(PathBuf),
    /// Bytes `[at, at + len)` of a file are written.
    Write {
        path: PathBuf,
        at: u64,
        len: u64,
    },
    /// A file's length is set (set_len, or fallocate from 0 to `len`).
    Resize {
        path: PathBuf,
        len: u64,
    },
    /// Bytes `[from, to)` of a file are made zeros.
    Zero {
        path: PathBuf,
        from: u64,
        to: u64,
    },
    /// fdatasync / fsync of a file: its content (as of the call) is durable.
    Sync(PathBuf),
    /// fsync of a directory: its entries (as of the call) are durable.
    SyncDir(PathBuf),
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    /// A file is unlinked.
    Remove(PathBuf),
    /// A directory and everything under it is removed.
    RemoveDirAll(PathBuf),
}

/// Watches (and may fail) the store's file-system changes.
pub trait IoHook: Send + Sync {
    /// Before `op` runs; an error fails it without running it.
    fn before(&self, op: &IoOp) -> io::Result<()>;
    /// After `op` succeeded; an error reports it failed after all.
    fn after(&self, op: &IoOp) -> io::Result<()>;
}

/// The store's way to change files: the real syscalls, watched by an
/// optional hook (tests).
#[derive(Clone, Default)]
pub struct Io {
    hook: Option<Arc<dyn IoHook>>,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

/// An operation in progress (see [`Io::begin`]).
#[must_use = "an operation begun must be ended with its result"]
pub struct Ticket(Option<(Arc<dyn IoHook>, IoOp)>);

impl Ticket {
    /// Reports the operation's result to the hook, which may turn a success
    /// into a failure.
    pub fn end<T>(self, result: io::Result<T>) -> io::Result<T> {
        match (self.0, result) {
            (Some((hook, op)), Ok(value)) => hook.after(&op).map(|()| value),
            (_, result) => result,
        }
    }
}

impl Io {
    /// Real I/O watched by `hook`.
    pub fn with_hook(hook: Arc<dyn IoHook>) -> Self {
        Self { hook: Some(hook) }
    }

    /// Starts an operation; `op` is only called when a hook watches.
    #[inline]
    pub fn begin(&self, op: impl FnOnce() -> IoOp) -> io::Result<Ticket> {
        match &self.hook {
            None => Ok(Ticket(None)),
            Some(hook) => {
                let op = op();
                hook.before(&op)?;
                Ok(Ticket(Some((hook.clone(), op))))
            }
        }
    }

    /// Runs `run` as the operation `op`.
    #[inline]
    pub fn run<T>(
        &self,
        op: impl FnOnce() -> IoOp,
        run: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let ticket = self.begin(op)?;
        ticket.end(run())
    }

    /// `create_dir_all`.
    pub fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.run(
            || IoOp::CreateDir(dir.to_path_buf()),
            || std::fs::create_dir_all(dir),
        )
    }

    /// Opens `path` read-write, creating it if `create` (one [`IoOp::Create`]).
    pub fn open(&self, path: &Path, create: bool) -> io::Result<File> {
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(false)
                .open(path)
        };
        if create {
            self.run(|| IoOp::Create(path.to_path_buf()), open)
        } else {
            open()
        }
    }

    /// Opens a fixed-size index file of exactly `len` bytes, creating it
    /// (and its directory) if `create` and extending a shorter one with
    /// zeros (sparse); a longer file is refused as not of this layout.
    pub fn open_sized(&self, path: &Path, len: usize, create: bool) -> io::Result<File> {
        if create && let Some(dir) = path.parent() {
            self.create_dir_all(dir)?;
        }
        let file = self.open(path, create)?;
        let actual = file.metadata()?.len();
        let wanted = len as u64;
        if actual > wanted {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is {actual} bytes, expected {wanted}", path.display()),
            ));
        }
        if actual < wanted {
            self.set_len(path, &file, wanted)?;
        }
        Ok(file)
    }

    /// Creates `path` empty (truncating it; the model sees a fresh file).
    pub fn create_truncated(&self, path: &Path) -> io::Result<File> {
        self.run(|| IoOp::Create(path.to_path_buf()), || File::create(path))
    }

    /// `set_len` of the open file at `path`.
    pub fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        self.run(
            || IoOp::Resize {
                path: path.to_path_buf(),
                len,
            },
            || file.set_len(len),
        )
    }

    /// Preallocates `len` bytes (fallocate; set_len where unsupported).
    pub fn preallocate(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        self.run(
            || IoOp::Resize {
                path: path.to_path_buf(),
                len,
            },
            || preallocate(file, len),
        )
    }

    /// Writes all of `bytes` at `at`.
    #[inline]
    pub fn write_all_at(&self, path: &Path, file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
        self.run(
            || IoOp::Write {
                path: path.to_path_buf(),
                at,
                len: bytes.len() as u64,
            },
            || file.write_all_at(bytes, at),
        )
    }

    /// Makes `[from, to)` read as zeros (fallocate ZERO_RANGE, or writes).
    pub fn zero_range(&self, path: &Path, file: &File, from: u64, to: u64) -> io::Result<()> {
        if from >= to {
            return Ok(());
        }
        self.run(
            || IoOp::Zero {
                path: path.to_path_buf(),
                from,
                to,
            },
            || zero_range(file, from, to),
        )
    }

    /// fdatasync of the open file at `path`.
    pub fn sync_data(&self, path: &Path, file: &File) -> io::Result<()> {
        self.run(|| IoOp::Sync(path.to_path_buf()), || file.sync_data())
    }

    /// fsync of the open file at `path` (data and metadata).
    pub fn sync_all(&self, path: &Path, file: &File) -> io::Result<()> {
        self.run(|| IoOp::Sync(path.to_path_buf()), || file.sync_all())
    }

    /// fdatasyncs the files at `paths`; one that no longer exists (deleted
    /// by retention) is skipped.
    pub fn sync_paths(&self, paths: &[PathBuf]) -> io::Result<()> {
        for path in paths {
            match File::open(path) {
                Ok(file) => self.sync_data(path, &file)?,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// fsyncs a directory so created, renamed or removed entries are durable.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.run(
            || IoOp::SyncDir(dir.to_path_buf()),
            || File::open(dir)?.sync_all(),
        )
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(
            || IoOp::Rename {
                from: from.to_path_buf(),
                to: to.to_path_buf(),
            },
            || std::fs::rename(from, to),
        )
    }

    /// Unlinks a file; a missing one is not an error.
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.run(
            || IoOp::Remove(path.to_path_buf()),
            || match std::fs::remove_file(path) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        )
    }

    /// Removes a directory tree; a missing one is not an error.
    pub fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.run(
            || IoOp::RemoveDirAll(dir.to_path_buf()),
            || match std::fs::remove_dir_all(dir) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        )
    }

    /// Writes `bytes` to `path` atomically: temp file, write, fsync,
    /// rename, fsync of the directory.
    pub fn write_atomically(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        {
            let file = self.create_truncated(&tmp)?;
            self.write_all_at(&tmp, &file, bytes, 0)?;
            self.sync_all(&tmp, &file)?;
        }
        self.rename(&tmp, path)?;
        match path.parent() {
            Some(dir) => self.sync_dir(dir),
            None => Ok(()),
        }
    }
}

fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let len_off = libc::off_t::try_from(len).map_err(|_| io::Error::other("file too large"))?;
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

fn zero_range(file: &File, from: u64, to: u64) -> io::Result<()> {
    let (Ok(start), Ok(count)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(to - from),
    ) else {
        return Err(io::Error::other("file offset out of range"));
    };
    // SAFETY: the fd is owned by `file`, valid for the duration of the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_ZERO_RANGE, start, count) };
    if rc == 0 {
        return Ok(());
    }
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < to {
        let n = usize::try_from((to - at).min(ZERO_CHUNK_BYTES as u64)).unwrap_or(ZERO_CHUNK_BYTES);
        file.write_all_at(zeros.get(..n).unwrap_or(&zeros), at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        ops: Mutex<Vec<IoOp>>,
        refuse: Mutex<Option<usize>>,
    }

    impl IoHook for Recorder {
        fn before(&self, _op: &IoOp) -> io::Result<()> {
            let seen = self.ops.lock().unwrap().len();
            match *self.refuse.lock().unwrap() {
                Some(at) if seen >= at => Err(io::Error::other("power off")),
                _ => Ok(()),
            }
        }
        fn after(&self, op: &IoOp) -> io::Result<()> {
            self.ops.lock().unwrap().push(op.clone());
            Ok(())
        }
    }

    #[test]
    fn an_atomic_write_is_five_operations_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::default());
        let io = Io::with_hook(recorder.clone());
        let path = dir.path().join("checkpoint");
        io.write_atomically(&path, b"abc").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let tmp = path.with_extension("tmp");
        assert_eq!(
            *recorder.ops.lock().unwrap(),
            vec![
                IoOp::Create(tmp.clone()),
                IoOp::Write {
                    path: tmp.clone(),
                    at: 0,
                    len: 3
                },
                IoOp::Sync(tmp.clone()),
                IoOp::Rename {
                    from: tmp,
                    to: path.clone()
                },
                IoOp::SyncDir(dir.path().to_path_buf()),
            ]
        );
    }

    #[test]
    fn a_refused_operation_does_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::default());
        *recorder.refuse.lock().unwrap() = Some(0);
        let io = Io::with_hook(recorder);
        let path = dir.path().join("f");
        assert!(io.open(&path, true).is_err());
        assert!(!path.exists());
        // Without a hook the same call just runs.
        Io::default().open(&path, true).unwrap();
        assert!(path.exists());
    }
}
