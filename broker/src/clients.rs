//! The client registry: which client connections exist, which producer and
//! consumer groups they belong to, each consumer group's subscriptions, and
//! who must be told (NOTIFY_CONSUMER_IDS_CHANGED) when a group's membership
//! changes (spec §2.6, §2.7).
//!
//! Shared by all shards: one `Mutex<ClientRegistry>` in
//! [`crate::state::BrokerState`], never locked across `.await`. Methods that
//! change membership return the [`GroupChange`]s to announce; the caller
//! posts the notifications after releasing the lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;

use ringmq_net::body::heartbeat::{
    ConsumeFromWhere, ConsumeType, HeartbeatData, MessageModel, SubscriptionData,
};

use crate::outbound::OutboundSender;

/// Upper bound on consumer groups tracked at once.
pub const CONSUMER_GROUPS_MAX: usize = 100_000;
/// Upper bound on subscriptions one consumer group may register.
pub const SUBSCRIPTIONS_PER_GROUP_MAX: usize = 10_000;

/// A client connection known from its heartbeats.
#[derive(Clone)]
pub struct ClientChannel {
    pub connection_id: u64,
    pub client_id: String,
    pub remote: SocketAddr,
    pub version: i32,
    pub outbound: OutboundSender,
    pub last_seen_ms: i64,
}

/// One consumer group as its members describe it in heartbeats.
#[derive(Default, Clone)]
pub struct ConsumerGroupInfo {
    /// connection id -> client id.
    pub members: BTreeMap<u64, String>,
    /// topic -> subscription (the latest heartbeat wins).
    pub subscriptions: BTreeMap<String, SubscriptionData>,
    pub consume_type: ConsumeType,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
}

impl ConsumerGroupInfo {
    fn client_ids(&self) -> BTreeSet<String> {
        self.members.values().cloned().collect()
    }
}

/// A consumer group whose membership changed: its remaining members must
/// be notified.
pub struct GroupChange {
    pub group: String,
    pub members: Vec<OutboundSender>,
}

/// All clients of this broker.
#[derive(Default)]
pub struct ClientRegistry {
    channels: HashMap<u64, ClientChannel>,
    consumer_groups: HashMap<String, ConsumerGroupInfo>,
    producer_groups: HashMap<String, BTreeSet<u64>>,
}

impl ClientRegistry {
    /// Records a heartbeat from `channel`; returns the groups whose client
    /// list changed.
    pub fn heartbeat(&mut self, channel: ClientChannel, data: &HeartbeatData) -> Vec<GroupChange> {
        let connection_id = channel.connection_id;
        let client_id = channel.client_id.clone();
        self.channels.insert(connection_id, channel);
        for producer in &data.producer_data_set {
            self.producer_groups
                .entry(producer.group_name.clone())
                .or_default()
                .insert(connection_id);
        }
        let mut changes = Vec::new();
        for consumer in &data.consumer_data_set {
            if !self.consumer_groups.contains_key(&consumer.group_name)
                && self.consumer_groups.len() >= CONSUMER_GROUPS_MAX
            {
                tracing::warn!(group = %consumer.group_name, "too many consumer groups; heartbeat ignored");
                continue;
            }
            let info = self
                .consumer_groups
                .entry(consumer.group_name.clone())
                .or_default();
            let before = info.client_ids();
            info.members.insert(connection_id, client_id.clone());
            info.consume_type = consumer.consume_type;
            info.message_model = consumer.message_model;
            info.consume_from_where = consumer.consume_from_where;
            for sub in consumer
                .subscription_data_set
                .iter()
                .take(SUBSCRIPTIONS_PER_GROUP_MAX)
            {
                info.subscriptions.insert(sub.topic.clone(), sub.clone());
            }
            if info.client_ids() != before {
                changes.push(consumer.group_name.clone());
            }
        }
        changes
            .into_iter()
            .filter_map(|group| self.change_of(&group))
            .collect()
    }

