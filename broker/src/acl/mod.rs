//! The broker's ACL (RocketMQ ACL 1.0, off unless `acl_enable = true`): the
//! `plain_acl.yml` named by `acl_file`, re-read when its modification time
//! or size changes (checked at most every [`RELOAD_CHECK_MS`]), and the check
//! [`crate::limits::admit`] runs on every request. The decision itself is
//! [`ringmq_net::acl::AclConfig::check`].
//!
//! A file that becomes unreadable or invalid while the broker runs is
//! logged and the last good configuration stays in force (fail closed: the
//! broker never runs without ACL once it is on; a bad file at start-up is a
//! start-up error, see [`crate::limits::validate_config`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

pub use ringmq_net::acl::AclConfig;
use ringmq_net::acl::{ACL_FILE_BYTES_MAX, AclConfigError, AclDenied};
use ringmq_net::command::RemotingCommand;

use crate::config::BrokerConfig;
use crate::state::lock;

/// How often the file's metadata is looked at.
pub const RELOAD_CHECK_MS: i64 = 1_000;
/// File name under `<data_dir>/config/` when `acl_file` is empty.
pub const ACL_FILE_NAME: &str = "plain_acl.yml";

/// The ACL file of a configuration.
pub fn acl_path(config: &BrokerConfig) -> PathBuf {
    if config.acl_file.is_empty() {
        config.data_dir.join("config").join(ACL_FILE_NAME)
    } else {
        PathBuf::from(&config.acl_file)
    }
}

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

/// Reads and parses an ACL file.
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

/// The ACL in force, reloaded when its file changes.
pub struct Acl {
    path: PathBuf,
    inner: Mutex<Loaded>,
}

struct Loaded {
    config: AclConfig,
    stamp: Option<(SystemTime, u64)>,
    checked_ms: i64,
}

impl Acl {
    /// The ACL of `config` (empty, denying everyone, if the file cannot be
    /// read: validation refuses that case before start-up).
    pub fn new(config: &BrokerConfig) -> Self {
        let path = acl_path(config);
        let loaded = if config.acl_enable {
            match load(&path) {
                Ok(acl) => acl,
                Err(err) => {
                    tracing::error!(%err, "ACL file unusable; every unsigned request is refused");
                    AclConfig::default()
                }
            }
        } else {
            AclConfig::default()
        };
        Acl {
            inner: Mutex::new(Loaded {
                config: loaded,
                stamp: stamp(&path),
                checked_ms: crate::clock::now_ms(),
            }),
            path,
        }
    }

    /// Decides `req` from `remote`, reloading the file first if it changed.
    pub fn check(&self, req: &RemotingCommand, remote: IpAddr) -> Result<(), AclDenied> {
        let mut loaded = lock(&self.inner);
        self.reload_if_changed(&mut loaded);
        loaded.config.check(req, remote)
    }

    fn reload_if_changed(&self, loaded: &mut Loaded) {
        let now = crate::clock::now_ms();
        if now.saturating_sub(loaded.checked_ms) < RELOAD_CHECK_MS {
            return;
        }
        loaded.checked_ms = now;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ringmq_net::acl::{Credentials, sign};
    use ringmq_net::code::request;

    const ACCOUNT: &str =
        "accounts:\n  - accessKey: writer1\n    secretKey: secret99\n    defaultTopicPerm: PUB\n";

    #[test]
    fn the_file_is_reloaded_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain_acl.yml");
        std::fs::write(&path, ACCOUNT).unwrap();
        let config = BrokerConfig {
            acl_enable: true,
            acl_file: path.display().to_string(),
            ..BrokerConfig::default()
        };
        let acl = Acl::new(&config);
        let mut req = RemotingCommand::request(request::SEND_MESSAGE);
        req.ext_fields.insert("topic".into(), "T".into());
        let creds = Credentials {
            access_key: "writer1".into(),
            secret_key: "secret99".into(),
            security_token: None,
        };
        sign(&mut req, &creds);
        let local = IpAddr::from([127, 0, 0, 1]);
        acl.check(&req, local).unwrap();
        std::fs::write(&path, ACCOUNT.replace("PUB", "SUB ")).unwrap();
        lock(&acl.inner).checked_ms = 0;
        assert!(acl.check(&req, local).is_err(), "the new file denies PUB");
        std::fs::write(&path, "not: [valid").unwrap();
        lock(&acl.inner).checked_ms = 0;
        assert!(
            acl.check(&req, local).is_err(),
            "a broken file keeps the previous rules"
        );
    }
}
