//! Shared test harness: an in-process nameserver on 127.0.0.1:0 and a small
//! TCP client speaking the remoting protocol through `ringmq_net`'s codec.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use ringmq_nameserver::{Nameserver, NameserverConfig};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest any single test step waits for the server.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Most polling rounds while waiting for a state change.
pub const POLL_ROUNDS_MAX: u32 = 400;

/// A running nameserver; stop it with [`Server::stop`].
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(config: NameserverConfig) -> Self {
        let config = NameserverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..config
        };
        let server = Nameserver::bind(config).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub async fn start_default() -> Self {
        Self::start(NameserverConfig::default()).await
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(STEP_TIMEOUT, &mut self.task)
            .await
            .unwrap()
            .unwrap();
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }
}

/// One connection to the nameserver.
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    next_opaque: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
            next_opaque: 1,
        }
    }

    /// Sends `command` as is (its opaque included).
    pub async fn send(&mut self, command: &RemotingCommand) {
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends `command`; false if the connection is already gone.
    pub async fn try_send(&mut self, command: &RemotingCommand) -> bool {
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        self.stream.write_all(&out).await.is_ok()
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads the next frame; `None` when the server closed the connection.
    pub async fn receive(&mut self) -> Option<RemotingCommand> {
        let mut decoder = FrameDecoder::default();
        loop {
            if let Some(command) = decoder.decode(&mut self.buf).unwrap() {
                return Some(command);
            }
            let read = tokio::time::timeout(STEP_TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("server neither answered nor closed");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Sends a request with a fresh opaque and returns its response.
    pub async fn call(&mut self, mut command: RemotingCommand) -> RemotingCommand {
        command.opaque = self.next_opaque;
        self.next_opaque += 1;
        self.send(&command).await;
        let response = self
            .receive()
            .await
            .expect("connection closed before the response");
        assert_eq!(response.opaque, command.opaque);
        assert!(response.is_response());
        response
    }

    /// True when the server has closed this connection (reads EOF).
    pub async fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(STEP_TIMEOUT, self.stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// A request with the given ext fields.
pub fn request_with(code: i32, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut command = RemotingCommand::request(code);
    for (key, value) in fields {
        command
            .ext_fields
            .insert((*key).to_string(), (*value).to_string());
    }
    command
}

/// A REGISTER_BROKER body (uncompressed JSON) listing `topics` as
/// (name, queue count).
pub fn register_body(counter: i64, topics: &[(&str, i32)]) -> Vec<u8> {
    let mut table = serde_json::Map::new();
    for (name, queues) in topics {
        table.insert(
            (*name).to_string(),
            json!({"order":false,"perm":6,"readQueueNums":queues,"topicFilterType":"SINGLE_TAG",
                   "topicName":name,"topicSysFlag":0,"writeQueueNums":queues}),
        );
    }
    let body = json!({
        "filterServerList": [],
        "topicConfigSerializeWrapper": {
            "dataVersion": {"counter": counter, "timestamp": 1_700_000_000_000i64},
            "topicConfigTable": table,
        }
    });
    serde_json::to_vec(&body).unwrap()
}

/// A REGISTER_BROKER request for a master of cluster `DefaultCluster`.
pub fn register_request(name: &str, addr: &str, id: i64, body: Vec<u8>) -> RemotingCommand {
    let id = id.to_string();
    let ha = format!("{addr}-ha");
    request_with(
        request::REGISTER_BROKER,
        &[
            ("brokerName", name),
            ("brokerAddr", addr),
            ("clusterName", "DefaultCluster"),
            ("haServerAddr", &ha),
            ("brokerId", &id),
        ],
    )
    .with_body(body)
}

/// GET_ROUTEINFO_BY_TOPIC.
pub fn route_request(topic: &str) -> RemotingCommand {
    request_with(request::GET_ROUTEINFO_BY_TOPIC, &[("topic", topic)])
}

/// Parses a JSON body (standard JSON is required of our server).
pub fn json_body(command: &RemotingCommand) -> Value {
    serde_json::from_slice(&command.body).unwrap_or_else(|e| {
        panic!(
            "body is not standard JSON ({e}): {:?}",
            String::from_utf8_lossy(&command.body)
        )
    })
}

/// Polls `check` until it returns true, at most [`POLL_ROUNDS_MAX`] rounds
/// of 25 ms; panics with `what` otherwise.
pub async fn poll_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..POLL_ROUNDS_MAX {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gave up waiting until {what}");
}

/// The captured wire frames, inside this repository (`fixtures/wire`,
/// described in `fixtures/README.md`).
pub const WIRE_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wire");

/// The bytes of one captured frame. A fixture that cannot be read fails the
/// test that asked for it (naming the path): nothing is skipped.
pub fn wire_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(WIRE_FIXTURES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("wire fixture {}: {e}", path.display()))
}
