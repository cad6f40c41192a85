//! Hostile or broken input: a malformed or oversized frame closes only its
//! own connection, every other connection keeps being served, and idle
//! connections are closed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_nameserver::NameserverConfig;
use ringmq_net::code::response;

async fn still_serves(client: &mut Client) {
    let answer = client.call(route_request("Anything")).await;
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);
}

#[tokio::test]
async fn garbage_frame_closes_only_that_connection() {
    let server = Server::start_default().await;
    let mut good = server.client().await;
    still_serves(&mut good).await;

    let cases: [&[u8]; 5] = [
        // negative length
        &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
        // length shorter than the header word
        &[0, 0, 0, 2, 0, 0],
        // header length past the end of the frame
        &[0, 0, 0, 8, 0, 0, 0, 100, b'{', b'}', b'x', b'y'],
        // unknown serialize type
        &[0, 0, 0, 6, 7, 0, 0, 2, b'{', b'}'],
        // header that is not JSON
        &[0, 0, 0, 9, 0, 0, 0, 5, b'n', b'o', b'p', b'e', b'!'],
    ];
    for garbage in cases {
        let mut bad = server.client().await;
        bad.send_raw(garbage).await;
        assert!(
            bad.is_closed_by_server().await,
            "garbage {garbage:?} must close the connection"
        );
        still_serves(&mut good).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn oversized_frame_is_refused_before_it_is_buffered() {
    let config = NameserverConfig {
        max_frame_bytes: 64 * 1024,
        ..NameserverConfig::default()
    };
    let server = Server::start(config).await;
    let mut bad = server.client().await;
    // Announce a 1 MiB frame but send only its length: the server must close
    // without waiting for the rest.
    bad.send_raw(&(1024 * 1024u32).to_be_bytes()).await;
    assert!(bad.is_closed_by_server().await);
    let mut good = server.client().await;
    still_serves(&mut good).await;
    server.stop().await;
}

#[tokio::test]
async fn random_bytes_never_take_the_server_down() {
    let server = Server::start_default().await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..50u32 {
        let mut bytes = Vec::new();
        let len = 8 + (round as usize * 7) % 200;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push((seed >> 24) as u8);
        }
        // A plausible length prefix so the bytes reach the header decoder.
        let frame_len = (bytes.len() - 4) as u32;
        bytes[..4].copy_from_slice(&frame_len.to_be_bytes());
        let mut client = server.client().await;
        client.send_raw(&bytes).await;
        // Either an answer (if the bytes happened to decode) or a close.
        let _ = client.receive().await;
    }
    let mut good = server.client().await;
    still_serves(&mut good).await;
    server.stop().await;
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let config = NameserverConfig {
        idle_timeout_ms: 200,
        ..NameserverConfig::default()
    };
    let server = Server::start(config).await;
    let mut idle = server.client().await;
    still_serves(&mut idle).await;
    assert!(
        idle.is_closed_by_server().await,
        "an idle connection must be closed"
    );
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_the_rest_served() {
    let config = NameserverConfig {
        max_connections: 1,
        ..NameserverConfig::default()
    };
    let server = Server::start(config).await;
    let mut first = server.client().await;
    still_serves(&mut first).await;
    let mut second = server.client().await;
    assert!(
        second.is_closed_by_server().await,
        "the second connection must be refused"
    );
    still_serves(&mut first).await;
    drop(first);
    // Once the first is gone its slot frees up (bounded polling).
    let addr = server.addr;
    poll_until("a new connection is served again", || async move {
        let mut client = Client::connect(addr).await;
        client.try_send(&route_request("Anything")).await && client.receive().await.is_some()
    })
    .await;
    server.stop().await;
}
