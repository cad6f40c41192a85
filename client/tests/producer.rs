//! The producer against a fake nameserver and brokers on loopback: what it
//! puts on the wire, where messages land, retries, batches, validation.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::FakeCluster;
use ringmq_client::producer::{Producer, SelectByHash, SendError};
use ringmq_client::{Message, ValidationError};
use ringmq_net::code::{request, response};
use ringmq_net::compress::zlib_decompress;
use ringmq_net::header::SendMessageRequestHeaderV2;
use ringmq_net::properties::Properties;

fn producer(cluster: &FakeCluster) -> Producer {
    Producer::builder("test-pg")
        .namesrv(&cluster.namesrv_addr)
        .send_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_round_robin_over_every_writable_queue_of_every_broker() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("Orders", 2);
    let p = producer(&cluster);
    for i in 0..8 {
        let msg = Message::new("Orders", format!("m{i}"))
            .with_tags("TagA")
            .with_keys(["k1", "k2"]);
        let r = p.send(msg).await.unwrap();
        assert_eq!(r.msg_id.len(), 32);
    }
    let mut per_queue: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for (broker, m) in cluster.stored("Orders") {
        *per_queue.entry((broker, m.queue_id)).or_default() += 1;
    }
    assert_eq!(per_queue.len(), 4, "{per_queue:?}");
    assert!(per_queue.values().all(|n| *n == 2), "{per_queue:?}");

    let sent = cluster.requests_with(0, request::SEND_MESSAGE_V2);
    let h: SendMessageRequestHeaderV2 = sent[0].decode_header().unwrap();
    assert_eq!(h.producer_group, "test-pg");
    assert_eq!(h.default_topic, "TBW102");
    assert_eq!(h.default_topic_queue_nums, 4);
    let props = Properties::parse(h.properties.as_deref().unwrap());
    assert_eq!(props.get("TAGS"), Some("TagA"));
    assert_eq!(props.get("KEYS"), Some("k1 k2"));
    assert_eq!(props.get("UNIQ_KEY").map(str::len), Some(32));
    p.shutdown().await;
}

#[tokio::test]
async fn an_unknown_topic_borrows_the_auto_create_route() {
    let cluster = FakeCluster::start(1).await;
    let p = producer(&cluster);
    p.send(Message::new("Fresh", "x")).await.unwrap();
    let asked: Vec<String> = cluster
        .namesrv_requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.ext_fields.get("topic").cloned().unwrap_or_default())
        .collect();
    assert_eq!(asked, vec!["Fresh", "TBW102"]);
    let stored = cluster.stored("Fresh");
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].1.queue_id < 4,
        "at most defaultTopicQueueNums queues"
    );
}

#[tokio::test]
async fn a_failing_broker_is_retried_on_another_broker() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 2);
    cluster.broker(0).fail_sends_with = Some(response::SYSTEM_ERROR);
    let p = Producer::builder("pg")
        .namesrv(&cluster.namesrv_addr)
        .fault_avoidance(false)
        .build()
        .unwrap();
    for _ in 0..6 {
        let r = p.send(Message::new("T", "x")).await.unwrap();
        assert_eq!(r.queue.broker_name, "broker-b");
    }
    assert_eq!(cluster.stored("T").len(), 6);
}

#[tokio::test]
async fn fault_avoidance_stops_trying_a_failed_broker() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 2);
    cluster.broker(0).fail_sends_with = Some(response::SYSTEM_ERROR);
    let p = producer(&cluster);
    for _ in 0..6 {
        p.send(Message::new("T", "x")).await.unwrap();
    }
    // At most one attempt reached broker-a before it was isolated.
    assert!(cluster.requests_with(0, request::SEND_MESSAGE_V2).len() <= 1);
}

#[tokio::test]
async fn a_non_retryable_refusal_is_reported_with_its_code() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    cluster.broker(0).fail_sends_with = Some(response::MESSAGE_ILLEGAL);
    let p = producer(&cluster);
    let err = p.send(Message::new("T", "x")).await.unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Broker {
                code: response::MESSAGE_ILLEGAL,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(cluster.requests_with(0, request::SEND_MESSAGE_V2).len(), 1);
}

