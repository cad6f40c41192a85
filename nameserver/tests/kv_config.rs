//! KV config over TCP: put, get, list, delete, and persistence across a
//! restart when a data directory is configured.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_nameserver::NameserverConfig;
use ringmq_net::code::{request, response};
use serde_json::json;

fn put(namespace: &str, key: &str, value: &str) -> ringmq_net::command::RemotingCommand {
    request_with(
        request::PUT_KV_CONFIG,
        &[("namespace", namespace), ("key", key), ("value", value)],
    )
}

fn get(namespace: &str, key: &str) -> ringmq_net::command::RemotingCommand {
    request_with(
        request::GET_KV_CONFIG,
        &[("namespace", namespace), ("key", key)],
    )
}

#[tokio::test]
async fn kv_put_get_list_delete() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    assert_eq!(
        client.call(put("ns", "k1", "v1")).await.code,
        response::SUCCESS
    );
    assert_eq!(
        client.call(put("ns", "k2", "v2")).await.code,
        response::SUCCESS
    );

    let got = client.call(get("ns", "k1")).await;
    assert_eq!(got.code, response::SUCCESS);
    assert_eq!(got.ext_fields["value"], "v1");

    let list = client
        .call(request_with(
            request::GET_KVLIST_BY_NAMESPACE,
            &[("namespace", "ns")],
        ))
        .await;
    assert_eq!(json_body(&list), json!({"table": {"k1": "v1", "k2": "v2"}}));

    let deleted = client
        .call(request_with(
            request::DELETE_KV_CONFIG,
            &[("namespace", "ns"), ("key", "k1")],
        ))
        .await;
    assert_eq!(deleted.code, response::SUCCESS);
    let missing = client.call(get("ns", "k1")).await;
    assert_eq!(missing.code, response::QUERY_NOT_FOUND);
    assert!(missing.remark.unwrap().contains("k1"));

    let no_namespace = client
        .call(request_with(
            request::GET_KVLIST_BY_NAMESPACE,
            &[("namespace", "other")],
        ))
        .await;
    assert_eq!(no_namespace.code, response::QUERY_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn kv_config_survives_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = NameserverConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..NameserverConfig::default()
    };
    let server = Server::start(config.clone()).await;
    let mut client = server.client().await;
    assert_eq!(
        client
            .call(put("ORDER_TOPIC_CONFIG", "T", "broker-a:4"))
            .await
            .code,
        response::SUCCESS
    );
    drop(client);
    server.stop().await;

    let server = Server::start(config).await;
    let mut client = server.client().await;
    let got = client.call(get("ORDER_TOPIC_CONFIG", "T")).await;
    assert_eq!(got.ext_fields["value"], "broker-a:4");
    // A registering broker receives the ORDER_TOPIC_CONFIG namespace.
    let registered = client
        .call(register_request(
            "broker-a",
            "10.0.0.1:10911",
            0,
            register_body(1, &[("T", 4)]),
        ))
        .await;
    assert_eq!(
        json_body(&registered),
        json!({"table": {"T": "broker-a:4"}})
    );
    server.stop().await;
}
