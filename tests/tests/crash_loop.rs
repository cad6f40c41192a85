//! Crash loop of a real broker process: producers send while the broker is
//! SIGKILLed at a random moment and restarted on the same data directory,
//! cycle after cycle. Every acknowledged message is recorded; at the end
//! every queue is read back and each acknowledged message must be there with
//! its exact body (lost = 0, corrupt = 0). Duplicates (a send retried after
//! its first attempt was stored) are reported, not refused.
//!
//! Three producers send: the ringmq client (`Producer`, tokio) and the raw
//! test connection (exact SEND_MESSAGE frames), restarted every cycle, and
//! the independent `rocketmq-client-rust` 1.0.0 producer, started once and
//! sending through every kill and restart as an application would. The
//! summary gives acknowledged / lost / duplicated / corrupt for each. CI runs
//! [`CYCLES_DEFAULT`] cycles; `RINGMQ_CRASH_LOOP_CYCLES=1000` (or
//! `scripts/crash-loop.sh 1000`) runs more, `RINGMQ_CRASH_LOOP_SYNC=1` uses
//! sync flush. The random kill moments come from a seed printed at the
//! start (`RINGMQ_CRASH_LOOP_SEED` replays one).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringmq_client::Message;
use ringmq_client::producer::Producer;
use ringmq_tests::raw::{RawConnection, SendRequest};
use ringmq_tests::{Cluster, unique_name};

/// Cycles CI runs.
const CYCLES_DEFAULT: usize = 20;
/// Queues of the topic.
const QUEUES: u32 = 4;
/// Shortest and longest time sends run before the kill.
const KILL_AFTER_MS: (u64, u64) = (50, 600);
/// Timeout of one raw send.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of sends per producer per cycle.
const SENDS_PER_CYCLE_MAX: u64 = 200_000;

/// Producer ids: the raw connection, the ringmq client, the independent client.
const PRODUCERS: [(u8, &str); 3] = [
    (0, "raw"),
    (1, "ringmq-client"),
    (2, "rocketmq-client-rust"),
];
/// Send timeout of the independent client (it retries within it).
const INDEPENDENT_SEND_TIMEOUT_MS: u64 = 3_000;
/// Pause of the independent client after a failed send (broker down).
const INDEPENDENT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Who sent a message and its number: the body is derived from both.
type Seq = (u8, u64);
/// Acknowledged messages: seq -> acknowledgements.
type Acked = Arc<Mutex<BTreeMap<Seq, u32>>>;

fn body_of((producer, seq): Seq) -> Vec<u8> {
    // Long enough to span pages now and then; content checkable byte by byte.
    let len = 64 + (seq % 7) as usize * 300;
    let mut body = format!("crash-{producer}-{seq:010}-").into_bytes();
    body.extend((0..len).map(|i| b'a' + ((seq as usize + i) % 26) as u8));
    body
}

/// xorshift64*: deterministic kill moments from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

fn raw_sender(addr: String, topic: String, start: u64, stop: Arc<AtomicBool>, acked: Acked) {
    let Ok(mut conn) = RawConnection::connect(&addr) else {
        return;
    };
    for seq in start..start + SENDS_PER_CYCLE_MAX {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = body_of((0, seq));
        let seq_text = seq.to_string();
        let request = SendRequest {
            group: "crash_raw_pg",
            topic: &topic,
            queue_id: i32::try_from(seq % u64::from(QUEUES)).unwrap(),
            body: &body,
            tag: None,
            properties: &[("crash.producer", "0"), ("crash.seq", &seq_text)],
        };
        if conn.send_message(&request, CALL_TIMEOUT).is_err() {
            return; // the broker died mid-send: this one is not acknowledged
        }
        *acked.lock().unwrap().entry((0, seq)).or_default() += 1;
    }
}

