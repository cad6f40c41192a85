//! Admin operations over the whole cluster: the brokers, a group's
//! consumer progress (lag per queue), offset reset, message lookup.
//! Each one asks the nameserver where things are, then each master
//! broker, and checks every name before it changes anything.

use std::collections::BTreeMap;

use ringmq_net::body::{ConsumeStats, TopicRouteData};
use serde::Serialize;

use super::{Admin, AdminError};
use crate::consumer::MessageExt;

/// Group Java's tools pull with (`MixAll.TOOLS_CONSUMER_GROUP`).
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";

/// One broker as the nameserver lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerRef {
    /// Cluster name.
    pub cluster: String,
    /// Broker name.
    pub name: String,
    /// Broker id (0 = master).
    pub id: i64,
    /// `ip:port`.
    pub addr: String,
}

/// One queue's progress in [`ConsumerProgress`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueProgress {
    /// Broker name.
    pub broker: String,
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// The queue's max offset.
    pub broker_offset: i64,
    /// The group's committed offset.
    pub consumer_offset: i64,
    /// `broker_offset - consumer_offset` (never negative).
    pub lag: i64,
    /// The client holding the queue (GET_CONSUMER_RUNNING_INFO's `mqTable`),
    /// when one is online and answers.
    pub client: Option<String>,
    /// Store time of the last consumed message, ms (0 = none).
    pub last_timestamp: i64,
}

/// A group's progress over every broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerProgress {
    /// The group.
    pub group: String,
    /// Sum of the queues' lags.
    pub total_lag: i64,
    /// Every queue the group has offsets for, sorted by topic, broker, queue.
    pub queues: Vec<QueueProgress>,
}

/// Where an offset reset moves a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    /// Each queue's oldest readable offset.
    Earliest,
    /// Each queue's end (skip everything stored).
    Latest,
    /// The first message stored at or after this time, ms.
    Time(i64),
}

impl ResetTarget {
    /// The `timestamp` INVOKE_BROKER_TO_RESET_OFFSET carries (-1 = latest).
    pub fn timestamp(self) -> i64 {
        match self {
            ResetTarget::Earliest => 0,
            ResetTarget::Latest => -1,
            ResetTarget::Time(ms) => ms.max(0),
        }
    }
}

/// One queue's new offset after a reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetQueue {
    /// Broker name.
    pub broker: String,
    /// Queue id.
    pub queue_id: i32,
    /// The new offset.
    pub offset: i64,
}

/// What an offset reset did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetOutcome {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// `"consumers"`: online consumers were told by their broker and
    /// commit it; `"committed"`: no consumer was online, the offsets were
    /// committed directly.
    pub applied_by: String,
    /// The new offsets.
    pub queues: Vec<ResetQueue>,
}

impl Admin {
    /// Every broker of every cluster, sorted by cluster, name, id.
    pub async fn brokers(&self) -> Result<Vec<BrokerRef>, AdminError> {
        let info = self.cluster_info().await?;
        let mut out = Vec::new();
        for (name, data) in &info.broker_addr_table {
            for (id, addr) in &data.broker_addrs {
                out.push(BrokerRef {
                    cluster: data.cluster.clone(),
                    name: name.clone(),
                    id: *id,
                    addr: addr.clone(),
                });
            }
        }
        out.sort_by(|a, b| (&a.cluster, &a.name, a.id).cmp(&(&b.cluster, &b.name, b.id)));
        Ok(out)
    }

    /// Every master broker, or the one named `only`.
    pub async fn masters(&self, only: Option<&str>) -> Result<Vec<BrokerRef>, AdminError> {
        let masters: Vec<BrokerRef> = self
            .brokers()
            .await?
            .into_iter()
            .filter(|b| b.id == 0 && only.is_none_or(|n| n == b.name))
            .collect();
        match (masters.is_empty(), only) {
            (true, Some(name)) => Err(AdminError::NotFound(format!("no broker named {name}"))),
            (true, None) => Err(AdminError::NotFound(
                "the nameserver knows no master broker".into(),
            )),
            _ => Ok(masters),
        }
    }

    /// The master brokers serving `topic` with their queue counts
    /// (name, address, read queues, write queues).
    pub async fn topic_masters(
        &self,
        topic: &str,
    ) -> Result<Vec<(String, String, i32, i32)>, AdminError> {
        let route = self.topic_route(topic).await?;
        Ok(masters_of_route(&route))
    }