#[tokio::test]
async fn invalid_messages_are_refused_before_anything_is_sent() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let p = producer(&cluster);
    let err = p.send(Message::new("T", "")).await.unwrap_err();
    assert!(matches!(
        err,
        SendError::Invalid(ValidationError::BodyEmpty)
    ));
    let err = p.send(Message::new("bad topic", "x")).await.unwrap_err();
    assert!(matches!(
        err,
        SendError::Invalid(ValidationError::TopicIllegal(_))
    ));
    assert!(cluster.namesrv_requests.lock().unwrap().is_empty());
    assert!(
        Producer::builder("DEFAULT_PRODUCER")
            .namesrv("127.0.0.1:1")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn bodies_over_four_kib_are_zlib_compressed() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let p = producer(&cluster);
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
    p.send(Message::new("T", body.clone())).await.unwrap();
    p.send(Message::new("T", vec![1u8; 100])).await.unwrap();
    let stored = cluster.stored("T");
    let big = &stored[0].1;
    assert_eq!(big.sys_flag & 0x1, 0x1);
    assert_eq!(big.sys_flag & 0x700, 0x300);
    assert!(big.body.len() < body.len());
    assert_eq!(zlib_decompress(&big.body, 1 << 20).unwrap(), body);
    assert_eq!(stored[1].1.sys_flag, 0);
}

#[tokio::test]
async fn large_batches_are_split_by_size_and_every_message_has_its_own_id() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let p = producer(&cluster);
    let msgs: Vec<Message> = (0..2_500)
        .map(|i| Message::new("T", vec![b'x'; 1024]).with_keys([format!("k{i}")]))
        .collect();
    let results = p.send_batch(msgs).await.unwrap();
    assert!(
        results.len() >= 3,
        "2.5 MiB must need at least three 1 MiB requests"
    );
    let batches = cluster.requests_with(0, request::SEND_BATCH_MESSAGE);
    assert_eq!(batches.len(), results.len());
    assert!(batches.iter().all(|b| b.body.len() <= 1024 * 1024));
    let stored = cluster.stored("T");
    assert_eq!(stored.len(), 2_500);
    let mut ids: Vec<String> = stored
        .iter()
        .map(|(_, m)| {
            Properties::parse(&m.properties)
                .get("UNIQ_KEY")
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2_500);
}

#[tokio::test]
async fn batches_with_delayed_messages_are_refused() {
    let cluster = FakeCluster::start(1).await;
    let p = producer(&cluster);
    let err = p
        .send_batch(vec![Message::new("T", "a").with_delay_level(2)])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SendError::Invalid(ValidationError::BatchIllegal(_))
    ));
}

#[tokio::test]
async fn a_selector_keeps_each_key_on_one_queue_in_order() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 4);
    let p = producer(&cluster);
    for i in 0..20 {
        let key = format!("order-{}", i % 3);
        p.send_with_selector(Message::new("T", format!("{key}:{i}")), &SelectByHash, &key)
            .await
            .unwrap();
    }
    let mut queue_of: BTreeMap<String, (String, i32)> = BTreeMap::new();
    let mut seq: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut stored = cluster.stored("T");
    stored.sort_by_key(|(b, m)| (b.clone(), m.queue_id, m.offset));
    for (broker, m) in stored {
        let text = String::from_utf8(m.body.to_vec()).unwrap();
        let (key, i) = text.split_once(':').unwrap();
        let q = queue_of
            .entry(key.to_string())
            .or_insert((broker.clone(), m.queue_id));
        assert_eq!(*q, (broker, m.queue_id), "key {key} moved queue");
        seq.entry(key.to_string())
            .or_default()
            .push(i.parse().unwrap());
    }
    for (key, s) in seq {
        let mut sorted = s.clone();
        sorted.sort();
        assert_eq!(s, sorted, "key {key} out of order");
    }
}

#[tokio::test]
async fn async_and_oneway_sends_arrive() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 2);
    let p = producer(&cluster);
    let mut tasks = Vec::new();
    for i in 0..32 {
        tasks.push(tokio::spawn(
            p.send_async(Message::new("T", format!("{i}"))).unwrap(),
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    p.send_oneway(Message::new("T", "oneway")).await.unwrap();
    for _ in 0..200 {
        if cluster.stored("T").len() == 33 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cluster.stored("T").len(), 33);
    let oneway = cluster.requests_with(0, request::SEND_MESSAGE_V2);
    assert!(oneway.iter().any(|r| r.is_oneway()));
}

#[tokio::test]
async fn heartbeats_name_the_group_and_shutdown_unregisters() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    let p = producer(&cluster);
    p.send(Message::new("T", "x")).await.unwrap();
    for _ in 0..200 {
        if !cluster.broker(0).heartbeats.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let hb = cluster.broker(0).heartbeats[0].clone();
    let groups: Vec<String> = hb
        .producer_data_set
        .iter()
        .map(|p| p.group_name.clone())
        .collect();
    assert!(groups.contains(&"test-pg".to_string()));
    assert!(groups.contains(&"CLIENT_INNER_PRODUCER".to_string()));
    assert_eq!(hb.client_id, p.client_id());
    p.shutdown().await;
    assert_eq!(
        cluster.requests_with(0, request::UNREGISTER_CLIENT).len(),
        1
    );
    assert!(matches!(
        p.send(Message::new("T", "x")).await,
        Err(SendError::Shutdown)
    ));
}
