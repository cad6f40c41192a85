//! The receiving side of a bench run: push consumers of one fresh group
//! counting this run's stamped messages (and, for e2e, their send→receive
//! latency), and telling the run when a target count has arrived.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use ringmq_client::consumer::broker;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt};
use ringmq_client::instance::{ClientConfig, ClientInstance, subscribe_queues};
use tokio::sync::Notify;

use super::report::{Latencies, Tally};
use super::stamp::{now_us, read_stamp};

/// How long consumers may take to be assigned every queue.
pub const ASSIGN_WAIT: Duration = Duration::from_secs(30);

/// Poll interval while waiting for the assignment.
pub const ASSIGN_POLL: Duration = Duration::from_millis(100);

/// Most received messages remembered to tell redeliveries apart; past it,
/// every message counts as new.
pub const SEEN_ENTRIES_MAX: usize = 20_000_000;

/// A stored message's identity: store host and commit-log offset.
type StoredAt = (SocketAddr, i64);

/// What the consumers received.
pub struct Receipt {
    run_id: u64,
    seen: Mutex<HashSet<StoredAt>>,
    /// This run's messages delivered again (as at-least-once delivery
    /// allows, e.g. while a rebalance moves a queue); not counted twice.
    pub duplicates: AtomicU64,
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
            seen: Mutex::default(),
            duplicates: AtomicU64::new(0),
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
                if !self.first_delivery((msg.store_host, msg.commit_log_offset)) {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                    return;
                }
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

impl Receipt {
    /// Whether `at` is seen for the first time (always true once
    /// [`SEEN_ENTRIES_MAX`] are remembered).
    fn first_delivery(&self, at: StoredAt) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if seen.len() >= SEEN_ENTRIES_MAX {
            return !seen.contains(&at);
        }
        seen.insert(at)
    }
}

/// Tries to read the route of a topic the broker may just have created.
pub const ROUTE_ATTEMPTS: u32 = 50;

/// Pause between route and offset checks.
pub const OFFSET_POLL: Duration = Duration::from_millis(100);

/// Commits `group`'s offsets on every queue of `topic` at the queue's end,
/// so the group's consumers see only messages sent from now on. (A new
/// group's ConsumeFrom is not enough: a RocketMQ broker answers a new
/// group's offset query with 0 while the queue's first message is still
/// in memory, and the group would read the whole backlog.)
pub async fn start_at_end(namesrv: &str, group: &str, topic: &str) -> anyhow::Result<usize> {
    let config = crate::cmd::credentials::client_config(ClientConfig::default());
    let instance = ClientInstance::start(config.with_namesrv(namesrv));
    let outcome = commit_ends(&instance, group, topic).await;
    instance.shutdown().await;
    outcome
}

async fn commit_ends(instance: &ClientInstance, group: &str, topic: &str) -> anyhow::Result<usize> {
    let mut route = None;
    for _ in 0..ROUTE_ATTEMPTS {
        if let Ok(found) = instance.update_route(topic).await {
            route = Some(found);
            break;
        }
        tokio::time::sleep(OFFSET_POLL).await;
    }
    let route = route.with_context(|| format!("the nameserver has no route for {topic}"))?;
    let queues = subscribe_queues(topic, &route);
    for mq in &queues {
        let end = broker::max_offset(instance, mq).await?;
        broker::update_offset(instance, group, mq, end).await?;
        // The commit is one-way: read it back before relying on it.
        let mut committed = false;
        for _ in 0..ROUTE_ATTEMPTS {
            if broker::query_offset(instance, group, mq).await? == Some(end) {
                committed = true;
                break;
            }
            tokio::time::sleep(OFFSET_POLL).await;
        }
        if !committed {
            bail!("the broker did not keep {group}'s offset {end} on {mq}");
        }
    }
    Ok(queues.len())
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
        let started = crate::cmd::credentials::push_consumer(PushConsumer::builder(group))
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
        if polls.is_multiple_of(POLLS_PER_NUDGE) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::cmd::bench::stamp::stamped_body;

    fn consumed(body: Vec<u8>, commit_log_offset: i64) -> MessageExt {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        MessageExt {
            topic: "T".into(),
            broker_name: "broker-a".into(),
            queue_id: 0,
            queue_offset: commit_log_offset,
            commit_log_offset,
            msg_id: String::new(),
            offset_msg_id: String::new(),
            body: body.into(),
            flag: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            properties: Default::default(),
        }
    }

    #[test]
    fn a_redelivered_message_counts_once_and_as_a_duplicate() {
        let receipt = Receipt::new(9, true).unwrap();
        let msg = consumed(stamped_body(9, 100), 0);
        receipt.receive(&msg);
        receipt.receive(&msg);
        receipt.receive(&consumed(stamped_body(9, 100), 100));
        assert_eq!(receipt.tally.messages(), 2);
        assert_eq!(receipt.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(
            receipt
                .latencies
                .as_ref()
                .unwrap()
                .summary()
                .unwrap()
                .samples,
            2
        );
    }

    #[test]
    fn other_runs_and_foreign_bodies_are_stale() {
        let receipt = Receipt::new(9, false).unwrap();
        receipt.receive(&consumed(stamped_body(8, 100), 0));
        receipt.receive(&consumed(b"not a bench body".to_vec(), 1));
        assert_eq!(receipt.tally.messages(), 0);
        assert_eq!(receipt.stale.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn reaching_the_target_wakes_the_waiter_even_if_it_came_first() {
        let receipt = Receipt::new(1, false).unwrap();
        receipt.receive(&consumed(stamped_body(1, 20), 0));
        receipt.receive(&consumed(stamped_body(1, 20), 1));
        assert!(!receipt.is_complete());
        receipt.set_target(2);
        assert!(receipt.is_complete());
        tokio::time::timeout(Duration::from_secs(5), receipt.reached.notified())
            .await
            .unwrap();
    }
}
