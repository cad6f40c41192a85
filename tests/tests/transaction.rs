//! Transactional messages end to end with ringmq's own client against real
//! `ringmq` processes: commit / rollback / unknown-resolved-by-check-back,
//! a new producer of the group answering for one that went away, pending
//! halves surviving `kill -9` of the broker, a producer that never answers,
//! and `ringmq produce --transaction`.
//!
//! Every wait is bounded and waits for an observable state (op records
//! written, messages stored), never for a time to pass.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;
mod txn_common;

use client_common::test_runtime;
use ringmq_client::Message;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::consumer::{ConsumeFrom, MessageExt};
use ringmq_client::producer::Producer;
use ringmq_client::producer::transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer,
};
use ringmq_tests::unique_name;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use txn_common::*;

/// Client timers short enough that a restarted broker hears from the
/// producer again within a second.
const CLIENT_INTERVALS: Duration = Duration::from_millis(500);

fn state_of(body: &str) -> LocalTransactionState {
    if body.starts_with("commit") {
        LocalTransactionState::Commit
    } else if body.starts_with("rollback") {
        LocalTransactionState::Rollback
    } else {
        LocalTransactionState::Unknown
    }
}

/// Executes by the body's prefix; checks answer `on_check` (or, when
/// `answering` is off, Unknown) and are counted.
struct Listener {
    on_check: fn(&str) -> LocalTransactionState,
    answering: Arc<AtomicBool>,
    checks: Arc<AtomicUsize>,
}

