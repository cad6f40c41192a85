//! Registration with the nameservers: REGISTER_BROKER with the topic table
//! (`RegisterBrokerBody` JSON, `bodyCrc32`) to every configured nameserver,
//! and UNREGISTER_BROKER at graceful shutdown (spec §2.9).
//!
//! A body over [`REGISTER_COMPRESS_OVER_BYTES`] of JSON is sent compressed
//! (header `compressed=true`, the zlib layout of
//! [`ringmq_net::body::register`], as Java's `RegisterBrokerBody.encode(true)`),
//! which any 4.9 nameserver decodes. A registration that would still exceed
//! the nameserver's frame limit ([`FRAME_MAX_BYTES_DEFAULT`]) is not sent: the
//! error is logged and the last registration that fitted is sent instead,
//! so the nameserver keeps the broker's previous routes instead of dropping it.
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
use ringmq_net::frame::{FRAME_MAX_BYTES_DEFAULT, FrameDecoder};
use ringmq_net::header::{RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader};
use serde::Serialize;

use crate::state::{BrokerState, lock};
use crate::topics::TopicConfigWrapper;

/// Connect / read / write timeout of one nameserver call (RocketMQ: 6 s).
pub const NAMESERVER_CALL_TIMEOUT_MS: u64 = 6_000;
/// JSON bodies larger than this are sent compressed.
pub const REGISTER_COMPRESS_OVER_BYTES: usize = 64 * 1024;
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
    /// The last REGISTER_BROKER that fitted a frame (see the module doc).
    last_fit: Option<RemotingCommand>,
    /// `nameserver_access_key` / `nameserver_secret_key`, if set.
    credentials: Option<ringmq_net::acl::Credentials>,
}

impl NameserverLinks {
    /// Links that sign every request with the configured nameserver
    /// credentials (`nameserver_access_key`), if any.
    pub fn new(config: &crate::config::BrokerConfig) -> Self {
        let credentials =
            (!config.nameserver_access_key.is_empty()).then(|| ringmq_net::acl::Credentials {
                access_key: config.nameserver_access_key.clone(),
                secret_key: config.nameserver_secret_key.clone(),
                security_token: None,
            });
        Self {
            credentials,
            ..Self::default()
        }
    }
}

/// Signs `command` (ACL 1.0) when credentials are configured.
fn sign(credentials: &Option<ringmq_net::acl::Credentials>, command: &mut RemotingCommand) {
    if let Some(credentials) = credentials {
        ringmq_net::acl::sign(command, credentials);
    }
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
        let mut command = command.clone().with_opaque(self.next_opaque);
        sign(&self.credentials, &mut command);
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

/// The registration body: JSON, or compressed when the JSON is large.
/// `(body, compressed)`.
fn registration_body(state: &BrokerState) -> Result<(Vec<u8>, bool), ringmq_net::body::BodyError> {
    let wrapper = lock(&state.topics).to_wrapper();
    let json = ringmq_net::body::encode_json(&RegisterBrokerBody {
        topic_config_serialize_wrapper: wrapper,
        filter_server_list: Vec::new(),
    })?;
    if json.len() <= REGISTER_COMPRESS_OVER_BYTES {
        return Ok((json, false));
    }
    let body: ringmq_net::body::RegisterBrokerBody = ringmq_net::body::decode_json(&json)?;
    Ok((body.encode(true)?, true))
}

/// Registers with every nameserver; returns how many accepted.
pub fn register_all(state: &BrokerState, links: &mut NameserverLinks) -> usize {
    let (body, compressed) = match registration_body(state) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(%err, "cannot encode the registration body");
            return 0;
        }
    };
    let crc = ringmq_net::body::masked_crc32(&body);
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
        compressed,
        body_crc32: crc,
        heartbeat_timeout_millis: None,
        enable_acting_master: None,
    };
    let command = RemotingCommand::request(request::REGISTER_BROKER)
        .with_header(&header)
        .with_body(body);
    let Some(command) = fitting(links, command) else {
        return 0;
    };
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

/// `command` if it fits a nameserver frame (and remembered as the last that
/// fitted); otherwise, logged, the last one that fitted.
fn fitting(links: &mut NameserverLinks, command: RemotingCommand) -> Option<RemotingCommand> {
    let mut encoded = BytesMut::new();
    let fits = command.encode(&mut encoded).is_ok() && encoded.len() <= FRAME_MAX_BYTES_DEFAULT;
    if fits {
        links.last_fit = Some(command.clone());
        return Some(command);
    }
    tracing::error!(
        bytes = encoded.len(),
        limit = FRAME_MAX_BYTES_DEFAULT,
        "the registration exceeds the nameserver frame limit even compressed; \
         re-sending the last registration that fitted (delete topics to register the new ones)"
    );
    links.last_fit.clone()
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
