//! The push consumer against a fake nameserver and brokers on loopback:
//! delivery, tag filtering, send-back, rebalance, broker→client calls,
//! broadcasting offsets.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::FakeCluster;
use ringmq_client::Message;
use ringmq_client::consumer::push::{PushConsumer, PushConsumerBuilder};
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt, MessageModel};
use ringmq_client::producer::Producer;
use ringmq_net::body::{ConsumerRunningInfo, decode_json};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::ConsumerSendMsgBackRequestHeader;
use tokio::sync::mpsc;

/// Waits (bounded: 10 s) until `cond` holds.
async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 10 s");
}

async fn produce(cluster: &FakeCluster, topic: &str, msgs: Vec<Message>) {
    let p = Producer::builder("pg")
        .namesrv(&cluster.namesrv_addr)
        .build()
        .unwrap();
    for m in msgs {
        p.send(m.clone()).await.unwrap();
    }
    let _ = topic;
    p.shutdown().await;
}

fn consumer(cluster: &FakeCluster, group: &str, topic: &str, expr: &str) -> PushConsumerBuilder {
    PushConsumer::builder(group)
        .namesrv(&cluster.namesrv_addr)
        .subscribe(topic, expr)
        .consume_from(ConsumeFrom::FirstOffset)
        .intervals(Duration::from_secs(1), Duration::from_millis(100))
}

fn collecting(
    builder: PushConsumerBuilder,
) -> (PushConsumerBuilder, mpsc::UnboundedReceiver<MessageExt>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let builder = builder.listener(move |msgs| {
        let tx = tx.clone();
        async move {
            for m in msgs {
                let _ = tx.send(m);
            }
            ConsumeResult::Success
        }
    });
    (builder, rx)
}

async fn receive(rx: &mut mpsc::UnboundedReceiver<MessageExt>, n: usize) -> Vec<MessageExt> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("received {} of {n} messages", got.len()),
        }
    }
    got
}

#[tokio::test]
async fn every_message_is_delivered_once_and_offsets_are_committed() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 2);
    produce(
        &cluster,
        "T",
        (0..40).map(|i| Message::new("T", format!("{i}"))).collect(),
    )
    .await;
    let (builder, mut rx) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c = builder.start().await.unwrap();
    assert_eq!(c.assigned_queues().len(), 4);
    let got = receive(&mut rx, 40).await;
    let bodies: BTreeSet<String> = got
        .iter()
        .map(|m| String::from_utf8(m.body.to_vec()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 40);
    assert!(got.iter().all(|m| m.msg_id.len() == 32 && m.topic == "T"));
    c.shutdown().await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
            || rx.try_recv().is_err()
    );
    // Every queue's committed offset is one past its last message.
    let mut committed = 0;
    for b in 0..2 {
        let st = cluster.broker(b);
        for ((topic, q), msgs) in &st.queues {
            let offset = st
                .offsets
                .get(&("cg".to_string(), topic.clone(), *q))
                .copied();
            assert_eq!(offset, Some(msgs.len() as i64), "{topic}:{q}");
            committed += 1;
        }
    }
    assert_eq!(committed, 4);
}

#[tokio::test]
async fn only_subscribed_tags_reach_the_listener() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let msgs = ["TagA", "TagB", "TagC", "TagA"]
        .iter()
        .map(|t| Message::new("T", *t).with_tags(*t))
        .collect();
    produce(&cluster, "T", msgs).await;
    let (builder, mut rx) = collecting(consumer(&cluster, "cg", "T", "TagA || TagC"));
    let c = builder.start().await.unwrap();
    let got = receive(&mut rx, 3).await;
    let tags: Vec<&str> = got.iter().map(|m| m.tags().unwrap()).collect();
    assert_eq!(tags, vec!["TagA", "TagC", "TagA"]);
    let hb = cluster.broker(0).heartbeats.last().cloned().unwrap();
    let sub = hb.consumer_data_set[0]
        .subscription_data_set
        .iter()
        .find(|s| s.topic == "T")
        .cloned()
        .unwrap();
    assert_eq!(sub.sub_string, "TagA || TagC");
    assert_eq!(sub.tags_set.len(), 2);
    c.shutdown().await;
}

#[tokio::test]
async fn reconsume_later_sends_the_message_back_to_the_broker() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(&cluster, "T", vec![Message::new("T", "fail me")]).await;
    let c = consumer(&cluster, "cg", "T", "*")
        .listener(|_| async { ConsumeResult::ReconsumeLater })
        .start()
        .await
        .unwrap();
    eventually(|| {
        !cluster
            .requests_with(0, request::CONSUMER_SEND_MSG_BACK)
            .is_empty()
    })
    .await;
    let back = cluster.requests_with(0, request::CONSUMER_SEND_MSG_BACK);
    let h: ConsumerSendMsgBackRequestHeader = back[0].decode_header().unwrap();
    assert_eq!(h.group, "cg");
    assert_eq!(h.offset, 0, "the commit-log offset of the record");
    assert_eq!(h.delay_level, 0);
    assert_eq!(h.max_reconsume_times, Some(16));
    assert_eq!(h.origin_topic.as_deref(), Some("T"));
    // The offset moves past the sent-back message.
    let mq = c
        .assigned_queues()
        .into_iter()
        .find(|q| q.topic == "T")
        .unwrap();
    eventually(|| c.committed_offset(&mq) == Some(1)).await;
    c.shutdown().await;
}

