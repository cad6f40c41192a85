//! Broker liveness: a broker disappears when its registering connection
//! closes, or when it stays silent longer than the configured expiry (and
//! then its connection is closed).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_nameserver::NameserverConfig;
use ringmq_net::code::response;

async fn has_route(server: &Server, topic: &str) -> bool {
    let mut client = server.client().await;
    client.call(route_request(topic)).await.code == response::SUCCESS
}

#[tokio::test]
async fn closing_the_registering_connection_drops_the_broker() {
    let server = Server::start_default().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.call(register_request(
        "broker-a",
        "10.0.0.1:10911",
        0,
        register_body(1, &[("OnlyA", 4)]),
    ))
    .await;
    b.call(register_request(
        "broker-b",
        "10.0.0.2:10911",
        0,
        register_body(1, &[("OnlyB", 4)]),
    ))
    .await;
    assert!(has_route(&server, "OnlyA").await);
    drop(a);
    let s = &server;
    poll_until("broker-a's route is gone", || async move {
        !has_route(s, "OnlyA").await
    })
    .await;
    assert!(has_route(&server, "OnlyB").await, "broker-b must stay");
    drop(b);
    server.stop().await;
}

#[tokio::test]
async fn silent_broker_expires_while_a_registering_one_stays() {
    let config = NameserverConfig {
        scan_interval_ms: 20,
        broker_expiry_ms: 1000,
        ..NameserverConfig::default()
    };
    let server = Server::start(config).await;
    let mut silent = server.client().await;
    let mut chatty = server.client().await;
    silent
        .call(register_request(
            "broker-a",
            "10.0.0.1:10911",
            0,
            register_body(1, &[("Silent", 4)]),
        ))
        .await;
    chatty
        .call(register_request(
            "broker-b",
            "10.0.0.2:10911",
            0,
            register_body(1, &[("Chatty", 4)]),
        ))
        .await;
    // Keep broker-b registering while waiting for broker-a (whose connection
    // stays open) to expire.
    let mut rounds = 0u32;
    loop {
        chatty
            .call(register_request(
                "broker-b",
                "10.0.0.2:10911",
                0,
                register_body(1, &[("Chatty", 4)]),
            ))
            .await;
        if !has_route(&server, "Silent").await {
            break;
        }
        rounds += 1;
        assert!(rounds < POLL_ROUNDS_MAX, "silent broker never expired");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(has_route(&server, "Chatty").await);
    // The expired broker's connection is closed by the server (the idle
    // timeout is the default 120 s, so this is the expiry's doing).
    assert!(silent.is_closed_by_server().await);
    server.stop().await;
}
