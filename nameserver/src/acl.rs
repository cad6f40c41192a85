//! The nameserver's ACL (off unless `acl_enable = true`): requests that
//! change the nameserver (register/unregister broker, register/delete topic,
//! KV config writes, wipe/add write permission) must be signed by an account
//! of `acl_file` (RocketMQ's `plain_acl.yml`, re-read when it changes), and
//! the admin-only ones ([`ringmq_net::acl::ADMIN_REQUEST_CODES`]) by an admin
//! account. Reads (routes, cluster info, KV reads) stay open, as in
//! RocketMQ 4.x where the nameserver checks nothing. Global and account
//! white addresses allow without a signature, as on the broker.

use std::net::IpAddr;
use std::path::Path;

use ringmq_net::acl::{ADMIN_REQUEST_CODES, AclDenied};
use ringmq_net::acl_file::AclFile;
pub use ringmq_net::acl_file::{AclLoadError, RELOAD_CHECK, load};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;

/// Requests that change the nameserver and so need a signature.
pub const SIGNED_REQUEST_CODES: &[i32] = &[
    request::REGISTER_BROKER,
    request::UNREGISTER_BROKER,
    request::REGISTER_TOPIC_IN_NAMESRV,
    request::DELETE_TOPIC_IN_NAMESRV,
    request::PUT_KV_CONFIG,
    request::DELETE_KV_CONFIG,
    request::WIPE_WRITE_PERM_OF_BROKER,
    request::ADD_WRITE_PERM_OF_BROKER,
];

/// The ACL in force, reloaded when its file changes.
#[derive(Debug)]
pub struct NamesrvAcl(AclFile);

impl NamesrvAcl {
    /// Loads `path`; an unusable file is an error (the nameserver does not
    /// start with ACL on and no rules).
    pub fn open(path: &Path) -> Result<Self, AclLoadError> {
        AclFile::open(path).map(NamesrvAcl)
    }

    /// The refusal of `req` from `remote`, or `None` if it may be served.
    pub fn refusal(&self, req: &RemotingCommand, remote: IpAddr) -> Option<RemotingCommand> {
        let denied = self.check(req, remote).err()?;
        tracing::warn!(code = req.code, %remote, %denied, "request refused by ACL");
        Some(RemotingCommand::response_to(
            req,
            response::NO_PERMISSION,
            Some(denied.to_string()),
        ))
    }

    fn check(&self, req: &RemotingCommand, remote: IpAddr) -> Result<(), AclDenied> {
        if !SIGNED_REQUEST_CODES.contains(&req.code) {
            return Ok(());
        }
        self.0.decide(|rules| {
            rules.check_signed(req, remote)?;
            let admin_needed = ADMIN_REQUEST_CODES.contains(&req.code);
            let access_key = req.ext_fields.get(ringmq_net::acl::ACCESS_KEY);
            match access_key.and_then(|key| rules.account(key)) {
                Some(account) if admin_needed && !account.admin => Err(AclDenied::NeedAdmin {
                    code: req.code,
                    access_key: account.access_key.clone(),
                }),
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ringmq_net::acl::{Credentials, sign};

    const FILE: &str = "accounts:\n  - accessKey: broker01\n    secretKey: secret01\n  - accessKey: admin001\n    secretKey: secret02\n    admin: true\n";

    fn acl() -> (tempfile::TempDir, NamesrvAcl) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain_acl.yml");
        std::fs::write(&path, FILE).unwrap();
        let acl = NamesrvAcl::open(&path).unwrap();
        (dir, acl)
    }

    fn signed(code: i32, access: &str, secret: &str) -> RemotingCommand {
        let mut req = RemotingCommand::request(code);
        req.ext_fields
            .insert("brokerName".into(), "broker-a".into());
        sign(
            &mut req,
            &Credentials {
                access_key: access.into(),
                secret_key: secret.into(),
                security_token: None,
            },
        );
        req
    }

    #[test]
    fn changes_need_a_signature_and_admin_ones_an_admin() {
        let (_dir, acl) = acl();
        let local = IpAddr::from([127, 0, 0, 1]);
        let unsigned = RemotingCommand::request(request::REGISTER_BROKER);
        let refusal = acl.refusal(&unsigned, local).unwrap();
        assert_eq!(refusal.code, response::NO_PERMISSION);
        assert!(refusal.remark.unwrap().contains("accessKey"));
        assert!(
            acl.refusal(
                &signed(request::REGISTER_BROKER, "broker01", "secret01"),
                local
            )
            .is_none()
        );
        assert!(
            acl.refusal(
                &signed(request::REGISTER_BROKER, "broker01", "wrong999"),
                local
            )
            .is_some()
        );
        let wipe = signed(request::WIPE_WRITE_PERM_OF_BROKER, "broker01", "secret01");
        let refusal = acl.refusal(&wipe, local).unwrap();
        assert!(refusal.remark.unwrap().contains("admin"));
        assert!(
            acl.refusal(
                &signed(request::WIPE_WRITE_PERM_OF_BROKER, "admin001", "secret02"),
                local
            )
            .is_none()
        );
        let read = RemotingCommand::request(request::GET_ROUTEINFO_BY_TOPIC);
        assert!(acl.refusal(&read, local).is_none(), "reads stay open");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert!(NamesrvAcl::open(Path::new("/nonexistent/plain_acl.yml")).is_err());
    }
}
