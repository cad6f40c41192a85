//! Shared pieces of the dashboard tests: a real `ringmq standalone` with its
//! dashboard on a free port, real traffic through this crate's client, the
//! `ringmq admin` CLI for cross-checks, and where screenshots go.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ringmq_client::admin::Admin;
use ringmq_client::admin::calls::TopicSpec;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
use ringmq_client::message::Message;
use ringmq_client::producer::Producer;
use ringmq_net::body::PERM_READ_WRITE;
use ringmq_tests::ServerProcess;
use ringmq_tests::binary::ringmq_bin;
use ringmq_tests::process::free_port;

/// How long a wait for the cluster or a page may take at most.
pub const WAIT_MAX: Duration = Duration::from_secs(60);
/// Pause between two polls.
pub const POLL: Duration = Duration::from_millis(200);

/// A standalone with its dashboard.
pub struct Standalone {
    /// The process (killed on drop).
    pub process: ServerProcess,
    /// `127.0.0.1:<port>` of the nameserver.
    pub namesrv: String,
    /// `http://127.0.0.1:<port>` of the dashboard.
    pub url: String,
}

impl Standalone {
    /// Starts `ringmq standalone` on free ports (broker, nameserver,
    /// dashboard; no metrics endpoint) and waits for its dashboard.
    pub fn start() -> Standalone {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (namesrv_port, broker_port, dashboard_port) = (
            free_port().unwrap(),
            free_port().unwrap(),
            free_port().unwrap(),
        );
        let args = [
            "standalone",
            "--data-dir",
            data.to_str().unwrap(),
            "--namesrv-port",
            &namesrv_port.to_string(),
            "--broker-port",
            &broker_port.to_string(),
            "--shards",
            "1",
            "--metrics-address",
            "",
            "--dashboard-listen",
            &format!("127.0.0.1:{dashboard_port}"),
        ]
        .map(String::from)
        .to_vec();
        let envs = vec![("RUST_LOG".to_owned(), "warn".to_owned())];
        let process = ServerProcess::start(
            "standalone",
            ringmq_bin().unwrap(),
            args,
            envs,
            broker_port,
            dir,
        )
        .unwrap();
        let standalone = Standalone {
            process,
            namesrv: format!("127.0.0.1:{namesrv_port}"),
            url: format!("http://127.0.0.1:{dashboard_port}"),
        };
        wait_port(dashboard_port);
        standalone
    }

    /// An admin client of its cluster.
    pub fn admin(&self) -> Admin {
        Admin::new(&self.namesrv)
    }

    /// The banner it printed.
    pub fn banner(&self) -> String {
        std::fs::read_to_string(self.process.dir().join("stdout.log")).unwrap_or_default()
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + WAIT_MAX;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(POLL);
    }
}

/// Creates `topic` with `queues` queues on every master.
pub async fn create_topic(admin: &Admin, topic: &str, queues: i32) {
    let spec = TopicSpec {
        topic: topic.to_owned(),
        queues,
        perm: PERM_READ_WRITE,
        order: false,
        message_type: None,
    };
    for b in admin.masters(None).await.unwrap() {
        admin.create_topic(&b.addr, &spec).await.unwrap();
    }
    let deadline = Instant::now() + WAIT_MAX;
    while admin.topic_route(topic).await.is_err() {
        assert!(Instant::now() < deadline, "no route for {topic}");
        tokio::time::sleep(POLL).await;
    }
}

/// A started producer of the cluster.
pub fn producer(namesrv: &str) -> Producer {
    Producer::builder(ringmq_tests::unique_name("dash_pg"))
        .namesrv(namesrv)
        .build()
        .unwrap()
}

/// Sends `count` messages `<prefix>-<i>` with keys `<prefix>-key-<i>`.
pub async fn send(producer: &Producer, topic: &str, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let msg = Message::new(topic, format!("{prefix}-{i}").into_bytes())
            .with_tags("T")
            .with_keys([format!("{prefix}-key-{i}")]);
        ids.push(producer.send(msg).await.unwrap().msg_id);
    }
    ids
}

/// A push consumer of `group` on `topic` from the first offset, answering
/// every message with `result`, offsets committed every 200 ms.
pub async fn consumer(
    namesrv: &str,
    group: &str,
    topic: &str,
    result: ConsumeResult,
    max_reconsume_times: i32,
) -> PushConsumer {
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .instance_name(ringmq_tests::unique_name("dash_member"))
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(max_reconsume_times)
        .intervals(Duration::from_secs(2), Duration::from_millis(200))
        .listener(move |_msgs| async move { result })
        .start()
        .await
        .unwrap()
}

/// Waits (bounded) until `check` holds.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT_MAX;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// `ringmq admin --json ARGS...` against `namesrv`, parsed.
pub fn admin_json(namesrv: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(ringmq_bin().unwrap())
        .args(["admin", "--namesrv", namesrv, "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ringmq admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `target/dashboard-screenshots` of the workspace (CARGO_TARGET_DIR if set).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
