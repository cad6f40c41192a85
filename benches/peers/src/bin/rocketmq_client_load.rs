//! Load generator on the independent `rocketmq-client-rust` 1.0.0 client
//! for `benches/compare.sh`: `--in-flight` tasks share one producer and each
//! sends single messages of `--message-size` bytes, one after another, until
//! `--messages` were sent or `--duration` ran out. Throughput of acknowledged
//! sends and send→ack latency go to stdout as JSON.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ringmq_peers::{Budget, Latencies, Tally, body};
use rocketmq_client_rust::{
    ClientRuntime, ClientRuntimeConfig, DefaultMQProducer, TelemetryHandle,
};
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

/// Per-request send timeout.
const SEND_TIMEOUT_MS: u64 = 10_000;

/// The client's own runtime owner: process-wide and never dropped (dropping
/// a tokio runtime inside another one panics).
static CLIENT_RUNTIME_OWNER: LazyLock<anyhow::Result<RuntimeOwner>> = LazyLock::new(|| {
    RuntimeOwner::plan(RuntimeConfig {
        thread_name: "independent-client".to_string(),
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("runtime plan: {e}"))?
    .build()
    .map_err(|e| anyhow::anyhow!("runtime start: {e}"))
});

#[derive(Parser, Debug)]
#[command(about = "rocketmq-client-rust 1.0.0 single-send load for benches/compare.sh")]
struct Cli {
    /// Nameserver address.
    #[arg(long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    /// Topic (must exist or be auto-created by the broker).
    #[arg(long, default_value = "BenchTopic")]
    topic: String,
    /// Body bytes per message.
    #[arg(long, default_value_t = 1024)]
    message_size: usize,
    /// Concurrent sending tasks (each has one send in flight).
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Messages to send.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Seconds the run may take at most.
    #[arg(long, default_value_t = 10)]
    duration: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(run(cli))
}

async fn start_producer(cli: &Cli) -> anyhow::Result<DefaultMQProducer> {
    let owner = CLIENT_RUNTIME_OWNER
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client_runtime = ClientRuntime::try_new(
        owner.root_context().component("producer"),
        ClientRuntimeConfig::default(),
        TelemetryHandle::noop(),
    )
    .map_err(|e| anyhow::anyhow!("client runtime: {e}"))?;
    let mut producer = DefaultMQProducer::builder(client_runtime)
        .producer_group(format!("ringmq-compare-{}", std::process::id()))
        .name_server_addr(cli.namesrv.clone())
        .send_msg_timeout(u32::try_from(SEND_TIMEOUT_MS).unwrap_or(u32::MAX))
        .build();
    producer
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("producer start: {e}"))?;
    Ok(producer)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let producer = Arc::new(start_producer(&cli).await?);
    let payload = body(cli.message_size);
    let message = |payload: &bytes::Bytes| {
        Message::builder()
            .topic(cli.topic.as_str())
            .body(payload.clone())
            .build_unchecked()
    };
    // One acknowledged send first: routes are fetched and connections opened
    // before the clock starts.
    producer
        .send_with_timeout(message(&payload), SEND_TIMEOUT_MS)
        .await
        .map_err(|e| anyhow::anyhow!("warm-up send to {}: {e}", cli.topic))?;
    let budget = Arc::new(Budget::new(cli.messages, Duration::from_secs(cli.duration)));
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Latencies::new()?);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cli.in_flight.max(1) {
        let (producer, budget, tally, latencies) = (
            producer.clone(),
            budget.clone(),
            tally.clone(),
            latencies.clone(),
        );
        let msg = message(&payload);
        tasks.push(tokio::spawn(async move {
            while budget.take() {
                let sent = Instant::now();
                match producer
                    .send_with_timeout(msg.clone(), SEND_TIMEOUT_MS)
                    .await
                {
                    Ok(Some(_)) => {
                        latencies.record_since(sent);
                        tally.add(1);
                    }
                    Ok(None) => tally.fail(&"send returned no result"),
                    Err(e) => tally.fail(&e),
                }
            }
        }));
    }
    for task in tasks {
        task.await.context("a send task panicked")?;
    }
    let elapsed = started.elapsed();
    let report = tally.report(
        "produce",
        cli.message_size,
        cli.in_flight,
        elapsed,
        latencies.summary(),
    );
    if let Ok(mut producer) = Arc::try_unwrap(producer) {
        producer.shutdown().await;
    }
    report.print()
}