#[tokio::test]
async fn two_consumers_of_a_group_split_the_queues_after_a_notification() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 2);
    let (b1, _rx1) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c1 = b1
        .intervals(Duration::from_secs(3600), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let only_t = |qs: Vec<ringmq_client::MessageQueue>| -> Vec<_> {
        qs.into_iter().filter(|q| q.topic == "T").collect()
    };
    assert_eq!(only_t(c1.assigned_queues()).len(), 4);
    let (b2, _rx2) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c2 = b2
        .intervals(Duration::from_secs(3600), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // The broker tells c1 that the group changed; c1 rebalances at once.
    let mut notify = RemotingCommand::request(request::NOTIFY_CONSUMER_IDS_CHANGED);
    notify
        .ext_fields
        .insert("consumerGroup".into(), "cg".into());
    notify.set_oneway();
    cluster.push_to_clients(0, notify).await;
    eventually(|| only_t(c1.assigned_queues()).len() == 2).await;
    let a: BTreeSet<_> = only_t(c1.assigned_queues()).into_iter().collect();
    let b: BTreeSet<_> = only_t(c2.assigned_queues()).into_iter().collect();
    assert!(a.is_disjoint(&b));
    assert_eq!(a.union(&b).count(), 4);
    c1.shutdown().await;
    c2.shutdown().await;
}

#[tokio::test]
async fn the_consumer_answers_running_info_requests() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let (builder, _rx) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c = builder.start().await.unwrap();
    let mut ask = RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO).with_opaque(77);
    ask.ext_fields.insert("consumerGroup".into(), "cg".into());
    ask.ext_fields
        .insert("clientId".into(), c.client_id().into());
    cluster.push_to_clients(0, ask).await;
    eventually(|| !cluster.broker(0).responses.is_empty()).await;
    let reply = cluster.broker(0).responses[0].clone();
    assert_eq!(reply.opaque, 77);
    assert_eq!(reply.code, 0);
    let info: ConsumerRunningInfo = decode_json(&reply.body).unwrap();
    assert_eq!(
        info.properties.get("consumerGroup").map(String::as_str),
        Some("cg")
    );
    assert!(info.mq_table.keys().any(|q| q.topic == "T"));
    assert!(info.subscription_set.iter().any(|s| s.topic == "T"));
    c.shutdown().await;
}

#[tokio::test]
async fn consume_from_last_offset_skips_earlier_messages() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(&cluster, "T", vec![Message::new("T", "old")]).await;
    let (builder, mut rx) =
        collecting(consumer(&cluster, "cg", "T", "*").consume_from(ConsumeFrom::LastOffset));
    let c = builder.start().await.unwrap();
    produce(&cluster, "T", vec![Message::new("T", "new")]).await;
    let got = receive(&mut rx, 1).await;
    assert_eq!(&got[0].body[..], b"new");
    c.shutdown().await;
}

#[tokio::test]
async fn broadcasting_delivers_to_everyone_and_resumes_from_the_local_offset() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 2);
    let dir = std::env::temp_dir().join(format!(
        "ringmq-bcast-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    produce(
        &cluster,
        "T",
        (0..6).map(|i| Message::new("T", format!("{i}"))).collect(),
    )
    .await;
    let start = |name: &'static str| {
        let (b, rx) = collecting(
            consumer(&cluster, "bg", "T", "*")
                .message_model(MessageModel::Broadcasting)
                .instance_name(name)
                .offset_dir(dir.clone()),
        );
        (b, rx)
    };
    let (b1, mut rx1) = start("one");
    let (b2, mut rx2) = start("two");
    let c1 = b1.start().await.unwrap();
    let c2 = b2.start().await.unwrap();
    assert_eq!(receive(&mut rx1, 6).await.len(), 6);
    assert_eq!(receive(&mut rx2, 6).await.len(), 6);
    c1.shutdown().await;
    c2.shutdown().await;
    produce(&cluster, "T", vec![Message::new("T", "after restart")]).await;
    let (b1, mut rx1) = start("one");
    let c1 = b1.start().await.unwrap();
    let got = receive(&mut rx1, 1).await;
    assert_eq!(&got[0].body[..], b"after restart");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx1.recv())
            .await
            .is_err()
    );
    c1.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

fn rand_suffix() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_nanos() as u64
}

#[allow(dead_code)]
fn _assert_send(c: PushConsumer) -> Arc<PushConsumer> {
    Arc::new(c)
}