impl Listener {
    fn new(on_check: fn(&str) -> LocalTransactionState) -> Listener {
        Listener {
            on_check,
            answering: Arc::new(AtomicBool::new(true)),
            checks: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl TransactionListener for Listener {
    fn execute_local_transaction(
        &self,
        msg: &Message,
        _: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        state_of(&String::from_utf8_lossy(msg.body()))
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if !self.answering.load(Ordering::SeqCst) {
            return LocalTransactionState::Unknown;
        }
        (self.on_check)(&String::from_utf8_lossy(&msg.body))
    }
}

fn producer(namesrv: &str, group: &str, listener: Arc<Listener>) -> TransactionProducer {
    let builder = Producer::builder(group)
        .namesrv(namesrv)
        .intervals(CLIENT_INTERVALS, CLIENT_INTERVALS);
    TransactionProducer::new(builder, listener).unwrap()
}

async fn send(producer: &TransactionProducer, topic: &str, body: &str) {
    let sent = producer
        .send_message_in_transaction(Message::new(topic, body.to_string()), None)
        .await
        .unwrap_or_else(|e| panic!("half {body} not sent: {e}"));
    assert_eq!(sent.state, state_of(body), "{body}");
}

/// Bodies a consumer group receives until it has `want` of them (bounded).
async fn consume(namesrv: &str, topic: &str, want: usize) -> BTreeMap<String, usize> {
    let consumer = PullConsumer::builder(unique_name("txn-cg"))
        .namesrv(namesrv)
        .consume_from(ConsumeFrom::FirstOffset)
        .start()
        .unwrap();
    consumer.subscribe(topic, "*").await.unwrap();
    let mut got = BTreeMap::new();
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    while got.values().sum::<usize>() < want && Instant::now() < deadline {
        for m in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            *got.entry(String::from_utf8_lossy(&m.body).into_owned())
                .or_insert(0) += 1;
        }
    }
    consumer.shutdown().await;
    got
}

#[test]
fn commit_rollback_and_unknown_resolved_by_check_back() {
    let topic = unique_name("TxnMix");
    let cluster = cluster(&topic, 5);
    let addr = cluster.brokers[0].addr();
    let listener = Arc::new(Listener::new(|_| LocalTransactionState::Commit));
    let checks = listener.checks.clone();
    test_runtime().block_on(async {
        let producer = producer(&cluster.namesrv_addr(), &unique_name("txn-pg"), listener);
        for i in 0..3 {
            for kind in ["commit", "rollback", "unknown"] {
                send(&producer, &topic, &format!("{kind}-{i}")).await;
            }
        }
        settle(&cluster, "9 outcomes", || {
            max_offset(&addr, OP_TOPIC, 0) >= 9
        });
        let got = consume(&cluster.namesrv_addr(), &topic, 6).await;
        let mut want: BTreeMap<String, usize> = BTreeMap::new();
        for body in bodies("commit", 0..3)
            .into_iter()
            .chain(bodies("unknown", 0..3))
        {
            want.insert(body, 1);
        }
        assert_eq!(got, want, "committed once each, rolled back never");
        producer.producer().shutdown().await;
    });
    assert_eq!(topic_total(&addr, &topic), 6);
    assert_eq!(
        max_offset(&addr, OP_TOPIC, 0),
        9,
        "one op record per transaction"
    );
    assert!(
        checks.load(Ordering::SeqCst) >= 3,
        "the unknown ones were checked"
    );
    assert_eq!(max_offset(&addr, MAX_TIME_TOPIC, 0), 0);
}

#[test]
fn a_new_producer_of_the_group_answers_the_check_of_one_that_went_away() {
    let topic = unique_name("TxnHandover");
    let cluster = cluster(&topic, 15);
    let addr = cluster.brokers[0].addr();
    let group = unique_name("txn-pg");
    let second = Arc::new(Listener::new(|_| LocalTransactionState::Commit));
    let second_checks = second.checks.clone();
    test_runtime().block_on(async {
        let first = Arc::new(Listener::new(|_| LocalTransactionState::Commit));
        first.answering.store(false, Ordering::SeqCst);
        let gone = producer(&cluster.namesrv_addr(), &group, first);
        send(&gone, &topic, "unknown-handover").await;
        gone.producer().shutdown().await;
        drop(gone);
        let heir = producer(&cluster.namesrv_addr(), &group, second);
        settle(&cluster, "the half committed by the new producer", || {
            topic_total(&addr, &topic) == 1
        });
        heir.producer().shutdown().await;
    });
    assert_eq!(topic_bodies(&addr, &topic), ["unknown-handover"]);
    assert!(second_checks.load(Ordering::SeqCst) >= 1);
}

#[test]
fn halves_pending_at_kill_9_are_checked_and_resolved_after_the_restart() {
    let topic = unique_name("TxnCrash");
    let mut cluster = cluster(&topic, 60);
    let addr = cluster.brokers[0].addr();
    let listener = Arc::new(Listener::new(|body| {
        let n: u32 = body
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if n.is_multiple_of(2) {
            LocalTransactionState::Commit
        } else {
            LocalTransactionState::Rollback
        }
    }));
    listener.answering.store(false, Ordering::SeqCst);
    let answering = listener.answering.clone();
    let runtime = test_runtime();
    let producer = runtime.block_on(async {
        let producer = producer(&cluster.namesrv_addr(), &unique_name("txn-pg"), listener);
        for i in 0..2 {
            send(&producer, &topic, &format!("commit-{i}")).await;
        }
        for i in 0..10 {
            send(&producer, &topic, &format!("unknown-{i}")).await;
        }
        producer
    });
    settle(&cluster, "the two commits stored", || {
        topic_total(&addr, &topic) == 2
    });
    cluster.brokers[0].kill9().unwrap();
    cluster.brokers[0].restart().unwrap();
    answering.store(true, Ordering::SeqCst);
    settle(&cluster, "12 outcomes after the restart", || {
        max_offset(&addr, OP_TOPIC, 0) >= 12
    });
    let mut want = bodies("commit", 0..2);
    want.extend(
        [
            "unknown-0",
            "unknown-2",
            "unknown-4",
            "unknown-6",
            "unknown-8",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(
        topic_bodies(&addr, &topic),
        want,
        "nothing lost, nothing doubled"
    );
    assert_eq!(max_offset(&addr, MAX_TIME_TOPIC, 0), 0);
    runtime.block_on(producer.producer().shutdown());
}

#[test]
fn a_producer_that_never_answers_gets_its_half_rolled_back_after_the_maximum_checks() {
    let topic = unique_name("TxnNoAnswer");
    let cluster = cluster(&topic, 2);
    let addr = cluster.brokers[0].addr();
    let listener = Arc::new(Listener::new(|_| LocalTransactionState::Unknown));
    let checks = listener.checks.clone();
    test_runtime().block_on(async {
        let producer = producer(&cluster.namesrv_addr(), &unique_name("txn-pg"), listener);
        send(&producer, &topic, "unknown-forever").await;
        settle(
            &cluster,
            "the half moved to TRANS_CHECK_MAX_TIME_TOPIC",
            || max_offset(&addr, MAX_TIME_TOPIC, 0) == 1,
        );
        producer.producer().shutdown().await;
    });
    assert_eq!(topic_total(&addr, &topic), 0, "rolled back");
    assert_eq!(max_offset(&addr, OP_TOPIC, 0), 1);
    let asked = checks.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&asked),
        "checked at most twice, got {asked}"
    );
}

#[test]
fn ringmq_produce_sends_in_a_transaction() {
    let topic = unique_name("TxnCli");
    let cluster = cluster(&topic, 15);
    let addr = cluster.brokers[0].addr();
    let bin = ringmq_tests::binary::ringmq_bin().unwrap();
    for (mode, body) in [("commit", "cli-commit"), ("rollback", "cli-rollback")] {
        let out = std::process::Command::new(&bin)
            .args([
                "produce",
                "--namesrv",
                &cluster.namesrv_addr(),
                "--topic",
                &topic,
            ])
            .args(["--group", "txn-cli-pg", "--transaction", mode, body])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("status=SendOk"));
    }
    settle(&cluster, "both outcomes written", || {
        max_offset(&addr, OP_TOPIC, 0) >= 2
    });
    assert_eq!(topic_bodies(&addr, &topic), ["cli-commit"]);
}
