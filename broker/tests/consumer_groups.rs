//! HEART_BEAT registers consumers; GET_CONSUMER_LIST_BY_GROUP lists them;
//! when a new consumer joins, the others get NOTIFY_CONSUMER_IDS_CHANGED on
//! their own connection; UNREGISTER_CLIENT and closing a connection remove
//! a consumer.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use ringmq_net::body::heartbeat::{ConsumerData, HeartbeatData, ProducerData, SubscriptionData};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};

fn heartbeat(client_id: &str, group: &str) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            subscription_data_set: vec![
                SubscriptionData::tag("Orders", "TagA || TagB", 1),
                SubscriptionData::tag(format!("%RETRY%{group}"), "*", 1),
            ],
            ..ConsumerData::default()
        }],
        producer_data_set: vec![ProducerData {
            group_name: "CLIENT_INNER_PRODUCER".into(),
        }],
    };
    RemotingCommand::request(request::HEART_BEAT)
        .with_body(ringmq_net::body::encode_json(&data).unwrap())
}

fn consumer_list(client: &mut Client, group: &str) -> RemotingCommand {
    client.call(
        RemotingCommand::request(request::GET_CONSUMER_LIST_BY_GROUP).with_header(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: group.into(),
                bname: None,
            },
        ),
    )
}

#[test]
fn joining_consumer_is_listed_and_announced_to_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut first = Client::connect(broker.local_addr());
    let reply = first.call(heartbeat("10.0.0.1@a", "cg"));
    assert_eq!(reply.code, response::SUCCESS);
    assert_eq!(ext(&reply, "IS_SUB_CHANGE"), "true");
    assert_eq!(ext(&reply, "IS_SUPPORT_HEART_BEAT_V2"), "true");
    // its own join is announced to itself
    let notice = first.next_inbound(REPLY_WAIT).unwrap();
    assert_eq!(notice.code, request::NOTIFY_CONSUMER_IDS_CHANGED);
    let reply = consumer_list(&mut first, "cg");
    assert_eq!(&reply.body[..], br#"{"consumerIdList":["10.0.0.1@a"]}"#);

    let mut second = Client::connect(broker.local_addr());
    assert_eq!(
        second.call(heartbeat("10.0.0.2@b", "cg")).code,
        response::SUCCESS
    );
    let notice = first.next_inbound(REPLY_WAIT).unwrap();
    assert_eq!(notice.code, request::NOTIFY_CONSUMER_IDS_CHANGED);
    assert!(notice.is_oneway());
    assert_eq!(ext(&notice, "consumerGroup"), "cg");
    let reply = consumer_list(&mut first, "cg");
    assert_eq!(
        &reply.body[..],
        br#"{"consumerIdList":["10.0.0.1@a","10.0.0.2@b"]}"#
    );
    // a repeated heartbeat changes nothing and announces nothing
    assert_eq!(
        second.call(heartbeat("10.0.0.2@b", "cg")).code,
        response::SUCCESS
    );
    second.inbound.clear();
    assert!(first.next_inbound(Duration::from_millis(300)).is_none());

    // the retry topic was created for the group
    let reply = second.call(send_v2("%RETRY%cg", 0, b"r", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);

    // unregistering the second consumer tells the first one again
    let reply = second.call(
        RemotingCommand::request(request::UNREGISTER_CLIENT).with_header(
            &UnregisterClientRequestHeader {
                client_id: "10.0.0.2@b".into(),
                producer_group: None,
                consumer_group: Some("cg".into()),
            },
        ),
    );
    assert_eq!(reply.code, response::SUCCESS);
    assert_eq!(
        first.next_inbound(REPLY_WAIT).unwrap().code,
        request::NOTIFY_CONSUMER_IDS_CHANGED
    );
    let reply = consumer_list(&mut first, "cg");
    assert_eq!(&reply.body[..], br#"{"consumerIdList":["10.0.0.1@a"]}"#);

    // closing the last consumer's connection empties the group
    drop(first);
    let mut observer = Client::connect(broker.local_addr());
    let mut empty = false;
    for _ in 0..200 {
        let reply = consumer_list(&mut observer, "cg");
        if reply.code == response::SYSTEM_ERROR {
            empty = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(empty, "the closed consumer is still listed");
    broker.shutdown();
}

#[test]
fn silent_client_channel_expires_and_its_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), 1);
    config.client_idle_expiry_ms = 300;
    let broker = start_with(config);
    let mut silent = Client::connect(broker.local_addr());
    assert_eq!(
        silent.call(heartbeat("10.0.0.9@s", "quiet")).code,
        response::SUCCESS
    );
    // event 1: the broker closes the silent client's connection
    assert!(silent.is_closed_by_peer(REPLY_WAIT));
    // event 2: the group no longer lists it
    let mut observer = Client::connect(broker.local_addr());
    assert_eq!(
        consumer_list(&mut observer, "quiet").code,
        response::SYSTEM_ERROR
    );
    broker.shutdown();
}
