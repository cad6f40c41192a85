//! The in-process gateway runs remoting requests like a TCP connection:
//! a send through it is pulled back intact, its pull answers carry the
//! records (transfer bodies flattened), a heartbeat registers the virtual
//! connection in the client registry, and what the broker pushes to that
//! connection comes back through `PushedCommands`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use common::*;
use futures::executor::block_on;
use ringmq_broker::gateway::Pushed;
use ringmq_net::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;

fn heartbeat(client_id: &str, group: &str, topic: &str) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: client_id.to_owned(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.to_owned(),
            subscription_data_set: vec![SubscriptionData::tag(topic, "*", 1)],
            ..ConsumerData::default()
        }],
        producer_data_set: Vec::new(),
    };
    RemotingCommand::request(request::HEART_BEAT).with_body(serde_json::to_vec(&data).unwrap())
}

#[test]
fn a_send_through_the_gateway_is_pulled_back_through_it_intact() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let gateway = broker.gateway();
    let (client, _pushed) = gateway.connect("c1", "127.0.0.1:1".parse().unwrap());
    for queue in 0..2 {
        let send = send_v2("Gw", queue, b"via-gateway", &props("TagA", "k1 k2", "v"));
        let reply = block_on(gateway.call(&client, send)).unwrap().unwrap();
        assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    }
    for queue in 0..2 {
        let reply = block_on(gateway.call(&client, pull("g", "Gw", queue, 0, 32, None, "*")))
            .unwrap()
            .unwrap();
        assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
        let got = records(&reply.body);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, Bytes::from_static(b"via-gateway"));
        assert_eq!(got[0].queue_id, queue);
        assert_eq!(property(&got[0], "KEYS").as_deref(), Some("k1 k2"));
        assert_eq!(property(&got[0], "TAGS").as_deref(), Some("TagA"));
    }
}

#[test]
fn heartbeats_register_virtual_clients_and_pushed_notices_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let gateway = broker.gateway();
    let peer = "127.0.0.1:2".parse().unwrap();
    let (first, mut first_pushed) = gateway.connect("first", peer);
    let (second, _second_pushed) = gateway.connect("second", peer);
    let reply = block_on(gateway.call(&first, heartbeat("first", "GwGroup", "GwT")))
        .unwrap()
        .unwrap();
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    let list = RemotingCommand::request(request::GET_CONSUMER_LIST_BY_GROUP).with_header(
        &ringmq_net::header::GetConsumerListByGroupRequestHeader {
            consumer_group: "GwGroup".into(),
            bname: None,
        },
    );
    let reply = block_on(gateway.call(&second, list)).unwrap().unwrap();
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert!(String::from_utf8_lossy(&reply.body).contains("first"));
    // A second member joining makes the broker notify the first one.
    block_on(gateway.call(&second, heartbeat("second", "GwGroup", "GwT")))
        .unwrap()
        .unwrap();
    match block_on(first_pushed.next()) {
        Some(Pushed::Command(notice)) => {
            assert_eq!(notice.code, request::NOTIFY_CONSUMER_IDS_CHANGED);
        }
        Some(Pushed::Closed) => panic!("the connection was closed"),
        None => panic!("nothing was pushed"),
    }
    gateway.disconnect(&first);
    let list = RemotingCommand::request(request::GET_CONSUMER_LIST_BY_GROUP).with_header(
        &ringmq_net::header::GetConsumerListByGroupRequestHeader {
            consumer_group: "GwGroup".into(),
            bname: None,
        },
    );
    let reply = block_on(gateway.call(&second, list)).unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&reply.body).contains("first"));
}
