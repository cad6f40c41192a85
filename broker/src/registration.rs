//! Registration with the nameservers: REGISTER_BROKER with the topic table
//! (`RegisterBrokerBody` JSON, `bodyCrc32`) to every configured nameserver,
//! and UNREGISTER_BROKER at graceful shutdown (spec §2.9).
//!
//! A table of more than [`REGISTER_SPLIT_TOPICS`] topics is split into
//! several REGISTER_BROKER requests of that many topics, all carrying the
//! same data version (RocketMQ 5's `splitRegistration` with
//! `splitRegistrationSize` 800); the nameserver writes every part of a
//! version it has not applied yet and merges them into one route table.
//! Each body over [`REGISTER_COMPRESS_OVER_BYTES`] of JSON is sent
//! compressed (header `compressed=true`, the zlib layout of
//! [`ringmq_net::body::register`], as Java's `RegisterBrokerBody.encode(true)`).
//! A part that would still exceed the nameserver's frame limit
//! ([`FRAME_MAX_BYTES_DEFAULT`]; 800 legal topics never do) is logged and
//! not sent.
//!
//! While any shard's store refuses writes ([`crate::disk`]), every topic is
//! registered without [`PERM_WRITE`], as RocketMQ's wiped write permission,
//! so producers choose other brokers until it takes writes again.
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
use crate::topics::{PERM_WRITE, TopicConfigWrapper};

/// Connect / read / write timeout of one nameserver call (RocketMQ: 6 s).
pub const NAMESERVER_CALL_TIMEOUT_MS: u64 = 6_000;
/// JSON bodies larger than this are sent compressed.
pub const REGISTER_COMPRESS_OVER_BYTES: usize = 64 * 1024;
/// Topics per REGISTER_BROKER request of a split registration (RocketMQ 5
/// `splitRegistrationSize`).
pub const REGISTER_SPLIT_TOPICS: usize = 800;
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

/// The topic table as registered: without the write bit while a store
/// refuses writes, in parts of at most [`REGISTER_SPLIT_TOPICS`] topics
/// sharing the table's data version.
fn registration_parts(state: &BrokerState) -> Vec<TopicConfigWrapper> {
    let mut wrapper = lock(&state.topics).to_wrapper();
    if !state.store_health.all_writable() {
        for topic in wrapper.topic_config_table.values_mut() {
            topic.perm &= !PERM_WRITE;
        }
    }
    split(wrapper, REGISTER_SPLIT_TOPICS)
}

/// `wrapper` in parts of at most `per_part` topics (at least one part).
fn split(wrapper: TopicConfigWrapper, per_part: usize) -> Vec<TopicConfigWrapper> {
    let per_part = per_part.max(1);
    if wrapper.topic_config_table.len() <= per_part {
        return vec![wrapper];
    }
    let version = wrapper.data_version;
    let mut parts = Vec::new();
    let mut part = std::collections::BTreeMap::new();
    for (name, topic) in wrapper.topic_config_table {
        part.insert(name, topic);
        if part.len() == per_part {
            parts.push(TopicConfigWrapper {
                data_version: version,
                topic_config_table: std::mem::take(&mut part),
            });
        }
    }
    if !part.is_empty() {
        parts.push(TopicConfigWrapper {
            data_version: version,
            topic_config_table: part,
        });
    }
    parts
}

/// One part's body: JSON, or compressed when the JSON is large.
/// `(body, compressed)`.
fn registration_body(
    wrapper: TopicConfigWrapper,
) -> Result<(Vec<u8>, bool), ringmq_net::body::BodyError> {
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

/// The REGISTER_BROKER request carrying one part.
fn register_command(
    state: &BrokerState,
    part: TopicConfigWrapper,
) -> Result<RemotingCommand, ringmq_net::body::BodyError> {
    let (body, compressed) = registration_body(part)?;
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
    Ok(RemotingCommand::request(request::REGISTER_BROKER)
        .with_header(&header)
        .with_body(body))
}

/// The requests of one registration round, parts that cannot be encoded
/// or do not fit a frame left out (logged).
fn register_commands(state: &BrokerState) -> Vec<RemotingCommand> {
    let mut commands = Vec::new();
    for part in registration_parts(state) {
        let topics = part.topic_config_table.len();
        match register_command(state, part) {
            Ok(command) if fits(&command) => commands.push(command),
            Ok(_) => tracing::error!(
                topics,
                limit = FRAME_MAX_BYTES_DEFAULT,
                "a registration part exceeds the nameserver frame limit even compressed; not sent"
            ),
            Err(err) => tracing::error!(%err, "cannot encode the registration body"),
        }
    }
    commands
}

/// Registers with every nameserver; returns how many accepted every part.
pub fn register_all(state: &BrokerState, links: &mut NameserverLinks) -> usize {
    let commands = register_commands(state);
    if commands.is_empty() {
        return 0;
    }
    let mut accepted = 0;
    for nameserver in &state.config.nameservers {
        let mut all = true;
        for command in &commands {
            match links.call(nameserver, command) {
                Ok(reply) if reply.code == response::SUCCESS => {}
                Ok(reply) => {
                    tracing::warn!(nameserver, code = reply.code, remark = ?reply.remark, "registration refused");
                    all = false;
                }
                Err(err) => {
                    tracing::warn!(nameserver, %err, "registration failed");
                    all = false;
                    break;
                }
            }
        }
        accepted += usize::from(all);
    }
    accepted
}

/// Whether `command` fits a nameserver frame.
fn fits(command: &RemotingCommand) -> bool {
    let mut encoded = BytesMut::new();
    command.encode(&mut encoded).is_ok() && encoded.len() <= FRAME_MAX_BYTES_DEFAULT
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topics::{DataVersion, TopicConfig};

    fn table(topics: usize) -> TopicConfigWrapper {
        TopicConfigWrapper {
            data_version: DataVersion {
                timestamp: 5,
                counter: 9,
            },
            topic_config_table: (0..topics)
                .map(|i| {
                    (
                        format!("T{i:05}"),
                        TopicConfig::new(&format!("T{i:05}"), 4, 6),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_large_table_is_split_into_parts_of_one_version_covering_every_topic() {
        let parts = split(table(2_001), REGISTER_SPLIT_TOPICS);
        let sizes: Vec<usize> = parts.iter().map(|p| p.topic_config_table.len()).collect();
        assert_eq!(sizes, [800, 800, 401]);
        assert!(
            parts
                .iter()
                .all(|p| p.data_version == table(0).data_version)
        );
        let names: std::collections::BTreeSet<_> = parts
            .iter()
            .flat_map(|p| p.topic_config_table.keys().cloned())
            .collect();
        assert_eq!(names.len(), 2_001);
        assert_eq!(split(table(800), REGISTER_SPLIT_TOPICS).len(), 1);
        assert_eq!(split(table(0), REGISTER_SPLIT_TOPICS).len(), 1);
    }

    #[test]
    fn a_part_of_legal_topics_always_fits_a_frame() {
        let mut part = table(0);
        for i in 0..REGISTER_SPLIT_TOPICS {
            let name = format!("{i:05}{}", "x".repeat(122));
            part.topic_config_table
                .insert(name.clone(), TopicConfig::new(&name, 1024, 6));
        }
        let (body, _) = registration_body(part).unwrap();
        assert!(body.len() < FRAME_MAX_BYTES_DEFAULT);
    }
}