    /// Whether any master knows `group` (a subscription group, or members
    /// online).
    pub async fn group_exists(&self, group: &str) -> Result<bool, AdminError> {
        for broker in self.masters(None).await? {
            if self
                .groups(&broker.addr)
                .await?
                .subscription_group_table
                .contains_key(group)
            {
                return Ok(true);
            }
            if self
                .consumer_connections(&broker.addr, group)
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// GET_CONSUME_STATS on every master, merged: lag per queue and in total.
    /// An unknown group is [`AdminError::NotFound`].
    pub async fn consumer_progress(&self, group: &str) -> Result<ConsumerProgress, AdminError> {
        let mut queues = Vec::new();
        for broker in self.masters(None).await? {
            let stats = self.consume_stats(&broker.addr, group, None).await?;
            queues.extend(progress_rows(&broker.name, &stats));
        }
        if queues.is_empty() && !self.group_exists(group).await? {
            return Err(AdminError::NotFound(format!(
                "consumer group {group} does not exist"
            )));
        }
        queues.sort_by(|a, b| {
            (&a.topic, &a.broker, a.queue_id).cmp(&(&b.topic, &b.broker, b.queue_id))
        });
        let owners = self.queue_owners(group).await?;
        for q in &mut queues {
            let mq = ringmq_net::body::MessageQueue::new(&q.topic, &q.broker, q.queue_id);
            q.client = owners.get(&mq).cloned();
        }
        let total_lag = queues.iter().map(|q| q.lag).fold(0, i64::saturating_add);
        Ok(ConsumerProgress {
            group: group.to_owned(),
            total_lag,
            queues,
        })
    }

    /// Moves `group`'s offsets on `topic`. With consumers online, their
    /// brokers tell them (INVOKE_BROKER_TO_RESET_OFFSET) and they commit;
    /// otherwise every queue's target is computed first and then committed
    /// directly (UPDATE_CONSUMER_OFFSET), so a bad name changes nothing.
    pub async fn reset_offset(
        &self,
        group: &str,
        topic: &str,
        target: ResetTarget,
    ) -> Result<ResetOutcome, AdminError> {
        let masters = self.topic_masters(topic).await?;
        if !self.group_exists(group).await? {
            return Err(AdminError::NotFound(format!(
                "consumer group {group} does not exist"
            )));
        }
        let mut outcome = ResetOutcome {
            group: group.to_owned(),
            topic: topic.to_owned(),
            applied_by: "consumers".to_owned(),
            queues: Vec::new(),
        };
        let mut direct = Vec::new();
        for (name, addr, _read, write) in &masters {
            match self
                .invoke_reset_offset(addr, group, topic, target.timestamp())
                .await
            {
                Ok(Some(body)) => outcome
                    .queues
                    .extend(body.offset_table.iter().map(|(mq, o)| ResetQueue {
                        broker: mq.broker_name.clone(),
                        queue_id: mq.queue_id,
                        offset: *o,
                    })),
                // Not online, or (Java) no offsets committed yet: commit.
                Ok(None) | Err(AdminError::Refused { .. }) => {
                    for queue_id in 0..*write {
                        let offset = self.target_offset(addr, topic, queue_id, target).await?;
                        direct.push((name.clone(), addr.clone(), queue_id, offset));
                    }
                }
                Err(err) => return Err(err),
            }
        }
        if !direct.is_empty() {
            outcome.applied_by = "committed".to_owned();
        }
        for (name, addr, queue_id, offset) in direct {
            self.commit_offset(&addr, group, topic, queue_id, offset)
                .await?;
            outcome.queues.push(ResetQueue {
                broker: name,
                queue_id,
                offset,
            });
        }
        outcome
            .queues
            .sort_by(|a, b| (&a.broker, a.queue_id).cmp(&(&b.broker, b.queue_id)));
        Ok(outcome)
    }

    async fn target_offset(
        &self,
        addr: &str,
        topic: &str,
        queue_id: i32,
        target: ResetTarget,
    ) -> Result<i64, AdminError> {
        match target {
            ResetTarget::Earliest => self.min_offset(addr, topic, queue_id).await,
            ResetTarget::Latest => self.max_offset(addr, topic, queue_id).await,
            ResetTarget::Time(ms) => self.offset_at(addr, topic, queue_id, ms).await,
        }
    }

    /// A message by id: an offset message id is looked up on the broker it
    /// names (when that is a broker of the cluster); otherwise, with
    /// `topic`, the id is taken as a unique id (UNIQ_KEY) and queried on
    /// every master of the topic.
    pub async fn message_by_id(
        &self,
        id: &str,
        topic: Option<&str>,
    ) -> Result<Vec<MessageExt>, AdminError> {
        if let Ok((host, offset)) = ringmq_net::message_id::decode_offset_msg_id(id) {
            let host = host.to_string();
            let brokers = self.brokers().await?;
            if let Some(broker) = brokers.iter().find(|b| b.addr == host) {
                return self
                    .view_message(&broker.addr, &broker.name, offset)
                    .await
                    .map(|m| vec![m]);
            }
        }
        let Some(topic) = topic else {
            return Err(AdminError::NotFound(format!(
                "{id} names no broker of this cluster; give --topic to look it up as a unique id"
            )));
        };
        let mut found = Vec::new();
        for (name, addr, _, _) in self.topic_masters(topic).await? {
            found.extend(
                self.query_messages(&addr, &name, topic, id, (0, i64::MAX), true)
                    .await?,
            );
        }
        if found.is_empty() {
            return Err(AdminError::NotFound(format!(
                "no message {id} in topic {topic}"
            )));
        }
        Ok(found)
    }

    /// Messages of `topic` with business key `key` stored within `range_ms`.
    pub async fn messages_by_key(
        &self,
        topic: &str,
        key: &str,
        range_ms: (i64, i64),
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut found = Vec::new();
        for (name, addr, _, _) in self.topic_masters(topic).await? {
            found.extend(
                self.query_messages(&addr, &name, topic, key, range_ms, false)
                    .await?,
            );
        }
        Ok(found)
    }

    /// Up to `count` messages of one queue from `offset`, on every master
    /// that has the queue.
    pub async fn messages_at(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        count: i32,
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut found = Vec::new();
        for (name, addr, read, _) in self.topic_masters(topic).await? {
            if queue_id < 0 || queue_id >= read {
                continue;
            }
            let queue = ringmq_net::body::MessageQueue::new(topic, name, queue_id);
            let pulled = self
                .pull(&addr, &queue, TOOLS_CONSUMER_GROUP, offset, count)
                .await?;
            found.extend(pulled.messages);
        }
        Ok(found)
    }
}

/// (name, master address, read queues, write queues) of each broker in a route.
pub fn masters_of_route(route: &TopicRouteData) -> Vec<(String, String, i32, i32)> {
    let addrs: BTreeMap<&str, &str> = route
        .broker_datas
        .iter()
        .filter_map(|b| Some((b.broker_name.as_str(), b.master_addr()?)))
        .collect();
    route
        .queue_datas
        .iter()
        .filter_map(|q| {
            let addr = addrs.get(q.broker_name.as_str())?;
            Some((
                q.broker_name.clone(),
                (*addr).to_owned(),
                q.read_queue_nums,
                q.write_queue_nums,
            ))
        })
        .collect()
}

fn progress_rows(broker: &str, stats: &ConsumeStats) -> Vec<QueueProgress> {
    stats
        .offset_table
        .iter()
        .map(|(mq, w)| QueueProgress {
            broker: if mq.broker_name.is_empty() {
                broker.to_owned()
            } else {
                mq.broker_name.clone()
            },
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            broker_offset: w.broker_offset,
            consumer_offset: w.consumer_offset,
            lag: w.broker_offset.saturating_sub(w.consumer_offset).max(0),
            client: None,
            last_timestamp: w.last_timestamp,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_net::body::{MessageQueue, OffsetWrapper};

    #[test]
    fn progress_lag_is_broker_minus_consumer_never_negative() {
        let mut stats = ConsumeStats::default();
        stats.offset_table.insert(
            MessageQueue::new("T", "b", 0),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 4,
                last_timestamp: 1,
            },
        );
        stats.offset_table.insert(
            MessageQueue::new("T", "b", 1),
            OffsetWrapper {
                broker_offset: 3,
                consumer_offset: 5,
                last_timestamp: 0,
            },
        );
        let rows = progress_rows("b", &stats);
        assert_eq!(rows.iter().map(|r| r.lag).collect::<Vec<_>>(), vec![6, 0]);
    }

    #[test]
    fn reset_target_timestamps_follow_java() {
        assert_eq!(ResetTarget::Latest.timestamp(), -1);
        assert_eq!(ResetTarget::Earliest.timestamp(), 0);
        assert_eq!(ResetTarget::Time(5).timestamp(), 5);
    }
}
