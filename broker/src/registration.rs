//! Registration with the nameservers: REGISTER_BROKER with the topic table
//! (`RegisterBrokerBody` JSON, `bodyCrc32`) to every configured nameserver,
//! and UNREGISTER_BROKER at graceful shutdown (spec §2.9).
//!
//! Runs on the control thread with blocking sockets and timeouts, so a slow
//! or dead nameserver never stalls a shard. Each nameserver is tried once per
//! round; a failure is logged and retried at the next round.
//!
//! The connection to each nameserver is kept open between rounds
//! ([`NameserverLinks`]), as Java brokers do: a nameserver drops a broker as
//! soon as the connection it registered over closes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::{RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader};
use serde::Serialize;

use crate::state::{BrokerState, lock};
use crate::topics::TopicConfigWrapper;

/// Connect / read / write timeout of one nameserver call (RocketMQ: 6 s).
pub const NAMESERVER_CALL_TIMEOUT_MS: u64 = 6_000;
/// Reads of one reply before giving up.
const REPLY_READS_MAX: usize = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBrokerBody {
    topic_config_serialize_wrapper: TopicConfigWrapper,
    filter_server_list: Vec<String>,
}

/// Open connections to the nameservers, one per address, reused across
/// registration rounds and reopened after any failure.
#[derive(Default)]
pub struct NameserverLinks {
    streams: HashMap<String, TcpStream>,
    next_opaque: i32,
}

impl NameserverLinks {
    /// Sends `command` to `address` and waits for its reply, reusing the open
    /// connection; a broken one is replaced by a fresh connection once.
    fn call(
        &mut self,
        address: &str,
        command: &RemotingCommand,
    ) -> std::io::Result<RemotingCommand> {
        self.next_opaque = self.next_opaque.wrapping_add(1);
        let command = command.clone().with_opaque(self.next_opaque);
        if let Some(stream) = self.streams.get_mut(address) {
            match exchange(stream, &command) {
                Ok(reply) => return Ok(reply),
                Err(err) => {
                    tracing::debug!(address, %err, "nameserver connection broken; reconnecting");
                    self.streams.remove(address);
                }
            }
        }
        let mut stream = connect(address)?;
        let reply = exchange(&mut stream, &command)?;
        self.streams.insert(address.to_owned(), stream);
        Ok(reply)
    }
}

/// Registers with every nameserver; returns how many accepted.
pub fn register_all(state: &BrokerState, links: &mut NameserverLinks) -> usize {
    let wrapper = lock(&state.topics).to_wrapper();
    let body = match ringmq_net::body::encode_json(&RegisterBrokerBody {
        topic_config_serialize_wrapper: wrapper,
        filter_server_list: Vec::new(),
    }) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(%err, "cannot encode the registration body");
            return 0;
        }
    };
    let crc = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
    let config = &state.config;
    let header = RegisterBrokerRequestHeader {
        broker_name: config.broker_name.clone(),
        broker_addr: state.store_host.to_string(),
        cluster_name: config.cluster_name.clone(),
        ha_server_addr: format!(
            "{}:{}",
            state.store_host.ip(),
            state.store_host.port().saturating_add(1)
        ),
        broker_id: i64::try_from(config.broker_id).unwrap_or(0),
        compressed: false,
        body_crc32: crc,
        heartbeat_timeout_millis: None,
        enable_acting_master: None,
    };
    let command = RemotingCommand::request(request::REGISTER_BROKER)
        .with_header(&header)
        .with_body(body);
    let mut accepted = 0;
    for nameserver in &config.nameservers {
        match links.call(nameserver, &command) {
            Ok(reply) if reply.code == response::SUCCESS => accepted += 1,
            Ok(reply) => {
                tracing::warn!(nameserver, code = reply.code, remark = ?reply.remark, "registration refused")
            }
            Err(err) => tracing::warn!(nameserver, %err, "registration failed"),
        }
    }
    accepted
}

/// Unregisters from every nameserver (graceful shutdown) and closes the
/// connections.
pub fn unregister_all(state: &BrokerState, links: &mut NameserverLinks) {
    let config = &state.config;
    let command = RemotingCommand::request(request::UNREGISTER_BROKER).with_header(
        &UnregisterBrokerRequestHeader {
            broker_name: config.broker_name.clone(),
            broker_addr: state.store_host.to_string(),
            cluster_name: config.cluster_name.clone(),
            broker_id: i64::try_from(config.broker_id).unwrap_or(0),
        },
    );
    for nameserver in &config.nameservers {
        if let Err(err) = links.call(nameserver, &command) {
            tracing::warn!(nameserver, %err, "unregistration failed");
        }
    }
    links.streams.clear();
}

/// Opens a connection with the call timeouts set.
fn connect(address: &str) -> std::io::Result<TcpStream> {
    let timeout = Duration::from_millis(NAMESERVER_CALL_TIMEOUT_MS);
    let target = address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "address resolves to nothing")
    })?;
    let stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// One request/response exchange on an open connection: the reply is the
/// response frame carrying the request's opaque.
fn exchange(stream: &mut TcpStream, command: &RemotingCommand) -> std::io::Result<RemotingCommand> {
    let mut out = BytesMut::new();
    command
        .encode(&mut out)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err.to_string()))?;
    stream.write_all(&out)?;
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    for _ in 0..REPLY_READS_MAX {
        match decoder.decode(&mut buf) {
            Ok(Some(reply)) if reply.is_response() && reply.opaque == command.opaque => {
                return Ok(reply);
            }
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(err) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    err.to_string(),
                ));
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "nameserver closed the connection",
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no reply",
    ))
}
