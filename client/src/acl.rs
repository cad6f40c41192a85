//! Client-side ACL: request signing for brokers and nameservers that run
//! RocketMQ ACL 1.0, as Java's `AclClientRPCHook`. An [`RpcHook`] sees
//! every request just before it is encoded; [`AclClientRpcHook`] adds
//! `AccessKey`, the optional `SecurityToken` and `Signature`
//! ([`ringmq_net::acl::sign`]).
//!
//! ```
//! use ringmq_client::instance::ClientConfig;
//!
//! let config = ClientConfig::default().with_credentials("RocketMQ", "12345678");
//! assert!(config.rpc_hook.is_some());
//! ```

use std::sync::Arc;

pub use ringmq_net::acl::Credentials;
use ringmq_net::command::RemotingCommand;

/// Called for every request the client sends, after its opaque is set.
pub trait RpcHook: Send + Sync + std::fmt::Debug {
    /// May change `request` (add fields) before it goes to `addr`.
    fn before_request(&self, addr: &str, request: &mut RemotingCommand);
}

/// Signs every request with one account's credentials.
pub struct AclClientRpcHook {
    credentials: Credentials,
}

impl AclClientRpcHook {
    /// A hook signing with `access_key` / `secret_key`.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            credentials: Credentials {
                access_key: access_key.into(),
                secret_key: secret_key.into(),
                security_token: None,
            },
        }
    }

    /// Adds a `SecurityToken` to every request.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.credentials.security_token = Some(token.into());
        self
    }

    /// As a shareable hook.
    pub fn into_hook(self) -> Arc<dyn RpcHook> {
        Arc::new(self)
    }
}

impl std::fmt::Debug for AclClientRpcHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("AclClientRpcHook")
            .field("access_key", &self.credentials.access_key)
            .finish_non_exhaustive()
    }
}

impl RpcHook for AclClientRpcHook {
    fn before_request(&self, _addr: &str, request: &mut RemotingCommand) {
        ringmq_net::acl::sign(request, &self.credentials);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ringmq_net::acl::{ACCESS_KEY, SIGNATURE, signature, signed_content};
    use ringmq_net::code::request;

    #[test]
    fn the_hook_signs_and_hides_the_secret() {
        let hook = AclClientRpcHook::new("RocketMQ", "12345678").with_security_token("tok");
        let mut req = RemotingCommand::request(request::PULL_MESSAGE).with_body(b"x".to_vec());
        req.ext_fields.insert("topic".into(), "T".into());
        hook.before_request("127.0.0.1:10911", &mut req);
        assert_eq!(req.ext_fields.get(ACCESS_KEY).unwrap(), "RocketMQ");
        let expected = signature(&signed_content(&req), "12345678");
        assert_eq!(req.ext_fields.get(SIGNATURE).unwrap(), &expected);
        assert!(!format!("{hook:?}").contains("12345678"));
    }
}
