//! Wire interop of this crate's client with the independent
//! `rocketmq-client-rust` 1.0.0, both against real `ringmq` processes:
//! what our producer sends (single and batched) the independent push
//! consumer receives intact — body, tag, key, user properties — and what the
//! independent producer sends our push consumer (also with a tag filter) and
//! our pull consumer receive intact.
//!
//! The independent client refuses ringmq's 4.x-shaped route (no
//! `enableActingMaster` in brokerData), so it reaches the nameserver through
//! [`RoutePatchProxy`], which adds that field to response bodies; the direct
//! route is tested (ignored until fixed) in
//! `independent_client_reads_routes_from_the_ringmq_nameserver`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;
mod common;

use client_common::{CONSUME_WAIT_MAX, Recorder, send_range};
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
use ringmq_client::producer::Producer;
use ringmq_tests::{Cluster, unique_name};
use rocketmq_client_rust::{DefaultMQPushConsumer, MQPushConsumer};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Queues of the test topic on each of the two brokers.
const QUEUES_PER_BROKER: u32 = 4;
/// Messages sent one by one.
const SINGLES: u32 = 1_000;
/// Messages sent in batches.
const BATCHED: u32 = 1_000;
/// Messages per batch.
const BATCH_SIZE: u32 = 50;
/// Longest wait for the independent consumer's shutdown.
const SHUTDOWN_WAIT_MAX: Duration = Duration::from_secs(15);
/// Longest wait for one step (a start, a batch send, a shutdown).
const STEP_WAIT_MAX: Duration = Duration::from_secs(60);
/// Poll timeout of our pull consumer.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

fn singles() -> std::ops::Range<u32> {
    0..SINGLES
}

fn batched() -> std::ops::Range<u32> {
    SINGLES..SINGLES + BATCHED
}

/// Everything the tests send, as the independent client's collector expects it.
fn expected_all() -> BTreeMap<u32, common::Expected> {
    let mut want = BTreeMap::new();
    for seq in singles() {
        want.insert(seq, common::expected(seq, "single"));
    }
    for seq in batched() {
        want.insert(seq, common::expected(seq, "batch"));
    }
    want
}

/// Bytes of a frame's length prefix and of its header-length word.
const FRAME_WORD: usize = 4;
/// Largest response frame the route-patching proxy relays.
const PROXY_FRAME_MAX: usize = 16 * 1024 * 1024;

/// A loopback proxy in front of the nameserver that adds
/// `"enableActingMaster":false` to every brokerData of a response body
/// (RocketMQ 5.x has the field; ringmq's 4.x-shaped route omits it and
/// rocketmq-client-rust 1.0.0 refuses a route without it). Requests pass
/// through untouched; only response bodies are patched, so the messages the
/// two clients exchange through the brokers are unaffected.
struct RoutePatchProxy {
    addr: String,
    accept: tokio::task::JoinHandle<()>,
}

impl RoutePatchProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone()));
            }
        });
        Self { addr, accept }
    }
}

impl Drop for RoutePatchProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: tokio::net::TcpStream, upstream: String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    loop {
        let mut len = [0u8; FRAME_WORD];
        if server_read.read_exact(&mut len).await.is_err() {
            break;
        }
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        if !(FRAME_WORD..=PROXY_FRAME_MAX).contains(&len) {
            break;
        }
        let mut frame = vec![0u8; len];
        if server_read.read_exact(&mut frame).await.is_err() {
            break;
        }
        let patched = patch_broker_datas(&frame);
        let total = u32::try_from(patched.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        if client_write.write_all(&total).await.is_err()
            || client_write.write_all(&patched).await.is_err()
        {
            break;
        }
    }
    requests.abort();
}

/// `frame` (after the length prefix):
///
/// ```text
/// | serialize type (1) + header length (3) | header | body |
/// ```
///
/// Returns it with `"enableActingMaster":false,` inserted before every
/// `"brokerAddrs":` key of the body (if the body has none of the field yet).
fn patch_broker_datas(frame: &[u8]) -> Vec<u8> {
    let word = u32::from_be_bytes(frame[..FRAME_WORD].try_into().unwrap());
    let header_len = usize::try_from(word & 0x00FF_FFFF).unwrap();
    let body_start = (FRAME_WORD + header_len).min(frame.len());
    let body = String::from_utf8_lossy(&frame[body_start..]);
    if !body.contains("\"brokerAddrs\":") || body.contains("enableActingMaster") {
        return frame.to_vec();
    }
    let patched = body.replace(
        "\"brokerAddrs\":",
        "\"enableActingMaster\":false,\"brokerAddrs\":",
    );
    let mut out = frame[..body_start].to_vec();
    out.extend_from_slice(patched.as_bytes());
    out
}

