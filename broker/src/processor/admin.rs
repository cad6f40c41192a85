//! Operator calls: UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER
//! (215), GET_ALL_TOPIC_CONFIG (21), UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//! (200), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP
//! (207) and GET_BROKER_RUNTIME_INFO (28) (spec §2.11).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
};
use serde::Serialize;

use super::{Reply, error, header, json_body, success};
use crate::groups::SubscriptionGroupConfig;
use crate::shard::Shard;
use crate::state::{ControlEvent, lock};
use crate::topics::{
    TOPIC_QUEUE_NUMS_MAX, TopicConfig, TopicTable, is_system_topic, validate_topic_name,
};
use ringmq_net::topic_attributes::{self, AttributeError};

fn json_reply<T: Serialize>(req: &RemotingCommand, value: &T) -> Reply {
    match ringmq_net::body::encode_json(value) {
        Ok(body) => Reply::command(success(req).with_body(body)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}

/// UPDATE_AND_CREATE_TOPIC: creates or replaces a topic, persists and
/// re-registers (through the control thread).
pub fn create_topic(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: CreateTopicRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    if let Err(remark) = validate_topic_name(&head.topic) {
        return error(req, response::SYSTEM_ERROR, remark);
    }
    if is_system_topic(&head.topic, &shard.state.config) {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("the topic[{}] is conflict with system topic", head.topic),
        );
    }
    let queues_ok = |n: i32| (1..=TOPIC_QUEUE_NUMS_MAX).contains(&n);
    if !queues_ok(head.read_queue_nums) || !queues_ok(head.write_queue_nums) {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("readQueueNums and writeQueueNums must be within 1..={TOPIC_QUEUE_NUMS_MAX}"),
        );
    }
    let mut table = lock(&shard.state.topics);
    let attributes = match topic_attributes(&table, &head) {
        Ok(attributes) => attributes,
        Err(err) => return error(req, response::SYSTEM_ERROR, err.to_string()),
    };
    let topic = TopicConfig {
        topic_name: head.topic.clone(),
        read_queue_nums: head.read_queue_nums,
        write_queue_nums: head.write_queue_nums,
        perm: head.perm & 0x7,
        topic_filter_type: if head.topic_filter_type == "MULTI_TAG" {
            "MULTI_TAG".to_owned()
        } else {
            "SINGLE_TAG".to_owned()
        },
        topic_sys_flag: head.topic_sys_flag.unwrap_or(0),
        order: head.order,
        attributes,
    };
    let upserted = table.upsert(topic);
    drop(table);
    match upserted {
        Ok(true) => shard.state.signal(ControlEvent::TopicsChanged),
        Ok(false) => {}
        Err(refusal) => return error(req, refusal.code, refusal.remark),
    }
    Reply::command(success(req))
}

/// The attributes a created or updated topic ends with: the header's
/// changes applied to the existing topic's (none when it is new).
fn topic_attributes(
    table: &TopicTable,
    head: &CreateTopicRequestHeader,
) -> Result<BTreeMap<String, String>, AttributeError> {
    let changes = topic_attributes::parse_changes(head.attributes.as_deref().unwrap_or(""))?;
    let current = table.get(&head.topic).map(|topic| &topic.attributes);
    topic_attributes::apply_changes(current, &changes)
}

/// DELETE_TOPIC_IN_BROKER: forgets the topic, its committed offsets and
/// its consume queues on every shard.
pub async fn delete_topic(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: DeleteTopicRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    if is_system_topic(&head.topic, &shard.state.config) {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "the topic[{}] is a system topic and cannot be deleted",
                head.topic
            ),
        );
    }
    let removed = lock(&shard.state.topics).remove(&head.topic);
    if removed {
        lock(&shard.state.offsets).remove_topic(&head.topic);
        shard.state.signal(ControlEvent::TopicsChanged);
        shard.delete_topic(&head.topic).await;
    }
    Reply::command(success(req))
}

