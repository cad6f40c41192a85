//! Messages sent with SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE
//! come back intact from PULL_MESSAGE: bodies, tags, keys, properties and
//! queue offsets, on queues owned by both shards of a two-shard broker.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use common::*;
use ringmq_broker::shard::owner_of;
use ringmq_net::batch::{BatchEntry, encode_batch};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::SendMessageRequestHeaderV2;

#[test]
fn single_sends_come_back_intact_from_both_shards() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let topic = "SendPull";
    // queues 0 and 1 are owned by different shards
    assert_ne!(owner_of(topic, 0, 2), owner_of(topic, 1, 2));
    for queue in 0..2 {
        for i in 0..5 {
            let body = format!("q{queue}-m{i}");
            let request = if i % 2 == 0 {
                send_v1(
                    topic,
                    queue,
                    body.as_bytes(),
                    &props("TagA", &format!("k{i} shared"), "v"),
                )
            } else {
                send_v2(
                    topic,
                    queue,
                    body.as_bytes(),
                    &props("TagA", &format!("k{i} shared"), "v"),
                )
            };
            let reply = client.call(request);
            assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
            assert_eq!(ext(&reply, "queueOffset"), i.to_string());
            assert_eq!(ext(&reply, "queueId"), queue.to_string());
            assert_eq!(ext(&reply, "msgId").len(), 32);
        }
    }
    for queue in 0..2 {
        let reply = client.call(pull("g", topic, queue, 0, 32, None, "*"));
        assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
        assert_eq!(reply.remark.as_deref(), Some("FOUND"));
        assert_eq!(ext(&reply, "nextBeginOffset"), "5");
        assert_eq!(ext(&reply, "maxOffset"), "5");
        let got = records(&reply.body);
        assert_eq!(got.len(), 5);
        for (i, record) in got.iter().enumerate() {
            assert_eq!(record.body, Bytes::from(format!("q{queue}-m{i}")));
            assert_eq!(record.topic, topic);
            assert_eq!(record.queue_id, queue);
            assert_eq!(record.queue_offset, i as i64);
            assert_eq!(record.flag, 7);
            assert_eq!(property(record, "TAGS").as_deref(), Some("TagA"));
            assert_eq!(property(record, "KEYS"), Some(format!("k{i} shared")));
            assert_eq!(property(record, "user").as_deref(), Some("v"));
            assert_eq!(
                property(record, "CLUSTER").as_deref(),
                Some("DefaultCluster")
            );
            assert_eq!(record.store_host, broker.store_host());
            assert_eq!(record.born_host.ip().to_string(), "127.0.0.1");
        }
    }
    broker.shutdown();
}

#[test]
fn batch_send_stores_consecutive_offsets_with_batch_properties_appended() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let entries: Vec<BatchEntry> = (0..20)
        .map(|i| BatchEntry {
            flag: i,
            body: Bytes::from(format!("batch-{i}")),
            properties: format!("UNIQ_KEY\u{1}U{i}\u{2}TAGS\u{1}T{}", i % 2),
        })
        .collect();
    let mut header: SendMessageRequestHeaderV2 = send_header("Batch1", 1, "WAIT\u{1}true").into();
    header.batch = true;
    let reply = client.call(
        RemotingCommand::request(request::SEND_BATCH_MESSAGE)
            .with_header(&header)
            .with_body({
                let mut body = Vec::new();
                encode_batch(&entries, &mut body).unwrap();
                body
            }),
    );
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(ext(&reply, "queueOffset"), "0");
    assert_eq!(ext(&reply, "msgId").split(',').count(), 20);
    let reply = client.call(pull("g", "Batch1", 1, 0, 32, None, "*"));
    let got = records(&reply.body);
    assert_eq!(got.len(), 20);
    for (i, record) in got.iter().enumerate() {
        assert_eq!(record.queue_offset, i as i64);
        assert_eq!(record.flag, i as i32);
        assert_eq!(record.body, Bytes::from(format!("batch-{i}")));
        assert_eq!(property(record, "UNIQ_KEY"), Some(format!("U{i}")));
        assert_eq!(property(record, "WAIT").as_deref(), Some("true"));
        assert_eq!(
            property(record, "CLUSTER").as_deref(),
            Some("DefaultCluster")
        );
    }
    broker.shutdown();
}

#[test]
fn pull_filters_by_tag_hash_and_reports_end_of_queue() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 1);
    let mut client = Client::connect(broker.local_addr());
    for i in 0..6 {
        let tag = if i % 3 == 0 { "Red" } else { "Blue" };
        let reply = client.call(send_v2(
            "Tags",
            0,
            format!("m{i}").as_bytes(),
            &props(tag, "k", "v"),
        ));
        assert_eq!(reply.code, response::SUCCESS);
    }
    let reply = client.call(pull("g", "Tags", 0, 0, 32, None, "Red"));
    assert_eq!(reply.code, response::SUCCESS);
    let got = records(&reply.body);
    let bodies: Vec<_> = got.iter().map(|r| r.body.clone()).collect();
    assert_eq!(bodies, vec![Bytes::from("m0"), Bytes::from("m3")]);
    assert_eq!(ext(&reply, "nextBeginOffset"), "6");
    let reply = client.call(pull("g", "Tags", 0, 6, 32, None, "Red"));
    assert_eq!(reply.code, response::PULL_NOT_FOUND);
    assert_eq!(reply.remark.as_deref(), Some("OFFSET_OVERFLOW_ONE"));
    let reply = client.call(pull("g", "Tags", 0, 9, 32, None, "*"));
    assert_eq!(reply.code, response::PULL_OFFSET_MOVED);
    assert_eq!(ext(&reply, "nextBeginOffset"), "6");
    let reply = client.call(pull("g", "Tags", 0, 1, 32, None, "Green"));
    assert_eq!(reply.code, response::PULL_RETRY_IMMEDIATELY);
    broker.shutdown();
}
