//! The receiving side of a bench run: push consumers of one fresh group
//! counting this run's stamped messages (and, for e2e, their send→receive
//! latency), and telling the run when a target count has arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt};
use tokio::sync::Notify;

use super::report::{Latencies, Tally};
use super::stamp::{now_us, read_stamp};

/// How long consumers may take to be assigned every queue.
pub const ASSIGN_WAIT: Duration = Duration::from_secs(30);

/// Poll interval while waiting for the assignment.
pub const ASSIGN_POLL: Duration = Duration::from_millis(100);

/// What the consumers received.
pub struct Receipt {
    run_id: u64,
    /// This run's messages.
    pub tally: Tally,
    /// Other runs' messages (old backlog).
    pub stale: AtomicU64,
    /// Send→receive latencies, when measured.
    pub latencies: Option<Latencies>,
    target: AtomicU64,
    /// Woken when `tally` reaches the target.
    pub reached: Notify,
}

impl Receipt {
    /// A receipt for `run_id`; `measure_latency` for e2e.
    pub fn new(run_id: u64, measure_latency: bool) -> anyhow::Result<Self> {
        Ok(Self {
            run_id,
            tally: Tally::default(),
            stale: AtomicU64::new(0),
            latencies: if measure_latency {
                Some(Latencies::new()?)
            } else {
                None
            },
            target: AtomicU64::new(u64::MAX),
            reached: Notify::new(),
        })
    }

    /// Sets how many of this run's messages complete it.
    pub fn set_target(&self, target: u64) {
        self.target.store(target, Ordering::Release);
        if self.tally.messages() >= target {
            self.reached.notify_one();
        }
    }

    /// Whether the target has been reached.
    pub fn is_complete(&self) -> bool {
        self.tally.messages() >= self.target.load(Ordering::Acquire)
    }

    /// Counts one consumed message.
    pub fn receive(&self, msg: &MessageExt) {
        match read_stamp(&msg.body) {
            Some((run, sent_us)) if run == self.run_id => {
                if let Some(latencies) = &self.latencies {
                    latencies.record_us(now_us().saturating_sub(sent_us));
                }
                self.tally.add(1, msg.body.len() as u64);
                if self.is_complete() {
                    self.reached.notify_one();
                }
            }
            _ => {
                self.stale.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Starts `count` push consumers of `group` on `topic`, all feeding `receipt`.
pub async fn start_consumers(
    namesrv: &str,
    topic: &str,
    group: &str,
    count: usize,
    from: ConsumeFrom,
    receipt: &Arc<Receipt>,
) -> anyhow::Result<Vec<PushConsumer>> {
    let mut consumers = Vec::with_capacity(count);
    for i in 0..count {
        let receipt = receipt.clone();
        let started = PushConsumer::builder(group)
            .namesrv(namesrv)
            .instance_name(format!("bench-c{i}-{}", std::process::id()))
            .subscribe(topic, "*")
            .consume_from(from)
            .listener(move |msgs| {
                let receipt = receipt.clone();
                async move {
                    for msg in &msgs {
                        receipt.receive(msg);
                    }
                    ConsumeResult::Success
                }
            })
            .start()
            .await;
        match started {
            Ok(consumer) => consumers.push(consumer),
            Err(err) => {
                stop_consumers(&consumers).await;
                return Err(err).context("cannot start a consumer");
            }
        }
    }
    Ok(consumers)
}

/// Polls between two rebalance nudges while waiting for the assignment.
pub const POLLS_PER_NUDGE: u32 = 10;

/// Waits until the consumers together hold `queues` queues; false if
/// [`ASSIGN_WAIT`] passed first. Rebalances them now and then meanwhile:
/// a topic the broker has just auto-created reaches the nameserver a
/// moment later, and a consumer that looked too early would otherwise
/// wait for its next 20 s rebalance.
pub async fn wait_assigned(consumers: &[PushConsumer], queues: usize) -> bool {
    let deadline = tokio::time::Instant::now() + ASSIGN_WAIT;
    let mut polls = 0u32;
    while tokio::time::Instant::now() < deadline {
        let held: usize = consumers.iter().map(|c| c.assigned_queues().len()).sum();
        if held >= queues {
            return true;
        }
        polls += 1;
        if polls % POLLS_PER_NUDGE == 0 {
            for consumer in consumers {
                consumer.rebalance().await;
            }
        }
        tokio::time::sleep(ASSIGN_POLL).await;
    }
    false
}

/// Shuts every consumer down (commits offsets).
pub async fn stop_consumers(consumers: &[PushConsumer]) {
    for consumer in consumers {
        consumer.shutdown().await;
    }
}