fn client_sender(namesrv: String, topic: String, start: u64, stop: Arc<AtomicBool>, acked: Acked) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let Ok(producer) = Producer::builder("crash_client_pg")
            .namesrv(&namesrv)
            .send_timeout(CALL_TIMEOUT)
            .build()
        else {
            return;
        };
        for seq in start..start + SENDS_PER_CYCLE_MAX {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let msg = Message::new(topic.as_str(), body_of((1, seq)))
                .with_property("crash.producer", "1")
                .with_property("crash.seq", seq.to_string());
            match producer.send(msg).await {
                Ok(_) => *acked.lock().unwrap().entry((1, seq)).or_default() += 1,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        producer.shutdown().await;
    });
}

/// The independent client's producer: one for the whole loop, sending
/// until `done`, every acknowledged (SEND_OK) send recorded.
fn independent_sender(namesrv: String, topic: String, done: Arc<AtomicBool>, acked: Acked) {
    use rocketmq_model::common::message::message_single::Message as IndependentMessage;
    use rocketmq_model::result::SendStatus;
    let runtime = common::test_runtime();
    runtime.block_on(async move {
        let producer = match common::start_producer(&namesrv, "crash_independent_pg").await {
            Ok(producer) => producer,
            Err(e) => panic!(
                "the independent producer starts: {}",
                common::error_chain(&e)
            ),
        };
        let mut seq = 0u64;
        while !done.load(Ordering::Relaxed) {
            let message = IndependentMessage::builder()
                .topic(topic.as_str())
                .body(body_of((2, seq)))
                .raw_property("crash.producer", "2".to_string())
                .and_then(|b| b.raw_property("crash.seq", seq.to_string()))
                .expect("user property names are not reserved")
                .build_unchecked();
            match producer
                .send_with_timeout(message, INDEPENDENT_SEND_TIMEOUT_MS)
                .await
            {
                Ok(Some(result)) if result.send_status == SendStatus::SendOk => {
                    *acked.lock().unwrap().entry((2, seq)).or_default() += 1;
                }
                _ => tokio::time::sleep(INDEPENDENT_RETRY_PAUSE).await,
            }
            seq += 1;
        }
        let mut producer = producer;
        producer.shutdown().await;
    });
}

/// Per producer: acknowledged, lost, duplicated, corrupt; printed, and the
/// lost ones returned.
fn summarize(
    acked: &BTreeMap<Seq, u32>,
    stored: &BTreeMap<Seq, u32>,
    corrupt: &BTreeMap<u8, usize>,
) -> Vec<Seq> {
    let mut lost_all = Vec::new();
    for (id, name) in PRODUCERS {
        let mine = |seq: &&Seq| seq.0 == id;
        let acknowledged = acked.keys().filter(mine).count();
        let lost: Vec<Seq> = acked
            .keys()
            .filter(mine)
            .filter(|seq| !stored.contains_key(seq))
            .copied()
            .collect();
        let duplicated: u32 = stored
            .iter()
            .filter(|(seq, _)| seq.0 == id)
            .map(|(_, n)| n.saturating_sub(1))
            .sum();
        println!(
            "[crash-loop] {name}: acknowledged {acknowledged}, lost {}, duplicated {duplicated}, corrupt {}",
            lost.len(),
            corrupt.get(&id).copied().unwrap_or(0)
        );
        lost_all.extend(lost);
    }
    lost_all
}

