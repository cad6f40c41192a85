//! Timing harness (not a test): how soon after a send does a held
//! (long-polling) pull get its answer? A consumer parks a pull at the end
//! of a queue, a producer sends one message, and we time from writing the
//! send to reading the pull answer. Queues of both shards are used.
//!
//! `cargo run -p ringmq-broker --example long_poll_latency [rounds]`
// A harness: `next` is a [_; 2] indexed by `round % 2`.
#![allow(clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_broker::{Broker, BrokerConfig};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::{PullMessageRequestHeader, PullSysFlag, SendMessageRequestHeader};

/// Pause that lets the pull be parked before the send goes out.
const PARK_PAUSE: Duration = Duration::from_millis(5);

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    opaque: i32,
}

impl Conn {
    fn connect(addr: std::net::SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            opaque: 0,
        })
    }

    fn send(&mut self, command: RemotingCommand) -> std::io::Result<i32> {
        self.opaque += 1;
        let mut out = BytesMut::new();
        command
            .with_opaque(self.opaque)
            .encode(&mut out)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.stream.write_all(&out)?;
        Ok(self.opaque)
    }

    fn reply(&mut self, opaque: i32) -> std::io::Result<RemotingCommand> {
        let mut decoder = FrameDecoder::default();
        let mut chunk = [0u8; 65536];
        loop {
            while let Some(frame) = decoder
                .decode(&mut self.buf)
                .map_err(|e| std::io::Error::other(e.to_string()))?
            {
                if frame.is_response() && frame.opaque == opaque {
                    return Ok(frame);
                }
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::other("closed"));
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

fn send(topic: &str, queue_id: i32) -> RemotingCommand {
    RemotingCommand::request(request::SEND_MESSAGE)
        .with_header(&SendMessageRequestHeader {
            producer_group: "pg".into(),
            topic: topic.into(),
            default_topic: ringmq_net::topic::AUTO_CREATE_TOPIC.into(),
            default_topic_queue_nums: 4,
            queue_id,
            sys_flag: 0,
            born_timestamp: 0,
            flag: 0,
            properties: Some("WAIT\u{1}true".into()),
            reconsume_times: None,
            unit_mode: false,
            batch: false,
            max_reconsume_times: None,
            bname: None,
        })
        .with_body(Bytes::from_static(b"ping"))
}

fn pull(topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request(request::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: "g".into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: PullSysFlag::SUSPEND | PullSysFlag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 15_000,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        bname: None,
    })
}

fn main() -> std::io::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let config = BrokerConfig {
        listen_address: "127.0.0.1"
            .parse()
            .map_err(|_| std::io::Error::other("ip"))?,
        listen_port: 0,
        data_dir: dir.path().to_owned(),
        shards: 2,
        segment_bytes: 64 << 20,
        disk_usage_max_percent: 100,
        // These send to and pull from topics and groups nobody created.
        auto_create_topic_enable: true,
        auto_create_subscription_group: true,
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut producer = Conn::connect(broker.local_addr())?;
    let mut consumer = Conn::connect(broker.local_addr())?;
    let mut next = [0i64; 2];
    let mut latencies_us = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let queue = (round % 2) as i32;
        if round < 2 {
            let opaque = producer.send(send("Latency", queue))?;
            producer.reply(opaque)?;
            next[queue as usize] = 1;
        }
        let held = consumer.send(pull("Latency", queue, next[queue as usize]))?;
        std::thread::sleep(PARK_PAUSE);
        let sent_at = Instant::now();
        let opaque = producer.send(send("Latency", queue))?;
        let answer = consumer.reply(held)?;
        let latency = sent_at.elapsed();
        producer.reply(opaque)?;
        if answer.code != response::SUCCESS {
            return Err(std::io::Error::other(format!(
                "pull answered {}",
                answer.code
            )));
        }
        next[queue as usize] += 1;
        latencies_us.push(latency.as_micros());
    }
    latencies_us.sort_unstable();
    let at = |q: f64| {
        latencies_us
            .get(((latencies_us.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "send -> held pull answered, {rounds} rounds: p50 {} us, p90 {} us, p99 {} us, max {} us",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    broker.shutdown();
    Ok(())
}
