//! Durability across a crash: a broker in sync-flush mode is SIGKILLed while
//! (or after) sends are acknowledged, restarted on the same data directory,
//! and every acknowledged message is read back.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{CollectingListener, Collector, expected, message, start_producer, test_runtime};
use ringmq_tests::raw::{RawConnection, SendRequest};
use ringmq_tests::{Cluster, unique_name};
use rocketmq_client_rust::{DefaultMQPushConsumer, MQPushConsumer};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues of the test topic.
const QUEUES: u32 = 4;
/// Acknowledged sends before the crash is triggered.
const ACKED_BEFORE_KILL: usize = 300;
/// Upper bound of sends the background sender makes.
const SENDS_MAX: u32 = 100_000;
/// Timeout of one raw request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the sender to reach [`ACKED_BEFORE_KILL`].
const ACK_WAIT_MAX: Duration = Duration::from_secs(60);
/// Longest wait for the consumer after the restart.
const CONSUME_WAIT_MAX: Duration = Duration::from_secs(90);

fn body_of(seq: u32) -> Vec<u8> {
    format!("restart-{seq:06}").into_bytes()
}

/// Sends until told to stop or the connection breaks; records every ack as
/// (queue, offset) -> seq.
fn send_until_broken(
    addr: String,
    topic: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeMap<(i32, i64), u32>>>,
) {
    let Ok(mut conn) = RawConnection::connect(&addr) else {
        return;
    };
    for seq in 0..SENDS_MAX {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = body_of(seq);
        let seq_text = seq.to_string();
        let request = SendRequest {
            group: "restart_pg",
            topic: &topic,
            queue_id: i32::try_from(seq % QUEUES).unwrap(),
            body: &body,
            tag: Some("R"),
            properties: &[("ringmq.seq", &seq_text)],
        };
        match conn.send_message(&request, CALL_TIMEOUT) {
            Ok(ack) => {
                acked
                    .lock()
                    .unwrap()
                    .insert((ack.queue_id, ack.queue_offset), seq);
            }
            Err(_) => return,
        }
    }
}

#[test]
fn sync_flushed_sends_survive_kill_9_mid_stream() {
    let mut cluster = Cluster::start_with(1, |o| o.flush_sync = true).expect("cluster starts");
    let topic = unique_name("Restart");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let addr = cluster.brokers[0].addr();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let sender = {
        let (addr, topic, stop, acked) = (addr.clone(), topic.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || send_until_broken(addr, topic, stop, acked))
    };
    let deadline = Instant::now() + ACK_WAIT_MAX;
    while acked.lock().unwrap().len() < ACKED_BEFORE_KILL && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        acked.lock().unwrap().len() >= ACKED_BEFORE_KILL,
        "only {} sends acknowledged in {ACK_WAIT_MAX:?}",
        acked.lock().unwrap().len()
    );
    // Crash while the sender is still sending.
    cluster.brokers[0].kill9().expect("kill -9");
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender thread");
    let acked = acked.lock().unwrap().clone();
    println!("acknowledged before the crash: {}", acked.len());

    cluster.brokers[0]
        .restart()
        .expect("broker restarts on the same data dir");
    let mut conn = RawConnection::connect(&addr).expect("connect after restart");
    let mut stored = BTreeMap::new();
    for queue_id in 0..i32::try_from(QUEUES).unwrap() {
        let records = conn
            .pull_queue_to_end("restart_reader", &topic, queue_id, 0, CALL_TIMEOUT)
            .unwrap_or_else(|e| panic!("reading queue {queue_id} after restart: {e}"));
        for (index, record) in records.into_iter().enumerate() {
            assert_eq!(
                record.queue_offset,
                i64::try_from(index).unwrap(),
                "offsets are dense"
            );
            assert_eq!(record.queue_id, queue_id);
            stored.insert((queue_id, record.queue_offset), record);
        }
    }
    for ((queue_id, offset), seq) in &acked {
        let record = stored
            .get(&(*queue_id, *offset))
            .unwrap_or_else(|| panic!("acknowledged message {seq} at {queue_id}@{offset} lost"));
        assert_eq!(
            record.body,
            body_of(*seq),
            "body of acknowledged message {seq}"
        );
        assert_eq!(
            record.properties.get("ringmq.seq").map(String::as_str),
            Some(seq.to_string().as_str())
        );
        assert_eq!(record.properties.get("TAGS").map(String::as_str), Some("R"));
    }
    println!(
        "stored after restart: {} (acknowledged {}, the rest were in flight)",
        stored.len(),
        acked.len()
    );
}

#[test]
fn independent_client_consumes_everything_acknowledged_before_kill_9() {
    const COUNT: u32 = 500;
    let mut cluster = Cluster::start_with(1, |o| o.flush_sync = true).expect("cluster starts");
    let topic = unique_name("RestartIc");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    let runtime = test_runtime();
    let want = runtime.block_on(async {
        let mut producer = start_producer(&namesrv, &unique_name("pg"))
            .await
            .expect("producer");
        let mut want = BTreeMap::new();
        for seq in 0..COUNT {
            producer
                .send_with_timeout(message(&topic, seq, "single"), common::SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|e| panic!("send {seq}: {}", common::error_chain(&e)))
                .expect("a send result");
            want.insert(seq, expected(seq, "single"));
        }
        producer.shutdown().await;
        want
    });
    cluster.brokers[0].kill9().expect("kill -9");
    cluster.brokers[0]
        .restart()
        .expect("restart on the same data dir");
    runtime.block_on(async {
        let collector = Collector::default();
        let group = unique_name("restart_cg");
        let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("push-consumer"))
            .consumer_group(group.clone())
            .name_server_addr(namesrv.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(common::CONSUME_BATCH_MAX)
            .build();
        consumer
            .subscribe(topic.as_str(), "*")
            .await
            .expect("subscribe");
        consumer.register_message_listener_concurrently(CollectingListener(collector.clone()));
        consumer.start().await.expect("consumer start");
        common::assert_route_readable(&mut consumer, &topic).await;
        let got = collector.wait_for(want.len(), CONSUME_WAIT_MAX).await;
        consumer.shutdown().await;
        println!("consumed after restart: {got}/{COUNT}");
        collector.assert_matches("push consumer after restart", &want);
    });
}
