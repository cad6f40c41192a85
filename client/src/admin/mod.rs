//! The admin API: what `ringmq admin` (and a future web dashboard) asks of
//! a RocketMQ 4.x cluster, built only on requests a Java 4.9 nameserver
//! and broker answer, so it works against ringmq and real RocketMQ alike.
//!
//! [`Admin`] holds one transport; its low-level calls ([`calls`]) are one
//! request each (GET_BROKER_CLUSTER_INFO, GET_CONSUME_STATS,
//! INVOKE_BROKER_TO_RESET_OFFSET…), its operations ([`ops`]) combine them
//! over every broker of the cluster (consumer progress, offset reset,
//! message lookup). Every refusal comes back as [`AdminError`] with the
//! peer's response code and remark; nothing is retried behind the caller's
//! back.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ringmq_client::admin::AdminError> {
//! use ringmq_client::admin::Admin;
//! let admin = Admin::new("127.0.0.1:9876");
//! let progress = admin.consumer_progress("my-group").await?;
//! println!("lag {}", progress.total_lag);
//! # Ok(()) }
//! ```

pub mod calls;
pub mod ops;
pub mod owners;
pub mod remedy;
pub mod throttle;

use std::time::Duration;

use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;

use crate::remoting::{RemotingClient, RemotingConfig, RemotingError};

pub use ops::{BrokerRef, ConsumerProgress, QueueProgress, ResetOutcome};
pub use throttle::{BrokerThrottle, ThrottleRule};

/// Time one admin request may take by default.
pub const ADMIN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request got no answer (bad address, peer down, timeout).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// The peer answered with an error code.
    #[error("{what} refused by {addr}: code {code}: {remark}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// The peer.
        addr: String,
        /// The response code.
        code: i32,
        /// The peer's remark.
        remark: String,
    },
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A reply body could not be decoded.
    #[error("{what} from {addr}: malformed reply: {reason}")]
    Malformed {
        /// What was asked.
        what: &'static str,
        /// The peer.
        addr: String,
        /// The decoder's error.
        reason: String,
    },
    /// The caller's arguments cannot be used.
    #[error("{0}")]
    Invalid(String),
}

/// An admin session on one cluster: a nameserver list and a transport.
#[derive(Debug, Clone)]
pub struct Admin {
    remoting: RemotingClient,
    namesrv: Vec<String>,
    timeout: Duration,
}

impl Admin {
    /// An admin client for `namesrv` (`host:port[;host:port]`).
    pub fn new(namesrv: &str) -> Admin {
        let (remoting, _inbound) = RemotingClient::new(RemotingConfig::default());
        Admin {
            remoting,
            namesrv: namesrv
                .split([';', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            timeout: ADMIN_TIMEOUT_DEFAULT,
        }
    }

    /// An admin client for `namesrv` whose every request is signed with an
    /// ACL account (RocketMQ plain ACL, [`crate::acl`]).
    pub fn with_credentials(namesrv: &str, access_key: &str, secret_key: &str) -> Admin {
        let hook = crate::acl::AclClientRpcHook::new(access_key, secret_key).into_hook();
        let config = RemotingConfig {
            rpc_hook: Some(hook),
            ..RemotingConfig::default()
        };
        let (remoting, _inbound) = RemotingClient::new(config);
        Admin {
            remoting,
            ..Admin::new(namesrv)
        }
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Admin {
        self.timeout = timeout;
        self
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        self.remoting.shutdown();
    }

    /// Sends `request` to `addr`; any code but SUCCESS is [`AdminError::Refused`].
    pub async fn call(
        &self,
        addr: &str,
        what: &'static str,
        request: RemotingCommand,
    ) -> Result<RemotingCommand, AdminError> {
        let reply = self.call_any(addr, request).await?;
        if reply.code != response::SUCCESS {
            return Err(refused(what, addr, &reply));
        }
        Ok(reply)
    }

    /// Sends `request` and returns whatever came back.
    pub async fn call_any(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<RemotingCommand, AdminError> {
        Ok(self.remoting.invoke(addr, request, self.timeout).await?)
    }

    /// Sends to the first nameserver that answers.
    pub async fn call_namesrv(
        &self,
        what: &'static str,
        request: RemotingCommand,
    ) -> Result<(String, RemotingCommand), AdminError> {
        let mut last = AdminError::Invalid("no nameserver address given".into());
        for addr in &self.namesrv {
            match self.call_any(addr, request.clone()).await {
                Ok(reply) if reply.code == response::SUCCESS => return Ok((addr.clone(), reply)),
                Ok(reply) => return Err(refused(what, addr, &reply)),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    /// The nameserver addresses.
    pub fn namesrv_addrs(&self) -> &[String] {
        &self.namesrv
    }
}

fn refused(what: &'static str, addr: &str, reply: &RemotingCommand) -> AdminError {
    AdminError::Refused {
        what,
        addr: addr.to_owned(),
        code: reply.code,
        remark: reply.remark.clone().unwrap_or_default(),
    }
}

/// Decodes a JSON reply body.
fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    addr: &str,
    reply: &RemotingCommand,
) -> Result<T, AdminError> {
    ringmq_net::body::decode_json(&reply.body).map_err(|err| AdminError::Malformed {
        what,
        addr: addr.to_owned(),
        reason: err.to_string(),
    })
}
