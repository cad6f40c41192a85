//! The broker's ACL (RocketMQ ACL 1.0, off unless `acl_enable = true`): the
//! `plain_acl.yml` named by `acl_file`, re-read when its modification time
//! or size changes (checked at most every [`RELOAD_CHECK`]), and the check
//! [`crate::limits::admit`] runs on every request. The decision itself is
//! [`ringmq_net::acl::AclConfig::check`].
//!
//! A file that becomes unreadable or invalid while the broker runs is
//! logged and the last good configuration stays in force (fail closed: the
//! broker never runs without ACL once it is on; a bad file at start-up is a
//! start-up error, see [`crate::limits::validate_config`]).

use std::net::IpAddr;
use std::path::PathBuf;

pub use ringmq_net::acl::AclConfig;
use ringmq_net::acl::AclDenied;
use ringmq_net::acl_file::AclFile;
pub use ringmq_net::acl_file::{AclLoadError, RELOAD_CHECK, load};
use ringmq_net::command::RemotingCommand;

use crate::config::BrokerConfig;

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

/// The ACL in force, reloaded when its file changes.
pub struct Acl(AclFile);

impl Acl {
    /// The ACL of `config` (empty, denying everyone, if the file cannot be
    /// read: validation refuses that case before start-up).
    pub fn new(config: &BrokerConfig) -> Self {
        let path = acl_path(config);
        let rules = if config.acl_enable {
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
        Acl(AclFile::with_rules(&path, rules))
    }

    /// Decides `req` from `remote`, reloading the file first if it changed.
    pub fn check(&self, req: &RemotingCommand, remote: IpAddr) -> Result<(), AclDenied> {
        self.0.decide(|rules| rules.check(req, remote))
    }
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
        acl.0.look_again();
        assert!(acl.check(&req, local).is_err(), "the new file denies PUB");
        std::fs::write(&path, "not: [valid").unwrap();
        acl.0.look_again();
        assert!(
            acl.check(&req, local).is_err(),
            "a broken file keeps the previous rules"
        );
    }
}
