//! The `plain_acl.yml` a broker or nameserver enforces, on disk: read at
//! start, re-read when its modification time or size changes (looked at at
//! most every [`RELOAD_CHECK`]). A file that becomes unreadable or invalid
//! while the process runs is logged and the last good rules stay in force
//! (fail closed: ACL never turns itself off). This is the one piece of file
//! I/O in this crate, kept beside the format it reads so the broker and the
//! nameserver share one reloader.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::acl::{ACL_FILE_BYTES_MAX, AclConfig, AclConfigError};

/// How often the file's metadata is looked at.
pub const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// Why the ACL file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AclLoadError {
    #[error("cannot read the ACL file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the ACL file {path}: {source}")]
    Invalid {
        path: PathBuf,
        source: AclConfigError,
    },
}

/// Reads and parses an ACL file (at most [`ACL_FILE_BYTES_MAX`] bytes).
pub fn load(path: &Path) -> Result<AclConfig, AclLoadError> {
    let read = |source| AclLoadError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > ACL_FILE_BYTES_MAX as u64 {
        return Err(AclLoadError::Invalid {
            path: path.to_owned(),
            source: AclConfigError::TooLarge(usize::try_from(len).unwrap_or(usize::MAX)),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    AclConfig::parse(&text).map_err(|source| AclLoadError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The rules of one ACL file, reloaded when the file changes.
#[derive(Debug)]
pub struct AclFile {
    path: PathBuf,
    inner: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    config: AclConfig,
    stamp: Option<(SystemTime, u64)>,
    checked: Option<Instant>,
}

impl AclFile {
    /// Loads `path`; an unusable file is an error.
    pub fn open(path: &Path) -> Result<Self, AclLoadError> {
        Ok(Self::with_rules(path, load(path)?))
    }

    /// `config` as the rules in force for `path` until the file changes.
    pub fn with_rules(path: &Path, config: AclConfig) -> Self {
        AclFile {
            path: path.to_owned(),
            inner: Mutex::new(Loaded {
                config,
                stamp: stamp(path),
                checked: Some(Instant::now()),
            }),
        }
    }

    /// Runs `decide` on the rules in force, re-reading the file first if it
    /// changed and [`RELOAD_CHECK`] has passed since it was last looked at.
    pub fn decide<R>(&self, decide: impl FnOnce(&AclConfig) -> R) -> R {
        let mut loaded = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        self.reload_if_changed(&mut loaded);
        decide(&loaded.config)
    }

    /// Makes the next [`AclFile::decide`] look at the file whatever the time.
    pub fn look_again(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .checked = None;
    }

    fn reload_if_changed(&self, loaded: &mut Loaded) {
        if loaded.checked.is_some_and(|at| at.elapsed() < RELOAD_CHECK) {
            return;
        }
        loaded.checked = Some(Instant::now());
        let current = stamp(&self.path);
        if current == loaded.stamp {
            return;
        }
        loaded.stamp = current;
        match load(&self.path) {
            Ok(config) => {
                tracing::info!(path = %self.path.display(), "ACL file reloaded");
                loaded.config = config;
            }
            Err(err) => {
                tracing::error!(%err, "ACL file changed but is unusable; keeping the previous one")
            }
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
