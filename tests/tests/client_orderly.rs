//! Orderly consumption with this crate's client against real `ringmq`
//! processes: consumers of one group join and leave while keyed messages
//! flow, and every key is still consumed in send order (at least once) with
//! no queue ever inside two clients' listeners at once; a suspended message is offered
//! again in place until its limit, then dead-lettered while the queue moves
//! on; and two clients contending for LOCK_BATCH_MQ never hold one queue
//! together.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;

use client_common::{CONSUME_WAIT_MAX, POLL_INTERVAL, test_runtime};
use ringmq_client::consumer::orderly::{ConsumeOrderlyContext, ConsumeOrderlyStatus};
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::consumer::push::{PushConsumer, PushConsumerBuilder};
use ringmq_client::consumer::{ConsumeFrom, MessageExt, broker};
use ringmq_client::instance::{ClientConfig, ClientInstance};
use ringmq_client::producer::{Producer, SelectByHash};
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::{Cluster, unique_name};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues of the churn test's topic on each of its two brokers (8 in all).
const QUEUES_PER_BROKER: u32 = 4;
/// Business ids of the churn test.
const KEYS: u32 = 16;
/// Messages per business id.
const PER_KEY: u32 = 40;
/// User property: the business id.
const PROP_KEY: &str = "order.key";
/// User property: the message's position within its business id.
const PROP_STEP: &str = "order.step";
/// Rebalance and offset-persist intervals of the test consumers.
const REBALANCE_EVERY: Duration = Duration::from_millis(500);
const PERSIST_EVERY: Duration = Duration::from_millis(200);
/// Lock renewal and client lease of the test consumers (the broker's lease
/// is 60 s).
const LOCK_RENEW: Duration = Duration::from_secs(1);
const LOCK_LEASE: Duration = Duration::from_secs(5);

fn key_name(k: u32) -> String {
    format!("key-{k:03}")
}

/// One listener call as the consumers saw it.
#[derive(Debug, Clone)]
struct Consumed {
    client: usize,
    key: String,
    step: u32,
}

/// What every consumer of the churn test records, shared by all of them.
#[derive(Default)]
struct Ledger {
    /// Who is inside a listener call for a queue right now.
    inside: Mutex<HashMap<MessageQueue, usize>>,
    /// Queues two clients were inside at once: (queue, holder, intruder).
    overlaps: Mutex<Vec<(MessageQueue, usize, usize)>>,
    /// Every consumption, in the order listeners ran.
    log: Mutex<Vec<Consumed>>,
}

impl Ledger {
    fn enter(&self, mq: &MessageQueue, client: usize) {
        let mut inside = self.inside.lock().unwrap();
        if let Some(holder) = inside.insert(mq.clone(), client)
            && holder != client
        {
            self.overlaps
                .lock()
                .unwrap()
                .push((mq.clone(), holder, client));
        }
    }

    fn leave(&self, mq: &MessageQueue, client: usize) {
        let mut inside = self.inside.lock().unwrap();
        if inside.get(mq) == Some(&client) {
            inside.remove(mq);
        }
    }

    fn record(&self, client: usize, msgs: &[MessageExt]) {
        let mut log = self.log.lock().unwrap();
        for m in msgs {
            log.push(Consumed {
                client,
                key: m.property(PROP_KEY).unwrap_or_default().to_string(),
                step: m.property(PROP_STEP).and_then(|s| s.parse().ok()).unwrap(),
            });
        }
    }