#[tokio::test]
async fn when_a_consumer_leaves_the_other_takes_its_queues_from_the_committed_offsets() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 4);
    let (b1, mut rx1) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c1 = b1
        .intervals(Duration::from_secs(3600), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let (b2, mut rx2) = collecting(consumer(&cluster, "cg", "T", "*"));
    let c2 = b2
        .intervals(Duration::from_secs(3600), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    c1.rebalance().await;
    let only_t = |qs: Vec<ringmq_client::MessageQueue>| -> Vec<_> {
        qs.into_iter().filter(|q| q.topic == "T").collect()
    };
    assert_eq!(only_t(c1.assigned_queues()).len(), 2);
    assert_eq!(only_t(c2.assigned_queues()).len(), 2);
    produce(
        &cluster,
        "T",
        (0..20).map(|i| Message::new("T", format!("{i}"))).collect(),
    )
    .await;
    let mut seen = BTreeSet::new();
    let mut first = Vec::new();
    for _ in 0..2_000 {
        while let Ok(m) = rx1.try_recv() {
            first.push(m);
        }
        while let Ok(m) = rx2.try_recv() {
            first.push(m);
        }
        if first.len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(first.len(), 20);
    seen.extend(first.iter().map(|m| m.msg_id.clone()));
    // c2 leaves (committing and unregistering); c1 is told and takes over.
    c2.shutdown().await;
    let mut notify = RemotingCommand::request(request::NOTIFY_CONSUMER_IDS_CHANGED);
    notify
        .ext_fields
        .insert("consumerGroup".into(), "cg".into());
    notify.set_oneway();
    cluster.push_to_clients(0, notify).await;
    eventually(|| only_t(c1.assigned_queues()).len() == 4).await;
    produce(
        &cluster,
        "T",
        (20..28)
            .map(|i| Message::new("T", format!("{i}")))
            .collect(),
    )
    .await;
    let later = receive(&mut rx1, 8).await;
    for m in &later {
        assert!(
            seen.insert(m.msg_id.clone()),
            "message {} delivered twice",
            m.msg_id
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx1.recv())
            .await
            .is_err()
    );
    c1.shutdown().await;
}

#[tokio::test]
async fn a_failed_send_back_becomes_a_retry_copy_sent_by_the_consumer() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(
        &cluster,
        "T",
        vec![Message::new("T", "fail me").with_tags("A")],
    )
    .await;
    cluster.broker(0).fail_send_back_with = Some(ringmq_net::code::response::SYSTEM_ERROR);
    let c = consumer(&cluster, "cg", "T", "*")
        .listener(|_| async { ConsumeResult::ReconsumeLater })
        .start()
        .await
        .unwrap();
    eventually(|| !cluster.stored("%RETRY%cg").is_empty()).await;
    let original = cluster.stored("T").remove(0).1;
    let copy = cluster.stored("%RETRY%cg").remove(0).1;
    let props = ringmq_net::properties::Properties::parse(&copy.properties);
    let uniq = ringmq_net::properties::Properties::parse(&original.properties)
        .get("UNIQ_KEY")
        .map(str::to_string);
    assert_eq!(copy.body.as_ref(), b"fail me");
    assert_eq!(props.get("RETRY_TOPIC"), Some("T"));
    assert_eq!(props.get("TAGS"), Some("A"));
    assert_eq!(props.get("ORIGIN_MESSAGE_ID"), uniq.as_deref());
    assert_eq!(
        props.get("UNIQ_KEY"),
        uniq.as_deref(),
        "the id users see is kept"
    );
    assert_eq!(props.get("DELAY"), Some("3"), "3 + reconsume times 0");
    assert_eq!(
        copy.reconsume_times, 1,
        "the count travels in the send header"
    );
    assert_eq!(props.get("RECONSUME_TIME"), None);
    assert_eq!(props.get("MAX_RECONSUME_TIMES"), None);
    // Nothing is lost, so the offset moves past the original.
    let mq = ringmq_client::MessageQueue::new("T", "broker-a", 0);
    eventually(|| c.committed_offset(&mq) == Some(1)).await;
    c.shutdown().await;
}

#[tokio::test]
async fn a_message_neither_the_broker_nor_the_producer_takes_back_is_consumed_again_locally() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(&cluster, "T", vec![Message::new("T", "stubborn")]).await;
    {
        let mut b = cluster.broker(0);
        b.fail_send_back_with = Some(ringmq_net::code::response::SYSTEM_ERROR);
        b.fail_sends_with = Some(ringmq_net::code::response::SYSTEM_ERROR);
    }
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = calls.clone();
    let c = consumer(&cluster, "cg", "T", "*")
        .listener(move |_| {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n == 0 {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .start()
        .await
        .unwrap();
    let mq = ringmq_client::MessageQueue::new("T", "broker-a", 0);
    eventually(|| calls.load(std::sync::atomic::Ordering::SeqCst) >= 2).await;
    eventually(|| c.committed_offset(&mq) == Some(1)).await;
    assert!(cluster.stored("%RETRY%cg").is_empty());
    assert!(
        !cluster
            .requests_with(0, request::CONSUMER_SEND_MSG_BACK)
            .is_empty()
    );
    c.shutdown().await;
}
