//! What one client may cost the broker, and the checks every request passes
//! before a processor sees it.
//!
//! - **Connections**: at most `connections_max` in all and
//!   `connections_per_address_max` per remote IP ([`ConnectionCounts`]); a
//!   connection over either is closed at accept, with a log line.
//! - **Idle and slow connections**: a connection that completes no request
//!   frame for `connection_idle_timeout_ms` while nothing is in flight is
//!   closed ([`idle_watch`]); a client trickling a frame byte by byte
//!   (slowloris) never completes one, so it is closed too.
//! - **Unread replies**: once `connection_outbound_bytes_max` reply bytes are
//!   queued for a connection, its requests stop being read until the client
//!   reads ([`wait_for_reply_room`]).
//! - **Requests in flight** per connection: `connection_requests_in_flight_max`.
//! - **Names**: every topic, group and client id in a request's header
//!   ([`admit`]) and in a heartbeat body ([`heartbeat_refusal`]) is
//!   validated by [`ringmq_net::validate`] before anything is created.
//! - **ACL**: when `acl_enable` is set, [`admit`] checks the request's
//!   signature and permissions ([`crate::acl`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use ringmq_net::body::heartbeat::HeartbeatData;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;

use crate::config::{BrokerConfig, ConfigError};
use crate::connection::Connection;
use crate::processor::{Reply, error};
use crate::state::lock;

/// Default of `connections_max`.
pub const CONNECTIONS_MAX_DEFAULT: usize = 10_000;
/// Default of `connections_per_address_max`.
pub const CONNECTIONS_PER_ADDRESS_MAX_DEFAULT: usize = 1_000;
/// Default of `connection_idle_timeout_ms` (Java: 120 s).
pub const CONNECTION_IDLE_TIMEOUT_MS_DEFAULT: u64 = 120_000;
/// Default of `connection_outbound_bytes_max`.
pub const CONNECTION_OUTBOUND_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// Default of `connection_requests_in_flight_max`.
pub const IN_FLIGHT_MAX_DEFAULT: usize = 4096;
/// Shortest idle timeout accepted (tests use a couple of seconds).
pub const CONNECTION_IDLE_TIMEOUT_MS_MIN: u64 = 500;
/// How often a reader blocked on unread replies looks again.
const REPLY_ROOM_POLL_MS: u64 = 5;

/// Checks the limit keys of a configuration.
pub fn validate_config(config: &BrokerConfig) -> Result<(), ConfigError> {
    let invalid = |key: &'static str, message: &str| {
        Err(ConfigError::Invalid {
            key,
            message: message.to_owned(),
        })
    };
    if config.connections_max == 0 || config.connections_per_address_max == 0 {
        return invalid("connections_max", "connection limits must be above 0");
    }
    if config.connection_idle_timeout_ms < CONNECTION_IDLE_TIMEOUT_MS_MIN {
        return invalid(
            "connection_idle_timeout_ms",
            &format!("must be at least {CONNECTION_IDLE_TIMEOUT_MS_MIN}"),
        );
    }
    if config.connection_outbound_bytes_max < config.frame_bytes_max {
        return invalid(
            "connection_outbound_bytes_max",
            "must be at least frame_bytes_max, so one reply always fits",
        );
    }
    if config.connection_requests_in_flight_max == 0 {
        return invalid("connection_requests_in_flight_max", "must be above 0");
    }
    if !(1..=crate::topics::TOPICS_MAX_CEILING).contains(&config.topics_max) {
        return invalid(
            "topics_max",
            &format!("must be within 1..={}", crate::topics::TOPICS_MAX_CEILING),
        );
    }
    if !(1..=crate::groups::GROUPS_MAX_CEILING).contains(&config.subscription_groups_max) {
        return invalid(
            "subscription_groups_max",
            &format!("must be within 1..={}", crate::groups::GROUPS_MAX_CEILING),
        );
    }
    if config.acl_enable {
        crate::acl::load(&crate::acl::acl_path(config)).map_err(|err| ConfigError::Invalid {
            key: "acl_file",
            message: err.to_string(),
        })?;
    }
    Ok(())
}

/// Open client connections, in all and per remote IP.
#[derive(Default)]
pub struct ConnectionCounts {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefusal {
    #[error("the broker holds {0} connections, its limit (connections_max)")]
    Total(usize),
    #[error("{0} holds {1} connections, the limit per address (connections_per_address_max)")]
    PerAddress(IpAddr, usize),
}

impl ConnectionCounts {
    /// Counts a new connection from `peer`, or refuses it.
    pub fn open(
        self: &std::sync::Arc<Self>,
        peer: SocketAddr,
        config: &BrokerConfig,
    ) -> Result<ConnectionPermit, ConnectionRefusal> {
        let mut counts = lock(&self.inner);
        if counts.total >= config.connections_max {
            return Err(ConnectionRefusal::Total(counts.total));
        }
        let here = counts.per_address.get(&peer.ip()).copied().unwrap_or(0);
        if here >= config.connections_per_address_max {
            return Err(ConnectionRefusal::PerAddress(peer.ip(), here));
        }
        counts.total += 1;
        counts.per_address.insert(peer.ip(), here + 1);
        Ok(ConnectionPermit {
            counts: self.clone(),
            ip: peer.ip(),
        })
    }

