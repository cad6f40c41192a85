//! NATS JetStream load generator for `benches/compare.sh`, on the
//! `async-nats` client:
//!
//! - `publish`: (re)creates a stream with file storage, then publishes
//!   bodies of `--message-size` bytes keeping `--in-flight` acks pending;
//!   throughput of acknowledged messages and publish→ack latency.
//! - `consume`: a fresh pull consumer reads the stream from its first
//!   message (a catch-up of the backlog `publish` left) until
//!   `--messages` arrived; throughput of received messages.
//!
//! Every run is bounded by `--messages` and `--duration`; the report goes
//! to stdout as JSON.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::{self, consumer, stream};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use ringmq_peers::{Budget, Latencies, Tally, body};

/// Flags common to both workloads.
#[derive(clap::Args, Debug)]
struct Common {
    /// Server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// Stream name (its subject is `<stream>.data`).
    #[arg(long, default_value = "BENCH")]
    stream: String,
    /// Messages to publish or receive.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Seconds the run may take at most.
    #[arg(long, default_value_t = 10)]
    duration: u64,
}

#[derive(Subcommand, Debug)]
enum Workload {
    /// Publish to a fresh file-storage stream.
    Publish {
        #[command(flatten)]
        common: Common,
        /// Body bytes per message.
        #[arg(long, default_value_t = 1024)]
        message_size: usize,
        /// Publish acks pending at once.
        #[arg(long, default_value_t = 256)]
        in_flight: usize,
    },
    /// Read the stream from its start with a new pull consumer.
    Consume {
        #[command(flatten)]
        common: Common,
        /// Messages asked for per pull request.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
    },
}

#[derive(Parser, Debug)]
#[command(about = "NATS JetStream load generator for benches/compare.sh")]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().workload {
        Workload::Publish {
            common,
            message_size,
            in_flight,
        } => publish(&common, message_size, in_flight.max(1)).await,
        Workload::Consume { common, batch } => consume(&common, batch.max(1)).await,
    }
}

async fn connect(common: &Common) -> anyhow::Result<jetstream::Context> {
    let client = async_nats::connect(common.url.as_str())
        .await
        .with_context(|| format!("cannot connect to {}", common.url))?;
    Ok(jetstream::new(client))
}

fn subject(common: &Common) -> String {
    format!("{}.data", common.stream)
}

/// Deletes the stream if it exists, then creates it empty on file storage.
async fn fresh_stream(js: &jetstream::Context, common: &Common) -> anyhow::Result<()> {
    let _ = js.delete_stream(&common.stream).await;
    js.create_stream(stream::Config {
        name: common.stream.clone(),
        subjects: vec![subject(common)],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .context("cannot create the stream")?;
    Ok(())
}

async fn publish(common: &Common, message_size: usize, in_flight: usize) -> anyhow::Result<()> {
    let js = connect(common).await?;
    fresh_stream(&js, common).await?;
    let payload = body(message_size);
    let subject = subject(common);
    let budget = Budget::new(common.messages, Duration::from_secs(common.duration));
    let tally = Tally::default();
    let latencies = Latencies::new()?;
    let mut pending = FuturesUnordered::new();
    let started = Instant::now();
    let mut more = true;
    while more || !pending.is_empty() {
        while more && pending.len() < in_flight {
            more = budget.take();
            if !more {
                break;
            }
            let sent = Instant::now();
            match js.publish(subject.clone(), payload.clone()).await {
                Ok(ack) => pending.push(async move { (ack.await, sent) }),
                Err(e) => tally.fail(&e),
            }
        }
        if let Some((ack, sent)) = pending.next().await {
            match ack {
                Ok(_) => {
                    latencies.record_since(sent);
                    tally.add(1);
                }
                Err(e) => tally.fail(&e),
            }
        }
    }
    let elapsed = started.elapsed();
    tally
        .report(
            "publish",
            message_size,
            in_flight,
            elapsed,
            latencies.summary(),
        )
        .print()
}

async fn consume(common: &Common, batch: usize) -> anyhow::Result<()> {
    let js = connect(common).await?;
    let stream = js
        .get_stream(&common.stream)
        .await
        .context("no stream to consume: run publish first")?;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .context("cannot create the pull consumer")?;
    let budget = Budget::new(common.messages, Duration::from_secs(common.duration));
    let tally = Tally::default();
    let started = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await
        .context("cannot start pulling")?;
    let mut size = 0;
    while budget.take() {
        match tokio::time::timeout(budget.remaining(), messages.next()).await {
            Ok(Some(Ok(message))) => {
                size = message.payload.len();
                tally.add(1);
            }
            Ok(Some(Err(e))) => tally.fail(&e),
            Ok(None) => bail!("the pull stream ended early"),
            Err(_) => break,
        }
    }
    let elapsed = started.elapsed();
    tally.report("consume", size, batch, elapsed, None).print()
}
