//! `ringmq bench`: a load generator on the Rust client, against any
//! RocketMQ-compatible nameserver, or an embedded standalone cluster (in a
//! temporary directory) when no `--namesrv` is given.
//!
//! - `produce`: producers send stamped messages; throughput of acknowledged
//!   messages and send→ack latency.
//! - `consume`: the topic is first filled with this run's messages (the
//!   same sending flags), then a fresh consumer group reads it from the
//!   first offset; throughput of received messages.
//! - `e2e`: consumers of a fresh group and producers run together;
//!   send→receive latency from the timestamp stamped in each body.
//!
//! Every run is bounded by time (`--duration`, default 10 s) and, with
//! `--messages`, by count; `--rate` paces the sends (latency then counts
//! from each request's due time). A progress bar runs on stderr and the
//! report goes to stdout, as text or `--json`.

pub mod drain;
pub mod load;
pub mod progress;
pub mod report;
pub mod stamp;
pub mod topic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::producer::{BATCH_MESSAGES_MAX, Producer};

use self::drain::Receipt;
use self::load::{Outcomes, SendMode, SendPlan};
use self::progress::Progress;
use self::report::{Latencies, Report, Tally, rates};
use self::stamp::{Budget, STAMP_LEN};
use super::standalone::{self, EmbeddedCluster};

/// Duration of a run given neither `--duration` nor `--messages`.
pub const DURATION_DEFAULT: Duration = Duration::from_secs(10);

/// Longest run a `--messages` count may take without `--duration`.
pub const COUNTED_RUN_TIME_MAX: Duration = Duration::from_secs(600);

/// Longest `--duration`.
pub const DURATION_MAX_SECS: u64 = 24 * 3600;

/// How long e2e and consume wait for the last messages after sending ends.
pub const RECEIVE_DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Most requests in flight.
pub const IN_FLIGHT_MAX: usize = 65_536;

/// Most producer or consumer clients.
pub const CLIENTS_MAX: usize = 256;

/// Most queues `--queues` may ask for (the broker's limit).
pub const QUEUES_MAX: u32 = 1_024;

/// Commit-log segment size of the embedded cluster.
pub const EMBEDDED_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Send; throughput and send→ack latency.
    Produce,
    /// Fill the topic, then read it back; throughput.
    Consume,
    /// Send and receive together; send→receive latency.
    E2e,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Produce => "produce",
            Workload::Consume => "consume",
            Workload::E2e => "e2e",
        }
    }
}

/// Flags of `ringmq bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// produce, consume or e2e.
    #[arg(value_enum)]
    pub workload: Workload,
    /// Nameserver address(es); without it an embedded standalone cluster
    /// is started in a temporary directory.
    #[arg(long, env = "RINGMQ_NAMESRV")]
    pub namesrv: Option<String>,
    /// Show INFO logs (the embedded cluster's, the clients'); by default
    /// only warnings and errors, so they stay out of the progress and report.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub credentials: crate::cmd::credentials::CredentialArgs,
    /// Topic to use.
    #[arg(long, default_value = "BenchTopic")]
    pub topic: String,
    /// Create (or resize) the topic with this many queues per broker first
    /// (default: let the broker auto-create it).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(QUEUES_MAX)))]
    pub queues: Option<u32>,
    /// Body bytes per message.
    #[arg(long, default_value_t = 1024)]
    pub message_size: usize,
    /// Messages per send request (1 = single sends, more = batch sends).
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Send requests in flight, over all producers.
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// Producer clients.
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Consumer clients (consume, e2e).
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    /// Seconds of sending (default 10 unless --messages is given).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=DURATION_MAX_SECS))]
    pub duration: Option<u64>,
    /// Messages to send (stops at the count or the duration, first wins).
    #[arg(long)]
    pub messages: Option<u64>,
    /// sync, async or oneway sends.
    #[arg(long, value_enum, default_value_t = SendMode::Sync)]
    pub mode: SendMode,
    /// Send at most this many messages per second, over all producers
    /// (default: as fast as the in-flight window allows). Latency counts
    /// from each request's due time.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Header encoding of the producers' send requests: binary (the
    /// client's default) or json (what Java's client sends).
    #[arg(long, value_enum, default_value_t = HeaderEncoding::Binary)]
    pub header_encoding: HeaderEncoding,
}

/// `--header-encoding`: the remoting header's serialize type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeaderEncoding {
    /// The ROCKETMQ binary header (serialize type 1).
    Binary,
    /// fastjson-style JSON (serialize type 0).
    Json,
}

impl HeaderEncoding {
    fn serialize_type(self) -> ringmq_net::command::SerializeType {
        match self {
            HeaderEncoding::Binary => ringmq_net::command::SerializeType::RocketMq,
            HeaderEncoding::Json => ringmq_net::command::SerializeType::Json,
        }
    }
}