    /// Connections open now.
    pub fn total(&self) -> usize {
        lock(&self.inner).total
    }

    fn close(&self, ip: IpAddr) {
        let mut counts = lock(&self.inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(here) = counts.per_address.get_mut(&ip) {
            *here = here.saturating_sub(1);
            if *here == 0 {
                counts.per_address.remove(&ip);
            }
        }
    }
}

/// One admitted connection; dropping it frees its place.
pub struct ConnectionPermit {
    counts: std::sync::Arc<ConnectionCounts>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.counts.close(self.ip);
    }
}

/// The checks every request passes before its processor: names, then ACL.
pub fn admit(
    state: &crate::state::BrokerState,
    connection: &Connection,
    req: &RemotingCommand,
) -> Result<(), Reply> {
    if let Err(err) = ringmq_net::validate::request_names(req) {
        tracing::debug!(code = req.code, peer = %connection.peer, %err, "request refused: a bad name");
        return Err(error(req, response::SYSTEM_ERROR, err.to_string()));
    }
    if state.config.acl_enable {
        state
            .acl
            .check(req, connection.peer.ip())
            .map_err(|err| error(req, response::NO_PERMISSION, err.to_string()))?;
    }
    Ok(())
}

/// The refusal of a heartbeat whose body breaks a name rule or a count
/// limit; `None` when it may be served.
pub fn heartbeat_refusal(req: &RemotingCommand, data: &HeartbeatData) -> Option<Reply> {
    let err = ringmq_net::validate::heartbeat(data).err()?;
    Some(error(
        req,
        response::SYSTEM_ERROR,
        format!("heartbeat refused, nothing registered: {err}"),
    ))
}

/// The refusal of a request whose body broke a name rule or a count limit
/// (see [`ringmq_net::validate`]); `None` when it may be served.
pub fn body_refusal(
    req: &RemotingCommand,
    checked: Result<(), ringmq_net::validate::ValidateError>,
) -> Option<Reply> {
    let err = checked.err()?;
    tracing::debug!(code = req.code, %err, "request refused: a bad name in its body");
    Some(error(
        req,
        response::SYSTEM_ERROR,
        format!("request refused, nothing changed: {err}"),
    ))
}

/// Waits while more than `connection_outbound_bytes_max` reply bytes are
/// queued for `connection` (its client is not reading).
pub async fn wait_for_reply_room(connection: &Connection, budget: usize) {
    while connection.outbound.queued_bytes() > budget && !connection.outbound.is_closed() {
        compio::time::sleep(Duration::from_millis(REPLY_ROOM_POLL_MS)).await;
    }
}

/// Closes `stream` once `connection` has completed no request frame for
/// `timeout_ms` with nothing in flight; returns when the connection closes.
pub async fn idle_watch(
    connection: Rc<Connection>,
    stream: compio::net::TcpStream,
    timeout_ms: u64,
) {
    let period = Duration::from_millis((timeout_ms / 4).max(100));
    loop {
        compio::time::sleep(period).await;
        if connection.outbound.is_closed() {
            return;
        }
        let quiet = crate::clock::now_ms().saturating_sub(connection.last_frame_ms());
        if connection.in_flight() == 0 && quiet >= i64::try_from(timeout_ms).unwrap_or(i64::MAX) {
            tracing::info!(peer = %connection.peer, quiet_ms = quiet, "closing an idle connection");
            let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn connections_are_counted_per_address_and_freed_on_drop() {
        let config = BrokerConfig {
            connections_max: 3,
            connections_per_address_max: 2,
            ..BrokerConfig::default()
        };
        let counts = Arc::new(ConnectionCounts::default());
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1".parse().unwrap();
        let first = counts.open(a, &config).unwrap();
        let _second = counts.open(a, &config).unwrap();
        assert!(matches!(
            counts.open(a, &config),
            Err(ConnectionRefusal::PerAddress(_, 2))
        ));
        let _third = counts.open(b, &config).unwrap();
        assert!(matches!(
            counts.open(b, &config),
            Err(ConnectionRefusal::Total(3))
        ));
        drop(first);
        assert_eq!(counts.total(), 2);
        counts.open(a, &config).unwrap();
    }

    #[test]
    fn limit_keys_are_validated() {
        let bad = BrokerConfig {
            connection_outbound_bytes_max: 1,
            ..BrokerConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("connection_outbound_bytes_max"), "{err}");
        let bad = BrokerConfig {
            connection_idle_timeout_ms: 1,
            ..BrokerConfig::default()
        };
        assert!(bad.validate().is_err());
        BrokerConfig::default().validate().unwrap();
    }
}
