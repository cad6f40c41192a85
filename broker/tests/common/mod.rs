//! Test support: start a broker in-process on 127.0.0.1:0 and talk to it
//! over TCP with a small blocking client built on `ringmq_net`'s codec.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_broker::{Broker, BrokerConfig, BrokerHandle};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::{
    PullMessageRequestHeader, PullSysFlag, SendMessageRequestHeader, SendMessageRequestHeaderV2,
};
use ringmq_net::record::MessageRecord;

/// Longest any test waits for one reply.
pub const REPLY_WAIT: Duration = Duration::from_secs(20);

/// A broker config for tests: loopback, small segments, given shards.
pub fn test_config(dir: &Path, shards: usize) -> BrokerConfig {
    BrokerConfig {
        listen_address: "127.0.0.1".parse().unwrap(),
        listen_port: 0,
        data_dir: dir.to_owned(),
        shards,
        segment_bytes: 64 * 1024 * 1024,
        disk_usage_max_percent: 100,
        // These send to and pull from topics and groups nobody created.
        auto_create_topic_enable: true,
        auto_create_subscription_group: true,
        ..BrokerConfig::default()
    }
}

pub fn start(dir: &Path, shards: usize) -> BrokerHandle {
    start_with(test_config(dir, shards))
}

pub fn start_with(config: BrokerConfig) -> BrokerHandle {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Broker::start(config).unwrap()
}

/// A blocking RocketMQ remoting client.
pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    next_opaque: i32,
    /// Requests the broker sent us (e.g. NOTIFY_CONSUMER_IDS_CHANGED).
    pub inbound: VecDeque<RemotingCommand>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: BytesMut::new(),
            decoder: FrameDecoder::default(),
            next_opaque: 1,
            inbound: VecDeque::new(),
        }
    }

    pub fn write(&mut self, command: &RemotingCommand) {
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a request and waits for its response.
    pub fn call(&mut self, command: RemotingCommand) -> RemotingCommand {
        let opaque = self.send(command);
        self.response(opaque)
    }

    /// Sends a request, returns its opaque.
    pub fn send(&mut self, command: RemotingCommand) -> i32 {
        let opaque = self.next_opaque;
        self.next_opaque += 1;
        self.write(&command.with_opaque(opaque));
        opaque
    }

    /// Waits for the response with `opaque`, queueing inbound requests.
    pub fn response(&mut self, opaque: i32) -> RemotingCommand {
        let deadline = Instant::now() + REPLY_WAIT;
        loop {
            let frame = self
                .read_frame(deadline)
                .expect("response before the deadline");
            if frame.is_response() && frame.opaque == opaque {
                return frame;
            }
            if !frame.is_response() {
                self.inbound.push_back(frame);
            }
        }
    }

    /// The next inbound request from the broker, if one comes in `wait`.
    pub fn next_inbound(&mut self, wait: Duration) -> Option<RemotingCommand> {
        if let Some(first) = self.inbound.pop_front() {
            return Some(first);
        }
        let deadline = Instant::now() + wait;
        while let Some(frame) = self.read_frame(deadline) {
            if !frame.is_response() {
                return Some(frame);
            }
        }
        None
    }

    /// Next frame; `None` at the deadline or when the connection closed.
    pub fn read_frame(&mut self, deadline: Instant) -> Option<RemotingCommand> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(frame);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Whether the broker closed the connection (EOF within `wait`).
    pub fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => return false,
            };
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// A V1 SEND_MESSAGE request.
pub fn send_v1(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::request(request::SEND_MESSAGE)
        .with_header(&send_header(topic, queue_id, properties))
        .with_body(Bytes::copy_from_slice(body))
}

/// A V2 SEND_MESSAGE_V2 request.
pub fn send_v2(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    let header: SendMessageRequestHeaderV2 = send_header(topic, queue_id, properties).into();
    RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_header(&header)
        .with_body(Bytes::copy_from_slice(body))
}

pub fn send_header(topic: &str, queue_id: i32, properties: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 7,
        properties: Some(properties.into()),
        reconsume_times: Some(0),
        unit_mode: false,
        batch: false,
        max_reconsume_times: None,
        bname: None,
    }
}

/// Properties with a tag, keys and a user property.
pub fn props(tag: &str, keys: &str, user: &str) -> String {
    format!("TAGS\u{1}{tag}\u{2}KEYS\u{1}{keys}\u{2}user\u{1}{user}\u{2}WAIT\u{1}true")
}

/// A PULL_MESSAGE request with the subscription in the header.
pub fn pull(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    max: i32,
    suspend_ms: Option<i64>,
    subscription: &str,
) -> RemotingCommand {
    let mut flags = PullSysFlag::SUBSCRIPTION;
    if suspend_ms.is_some() {
        flags |= PullSysFlag::SUSPEND;
    }
    RemotingCommand::request(request::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: max,
        sys_flag: flags,
        commit_offset: 0,
        suspend_timeout_millis: suspend_ms.unwrap_or(0),
        subscription: Some(subscription.into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        bname: None,
    })
}

/// Splits a pull body into records.
pub fn records(body: &[u8]) -> Vec<MessageRecord> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let (record, len) = MessageRecord::decode(&body[at..]).unwrap();
        out.push(record);
        at += len;
    }
    out
}

/// The value of a property in a record's property string.
pub fn property(record: &MessageRecord, key: &str) -> Option<String> {
    ringmq_broker::message::property(&record.properties, key).map(str::to_owned)
}

pub fn ext(command: &RemotingCommand, key: &str) -> String {
    command.ext_fields.get(key).cloned().unwrap_or_default()
}

/// The captured wire frames, inside this repository (`fixtures/wire`,
/// described in `fixtures/README.md`).
pub const WIRE_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wire");

/// The bytes of one captured frame. A fixture that cannot be read fails the
/// test that asked for it (naming the path): nothing is skipped.
pub fn wire_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(WIRE_FIXTURES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("wire fixture {}: {e}", path.display()))
}
