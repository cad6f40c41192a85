//! The sending side of a bench run: producers sending stamped messages
//! sync, async or one-way, one at a time or in batches, with a fixed number
//! of requests in flight, until the [`Budget`] runs out.
//!
//! - `sync`: `in_flight` tasks, each awaiting one `send`/`send_batch` at a
//!   time (Java's benchmark with N sending threads).
//! - `async`: one task per producer starting `send_async` futures, at most
//!   `in_flight` (shared out between producers) unanswered at once.
//! - `oneway`: like sync with `send_oneway` (latency is the write only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ringmq_client::Message;
use ringmq_client::producer::{Producer, SendError};
use ringmq_net::command::SerializeType;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::report::{Latencies, Tally};
use super::stamp::{Budget, stamped_body};

/// How many times a warm-up send is tried while the cluster comes up.
pub const WARM_UP_ATTEMPTS: u32 = 50;

/// Pause between warm-up attempts.
pub const WARM_UP_PAUSE: Duration = Duration::from_millis(200);

/// How long the end of an async run waits for its unanswered sends.
pub const ASYNC_DRAIN_WAIT: Duration = Duration::from_secs(30);

/// How messages are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SendMode {
    /// Await each send's answer.
    Sync,
    /// Start sends without awaiting them, bounded by the in-flight count.
    Async,
    /// Send without an answer.
    Oneway,
}

impl SendMode {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            SendMode::Sync => "sync",
            SendMode::Async => "async",
            SendMode::Oneway => "oneway",
        }
    }
}

/// What to send and how.
#[derive(Debug, Clone)]
pub struct SendPlan {
    /// Topic to send to.
    pub topic: String,
    /// How to send.
    pub mode: SendMode,
    /// Body bytes per message.
    pub message_size: usize,
    /// Messages per request (1 = single sends).
    pub batch_size: usize,
    /// Requests in flight over all producers.
    pub in_flight: usize,
    /// Stamped into every body.
    pub run_id: u64,
}

/// Where a send plan's outcomes go.
#[derive(Clone)]
pub struct Outcomes {
    /// Acknowledged messages and errors.
    pub tally: Arc<Tally>,
    /// Send→ack latency per request.
    pub latencies: Arc<Latencies>,
}

/// Builds `count` producers (distinct client instances) of `group`,
/// sending headers as `encoding`.
pub fn build_producers(
    namesrv: &str,
    group: &str,
    count: usize,
    encoding: SerializeType,
) -> anyhow::Result<Vec<Producer>> {
    (0..count)
        .map(|i| {
            crate::cmd::credentials::producer(Producer::builder(group))
                .namesrv(namesrv)
                .header_encoding(encoding)
                .instance_name(format!("bench-p{i}-{}", std::process::id()))
                .build()
                .context("cannot build a producer")
        })
        .collect()
}