impl Args {
    /// Refuses flag combinations the bench cannot run.
    pub fn validate(&self) -> anyhow::Result<()> {
        let max_body = ringmq_client::message::BODY_SIZE_MAX;
        if !(STAMP_LEN..=max_body).contains(&self.message_size) {
            bail!("--message-size must be within {STAMP_LEN}..={max_body}");
        }
        if !(1..=BATCH_MESSAGES_MAX).contains(&self.batch_size) {
            bail!("--batch-size must be within 1..={BATCH_MESSAGES_MAX}");
        }
        if self.batch_size > 1 && self.mode == SendMode::Oneway {
            bail!("--mode oneway sends single messages only (--batch-size 1)");
        }
        if !(1..=IN_FLIGHT_MAX).contains(&self.in_flight) {
            bail!("--in-flight must be within 1..={IN_FLIGHT_MAX}");
        }
        if !(1..=CLIENTS_MAX).contains(&self.producers)
            || !(1..=CLIENTS_MAX).contains(&self.consumers)
        {
            bail!("--producers and --consumers must be within 1..={CLIENTS_MAX}");
        }
        if self.producers > self.in_flight {
            bail!("--producers must not exceed --in-flight (each needs a request)");
        }
        if self.rate == Some(0) {
            bail!("--rate must be at least 1 message per second");
        }
        if self.messages == Some(0) {
            bail!("--messages must be at least 1");
        }
        if self.workload == Workload::Consume && self.mode == SendMode::Oneway {
            bail!("consume fills the topic with acknowledged sends: use --mode sync or async");
        }
        Ok(())
    }

