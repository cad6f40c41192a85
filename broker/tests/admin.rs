//! Operator calls: topics (create, list, delete), subscription groups
//! (create, list, delete) and runtime info.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
};

fn create(topic: &str, queues: i32) -> RemotingCommand {
    create_with(topic, queues, None)
}

fn create_with(topic: &str, queues: i32, attributes: Option<&str>) -> RemotingCommand {
    RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC).with_header(
        &CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: attributes.map(str::to_owned),
        },
    )
}

#[test]
fn topics_and_groups_are_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    assert_eq!(client.call(create("Admin1", 6)).code, response::SUCCESS);
    assert_eq!(
        client.call(create("TBW102", 6)).code,
        response::SYSTEM_ERROR
    );
    assert_eq!(
        client.call(create("Admin1", 0)).code,
        response::SYSTEM_ERROR
    );
    let reply = client.call(send_v2("Admin1", 5, b"x", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);
    let reply = client.call(send_v2("Admin1", 6, b"x", &props("t", "k", "v")));
    assert_eq!(
        reply.code,
        response::SYSTEM_ERROR,
        "queue 6 of a 6-queue topic"
    );
    let all = client.call(RemotingCommand::request(request::GET_ALL_TOPIC_CONFIG));
    let text = String::from_utf8_lossy(&all.body).into_owned();
    assert!(
        text.contains("\"Admin1\"") && text.contains("\"readQueueNums\":6"),
        "{text}"
    );

    let reply = client.call(
        RemotingCommand::request(request::DELETE_TOPIC_IN_BROKER).with_header(
            &DeleteTopicRequestHeader {
                topic: "Admin1".into(),
            },
        ),
    );
    assert_eq!(reply.code, response::SUCCESS);
    let reply = client.call(pull("g", "Admin1", 5, 0, 32, None, "*"));
    assert_eq!(reply.code, response::TOPIC_NOT_EXIST);

    let group = br#"{"groupName":"gx","consumeEnable":false,"retryMaxTimes":3}"#;
    let reply = client.call(
        RemotingCommand::request(request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(&group[..]),
    );
    assert_eq!(reply.code, response::SUCCESS);
    let all = client.call(RemotingCommand::request(
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    ));
    assert!(String::from_utf8_lossy(&all.body).contains("\"gx\""));
    assert_eq!(
        client.call(send_v2("Other", 0, b"x", "")).code,
        response::SUCCESS
    );
    let reply = client.call(pull("gx", "Other", 0, 0, 32, None, "*"));
    assert_eq!(reply.code, response::NO_PERMISSION, "consumeEnable=false");
    let reply = client.call(
        RemotingCommand::request(request::DELETE_SUBSCRIPTIONGROUP).with_header(
            &DeleteSubscriptionGroupRequestHeader {
                group_name: "gx".into(),
                remove_offset: true,
            },
        ),
    );
    assert_eq!(reply.code, response::SUCCESS);
    let reply = client.call(pull("gx", "Other", 0, 0, 32, None, "*"));
    assert_eq!(reply.code, response::SUCCESS, "recreated with defaults");

    let info = client.call(RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO));
    assert_eq!(info.code, response::SUCCESS);
    assert!(String::from_utf8_lossy(&info.body).contains("brokerVersion"));
    broker.shutdown();
}

fn create_typed(topic: &str, attributes: &str) -> RemotingCommand {
    create_with(topic, 4, Some(attributes))
}

fn topic_table(client: &mut Client) -> serde_json::Value {
    let all = client.call(RemotingCommand::request(request::GET_ALL_TOPIC_CONFIG));
    serde_json::from_slice(&all.body).unwrap()
}

#[test]
fn a_topic_keeps_the_message_type_it_is_created_with_across_updates_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let reply = client.call(create_typed("Typed", "+message.type=fifo"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    // An update that says nothing about attributes keeps them.
    assert_eq!(client.call(create("Typed", 6)).code, response::SUCCESS);
    let table = topic_table(&mut client);
    let typed = &table["topicConfigTable"]["Typed"];
    assert_eq!(typed["attributes"]["message.type"], "FIFO", "{typed}");
    assert_eq!(typed["readQueueNums"], 6);
    // A topic created by a 4.x tool has no attributes at all.
    assert_eq!(client.call(create("Plain", 4)).code, response::SUCCESS);
    let table = topic_table(&mut client);
    assert!(
        table["topicConfigTable"]["Plain"]
            .get("attributes")
            .is_none()
    );

    let bad = client.call(create_typed("Bad", "+message.type=SOMETIMES"));
    assert_eq!(bad.code, response::SYSTEM_ERROR);
    assert!(
        bad.remark.as_deref().unwrap_or("").contains("SOMETIMES"),
        "{:?}",
        bad.remark
    );
    let unknown = client.call(create_typed("Bad", "+queue.type=x"));
    assert!(
        unknown
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("unsupported")
    );
    assert!(
        topic_table(&mut client)["topicConfigTable"]
            .get("Bad")
            .is_none()
    );

    let removed = client.call(create_typed("Typed", "-message.type"));
    assert_eq!(removed.code, response::SUCCESS);
    assert_eq!(
        client
            .call(create_typed("Typed", "+message.type=DELAY"))
            .code,
        response::SUCCESS
    );
    drop(client);
    drop(broker);
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let table = topic_table(&mut client);
    assert_eq!(
        table["topicConfigTable"]["Typed"]["attributes"]["message.type"], "DELAY",
        "the type survives a restart"
    );
}
