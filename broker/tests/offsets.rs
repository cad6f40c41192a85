//! Consumer offsets: commit by UPDATE_CONSUMER_OFFSET and by pull
//! piggyback, QUERY_NOT_FOUND semantics, and durability across a broker
//! restart on the same data directory (messages too).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    GetMaxOffsetRequestHeader, PullSysFlag, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};

fn query(client: &mut Client, group: &str, topic: &str, queue: i32) -> RemotingCommand {
    client.call(
        RemotingCommand::request(request::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id: queue,
                bname: None,
            },
        ),
    )
}

fn max_offset(client: &mut Client, topic: &str, queue: i32) -> String {
    let reply = client.call(
        RemotingCommand::request(request::GET_MAX_OFFSET).with_header(&GetMaxOffsetRequestHeader {
            topic: topic.into(),
            queue_id: queue,
            committed: None,
            bname: None,
        }),
    );
    assert_eq!(reply.code, response::SUCCESS);
    ext(&reply, "offset")
}

#[test]
fn committed_offsets_and_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    for queue in 0..2 {
        for i in 0..3 {
            let reply = client.call(send_v2(
                "Durable",
                queue,
                format!("m{i}").as_bytes(),
                &props("t", "k", "v"),
            ));
            assert_eq!(reply.code, response::SUCCESS);
        }
    }
    // a fresh group on a queue whose head is still there starts at 0
    let reply = query(&mut client, "g", "Durable", 0);
    assert_eq!(
        (reply.code, ext(&reply, "offset")),
        (response::SUCCESS, "0".into())
    );
    // a fresh group on an empty queue gets QUERY_NOT_FOUND
    let reply = query(&mut client, "g", "Durable", 3);
    assert_eq!(reply.code, response::QUERY_NOT_FOUND);
    // commit queue 0 explicitly, queue 1 by pull piggyback
    client.call(
        RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: "g".into(),
                topic: "Durable".into(),
                queue_id: 0,
                commit_offset: 2,
                bname: None,
            },
        ),
    );
    let mut pull_request = pull("g", "Durable", 1, 0, 32, None, "*");
    pull_request.ext_fields.insert(
        "sysFlag".into(),
        (PullSysFlag::SUBSCRIPTION | PullSysFlag::COMMIT_OFFSET).to_string(),
    );
    pull_request
        .ext_fields
        .insert("commitOffset".into(), "3".into());
    assert_eq!(client.call(pull_request).code, response::SUCCESS);
    assert_eq!(ext(&query(&mut client, "g", "Durable", 1), "offset"), "3");
    drop(client);
    broker.shutdown();
    let saved =
        std::fs::read_to_string(dir.path().join("config").join("consumerOffset.json")).unwrap();
    assert!(saved.contains("Durable@g"), "{saved}");

    let refused = ringmq_broker::Broker::start(test_config(dir.path(), 3))
        .err()
        .unwrap();
    assert!(refused.to_string().contains("shards"), "{refused}");
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    assert_eq!(ext(&query(&mut client, "g", "Durable", 0), "offset"), "2");
    assert_eq!(ext(&query(&mut client, "g", "Durable", 1), "offset"), "3");
    assert_eq!(max_offset(&mut client, "Durable", 0), "3");
    let reply = client.call(pull("g", "Durable", 1, 0, 32, None, "*"));
    assert_eq!(reply.code, response::SUCCESS);
    assert_eq!(records(&reply.body).len(), 3);
    // the auto-created topic survived too
    let reply = client.call(send_v2("Durable", 1, b"after", &props("t", "k", "v")));
    assert_eq!(ext(&reply, "queueOffset"), "3");
    broker.shutdown();
}