/// GET_ALL_TOPIC_CONFIG: the `TopicConfigSerializeWrapper`.
pub fn all_topic_config(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let wrapper = lock(&shard.state.topics).to_wrapper();
    json_reply(req, &wrapper)
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: body is a `SubscriptionGroupConfig`.
pub fn create_group(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let config: SubscriptionGroupConfig = match json_body(req, "SubscriptionGroupConfig") {
        Ok(config) => config,
        Err(reply) => return reply,
    };
    let checked = ringmq_net::validate::subscription_group(&config.group_name);
    if let Some(refusal) = crate::limits::body_refusal(req, checked) {
        return refusal;
    }
    if let Err(remark) = lock(&shard.state.groups).upsert(config) {
        return error(req, response::SYSTEM_ERROR, remark);
    }
    shard.state.signal(ControlEvent::GroupsChanged);
    Reply::command(success(req))
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG: the whole table in its file form.
pub fn all_groups(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let wrapper = lock(&shard.state.groups).to_wrapper();
    json_reply(req, &wrapper)
}

/// DELETE_SUBSCRIPTIONGROUP: forgets the group (and its offsets if asked).
pub fn delete_group(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: DeleteSubscriptionGroupRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    lock(&shard.state.groups).remove(&head.group_name);
    if head.remove_offset {
        lock(&shard.state.offsets).remove_group(&head.group_name);
    }
    shard.state.signal(ControlEvent::GroupsChanged);
    Reply::command(success(req))
}

#[derive(Serialize)]
struct KvTable {
    table: BTreeMap<String, String>,
}

/// GET_BROKER_RUNTIME_INFO: a KVTable of version, uptime and counters.
pub async fn runtime_info(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let stores = shard.store_infos().await;
    let state = &shard.state;
    let now = crate::clock::now_ms();
    let mut table = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        table.insert(k.to_owned(), v);
    };
    put(
        "brokerVersion",
        ringmq_net::code::CURRENT_VERSION.to_string(),
    );
    put("brokerVersionDesc", "V4_9_8 (ringmq)".to_owned());
    put("bootTimestamp", state.started_ms.to_string());
    put(
        "runtime",
        format!("{} ms", now.saturating_sub(state.started_ms)),
    );
    put("shards", state.shard_count().to_string());
    put("putTps", state.tps.put_tps());
    put("getTransferedTps", state.tps.get_tps());
    add_store_keys(&mut put, &stores);
    put(
        "msgPutTotalTodayNow",
        state
            .counters
            .messages_put
            .load(Ordering::Relaxed)
            .to_string(),
    );
    put(
        "msgGetTotalTodayNow",
        state
            .counters
            .messages_got
            .load(Ordering::Relaxed)
            .to_string(),
    );
    put(
        "clientConnections",
        lock(&state.clients).channel_count().to_string(),
    );
    put("topicCount", lock(&state.topics).names().len().to_string());
    put(
        "flushMode",
        state.config.flush_mode.rocketmq_name().to_owned(),
    );
    if let Some(ratio) = crate::metrics::disk_used_ratio(&state.config.data_dir) {
        // Java's key: the used fraction of the commit log's file system.
        put("commitLogDiskRatio", format!("{ratio:.4}"));
    }
    json_reply(req, &KvTable { table })
}

/// Commit-log keys over every shard's log. Java has one log; ours has one
/// per shard, so `commitLogMinOffset`/`commitLogMaxOffset` are the sums of
/// the shards' local offsets (their difference is the bytes retained, as
/// in Java), and `commitLogShard<i>` gives each shard's `min-max`.
/// `readOnly` is `true` when any shard's store refuses writes after an I/O
/// failure; `readOnlyReason` says why.
fn add_store_keys(put: &mut impl FnMut(&str, String), stores: &[crate::shard::StoreInfo]) {
    let min: u64 = stores.iter().map(|s| s.min_offset).sum();
    let max: u64 = stores.iter().map(|s| s.max_offset).sum();
    put("commitLogMinOffset", min.to_string());
    put("commitLogMaxOffset", max.to_string());
    for (id, store) in stores.iter().enumerate() {
        put(
            &format!("commitLogShard{id}"),
            format!("{}-{}", store.min_offset, store.max_offset),
        );
    }
    let reasons: Vec<String> = stores
        .iter()
        .enumerate()
        .filter_map(|(id, s)| s.read_only.as_ref().map(|r| format!("shard {id}: {r}")))
        .collect();
    put("readOnly", (!reasons.is_empty()).to_string());
    if !reasons.is_empty() {
        put("readOnlyReason", reasons.join("; "));
    }
}