    /// Drops a client from the named groups (UNREGISTER_CLIENT).
    pub fn unregister(
        &mut self,
        connection_id: u64,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> Vec<GroupChange> {
        if let Some(group) = producer_group
            && let Some(members) = self.producer_groups.get_mut(group)
        {
            members.remove(&connection_id);
            if members.is_empty() {
                self.producer_groups.remove(group);
            }
        }
        let Some(group) = consumer_group else {
            return Vec::new();
        };
        self.remove_consumer(group, connection_id)
            .into_iter()
            .collect()
    }

    /// Drops a connection from everything (it closed or expired).
    pub fn connection_closed(&mut self, connection_id: u64) -> Vec<GroupChange> {
        self.channels.remove(&connection_id);
        self.producer_groups.retain(|_, members| {
            members.remove(&connection_id);
            !members.is_empty()
        });
        let groups: Vec<String> = self
            .consumer_groups
            .iter()
            .filter(|(_, info)| info.members.contains_key(&connection_id))
            .map(|(group, _)| group.clone())
            .collect();
        groups
            .iter()
            .filter_map(|group| self.remove_consumer(group, connection_id))
            .collect()
    }

    /// Drops channels silent for `idle_ms`; returns the changes and the
    /// expired channels (to be closed).
    pub fn expire(&mut self, now_ms: i64, idle_ms: i64) -> (Vec<GroupChange>, Vec<OutboundSender>) {
        let expired: Vec<u64> = self
            .channels
            .values()
            .filter(|c| now_ms.saturating_sub(c.last_seen_ms) > idle_ms)
            .map(|c| c.connection_id)
            .collect();
        let mut changes = Vec::new();
        let mut closed = Vec::new();
        for id in expired {
            if let Some(channel) = self.channels.get(&id) {
                tracing::info!(client = %channel.client_id, remote = %channel.remote, "client channel expired");
                closed.push(channel.outbound.clone());
            }
            changes.extend(self.connection_closed(id));
        }
        (changes, closed)
    }

    fn remove_consumer(&mut self, group: &str, connection_id: u64) -> Option<GroupChange> {
        let info = self.consumer_groups.get_mut(group)?;
        info.members.remove(&connection_id)?;
        if info.members.is_empty() {
            self.consumer_groups.remove(group);
            return None;
        }
        self.change_of(group)
    }

    fn change_of(&self, group: &str) -> Option<GroupChange> {
        let info = self.consumer_groups.get(group)?;
        let members = info
            .members
            .keys()
            .filter_map(|id| self.channels.get(id))
            .map(|c| c.outbound.clone())
            .collect();
        Some(GroupChange {
            group: group.to_owned(),
            members,
        })
    }

    /// Client ids of a consumer group, sorted, deduplicated.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.consumer_groups
            .get(group)
            .map(|info| info.client_ids().into_iter().collect())
            .unwrap_or_default()
    }

    pub fn consumer_group(&self, group: &str) -> Option<&ConsumerGroupInfo> {
        self.consumer_groups.get(group)
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The live channels of a consumer group's members.
    pub fn consumer_channels(&self, group: &str) -> Vec<&ClientChannel> {
        self.consumer_groups
            .get(group)
            .map(|info| {
                info.members
                    .keys()
                    .filter_map(|id| self.channels.get(id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The live channels of a producer group.
    pub fn producer_channels(&self, group: &str) -> Vec<&ClientChannel> {
        self.producer_groups
            .get(group)
            .map(|ids| ids.iter().filter_map(|id| self.channels.get(id)).collect())
            .unwrap_or_default()
    }

    /// Consumer groups subscribed to `topic` (Java `queryTopicConsumeByWho`).
    pub fn groups_subscribed_to(&self, topic: &str) -> Vec<String> {
        self.consumer_groups
            .iter()
            .filter(|(_, info)| info.subscriptions.contains_key(topic))
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// A live channel of a producer group (for broker→producer calls).
    pub fn producer_channel(&self, group: &str) -> Option<&ClientChannel> {
        self.producer_groups
            .get(group)?
            .iter()
            .find_map(|id| self.channels.get(id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ringmq_net::body::heartbeat::ConsumerData;

    fn channel(id: u64, client: &str) -> ClientChannel {
        ClientChannel {
            connection_id: id,
            client_id: client.to_owned(),
            remote: "127.0.0.1:1".parse().unwrap(),
            version: 409,
            outbound: OutboundSender::channel().0,
            last_seen_ms: 0,
        }
    }

    fn consumer_heartbeat(client: &str, group: &str) -> HeartbeatData {
        HeartbeatData {
            client_id: client.to_owned(),
            consumer_data_set: vec![ConsumerData {
                group_name: group.to_owned(),
                subscription_data_set: vec![SubscriptionData::tag("T", "*", 1)],
                ..ConsumerData::default()
            }],
            producer_data_set: Vec::new(),
        }
    }

    #[test]
    fn joining_consumer_changes_the_group_and_repeated_heartbeat_does_not() {
        let mut registry = ClientRegistry::default();
        let changes = registry.heartbeat(channel(1, "c1"), &consumer_heartbeat("c1", "g"));
        assert_eq!(changes.len(), 1);
        assert!(
            registry
                .heartbeat(channel(1, "c1"), &consumer_heartbeat("c1", "g"))
                .is_empty()
        );
        let changes = registry.heartbeat(channel(2, "c2"), &consumer_heartbeat("c2", "g"));
        assert_eq!(changes[0].members.len(), 2);
        assert_eq!(
            registry.consumer_ids("g"),
            vec!["c1".to_owned(), "c2".to_owned()]
        );
    }

    #[test]
    fn closing_a_connection_notifies_the_remaining_members() {
        let mut registry = ClientRegistry::default();
        registry.heartbeat(channel(1, "c1"), &consumer_heartbeat("c1", "g"));
        registry.heartbeat(channel(2, "c2"), &consumer_heartbeat("c2", "g"));
        let changes = registry.connection_closed(1);
        assert_eq!(changes[0].members.len(), 1);
        assert_eq!(registry.consumer_ids("g"), vec!["c2".to_owned()]);
        assert!(registry.connection_closed(2).is_empty());
        assert!(registry.consumer_group("g").is_none());
    }

    #[test]
    fn silent_channels_expire() {
        let mut registry = ClientRegistry::default();
        registry.heartbeat(channel(1, "c1"), &consumer_heartbeat("c1", "g"));
        let (_, closed) = registry.expire(200_000, 120_000);
        assert_eq!(closed.len(), 1);
        assert_eq!(registry.channel_count(), 0);
    }
}
