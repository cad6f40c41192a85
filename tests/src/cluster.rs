//! A nameserver and brokers as child processes, as the tests use them.
//!
//! Each process has its own temporary directory and loopback port. A broker
//! counts as started once its port accepts and the nameserver lists its
//! address in GET_BROKER_CLUSTER_INFO; a topic counts as created once the
//! nameserver route of the topic names every broker it was created on.

use crate::binary::ringmq_bin;
use crate::process::{ServerProcess, free_port};
use crate::raw::{RawConnection, RemotingFrame, code};
use crate::{HarnessError, HarnessResult};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Attempts to start a process on a fresh port (a port picked free may be
/// taken by another test before the server binds it).
const START_ATTEMPTS_MAX: usize = 3;
/// Longest wait for a broker to appear at the nameserver, or a topic route.
pub const REGISTRATION_WAIT_MAX: Duration = Duration::from_secs(30);
/// Pause between nameserver polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Timeout of one admin request.
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn temp_dir(prefix: &str) -> HarnessResult<TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| HarnessError::io("creating a temp dir", e))
}

/// Starts `ringmq <args(port)>` on a free port, retrying on a fresh port when
/// the process dies during start-up.
fn start_on_free_port(
    label: &str,
    prefix: &str,
    envs: Vec<(String, String)>,
    args: impl Fn(u16, &std::path::Path) -> Vec<String>,
) -> HarnessResult<ServerProcess> {
    let bin = ringmq_bin()?;
    let mut last_error = None;
    for _ in 0..START_ATTEMPTS_MAX {
        let port = free_port()?;
        let dir = temp_dir(prefix)?;
        let argv = args(port, dir.path());
        match ServerProcess::start(label, bin.clone(), argv, envs.clone(), port, dir) {
            Ok(process) => return Ok(process),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| HarnessError::Failed(format!("{label} did not start"))))
}

/// A `ringmq nameserver` child process.
pub struct Nameserver {
    /// The process.
    pub process: ServerProcess,
}

impl Nameserver {
    /// Starts a nameserver on a free loopback port.
    pub fn start() -> HarnessResult<Self> {
        Self::start_with_env(Vec::new())
    }

    /// Starts a nameserver with extra environment variables (its
    /// `RINGMQ_NAMESRV_*` configuration, e.g. ACL).
    pub fn start_with_env(envs: Vec<(String, String)>) -> HarnessResult<Self> {
        let process = start_on_free_port("nameserver", "ringmq-ns-", envs, |port, _dir| {
            vec![
                "nameserver".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
            ]
        })?;
        Ok(Self { process })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.process.addr()
    }

    /// GET_BROKER_CLUSTER_INFO response body as text.
    pub fn cluster_info(&self) -> HarnessResult<String> {
        cluster_info(&self.addr())
    }

    /// GET_ROUTEINFO_BY_TOPIC: the response (any code).
    pub fn route(&self, topic: &str) -> HarnessResult<RemotingFrame> {
        let mut conn = RawConnection::connect(&self.addr())?;
        conn.call(
            RemotingFrame::request(
                code::GET_ROUTEINFO_BY_TOPIC,
                &[("topic", topic.to_string())],
            ),
            ADMIN_CALL_TIMEOUT,
        )
    }

    /// Waits until GET_BROKER_CLUSTER_INFO mentions `broker_addr`.
    pub fn wait_broker_registered(&self, broker_addr: &str) -> HarnessResult<()> {
        wait_broker_registered(&self.addr(), broker_addr)
            .map_err(|e| HarnessError::Failed(format!("{e}\n{}", self.process.log_tail())))
    }

