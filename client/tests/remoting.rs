//! The transport against scripted TCP peers: responses matched by opaque
//! out of order, timeouts, a peer that hangs up, reconnection, and
//! broker→client requests handed to the inbound channel.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use bytes::BytesMut;
use ringmq_client::remoting::{RemotingClient, RemotingConfig, RemotingError};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn read_commands(stream: &mut TcpStream, n: usize) -> Vec<RemotingCommand> {
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    while out.len() < n {
        while let Some(cmd) = decoder.decode(&mut buf).unwrap() {
            out.push(cmd);
        }
        if out.len() >= n {
            break;
        }
        if stream.read_buf(&mut buf).await.unwrap() == 0 {
            break;
        }
    }
    out
}

async fn write(stream: &mut TcpStream, cmd: &RemotingCommand) {
    let mut out = BytesMut::new();
    cmd.encode(&mut out).unwrap();
    stream.write_all(&out).await.unwrap();
}

#[tokio::test]
async fn responses_out_of_order_reach_their_own_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let reqs = read_commands(&mut s, 2).await;
        // Answer the second first; each reply echoes its request's code in the remark.
        for r in reqs.iter().rev() {
            let reply =
                RemotingCommand::response_to(r, response::SUCCESS, Some(r.code.to_string()));
            write(&mut s, &reply).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let (client, _inbound) = RemotingClient::new(RemotingConfig::default());
    let t = Duration::from_secs(5);
    let (a, b) = tokio::join!(
        client.invoke(&addr, RemotingCommand::request(request::HEART_BEAT), t),
        client.invoke(&addr, RemotingCommand::request(request::GET_MAX_OFFSET), t),
    );
    assert_eq!(a.unwrap().remark.as_deref(), Some("34"));
    assert_eq!(b.unwrap().remark.as_deref(), Some("30"));
}

#[tokio::test]
async fn a_silent_peer_times_out_and_a_closed_one_fails_fast() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (silent, _) = listener.accept().await.unwrap();
        let (mut closing, _) = listener.accept().await.unwrap();
        let _ = read_commands(&mut closing, 1).await;
        drop(closing);
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(silent);
    });
    let (client, _inbound) = RemotingClient::new(RemotingConfig::default());
    let err = client
        .invoke(
            &addr,
            RemotingCommand::request(request::HEART_BEAT),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::Timeout { code: 34, .. }),
        "{err}"
    );
    client.close(&addr);
    let err = client
        .invoke(
            &addr,
            RemotingCommand::request(request::HEART_BEAT),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (client, _inbound) = RemotingClient::new(RemotingConfig::default());
    let err = client
        .invoke(
            &addr,
            RemotingCommand::request(request::HEART_BEAT),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn the_client_reconnects_after_the_peer_hangs_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let req = read_commands(&mut s, 1).await.remove(0);
            write(
                &mut s,
                &RemotingCommand::response_to(&req, response::SUCCESS, None),
            )
            .await;
            // hang up after one answer
        }
    });
    let (client, _inbound) = RemotingClient::new(RemotingConfig::default());
    let t = Duration::from_secs(5);
    client
        .invoke(&addr, RemotingCommand::request(request::HEART_BEAT), t)
        .await
        .unwrap();
    for _ in 0..200 {
        if client.connected_addrs().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .invoke(&addr, RemotingCommand::request(request::HEART_BEAT), t)
        .await
        .unwrap();
}

#[tokio::test]
async fn broker_requests_arrive_on_the_inbound_channel_and_can_be_answered() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let req = read_commands(&mut s, 1).await.remove(0);
        write(
            &mut s,
            &RemotingCommand::response_to(&req, response::SUCCESS, None),
        )
        .await;
        let ask = RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO).with_opaque(4242);
        write(&mut s, &ask).await;
        read_commands(&mut s, 1).await.remove(0)
    });
    let (client, mut inbound) = RemotingClient::new(RemotingConfig::default());
    client
        .invoke(
            &addr,
            RemotingCommand::request(request::HEART_BEAT),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.command.code, request::GET_CONSUMER_RUNNING_INFO);
    let reply = RemotingCommand::response_to(&got.command, response::SUCCESS, None).with_body("{}");
    got.responder.reply(reply).await;
    let answered = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(answered.is_response());
    assert_eq!(answered.opaque, 4242);
    assert_eq!(&answered.body[..], b"{}");
}
