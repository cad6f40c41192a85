//! The broker-wide statistics calls, answered as Java 4.9's
//! `AdminBrokerProcessor`: VIEW_BROKER_STATS_DATA (315, one statistic's
//! last minute, hour and day from [`crate::broker_stats`]) and
//! GET_BROKER_CONSUME_STATS (317, every subscription group's consume
//! stats per topic, with the broker's total backlog).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use ringmq_net::body::{ConsumeStats, ConsumeStatsList};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{GetConsumeStatsInBrokerHeader, ViewBrokerStatsDataRequestHeader};

use super::stats::{CONSUME_STATS_TOPICS_MAX, add_topic_offsets};
use super::{Reply, error, header, success};
use crate::broker_stats::{StatsKey, StatsName, broker_totals};
use crate::shard::Shard;
use crate::state::lock;
use ringmq_net::code::response;

/// Subscription groups one GET_BROKER_CONSUME_STATS answer covers, at most.
pub const BROKER_CONSUME_STATS_GROUPS_MAX: usize = 4_096;

fn json_reply<T: serde::Serialize>(req: &RemotingCommand, value: &T) -> Reply {
    match ringmq_net::body::encode_json(value) {
        Ok(body) => Reply::command(success(req).with_body(body)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}

/// The key a statistic is asked for, if `key` has the shape it needs.
fn stats_key(shard: &Shard, name: StatsName, key: &str) -> Option<StatsKey> {
    match name {
        StatsName::TopicPutNums | StatsName::TopicPutSize => Some(StatsKey::Topic(key.to_owned())),
        StatsName::GroupGetNums | StatsName::GroupGetSize => {
            let (topic, group) = key.split_once('@')?;
            Some(StatsKey::Pair((group.to_owned(), topic.to_owned())))
        }
        StatsName::BrokerPutNums | StatsName::BrokerGetNums => {
            (key == shard.state.config.cluster_name).then_some(StatsKey::Broker)
        }
    }
}

fn current_total(shard: &Shard, key: &StatsKey) -> Option<[u64; 2]> {
    let state = &shard.state;
    match key {
        StatsKey::Topic(topic) => state.metrics.topic_total(topic),
        StatsKey::Pair(pair) => state.metrics.pair_total(pair),
        StatsKey::Broker => Some(broker_totals(state)),
    }
}

/// VIEW_BROKER_STATS_DATA: `BrokerStatsData` of `statsName` for
/// `statsKey`; SYSTEM_ERROR "The stats <name> <key> not exist" when the
/// name is unknown or the key was never counted, as Java.
pub fn view_stats_data(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ViewBrokerStatsDataRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let data = StatsName::parse(&head.stats_name).and_then(|name| {
        let key = stats_key(shard, name, &head.stats_key)?;
        let now = current_total(shard, &key);
        shard
            .state
            .stats_windows
            .data(name, &key, now, crate::clock::now_ms())
    });
    match data {
        Some(data) => json_reply(req, &data),
        None => error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "The stats <{}> <{}> not exist",
                head.stats_name, head.stats_key
            ),
        ),
    }
}

/// The topics of `group` GET_BROKER_CONSUME_STATS reports: those it has
/// offsets for, less those an online group does not subscribe to (Java's
/// `findSubscriptionData` check).
fn group_topics(shard: &Shard, group: &str) -> Vec<String> {
    let topics = lock(&shard.state.offsets).topics_of_group(group);
    let subscribed: Option<BTreeSet<String>> = lock(&shard.state.clients)
        .consumer_group(group)
        .map(|info| info.subscriptions.keys().cloned().collect());
    topics
        .into_iter()
        .filter(|topic| match &subscribed {
            Some(subs) if !subs.is_empty() => subs.contains(topic),
            _ => true,
        })
        .take(CONSUME_STATS_TOPICS_MAX)
        .collect()
}

/// The minute TPS of `group` pulling `topic` (Java's `tpsGroupGetNums`).
fn consume_tps(shard: &Shard, group: &str, topic: &str) -> f64 {
    let key = StatsKey::Pair((group.to_owned(), topic.to_owned()));
    let now = current_total(shard, &key);
    shard
        .state
        .stats_windows
        .data(StatsName::GroupGetNums, &key, now, crate::clock::now_ms())
        .map_or(0.0, |data| data.stats_minute.tps)
}

/// GET_BROKER_CONSUME_STATS: for every subscription group, the
/// `ConsumeStats` of each topic it consumes (only ordered topics when
/// `isOrder`), and the sum of their backlogs.
pub async fn broker_consume_stats(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetConsumeStatsInBrokerHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let mut groups: Vec<String> = lock(&shard.state.groups).snapshot().into_keys().collect();
    groups.sort();
    groups.truncate(BROKER_CONSUME_STATS_GROUPS_MAX);
    let mut body = ConsumeStatsList {
        broker_addr: shard.state.store_host.to_string(),
        ..ConsumeStatsList::default()
    };
    for group in groups {
        let mut list = Vec::new();
        for topic_name in group_topics(shard, &group) {
            let Some(topic) = shard.topic(&topic_name) else {
                continue;
            };
            if head.is_order && !topic.order {
                continue;
            }
            let mut stats = ConsumeStats::default();
            add_topic_offsets(shard, &group, &topic, &mut stats).await;
            stats.consume_tps = consume_tps(shard, &group, &topic_name);
            body.total_diff = body.total_diff.saturating_add(stats.total_diff());
            list.push(stats);
        }
        body.consume_stats_list
            .push(BTreeMap::from([(group, list)]));
    }
    json_reply(req, &body)
}