    /// The time bound of the sending phase.
    pub fn time_bound(&self) -> Duration {
        match (self.duration, self.messages) {
            (Some(secs), _) => Duration::from_secs(secs),
            (None, Some(_)) => COUNTED_RUN_TIME_MAX,
            (None, None) => DURATION_DEFAULT,
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.validate()?;
    args.credentials.install();
    let (namesrv, embedded) = match &args.namesrv {
        Some(addr) => (addr.clone(), None),
        None => {
            let (cluster, dir) = start_embedded()?;
            (cluster.namesrv_addr().to_string(), Some((cluster, dir)))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let outcome = runtime.block_on(bench(&args, &namesrv));
    drop(runtime);
    if let Some((cluster, dir)) = embedded {
        cluster.stop()?;
        drop(dir);
    }
    let report = outcome?;
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Starts a standalone cluster on free ports in a temporary directory.
fn start_embedded() -> anyhow::Result<(EmbeddedCluster, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("ringmq-bench-")
        .tempdir()
        .context("cannot create a temporary data dir")?;
    let args = standalone::Args {
        data_dir: PathBuf::from(dir.path()),
        host: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        namesrv_port: 0,
        broker_port: 0,
        shards: None,
        segment_bytes: Some(EMBEDDED_SEGMENT_BYTES),
        set: Vec::new(),
        metrics_address: String::new(),
        dashboard: super::dashboard::StandaloneArgs::off(),
    };
    let cluster = EmbeddedCluster::start(&args).context("cannot start the embedded cluster")?;
    eprintln!(
        "no --namesrv: started an embedded standalone cluster (nameserver {}, data {})",
        cluster.namesrv_addr(),
        dir.path().display()
    );
    Ok((cluster, dir))
}

/// A run id: distinguishes this run's messages from older ones.
fn new_run_id() -> u64 {
    stamp::now_us() ^ (u64::from(std::process::id()) << 40)
}

async fn bench(args: &Args, namesrv: &str) -> anyhow::Result<Report> {
    match args.queues {
        Some(queues) => {
            let brokers = topic::create_topic(namesrv, &args.topic, queues).await?;
            eprintln!(
                "topic {} has {queues} queue(s) on each of {} broker(s)",
                args.topic,
                brokers.len()
            );
        }
        None => eprintln!(
            "no --queues: topic {} is used as is (auto-created by the broker if new)",
            args.topic
        ),
    }
    let producers = load::build_producers(
        namesrv,
        "ringmq-bench-producer",
        args.producers,
        args.header_encoding.serialize_type(),
    )?;
    let outcome = async {
        for producer in &producers {
            load::warm_up(producer, &args.topic).await?;
        }
        match args.workload {
            Workload::Produce => bench_produce(args, &producers).await,
            Workload::Consume => bench_consume(args, namesrv, &producers).await,
            Workload::E2e => bench_e2e(args, namesrv, &producers).await,
        }
    }
    .await;
    for producer in &producers {
        producer.shutdown().await;
    }
    outcome
}

fn plan(args: &Args, run_id: u64) -> Arc<SendPlan> {
    Arc::new(SendPlan {
        topic: args.topic.clone(),
        mode: args.mode,
        message_size: args.message_size,
        batch_size: args.batch_size,
        in_flight: args.in_flight,
        run_id,
    })
}

fn report(args: &Args, tally: &Tally, elapsed: Duration) -> Report {
    let messages = tally.messages();
    let (msgs_per_sec, mb_per_sec) = rates(messages, args.message_size, elapsed);
    Report {
        workload: args.workload.name().to_string(),
        send_mode: args.mode.name().to_string(),
        message_size: args.message_size,
        batch_size: args.batch_size,
        in_flight: args.in_flight,
        producers: args.producers,
        consumers: if args.workload == Workload::Produce {
            0
        } else {
            args.consumers
        },
        messages,
        errors: tally.errors.load(std::sync::atomic::Ordering::Relaxed),
        elapsed_secs: elapsed.as_secs_f64(),
        msgs_per_sec,
        mb_per_sec,
        latency: None,
        missing: None,
        stale: None,
        duplicates: None,
        first_error: tally.first_error(),
    }
}

/// Sends under `budget` with a progress bar; returns the sending time.
async fn send_with_progress(
    args: &Args,
    producers: &[Producer],
    plan: &Arc<SendPlan>,
    outcomes: &Outcomes,
    label: &str,
) -> Duration {
    let budget = Arc::new(Budget::new(args.time_bound(), args.messages).with_rate(args.rate));
    let bar = Progress::start(label, &budget, outcomes.tally.clone());
    let started = Instant::now();
    load::send_all(producers, plan, &budget, outcomes).await;
    let elapsed = started.elapsed();
    bar.finish();
    elapsed
}

async fn bench_produce(args: &Args, producers: &[Producer]) -> anyhow::Result<Report> {
    let outcomes = Outcomes {
        tally: Arc::new(Tally::default()),
        latencies: Arc::new(Latencies::new()?),
    };
    let plan = plan(args, new_run_id());
    let elapsed = send_with_progress(args, producers, &plan, &outcomes, "produce").await;
    let mut report = report(args, &outcomes.tally, elapsed);
    report.latency = outcomes.latencies.summary();
    Ok(report)
}

async fn bench_consume(
    args: &Args,
    namesrv: &str,
    producers: &[Producer],
) -> anyhow::Result<Report> {
    let run_id = new_run_id();
    let outcomes = Outcomes {
        tally: Arc::new(Tally::default()),
        latencies: Arc::new(Latencies::new()?),
    };
    let plan = plan(args, run_id);
    let fill = send_with_progress(args, producers, &plan, &outcomes, "fill").await;
    let filled = outcomes.tally.messages();
    eprintln!(
        "filled {} with {filled} messages in {:.2} s",
        args.topic,
        fill.as_secs_f64()
    );
    let receipt = Arc::new(Receipt::new(run_id, false)?);
    receipt.set_target(filled);
    let group = format!("ringmq-bench-{run_id}");
    let bar = Progress::counting("consume", filled, receipt.clone());
    let started = Instant::now();
    let consumers = drain::start_consumers(
        namesrv,
        &args.topic,
        &group,
        args.consumers,
        ConsumeFrom::FirstOffset,
        &receipt,
    )
    .await?;
    let queues = producers
        .first()
        .context("no producer")?
        .queues(&args.topic)
        .await
        .context("no route for the topic")?
        .len();
    let wait = args.time_bound().max(RECEIVE_DRAIN_WAIT);
    let _ = tokio::time::timeout(wait, async {
        drain::wait_assigned(&consumers, queues).await;
        receipt.reached.notified().await;
    })
    .await;
    let elapsed = started.elapsed();
    bar.finish();
    drain::stop_consumers(&consumers).await;
    let mut report = report(args, &receipt.tally, elapsed);
    report.errors += outcomes
        .tally
        .errors
        .load(std::sync::atomic::Ordering::Relaxed);
    report.first_error = outcomes.tally.first_error();
    report.missing = Some(filled.saturating_sub(receipt.tally.messages()));
    report.stale = Some(receipt.stale.load(std::sync::atomic::Ordering::Relaxed));
    report.duplicates = Some(
        receipt
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    Ok(report)
}

async fn bench_e2e(args: &Args, namesrv: &str, producers: &[Producer]) -> anyhow::Result<Report> {
    let run_id = new_run_id();
    let receipt = Arc::new(Receipt::new(run_id, true)?);
    let group = format!("ringmq-bench-{run_id}");
    drain::start_at_end(namesrv, &group, &args.topic).await?;
    let consumers = drain::start_consumers(
        namesrv,
        &args.topic,
        &group,
        args.consumers,
        ConsumeFrom::LastOffset,
        &receipt,
    )
    .await?;
    let outcome = e2e_with(args, producers, &consumers, &receipt, run_id).await;
    drain::stop_consumers(&consumers).await;
    outcome
}

async fn e2e_with(
    args: &Args,
    producers: &[Producer],
    consumers: &[ringmq_client::consumer::push::PushConsumer],
    receipt: &Arc<Receipt>,
    run_id: u64,
) -> anyhow::Result<Report> {
    let queues = producers
        .first()
        .context("no producer")?
        .queues(&args.topic)
        .await
        .context("no route for the topic")?
        .len();
    if !drain::wait_assigned(consumers, queues).await {
        bail!(
            "consumers were not assigned the topic's {queues} queue(s) within {:?}",
            drain::ASSIGN_WAIT
        );
    }
    let outcomes = Outcomes {
        tally: Arc::new(Tally::default()),
        latencies: Arc::new(Latencies::new()?),
    };
    let plan = plan(args, run_id);
    let started = Instant::now();
    send_with_progress(args, producers, &plan, &outcomes, "e2e send").await;
    let sent = outcomes.tally.messages();
    receipt.set_target(sent);
    let _ = tokio::time::timeout(RECEIVE_DRAIN_WAIT, receipt.reached.notified()).await;
    let elapsed = started.elapsed();
    let mut report = report(args, &receipt.tally, elapsed);
    report.errors += outcomes
        .tally
        .errors
        .load(std::sync::atomic::Ordering::Relaxed);
    report.first_error = outcomes.tally.first_error();
    report.latency = receipt.latencies.as_ref().and_then(Latencies::summary);
    report.missing = Some(sent.saturating_sub(receipt.tally.messages()));
    report.stale = Some(receipt.stale.load(std::sync::atomic::Ordering::Relaxed));
    report.duplicates = Some(
        receipt
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        crate::cmd::parse_args("bench", argv)
    }

    #[test]
    fn defaults_are_1_kib_single_sync_sends_64_in_flight_for_10_s() {
        let args = parse(&["produce"]).unwrap();
        assert_eq!(args.workload, Workload::Produce);
        assert_eq!(args.namesrv, None);
        assert_eq!(args.message_size, 1024);
        assert_eq!(args.batch_size, 1);
        assert_eq!(args.in_flight, 64);
        assert_eq!(args.mode, SendMode::Sync);
        assert_eq!(args.time_bound(), DURATION_DEFAULT);
        args.validate().unwrap();
    }

    #[test]
    fn a_message_count_alone_is_still_bounded_in_time() {
        let args = parse(&["e2e", "--messages", "1000"]).unwrap();
        assert_eq!(args.time_bound(), COUNTED_RUN_TIME_MAX);
        let args = parse(&["e2e", "--messages", "1000", "--duration", "5"]).unwrap();
        assert_eq!(args.time_bound(), Duration::from_secs(5));
    }

    #[test]
    fn every_flag_parses() {
        let args = parse(&[
            "consume",
            "--namesrv",
            "127.0.0.1:9876",
            "--topic",
            "T",
            "--queues",
            "16",
            "--message-size",
            "512",
            "--batch-size",
            "32",
            "--in-flight",
            "8",
            "--producers",
            "2",
            "--consumers",
            "3",
            "--duration",
            "7",
            "--mode",
            "async",
            "--rate",
            "5000",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.rate, Some(5000));
        assert_eq!(args.workload, Workload::Consume);
        assert_eq!(args.queues, Some(16));
        assert_eq!((args.producers, args.consumers), (2, 3));
        assert_eq!(args.mode, SendMode::Async);
        assert!(args.json);
        args.validate().unwrap();
    }

    #[test]
    fn impossible_combinations_are_refused_before_running() {
        let refused = |argv: &[&str]| parse(argv).map_or(true, |a| a.validate().is_err());
        assert!(refused(&[
            "produce",
            "--mode",
            "oneway",
            "--batch-size",
            "8"
        ]));
        assert!(refused(&["produce", "--message-size", "4"]));
        assert!(refused(&["produce", "--batch-size", "0"]));
        assert!(refused(&[
            "produce",
            "--producers",
            "4",
            "--in-flight",
            "2"
        ]));
        assert!(refused(&["produce", "--messages", "0"]));
        assert!(refused(&["e2e", "--rate", "0"]));
        assert!(refused(&["produce", "--queues", "0"]));
        assert!(refused(&["produce", "--duration", "0"]));
        assert!(refused(&["consume", "--mode", "oneway"]));
        assert!(refused(&["sideways"]));
    }
}