    fn distinct(&self) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .map(|c| (c.key.clone(), c.step))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

fn orderly_consumer(namesrv: &str, group: &str, topic: &str) -> PushConsumerBuilder {
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .intervals(REBALANCE_EVERY, PERSIST_EVERY)
        .lock_intervals(LOCK_RENEW, LOCK_LEASE)
        .pull_suspend(Duration::from_secs(1))
}

async fn start_member(
    namesrv: &str,
    group: &str,
    topic: &str,
    client: usize,
    ledger: Arc<Ledger>,
) -> PushConsumer {
    orderly_consumer(namesrv, group, topic)
        .orderly_listener(
            move |msgs: Vec<MessageExt>, context: ConsumeOrderlyContext| {
                let ledger = ledger.clone();
                async move {
                    ledger.enter(&context.queue, client);
                    // Stay inside long enough for an overlap to be seen if a
                    // second client were let in.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    ledger.record(client, &msgs);
                    ledger.leave(&context.queue, client);
                    ConsumeOrderlyStatus::Success
                }
            },
        )
        .start()
        .await
        .unwrap_or_else(|e| panic!("orderly consumer {client} starts: {e}"))
}

async fn send_key(producer: Producer, topic: String, k: u32) {
    let key = key_name(k);
    for step in 0..PER_KEY {
        let msg = Message::new(topic.as_str(), format!("{key}:{step}").into_bytes())
            .with_keys([key.clone()])
            .with_property(PROP_KEY, key.as_str())
            .with_property(PROP_STEP, step.to_string());
        producer
            .send_with_selector(msg, &SelectByHash, &key)
            .await
            .unwrap_or_else(|e| panic!("ordered send {key}:{step} failed: {e}"));
        if step % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits (bounded by [`CONSUME_WAIT_MAX`]) until `ledger` holds `n`
/// distinct messages.
async fn wait_distinct(ledger: &Ledger, n: usize, cluster: &Cluster) {
    let deadline = Instant::now() + CONSUME_WAIT_MAX;
    while ledger.distinct() < n {
        assert!(
            Instant::now() < deadline,
            "consumed {}/{n} distinct messages within {CONSUME_WAIT_MAX:?}\n{}",
            ledger.distinct(),
            cluster.log_tails()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[test]
fn orderly_consumers_joining_and_leaving_keep_every_key_in_order_and_queues_exclusive() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("Orderly");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("ocg");
    test_runtime().block_on(async {
        let ledger = Arc::new(Ledger::default());
        let mut members = BTreeMap::new();
        for client in 0..3 {
            let c = start_member(&namesrv, &group, &topic, client, ledger.clone()).await;
            members.insert(client, c);
        }
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        let senders: Vec<_> = (0..KEYS)
            .map(|k| tokio::spawn(send_key(producer.clone(), topic.clone(), k)))
            .collect();
        let total = usize::try_from(KEYS * PER_KEY).unwrap();
        // Churn: at a quarter one member leaves and one joins, at half
        // another pair; five members in all.
        wait_distinct(&ledger, total / 4, &cluster).await;
        members.remove(&1).unwrap().shutdown().await;
        let c = start_member(&namesrv, &group, &topic, 3, ledger.clone()).await;
        members.insert(3, c);
        wait_distinct(&ledger, total / 2, &cluster).await;
        members.remove(&0).unwrap().shutdown().await;
        let c = start_member(&namesrv, &group, &topic, 4, ledger.clone()).await;
        members.insert(4, c);
        for s in senders {
            s.await.expect("sender did not panic");
        }
        wait_distinct(&ledger, total, &cluster).await;
        for (_, c) in members {
            c.shutdown().await;
        }
        producer.shutdown().await;

        let overlaps = ledger.overlaps.lock().unwrap().clone();
        assert!(
            overlaps.is_empty(),
            "queues consumed by two clients at once: {overlaps:?}"
        );
        let log = ledger.log.lock().unwrap().clone();
        let mut per_client: BTreeMap<usize, usize> = BTreeMap::new();
        // In order, and exactly once: per key, the steps in the order they
        // were first consumed are exactly the send order, and no handover
        // (a rebalance release or a member's shutdown) replays anything: the
        // old owner settles and commits before it unlocks or its shutdown
        // commits (a repeat used to slip in when a shutdown committed between
        // a listener's return and the settle of its offset).
        let mut first: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut repeats = 0;
        for c in &log {
            *per_client.entry(c.client).or_default() += 1;
            let seen = first.entry(c.key.clone()).or_default();
            if seen.contains(&c.step) {
                repeats += 1;
            } else {
                seen.push(c.step);
            }
        }
        println!("consumed per client: {per_client:?}; repeated consumptions: {repeats}");
        assert!(
            per_client.len() > 1,
            "the group shared the queues: {per_client:?}"
        );
        assert_eq!(
            repeats,
            0,
            "{repeats} of {} consumptions were repeats",
            log.len()
        );
        let in_order: Vec<u32> = (0..PER_KEY).collect();
        for k in 0..KEYS {
            let key = key_name(k);
            assert_eq!(
                first.get(&key),
                Some(&in_order),
                "steps of {key} in first-consumption order"
            );
        }
    });
}

#[test]
fn a_suspended_message_is_offered_again_in_place_then_dead_lettered() {
    const MAX_RECONSUME: i32 = 2;
    const STUCK_STEP: u32 = 2;
    const STEPS: u32 = 5;
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("OrderlySuspend");
    cluster.create_topic(&topic, 1).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("scg");
    test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        for step in 0..STEPS {
            let msg = Message::new(topic.as_str(), format!("step-{step}").into_bytes())
                .with_property(PROP_STEP, step.to_string());
            producer.send(msg).await.expect("send");
        }
        producer.shutdown().await;
        let seen: Arc<Mutex<Vec<(u32, i32)>>> = Arc::default();
        let record = seen.clone();
        let consumer = orderly_consumer(&namesrv, &group, &topic)
            .max_reconsume_times(MAX_RECONSUME)
            .suspend_current_queue_time(Duration::from_millis(100))
            .orderly_listener(move |msgs: Vec<MessageExt>, _context| {
                let record = record.clone();
                async move {
                    let mut status = ConsumeOrderlyStatus::Success;
                    for m in &msgs {
                        let step: u32 = m.property(PROP_STEP).unwrap().parse().unwrap();
                        record.lock().unwrap().push((step, m.reconsume_times));
                        if step == STUCK_STEP {
                            status = ConsumeOrderlyStatus::SuspendCurrentQueueAMoment;
                        }
                    }
                    status
                }
            })
            .start()
            .await
            .expect("orderly consumer starts");
        let mq = MessageQueue::new(topic.as_str(), cluster.brokers[0].name(), 0);
        let deadline = Instant::now() + CONSUME_WAIT_MAX;
        while consumer.committed_offset(&mq) != Some(i64::from(STEPS)) {
            assert!(
                Instant::now() < deadline,
                "the queue did not move past the dead-lettered message; seen {:?}",
                seen.lock().unwrap()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        consumer.shutdown().await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (3, 0), (4, 0)],
            "the stuck message is offered again in place, its count raised, until the limit"
        );
        // The stuck message is in the group's DLQ, which the broker creates
        // write-only (as Java 4.9 does): an operator grants read first.
        let dlq = format!("%DLQ%{group}");
        cluster.create_topic(&dlq, 1).expect("perm 6 on the DLQ");
        let reader = PullConsumer::builder(unique_name("dlq-reader"))
            .namesrv(&namesrv)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .expect("pull consumer starts");
        let deadline = Instant::now() + CONSUME_WAIT_MAX;
        let queues = loop {
            match reader.fetch_queues(&dlq).await {
                Ok(queues) if !queues.is_empty() => break queues,
                other => assert!(Instant::now() < deadline, "no route for {dlq}: {other:?}"),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        reader.assign(queues).await.expect("assign");
        let mut dead = Vec::new();
        while dead.is_empty() && Instant::now() < deadline {
            dead = reader.poll(Duration::from_millis(500)).await.expect("poll");
        }
        reader.shutdown().await;
        assert_eq!(dead.len(), 1, "one message dead-lettered: {dead:?}");
        assert_eq!(
            dead[0].body.as_ref(),
            format!("step-{STUCK_STEP}").as_bytes()
        );
        assert_eq!(dead[0].property("RETRY_TOPIC"), Some(topic.as_str()));
    });
}

#[test]
fn two_clients_contending_for_queue_locks_never_hold_one_queue_together() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("Locks");
    cluster.create_topic(&topic, 4).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("lcg");
    let broker_name = cluster.brokers[0].name().to_string();
    test_runtime().block_on(async {
        let client = |name: &str| {
            let mut config = ClientConfig::default().with_namesrv(&namesrv);
            config.instance_name = name.to_string();
            ClientInstance::start(config)
        };
        let (a, b) = (client("lock-a"), client("lock-b"));
        a.update_route(&topic).await.expect("route");
        b.update_route(&topic).await.expect("route");
        let all: BTreeSet<MessageQueue> = (0..4)
            .map(|q| MessageQueue::new(topic.as_str(), broker_name.as_str(), q))
            .collect();
        let first_two: BTreeSet<MessageQueue> = all.iter().take(2).cloned().collect();
        // Both ask at once for overlapping sets: each queue goes to one.
        let (got_a, got_b) = tokio::join!(
            broker::lock_batch(&a, &group, &broker_name, first_two.clone()),
            broker::lock_batch(&b, &group, &broker_name, all.clone()),
        );
        let (got_a, got_b) = (got_a.expect("lock a"), got_b.expect("lock b"));
        assert!(
            got_a.is_disjoint(&got_b),
            "a queue granted to both: {got_a:?} / {got_b:?}"
        );
        let union: BTreeSet<_> = got_a.union(&got_b).cloned().collect();
        assert_eq!(union, all, "every free queue is granted to someone");
        // Renewing keeps them; the other cannot take them while held.
        let again_b = broker::lock_batch(&b, &group, &broker_name, got_a.clone())
            .await
            .expect("lock b");
        assert!(again_b.is_empty(), "b took a's queues: {again_b:?}");
        let renewed_a = broker::lock_batch(&a, &group, &broker_name, got_a.clone())
            .await
            .expect("renew a");
        assert_eq!(renewed_a, got_a);
        // Released, they go to the other; another group is unaffected.
        broker::unlock_batch(&a, &group, &broker_name, got_a.clone())
            .await
            .expect("unlock a");
        let taken_b = broker::lock_batch(&b, &group, &broker_name, got_a.clone())
            .await
            .expect("lock b");
        assert_eq!(taken_b, got_a);
        let other = broker::lock_batch(&a, "another-group", &broker_name, all.clone())
            .await
            .expect("lock in another group");
        assert_eq!(other, all);
        a.shutdown().await;
        b.shutdown().await;
    });
}