/// Sends one stamped message until it succeeds (the cluster may still be
/// registering), so routes and connections are ready before timing.
pub async fn warm_up(producer: &Producer, topic: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..WARM_UP_ATTEMPTS {
        match producer
            .send(Message::new(topic, stamped_body(0, 64)))
            .await
        {
            Ok(_) => return Ok(()),
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(WARM_UP_PAUSE).await;
    }
    match last {
        Some(err) => Err(err).context("the warm-up send kept failing"),
        None => Ok(()),
    }
}

/// Runs `plan` on `producers` until `budget` is spent; returns when every
/// request has been answered (or given up on).
pub async fn send_all(
    producers: &[Producer],
    plan: &Arc<SendPlan>,
    budget: &Arc<Budget>,
    outcomes: &Outcomes,
) {
    let mut tasks = JoinSet::new();
    for (i, producer) in producers.iter().enumerate() {
        let share = share_of(plan.in_flight, producers.len(), i);
        if share == 0 {
            continue;
        }
        match plan.mode {
            SendMode::Async => {
                tasks.spawn(send_async_loop(
                    producer.clone(),
                    plan.clone(),
                    budget.clone(),
                    outcomes.clone(),
                    share,
                ));
            }
            SendMode::Sync | SendMode::Oneway => {
                for _ in 0..share {
                    tasks.spawn(send_loop(
                        producer.clone(),
                        plan.clone(),
                        budget.clone(),
                        outcomes.clone(),
                    ));
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Producer `i`'s part of `total` in-flight requests over `producers`.
pub fn share_of(total: usize, producers: usize, i: usize) -> usize {
    if producers == 0 {
        return 0;
    }
    total / producers + usize::from(i < total % producers)
}

fn messages(plan: &SendPlan, n: u64) -> Vec<Message> {
    (0..n)
        .map(|_| {
            Message::new(
                plan.topic.as_str(),
                stamped_body(plan.run_id, plan.message_size),
            )
        })
        .collect()
}

/// One request of `n` messages, awaited.
async fn send_request(producer: &Producer, plan: &SendPlan, n: u64) -> Result<(), SendError> {
    let mut msgs = messages(plan, n);
    match (plan.mode, msgs.pop()) {
        (_, None) => Ok(()),
        (SendMode::Oneway, Some(msg)) => producer.send_oneway(msg).await,
        (_, Some(msg)) if msgs.is_empty() && plan.batch_size == 1 => {
            producer.send(msg).await.map(drop)
        }
        (_, Some(msg)) => {
            msgs.push(msg);
            producer.send_batch(msgs).await.map(drop)
        }
    }
}

fn settle(
    outcomes: &Outcomes,
    plan: &SendPlan,
    n: u64,
    started: Instant,
    r: Result<(), SendError>,
) {
    match r {
        Ok(()) => {
            outcomes.latencies.record(started.elapsed());
            outcomes.tally.add(n, plan.message_size as u64);
        }
        Err(err) => outcomes.tally.fail(&err),
    }
}

/// Sleeps until a paced request is due; returns when its latency starts
/// (the due time, or now when unpaced).
async fn wait_until_due(due: Option<Instant>) -> Instant {
    match due {
        Some(due) => {
            tokio::time::sleep_until(due.into()).await;
            due
        }
        None => Instant::now(),
    }
}

async fn send_loop(
    producer: Producer,
    plan: Arc<SendPlan>,
    budget: Arc<Budget>,
    outcomes: Outcomes,
) {
    loop {
        let (n, due) = budget.claim_paced(plan.batch_size as u64);
        if n == 0 {
            return;
        }
        let started = wait_until_due(due).await;
        let result = send_request(&producer, &plan, n).await;
        settle(&outcomes, &plan, n, started, result);
    }
}

async fn send_async_loop(
    producer: Producer,
    plan: Arc<SendPlan>,
    budget: Arc<Budget>,
    outcomes: Outcomes,
    in_flight: usize,
) {
    let permits = Arc::new(Semaphore::new(in_flight));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (n, due) = budget.claim_paced(plan.batch_size as u64);
        if n == 0 {
            break;
        }
        let started = wait_until_due(due).await;
        let (producer, plan, outcomes) = (producer.clone(), plan.clone(), outcomes.clone());
        if n == 1 && plan.batch_size == 1 {
            let msg = Message::new(
                plan.topic.as_str(),
                stamped_body(plan.run_id, plan.message_size),
            );
            match producer.send_async(msg) {
                Ok(sending) => {
                    tokio::spawn(async move {
                        let result = sending.await.map(drop);
                        settle(&outcomes, &plan, n, started, result);
                        drop(permit);
                    });
                }
                Err(err) => outcomes.tally.fail(&err),
            }
        } else {
            tokio::spawn(async move {
                let result = send_request(&producer, &plan, n).await;
                settle(&outcomes, &plan, n, started, result);
                drop(permit);
            });
        }
    }
    let all = u32::try_from(in_flight).unwrap_or(u32::MAX);
    if tokio::time::timeout(ASYNC_DRAIN_WAIT, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("async sends still unanswered after {ASYNC_DRAIN_WAIT:?}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_requests_are_shared_out_with_none_lost() {
        assert_eq!(share_of(64, 1, 0), 64);
        let shares: Vec<usize> = (0..3).map(|i| share_of(64, 3, i)).collect();
        assert_eq!(shares, vec![22, 21, 21]);
        assert_eq!((0..5).map(|i| share_of(3, 5, i)).sum::<usize>(), 3);
        assert_eq!(share_of(8, 0, 0), 0);
    }

    #[test]
    fn send_modes_have_their_flag_names() {
        use clap::ValueEnum;
        for mode in [SendMode::Sync, SendMode::Async, SendMode::Oneway] {
            let parsed = SendMode::from_str(mode.name(), false).unwrap();
            assert_eq!(parsed, mode);
        }
    }
}