    /// Waits until the route of `topic` names every broker in `broker_names`.
    pub fn wait_route(&self, topic: &str, broker_names: &[&str]) -> HarnessResult<String> {
        let deadline = Instant::now() + REGISTRATION_WAIT_MAX;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.route(topic) {
                Ok(r) if r.code == code::SUCCESS => {
                    let body = String::from_utf8_lossy(&r.body).into_owned();
                    if broker_names
                        .iter()
                        .all(|name| body.contains(&format!("\"{name}\"")))
                    {
                        return Ok(body);
                    }
                    last = body;
                }
                Ok(r) => last = r.describe(),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Err(HarnessError::Failed(format!(
            "route of {topic} does not name {broker_names:?} within {REGISTRATION_WAIT_MAX:?}; \
             last: {last}"
        )))
    }
}

/// How to start a broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Broker name (unique within the cluster).
    pub name: String,
    /// Cluster name.
    pub cluster: String,
    /// `--flush-mode sync` (group-commit fsync before the send is acknowledged).
    pub flush_sync: bool,
    /// Commit-log segment size (`RINGMQ_SEGMENT_BYTES`); small, because
    /// segments are preallocated and tests run many brokers at once.
    pub segment_bytes: u64,
    /// `auto_create_topic_enable` and `auto_create_subscription_group`,
    /// passed explicitly: `ringmq broker` has both off by default, and
    /// most tests send to topics and pull for groups they never created.
    pub auto_create: bool,
    /// More flags, appended as given.
    pub extra_args: Vec<String>,
}

/// Segment size the tests give brokers unless told otherwise.
pub const TEST_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

impl BrokerOptions {
    /// Options for broker `name` in `cluster`, async flush.
    pub fn new(name: &str, cluster: &str) -> Self {
        Self {
            name: name.into(),
            cluster: cluster.into(),
            flush_sync: false,
            segment_bytes: TEST_SEGMENT_BYTES,
            auto_create: true,
            extra_args: Vec::new(),
        }
    }
}

/// A `ringmq broker` child process.
pub struct Broker {
    /// The process (its directory holds the logs; data is in `data/`).
    pub process: ServerProcess,
    /// How it was started.
    pub options: BrokerOptions,
    namesrv: Vec<String>,
}

impl Broker {
    /// Starts a broker registering with `namesrv` and waits until the first
    /// nameserver lists it.
    pub fn start(namesrv: &[String], options: BrokerOptions) -> HarnessResult<Self> {
        let label = format!("broker {}", options.name);
        let args_options = options.clone();
        let namesrv_list = namesrv.join(";");
        let envs = vec![(
            "RINGMQ_SEGMENT_BYTES".to_string(),
            options.segment_bytes.to_string(),
        )];
        let process = start_on_free_port(&label, "ringmq-broker-", envs, |port, dir| {
            broker_args(port, dir, &namesrv_list, &args_options)
        })?;
        let broker = Self {
            process,
            options,
            namesrv: namesrv.to_vec(),
        };
        broker.wait_registered()?;
        Ok(broker)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.process.addr()
    }

    /// The broker name.
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// SIGKILL (a crash).
    pub fn kill9(&mut self) -> HarnessResult<()> {
        self.process.kill9()
    }

    /// SIGTERM and a bounded wait for the exit.
    pub fn terminate(&mut self) -> HarnessResult<std::process::ExitStatus> {
        self.process.terminate()
    }

    /// Starts it again on the same port and data directory and waits until
    /// the nameserver lists it again.
    pub fn restart(&mut self) -> HarnessResult<()> {
        self.process.restart()?;
        self.wait_registered()
    }

    fn wait_registered(&self) -> HarnessResult<()> {
        let Some(first) = self.namesrv.first() else {
            return Ok(());
        };
        wait_broker_registered(first, &self.addr())
            .map_err(|e| HarnessError::Failed(format!("{e}\n{}", self.process.log_tail())))
    }

    /// UPDATE_AND_CREATE_TOPIC on this broker with `queues` read and write
    /// queues, perm 6.
    pub fn create_topic(&self, topic: &str, queues: u32) -> HarnessResult<()> {
        let mut conn = RawConnection::connect(&self.addr())?;
        let response = conn.call(
            RemotingFrame::request(
                code::UPDATE_AND_CREATE_TOPIC,
                &[
                    ("topic", topic.to_string()),
                    ("defaultTopic", "TBW102".to_string()),
                    ("readQueueNums", queues.to_string()),
                    ("writeQueueNums", queues.to_string()),
                    ("perm", "6".to_string()),
                    ("topicFilterType", "SINGLE_TAG".to_string()),
                    ("topicSysFlag", "0".to_string()),
                    ("order", "false".to_string()),
                ],
            ),
            ADMIN_CALL_TIMEOUT,
        )?;
        if response.code != code::SUCCESS {
            return Err(HarnessError::Failed(format!(
                "UPDATE_AND_CREATE_TOPIC {topic} on {}: {}",
                self.name(),
                response.describe()
            )));
        }
        Ok(())
    }
}