#[test]
fn every_acknowledged_message_survives_a_kill_9_loop() {
    let cycles = env_number("RINGMQ_CRASH_LOOP_CYCLES").map_or(CYCLES_DEFAULT, |n| n as usize);
    let seed = env_number("RINGMQ_CRASH_LOOP_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    let sync = std::env::var_os("RINGMQ_CRASH_LOOP_SYNC").is_some();
    println!(
        "[crash-loop] {cycles} cycles, seed {seed}, flush {}",
        if sync { "sync" } else { "async" }
    );
    let mut rng = Rng(seed);
    let mut cluster = Cluster::start_with(1, |o| o.flush_sync = sync).expect("cluster starts");
    let topic = unique_name("Crash");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let addr = cluster.brokers[0].addr();
    let namesrv = cluster.namesrv_addr();
    let acked: Acked = Arc::default();
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let independent = {
        let (namesrv, topic, done, acked) =
            (namesrv.clone(), topic.clone(), done.clone(), acked.clone());
        std::thread::spawn(move || independent_sender(namesrv, topic, done, acked))
    };
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let start = cycle as u64 * SENDS_PER_CYCLE_MAX;
        let raw = {
            let (addr, topic, stop, acked) =
                (addr.clone(), topic.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || raw_sender(addr, topic, start, stop, acked))
        };
        let client = {
            let (namesrv, topic, stop, acked) =
                (namesrv.clone(), topic.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || client_sender(namesrv, topic, start, stop, acked))
        };
        std::thread::sleep(Duration::from_millis(rng.between(KILL_AFTER_MS)));
        cluster.brokers[0].kill9().expect("kill -9");
        stop.store(true, Ordering::Relaxed);
        raw.join().expect("raw sender");
        client.join().expect("client sender");
        cluster.brokers[0]
            .restart()
            .unwrap_or_else(|e| panic!("cycle {cycle}: the broker restarts: {e}"));
    }
    // The independent producer also sends to the restarted broker, then stops.
    std::thread::sleep(Duration::from_millis(rng.between(KILL_AFTER_MS)));
    done.store(true, Ordering::Relaxed);
    independent.join().expect("independent sender");
    let acked = acked.lock().unwrap().clone();
    let mut conn = RawConnection::connect(&addr).expect("connect after the loop");
    let mut stored: BTreeMap<Seq, u32> = BTreeMap::new();
    let mut corrupt = 0usize;
    let mut corrupt_by: BTreeMap<u8, usize> = BTreeMap::new();
    for queue_id in 0..i32::try_from(QUEUES).unwrap() {
        let records = conn
            .pull_queue_to_end("crash_reader", &topic, queue_id, 0, CALL_TIMEOUT)
            .unwrap_or_else(|e| panic!("reading queue {queue_id}: {e}"));
        for record in records {
            let producer = record
                .properties
                .get("crash.producer")
                .and_then(|p| p.parse().ok());
            let seq = record
                .properties
                .get("crash.seq")
                .and_then(|s| s.parse().ok());
            match (producer, seq) {
                (Some(producer), Some(seq)) if record.body == body_of((producer, seq)) => {
                    *stored.entry((producer, seq)).or_default() += 1;
                }
                (Some(producer), _) => {
                    corrupt += 1;
                    *corrupt_by.entry(producer).or_default() += 1;
                }
                _ => corrupt += 1,
            }
        }
    }
    let lost = summarize(&acked, &stored, &corrupt_by);
    let duplicated: usize = stored.values().map(|n| n.saturating_sub(1) as usize).sum();
    let unacked_stored = stored.keys().filter(|seq| !acked.contains_key(seq)).count();
    println!(
        "[crash-loop] cycles {cycles} in {:.1} s: acknowledged {} (raw {}, ringmq client {}, independent {}), lost {}, \
         corrupt {corrupt}, duplicated {duplicated}, stored but unacknowledged (in flight at a kill) {unacked_stored}",
        started.elapsed().as_secs_f64(),
        acked.len(),
        acked.keys().filter(|(p, _)| *p == 0).count(),
        acked.keys().filter(|(p, _)| *p == 1).count(),
        acked.keys().filter(|(p, _)| *p == 2).count(),
        lost.len(),
    );
    assert!(
        acked.keys().any(|(p, _)| *p == 2),
        "the independent client got acknowledgements"
    );
    assert!(!acked.is_empty(), "some sends were acknowledged");
    assert!(
        lost.is_empty(),
        "acknowledged but lost: {:?}",
        lost.iter().take(20).collect::<Vec<_>>()
    );
    assert_eq!(corrupt, 0, "records whose body does not match their seq");
}
