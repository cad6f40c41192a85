//! Golden test: frames captured from an independent client and broker
//! (`fixtures/wire`, see `fixtures/README.md`) are fed to the nameserver byte for byte, and the
//! answers are checked against what the capture shows and the spec requires.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use common::*;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use serde_json::json;

fn fixture(name: &str) -> Vec<u8> {
    wire_fixture(name)
}

fn decode(name: &str) -> RemotingCommand {
    RemotingCommand::decode_frame(Bytes::from(fixture(name))).unwrap()
}

#[tokio::test]
async fn captured_broker_registration_and_route_queries_get_sensible_answers() {
    let server = Server::start_default().await;
    let mut broker = server.client().await;

    // REGISTER_BROKER from a 5.x-era broker (bodyCrc32 set, extra fields).
    broker
        .send_raw(&fixture("peerstart-01-req-code103.bin"))
        .await;
    let registered = broker.receive().await.unwrap();
    assert_eq!(
        registered.code,
        response::SUCCESS,
        "{:?}",
        registered.remark
    );
    assert_eq!(registered.opaque, 0);
    assert!(registered.is_response());

    // A system topic of that body now has a route to the broker.
    let mut client = server.client().await;
    let tbw = client.call(route_request("TBW102")).await;
    assert_eq!(tbw.code, response::SUCCESS);
    let tbw = json_body(&tbw);
    assert_eq!(
        tbw["queueDatas"],
        json!([{"brokerName":"peer-broker-a","perm":7,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}])
    );
    assert_eq!(
        tbw["brokerDatas"][0]["brokerAddrs"],
        json!({"0":"127.0.0.1:10911"})
    );
    assert_eq!(tbw["brokerDatas"][0]["cluster"], "DefaultCluster");

    // The client's first lookup of a topic not created yet: TOPIC_NOT_EXIST,
    // like the capture's produce-02.
    client
        .send_raw(&fixture("produce-01-req-code105.bin"))
        .await;
    let missing = client.receive().await.unwrap();
    let captured_missing = decode("produce-02-resp-code17.bin");
    assert_eq!(missing.code, captured_missing.code);
    assert_eq!(missing.opaque, captured_missing.opaque);
    assert!(
        missing
            .remark
            .unwrap()
            .starts_with("No topic route info in name server for the topic: RingProduce1")
    );

    // REGISTER_TOPIC_IN_NAMESRV (217) for the retry topic, as captured.
    broker
        .send_raw(&fixture("consume-12-req-code217.bin"))
        .await;
    let topic_registered = broker.receive().await.unwrap();
    let captured_ack = decode("consume-13-resp-code0.bin");
    assert_eq!(topic_registered.code, captured_ack.code);
    assert_eq!(topic_registered.opaque, captured_ack.opaque);
    let retry = client
        .call(route_request("%RETRY%ringmq_cg_RingProduce1_91567"))
        .await;
    assert_eq!(retry.code, response::SUCCESS);
    assert_eq!(json_body(&retry)["queueDatas"][0]["readQueueNums"], 1);

    // Register RingProduce1 the way a 5.x broker would (217, with the route
    // the capture's nameserver answered), then replay the second lookup:
    // same route content as the captured produce-04.
    let captured_route = decode("produce-04-resp-code0.bin");
    let mut register = request_with(
        ringmq_net::code::request::REGISTER_TOPIC_IN_NAMESRV,
        &[("topic", "RingProduce1")],
    );
    register.body = captured_route.body.clone();
    assert_eq!(broker.call(register).await.code, response::SUCCESS);

    client
        .send_raw(&fixture("produce-03-req-code105.bin"))
        .await;
    let found = client.receive().await.unwrap();
    assert_eq!(found.code, response::SUCCESS);
    assert_eq!(found.opaque, captured_route.opaque);
    let ours = json_body(&found);
    let theirs: serde_json::Value = serde_json::from_slice(&captured_route.body).unwrap();
    assert_eq!(ours["queueDatas"], theirs["queueDatas"]);
    for key in ["brokerName", "cluster", "brokerAddrs"] {
        assert_eq!(
            ours["brokerDatas"][0][key], theirs["brokerDatas"][0][key],
            "{key}"
        );
    }
    server.stop().await;
}