fn two_broker_topic(prefix: &str) -> (Cluster, String) {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name(prefix);
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    (cluster, topic)
}

async fn start_independent_push(
    namesrv: &str,
    topic: &str,
    collector: common::Collector,
) -> DefaultMQPushConsumer {
    let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("push-consumer"))
        .consumer_group(unique_name("ipush"))
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .consume_message_batch_max_size(common::CONSUME_BATCH_MAX)
        .build();
    consumer
        .subscribe(topic, "*")
        .await
        .expect("independent push subscribe");
    consumer.register_message_listener_concurrently(common::CollectingListener(collector));
    consumer
        .start()
        .await
        .expect("independent push consumer starts");
    consumer
}

#[test]
#[ignore = "undiagnosed: rocketmq-client-rust 1.0.0 push consumer (via RoutePatchProxy) starts, then the bounded 120 s wait for its 2,000 messages never returns (nextest kills the test at 300 s); the direct route fails first on enableActingMaster"]
fn independent_consumer_reads_what_our_producer_sends() {
    let (cluster, topic) = two_broker_topic("OursToTheirs");
    let namesrv = cluster.namesrv_addr();
    common::test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        send_range(&producer, &topic, singles(), "single").await;
        let mut start = batched().start;
        while start < batched().end {
            let batch = (start..start + BATCH_SIZE)
                .map(|seq| client_common::message(&topic, seq, "batch"))
                .collect();
            tokio::time::timeout(STEP_WAIT_MAX, producer.send_batch(batch))
                .await
                .expect("batch send finished")
                .unwrap_or_else(|e| panic!("batch from {start} failed: {e}"));
            start += BATCH_SIZE;
        }
        tokio::time::timeout(STEP_WAIT_MAX, producer.shutdown())
            .await
            .expect("our producer shuts down");

        let proxy = RoutePatchProxy::start(namesrv.clone()).await;
        let collector = common::Collector::default();
        println!("our producer sent everything");
        let mut consumer = tokio::time::timeout(
            STEP_WAIT_MAX,
            start_independent_push(&proxy.addr, &topic, collector.clone()),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the independent push consumer did not start within {STEP_WAIT_MAX:?}\n{}",
                cluster.log_tails()
            )
        });
        println!("independent push consumer started");
        let want = expected_all();
        let got = collector.wait_for(want.len(), CONSUME_WAIT_MAX).await;
        println!(
            "independent consumer: {got}/{} (duplicates {}, foreign {}), per broker {:?}",
            want.len(),
            collector.duplicates(),
            collector.0.lock().unwrap().foreign,
            collector.per_broker()
        );
        if tokio::time::timeout(SHUTDOWN_WAIT_MAX, consumer.shutdown())
            .await
            .is_err()
        {
            println!("independent consumer shutdown did not finish in {SHUTDOWN_WAIT_MAX:?}");
        }
        if got < want.len() {
            panic!(
                "independent consumer received {got}/{}\n{}",
                want.len(),
                cluster.log_tails()
            );
        }
        collector.assert_matches("independent push consumer", &want);
        for broker in &cluster.brokers {
            assert!(
                collector.per_broker().contains_key(broker.name()),
                "nothing read from {}",
                broker.name()
            );
        }
    });
}

/// Sends every test message with the independent producer.
async fn independent_send_all(namesrv: &str, topic: &str) {
    let mut producer = common::start_producer(namesrv, &unique_name("ipg"))
        .await
        .expect("independent producer starts");
    for seq in singles() {
        producer
            .send_with_timeout(
                common::message(topic, seq, "single"),
                common::SEND_TIMEOUT_MS,
            )
            .await
            .unwrap_or_else(|e| panic!("independent send {seq}: {}", common::error_chain(&e)))
            .unwrap_or_else(|| panic!("independent send {seq} returned no result"));
    }
    let mut start = batched().start;
    while start < batched().end {
        let batch: Vec<_> = (start..start + BATCH_SIZE)
            .map(|seq| common::message(topic, seq, "batch"))
            .collect();
        producer
            .send_batch_with_timeout(batch, common::SEND_TIMEOUT_MS)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "independent batch from {start}: {}",
                    common::error_chain(&e)
                )
            });
        start += BATCH_SIZE;
    }
    producer.shutdown().await;
}

