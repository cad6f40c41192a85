//! The lite pull consumer against a fake nameserver and broker: assign,
//! subscribe, poll, commit, seek.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::FakeCluster;
use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::MessageExt;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::producer::Producer;
use ringmq_client::{Message, MessageQueue};
use ringmq_net::code::request;
use ringmq_net::header::PullMessageRequestHeader;

async fn produce(cluster: &FakeCluster, n: usize) {
    let p = Producer::builder("pg")
        .namesrv(&cluster.namesrv_addr)
        .build()
        .unwrap();
    for i in 0..n {
        p.send(Message::new("T", format!("{i}")).with_tags(if i % 2 == 0 {
            "even"
        } else {
            "odd"
        }))
        .await
        .unwrap();
    }
    p.shutdown().await;
}

async fn poll_n(c: &PullConsumer, n: usize) -> Vec<MessageExt> {
    let mut got = Vec::new();
    for _ in 0..100 {
        if got.len() >= n {
            break;
        }
        got.extend(c.poll(Duration::from_millis(100)).await.unwrap());
    }
    assert_eq!(got.len(), n, "polled {} of {n}", got.len());
    got
}

fn consumer(cluster: &FakeCluster) -> PullConsumer {
    PullConsumer::builder("lite-cg")
        .namesrv(&cluster.namesrv_addr)
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false, Duration::from_secs(5))
        .start()
        .unwrap()
}

#[tokio::test]
async fn assigned_queues_are_polled_in_order_and_commit_writes_positions() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(&cluster, 10).await;
    let c = consumer(&cluster);
    let mq = MessageQueue::new("T", "broker-a", 0);
    c.assign(vec![mq.clone()]).await.unwrap();
    let got = poll_n(&c, 10).await;
    let offsets: Vec<i64> = got.iter().map(|m| m.queue_offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    assert_eq!(c.position(&mq), Some(10));
    c.commit().await;
    for _ in 0..100 {
        if cluster
            .broker(0)
            .offsets
            .get(&("lite-cg".into(), "T".into(), 0))
            == Some(&10)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cluster
            .broker(0)
            .offsets
            .get(&("lite-cg".into(), "T".into(), 0)),
        Some(&10)
    );
    // Lite pulls carry the lite flag and the subscription in the header.
    let pull = cluster.requests_with(0, request::PULL_MESSAGE)[0].clone();
    let h: PullMessageRequestHeader = pull.decode_header().unwrap();
    assert_eq!(h.sys_flag & 0x10, 0x10);
    assert_eq!(h.subscription.as_deref(), Some("*"));
    c.shutdown().await;
}

#[tokio::test]
async fn seek_replays_from_the_given_offset() {
    let cluster = FakeCluster::start(1).await;
    cluster.create_topic("T", 1);
    produce(&cluster, 6).await;
    let c = consumer(&cluster);
    let mq = MessageQueue::new("T", "broker-a", 0);
    c.assign(vec![mq.clone()]).await.unwrap();
    poll_n(&c, 6).await;
    c.seek(&mq, 3).await.unwrap();
    let again = poll_n(&c, 3).await;
    assert_eq!(
        again.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert!(c.seek(&MessageQueue::new("T", "nope", 0), 0).await.is_err());
    c.shutdown().await;
}

#[tokio::test]
async fn subscribe_allocates_queues_and_filters_tags() {
    let cluster = FakeCluster::start(2).await;
    cluster.create_topic("T", 2);
    produce(&cluster, 20).await;
    let c = consumer(&cluster);
    c.subscribe("T", "even").await.unwrap();
    assert_eq!(c.assignment().len(), 4);
    let got = poll_n(&c, 10).await;
    assert!(got.iter().all(|m| m.tags() == Some("even")));
    c.shutdown().await;
}
