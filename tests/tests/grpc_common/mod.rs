//! Shared pieces of the gRPC tests: a `ringmq standalone` with its gRPC
//! endpoint on free ports, Apache's official Python SDK in its virtual
//! environment (`scripts/ensure-python-sdk.sh`), the scenario script
//! `tests/python/grpc_client.py` run with a bounded wait, and a remoting
//! pull consumer (the `ringmq-client` crate) for the cross-protocol side.
//!
//! Not every test binary uses every item.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::message_ext::MessageExt;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_tests::process::free_port;
use ringmq_tests::{ServerProcess, binary::ringmq_bin};
use serde_json::Value;

/// Longest a Python scenario may run before it is killed.
pub const SCRIPT_WAIT_MAX: Duration = Duration::from_secs(120);
/// Longest wait for the gRPC port to accept after the broker port does.
pub const GRPC_READY_MAX: Duration = Duration::from_secs(20);
/// Poll step of the bounded waits here.
const POLL_STEP: Duration = Duration::from_millis(50);

/// `ringmq standalone` serving gRPC.
pub struct GrpcStandalone {
    pub process: ServerProcess,
    pub namesrv: String,
    pub grpc: String,
}

impl GrpcStandalone {
    /// Starts standalone (2 shards, no dashboard, no metrics) with `sets`
    /// as extra `--set` pairs; returns once the gRPC port accepts.
    pub fn start(sets: &[&str]) -> GrpcStandalone {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let namesrv_port = free_port().unwrap();
        let broker_port = free_port().unwrap();
        let grpc_port = free_port().unwrap();
        let mut args: Vec<String> = [
            "standalone",
            "--data-dir",
            data.to_str().unwrap(),
            "--namesrv-port",
            &namesrv_port.to_string(),
            "--broker-port",
            &broker_port.to_string(),
            "--shards",
            "2",
            "--no-dashboard",
            "--metrics-address",
            "",
            "--set",
            &format!("grpc_listen=127.0.0.1:{grpc_port}"),
        ]
        .map(String::from)
        .to_vec();
        for set in sets {
            args.push("--set".into());
            args.push((*set).to_owned());
        }
        let process = ServerProcess::start(
            "standalone",
            ringmq_bin().unwrap(),
            args,
            Vec::new(),
            broker_port,
            dir,
        )
        .unwrap();
        let grpc = format!("127.0.0.1:{grpc_port}");
        let deadline = Instant::now() + GRPC_READY_MAX;
        while std::net::TcpStream::connect(&grpc).is_err() {
            assert!(
                Instant::now() < deadline,
                "gRPC port never opened:\n{}",
                process.log_tail()
            );
            std::thread::sleep(POLL_STEP);
        }
        GrpcStandalone {
            process,
            namesrv: format!("127.0.0.1:{namesrv_port}"),
            grpc,
        }
    }
}

/// The Python interpreter of the SDK's virtual environment (created once
/// per test process by `scripts/ensure-python-sdk.sh`).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let output = Command::new(root.join("scripts/ensure-python-sdk.sh"))
                .output()
                .expect("scripts/ensure-python-sdk.sh runs");
            assert!(
                output.status.success(),
                "ensure-python-sdk.sh failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            PathBuf::from(path)
        })
        .clone()
}

/// Runs `grpc_client.py <command> --endpoint <grpc> args...` and returns
/// the JSON object it prints last; panics with its output when it fails
/// or outlives [`SCRIPT_WAIT_MAX`].
pub fn scenario(server: &GrpcStandalone, command: &str, args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/grpc_client.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(command)
        .arg("--endpoint")
        .arg(&server.grpc)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let deadline = Instant::now() + SCRIPT_WAIT_MAX;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(POLL_STEP);
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let explain = || {
        format!(
            "grpc_client.py {command} {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver:\n{}",
            server.process.log_tail()
        )
    };
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!("exited with {status}: {}", explain()),
        None => panic!("still running after {SCRIPT_WAIT_MAX:?}: {}", explain()),
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|err| panic!("bad JSON ({err}): {}", explain()))
}

/// A tokio runtime for the remoting client.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Pulls `topic` from its first offset over remoting until `count`
/// messages arrived or `wait` passed.
pub fn remoting_pull(namesrv: &str, topic: &str, count: usize, wait: Duration) -> Vec<MessageExt> {
    runtime().block_on(async {
        let consumer = PullConsumer::builder(ringmq_tests::unique_name("GrpcPull"))
            .namesrv(namesrv)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .unwrap();
        let queues = consumer.fetch_queues(topic).await.unwrap();
        consumer.assign(queues).await.unwrap();
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < count && Instant::now() < deadline {
            got.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
        }
        consumer.shutdown().await;
        got
    })
}
