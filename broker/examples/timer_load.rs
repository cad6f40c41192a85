//! Load harness (not a test): schedules many RocketMQ 5 timed messages on an
//! in-process broker, then reports the process's anonymous memory while they
//! are pending and how late they were delivered.
//!
//! `cargo run --release -p ringmq-broker --example timer_load -- [count] [lead_ms] [spread_ms]`
//!
//! Every message carries `TIMER_DELIVER_MS` = start + `lead_ms` + (i mod
//! `spread_ms`), so all are pending once sent. Lateness is the delivered
//! record's store time minus its due time (`TIMER_OUT_MS`): when the broker
//! made it visible in its real queue. RssAnon is read from /proc/self/status
//! (broker and this harness's client together; the client keeps counters,
//! not messages).
// A harness: the histogram is indexed by bucket.
#![allow(clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_broker::{Broker, BrokerConfig};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::{PullMessageRequestHeader, PullSysFlag, SendMessageRequestHeader};
use ringmq_net::record::MessageRecord;

const TOPIC: &str = "TimerLoad";
const QUEUES: i32 = 8;
const SENDERS: usize = 4;
/// Sends in flight per connection.
const WINDOW: usize = 512;
/// Lateness histogram: 1 ms buckets up to this, then one overflow bucket.
const BUCKETS_MS: usize = 60_000;

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    opaque: i32,
    decoder: FrameDecoder,
}

impl Conn {
    fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            opaque: 0,
            decoder: FrameDecoder::default(),
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