async fn start_our_push(
    namesrv: &str,
    topic: &str,
    tags: &str,
    recorder: &Recorder,
) -> PushConsumer {
    let recorder = recorder.clone();
    PushConsumer::builder(unique_name("opush"))
        .namesrv(namesrv)
        .subscribe(topic, tags)
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            let recorder = recorder.clone();
            async move {
                for m in &msgs {
                    recorder.record(0, m);
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("our push consumer starts: {e}"))
}

async fn our_pull_all(namesrv: &str, topic: &str, recorder: &Recorder) {
    let consumer = PullConsumer::builder(unique_name("opull"))
        .namesrv(namesrv)
        .consume_from(ConsumeFrom::FirstOffset)
        .start()
        .expect("our pull consumer starts");
    consumer.subscribe(topic, "*").await.expect("subscribe");
    let all = singles().start..batched().end;
    let deadline = Instant::now() + CONSUME_WAIT_MAX;
    while recorder.distinct_in(&all) < all.len() && Instant::now() < deadline {
        for m in consumer.poll(POLL_TIMEOUT).await.expect("poll") {
            recorder.record(0, &m);
        }
    }
    consumer.shutdown().await;
}

#[test]
fn our_consumers_read_what_the_independent_producer_sends() {
    let (cluster, topic) = two_broker_topic("TheirsToOurs");
    let namesrv = cluster.namesrv_addr();
    let (push, filtered, pull) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    common::test_runtime().block_on(async {
        let proxy = RoutePatchProxy::start(namesrv.clone()).await;
        independent_send_all(&proxy.addr, &topic).await;
        let push_consumer = start_our_push(&namesrv, &topic, "*", &push).await;
        let filtered_consumer = start_our_push(&namesrv, &topic, "TagA || TagB", &filtered).await;
        our_pull_all(&namesrv, &topic, &pull).await;
        let all = singles().start..batched().end;
        push.wait_all("our push consumer", all.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        let tagged_ab = all.clone().filter(|seq| seq % 3 != 2).count();
        let done =
            client_common::wait_until(CONSUME_WAIT_MAX, || filtered.distinct_in(&all) >= tagged_ab)
                .await;
        push_consumer.shutdown().await;
        filtered_consumer.shutdown().await;
        assert!(
            done,
            "tag-filtered consumer got {}/{tagged_ab}\n{}",
            filtered.distinct(),
            cluster.log_tails()
        );
    });
    let all = singles().start..batched().end;
    let missing = pull.missing(all.clone());
    assert!(
        missing.is_empty(),
        "our pull consumer: {} of {} missing (first {:?})\n{}",
        missing.len(),
        all.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        cluster.log_tails()
    );
    for (who, recorder) in [("our push consumer", &push), ("our pull consumer", &pull)] {
        recorder.assert_intact(who, singles(), "single");
        recorder.assert_intact(who, batched(), "batch");
        assert_eq!(
            recorder.outside(&all),
            Vec::<u32>::new(),
            "{who}: unknown messages"
        );
    }
    let snapshot = filtered.snapshot();
    let wrong_tag: Vec<_> = snapshot.keys().filter(|seq| *seq % 3 == 2).collect();
    assert!(
        wrong_tag.is_empty(),
        "the TagA || TagB consumer received TagC messages {wrong_tag:?}"
    );
    for seq in snapshot.keys() {
        let kind = if singles().contains(seq) {
            "single"
        } else {
            "batch"
        };
        filtered.assert_intact("tag-filtered consumer", *seq..*seq + 1, kind);
    }
}

#[test]
#[ignore = "product bug: the nameserver's TopicRouteData brokerDatas lack \"enableActingMaster\", which rocketmq-client-rust 1.0.0 requires (serde: missing field `enableActingMaster`), so the independent client cannot route"]
fn independent_client_reads_routes_from_the_ringmq_nameserver() {
    let (cluster, topic) = two_broker_topic("DirectRoute");
    let namesrv = cluster.namesrv_addr();
    common::test_runtime().block_on(async {
        let mut producer = common::start_producer(&namesrv, &unique_name("ipg"))
            .await
            .expect("independent producer starts");
        let sent = producer
            .send_with_timeout(
                common::message(&topic, 0, "single"),
                common::SEND_TIMEOUT_MS,
            )
            .await;
        producer.shutdown().await;
        if let Err(e) = sent {
            panic!(
                "independent send through the ringmq nameserver's route: {}",
                common::error_chain(&e)
            );
        }
    });
}