/// `ringmq broker` flags for a port, directory and options.
fn broker_args(
    port: u16,
    dir: &std::path::Path,
    namesrv: &str,
    options: &BrokerOptions,
) -> Vec<String> {
    let mut args = vec![
        "broker".to_string(),
        "--listen-address".into(),
        "127.0.0.1".into(),
        "--listen-port".into(),
        port.to_string(),
        "--nameservers".into(),
        namesrv.to_string(),
        "--data-dir".into(),
        dir.join("data").display().to_string(),
        "--broker-name".into(),
        options.name.clone(),
        "--cluster-name".into(),
        options.cluster.clone(),
        "--flush-mode".into(),
        if options.flush_sync { "sync" } else { "async" }.into(),
        "--set".into(),
        format!("auto_create_topic_enable={}", options.auto_create),
        "--set".into(),
        format!("auto_create_subscription_group={}", options.auto_create),
    ];
    args.extend(options.extra_args.iter().cloned());
    args
}

/// GET_BROKER_CLUSTER_INFO at `namesrv`: the body as text.
pub fn cluster_info(namesrv: &str) -> HarnessResult<String> {
    let mut conn = RawConnection::connect(namesrv)?;
    let response = conn.call(
        RemotingFrame::request(code::GET_BROKER_CLUSTER_INFO, &[]),
        ADMIN_CALL_TIMEOUT,
    )?;
    if response.code != code::SUCCESS {
        return Err(HarnessError::Failed(format!(
            "GET_BROKER_CLUSTER_INFO: {}",
            response.describe()
        )));
    }
    Ok(String::from_utf8_lossy(&response.body).into_owned())
}

/// Waits (bounded) until GET_BROKER_CLUSTER_INFO at `namesrv` mentions
/// `broker_addr`.
pub fn wait_broker_registered(namesrv: &str, broker_addr: &str) -> HarnessResult<()> {
    let deadline = Instant::now() + REGISTRATION_WAIT_MAX;
    let mut last = String::new();
    while Instant::now() < deadline {
        match cluster_info(namesrv) {
            Ok(info) if info.contains(broker_addr) => return Ok(()),
            Ok(info) => last = info,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Err(HarnessError::Failed(format!(
        "broker {broker_addr} not registered at nameserver {namesrv} within \
         {REGISTRATION_WAIT_MAX:?}; last GET_BROKER_CLUSTER_INFO: {last}"
    )))
}

/// One nameserver and `n` brokers named `<cluster>-b<i>`.
pub struct Cluster {
    /// Brokers, in start order (dropped first).
    pub brokers: Vec<Broker>,
    /// The nameserver.
    pub nameserver: Nameserver,
    /// Cluster name.
    pub name: String,
}

impl Cluster {
    /// Starts a nameserver and `broker_count` brokers with async flush.
    pub fn start(broker_count: usize) -> HarnessResult<Self> {
        Self::start_with(broker_count, |_| {})
    }

    /// Like [`Cluster::start`], letting the caller adjust each broker's options.
    pub fn start_with(
        broker_count: usize,
        adjust: impl Fn(&mut BrokerOptions),
    ) -> HarnessResult<Self> {
        let name = crate::unique_name("rc");
        let nameserver = Nameserver::start()?;
        let mut brokers = Vec::with_capacity(broker_count);
        for i in 0..broker_count {
            let mut options = BrokerOptions::new(&format!("{name}-b{i}"), &name);
            adjust(&mut options);
            brokers.push(Broker::start(&[nameserver.addr()], options)?);
        }
        Ok(Self {
            brokers,
            nameserver,
            name,
        })
    }

    /// The nameserver address for clients.
    pub fn namesrv_addr(&self) -> String {
        self.nameserver.addr()
    }

    /// Creates `topic` with `queues_per_broker` queues on every broker and
    /// waits until the nameserver route names all of them.
    pub fn create_topic(&self, topic: &str, queues_per_broker: u32) -> HarnessResult<()> {
        for broker in &self.brokers {
            broker.create_topic(topic, queues_per_broker)?;
        }
        let names: Vec<&str> = self.brokers.iter().map(Broker::name).collect();
        self.nameserver.wait_route(topic, &names).map(|_| ())
    }

    /// The log tails of every process, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut out = self.nameserver.process.log_tail();
        for broker in &self.brokers {
            out.push_str(&broker.process.log_tail());
        }
        out
    }
}