    /// The next response frame.
    fn next_reply(&mut self) -> std::io::Result<RemotingCommand> {
        let mut chunk = [0u8; 65536];
        loop {
            while let Some(frame) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(|e| std::io::Error::other(e.to_string()))?
            {
                if frame.is_response() {
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

fn timed_send(queue_id: i32, due_ms: i64) -> RemotingCommand {
    let properties = format!("TIMER_DELIVER_MS\u{1}{due_ms}\u{2}WAIT\u{1}false");
    RemotingCommand::request(request::SEND_MESSAGE)
        .with_header(&SendMessageRequestHeader {
            producer_group: "pg".into(),
            topic: TOPIC.into(),
            default_topic: ringmq_net::topic::AUTO_CREATE_TOPIC.into(),
            default_topic_queue_nums: QUEUES,
            queue_id,
            sys_flag: 0,
            born_timestamp: 0,
            flag: 0,
            properties: Some(properties),
            reconsume_times: None,
            unit_mode: false,
            batch: false,
            max_reconsume_times: None,
            bname: None,
        })
        .with_body(Bytes::from_static(b"timer-load-payload-0123456789abcdef"))
}

fn pull(queue_id: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request(request::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: "g".into(),
        topic: TOPIC.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 64,
        sys_flag: PullSysFlag::SUSPEND | PullSysFlag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 1_000,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        bname: None,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(items) = std::fs::read_dir(path) else {
        return 0;
    };
    items
        .flatten()
        .map(|item| {
            let path = item.path();
            if path.is_dir() {
                dir_bytes(&path)
            } else {
                // Allocated bytes: the wheel is a sparse file.
                item.metadata()
                    .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
                    .unwrap_or(0)
            }
        })
        .sum()
}

fn send_all(
    addr: SocketAddr,
    first: usize,
    count: usize,
    base: i64,
    spread: i64,
) -> std::io::Result<()> {
    let mut conn = Conn::connect(addr)?;
    let mut in_flight = 0usize;
    for i in first..first + count {
        let due = base + (i as i64 % spread);
        conn.send(timed_send(i as i32 % QUEUES, due))?;
        in_flight += 1;
        if in_flight >= WINDOW {
            let reply = conn.next_reply()?;
            if reply.code != response::SUCCESS {
                return Err(std::io::Error::other(format!(
                    "send refused: {:?}",
                    reply.remark
                )));
            }
            in_flight -= 1;
        }
    }
    for _ in 0..in_flight {
        let reply = conn.next_reply()?;
        if reply.code != response::SUCCESS {
            return Err(std::io::Error::other(format!(
                "send refused: {:?}",
                reply.remark
            )));
        }
    }
    Ok(())
}

/// Pulls every queue until `count` messages arrived; returns the lateness histogram.
fn consume(
    addr: SocketAddr,
    count: usize,
    deadline: Instant,
) -> std::io::Result<(Vec<u64>, usize, i64)> {
    let mut conn = Conn::connect(addr)?;
    let mut offsets = [0i64; QUEUES as usize];
    let mut histogram = vec![0u64; BUCKETS_MS + 1];
    let mut got = 0usize;
    let mut early = 0i64;
    while got < count && Instant::now() < deadline {
        for queue in 0..QUEUES {
            conn.send(pull(queue, offsets[queue as usize]))?;
            let reply = conn.next_reply()?;
            if reply.code != response::SUCCESS {
                continue;
            }
            let next = reply
                .ext_fields
                .get("nextBeginOffset")
                .and_then(|v| v.parse().ok())
                .unwrap_or(offsets[queue as usize]);
            offsets[queue as usize] = next;
            let mut rest: &[u8] = &reply.body;
            while !rest.is_empty() {
                let Ok((record, size)) = MessageRecord::decode(rest) else {
                    break;
                };
                rest = rest.get(size..).unwrap_or_default();
                let due: i64 = ringmq_net::properties::find(&record.properties, "TIMER_OUT_MS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(record.store_timestamp);
                let late = record.store_timestamp - due;
                if late < 0 {
                    early += 1;
                }
                histogram[(late.max(0) as usize).min(BUCKETS_MS)] += 1;
                got += 1;
            }
        }
    }
    Ok((histogram, got, early))
}

fn quantile(histogram: &[u64], total: usize, q: f64) -> usize {
    let want = ((total as f64) * q).ceil() as u64;
    let mut seen = 0;
    for (ms, n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= want.max(1) {
            return ms;
        }
    }
    histogram.len()
}

fn main() -> std::io::Result<()> {
    let arg = |n: usize, default: i64| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let count = arg(1, 1_000_000) as usize;
    let lead = arg(2, 90_000);
    let spread = arg(3, 30_000).max(1);
    let dir = tempfile::tempdir()?;
    let config = BrokerConfig {
        listen_address: "127.0.0.1"
            .parse()
            .map_err(|_| std::io::Error::other("ip"))?,
        listen_port: 0,
        data_dir: dir.path().to_owned(),
        shards: 2,
        segment_bytes: 256 << 20,
        disk_usage_max_percent: 100,
        // These send to and pull from topics and groups nobody created.
        auto_create_topic_enable: true,
        auto_create_subscription_group: true,
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config).map_err(|e| std::io::Error::other(e.to_string()))?;
    let addr = broker.local_addr();
    let rss_idle = rss_anon_kib();
    let start = now_ms();
    let base = start + lead;
    let sent_at = Instant::now();
    let per = count / SENDERS;
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| std::thread::spawn(move || send_all(addr, s * per, per, base, spread)))
        .collect();
    for sender in senders {
        sender
            .join()
            .map_err(|_| std::io::Error::other("sender panicked"))??;
    }
    let sent = per * SENDERS;
    let send_secs = sent_at.elapsed().as_secs_f64();
    // Let the timer enqueue everything, then sample while all are pending.
    std::thread::sleep(Duration::from_secs(3));
    let pending_left_ms = base - now_ms();
    let rss_pending = rss_anon_kib();
    let timer_bytes: u64 = (0..2)
        .map(|s| dir_bytes(&dir.path().join(format!("shard-{s}")).join("timer")))
        .sum();
    println!(
        "scheduled {sent} timers in {send_secs:.1} s ({:.0}/s); {} ms before the first is due",
        sent as f64 / send_secs,
        pending_left_ms
    );
    println!(
        "RssAnon: idle broker {} MiB, {sent} pending {} MiB; timer files on disk {} MiB",
        rss_idle / 1024,
        rss_pending / 1024,
        timer_bytes >> 20
    );
    let deadline = Instant::now() + Duration::from_millis((lead + spread) as u64 + 300_000);
    let (histogram, got, early) = consume(addr, sent, deadline)?;
    let rss_after = rss_anon_kib();
    println!(
        "delivered {got}/{sent}, early {early}; lateness (store time - due): p50 {} ms, p99 {} ms, max {} ms; RssAnon after delivery {} MiB",
        quantile(&histogram, got, 0.5),
        quantile(&histogram, got, 0.99),
        quantile(&histogram, got, 1.0),
        rss_after / 1024
    );
    broker.shutdown();
    Ok(())
}
