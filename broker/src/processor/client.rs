//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38)
//! and CHECK_CLIENT_CONFIG (46): client membership (spec §2.6, §2.7).

use std::rc::Rc;

use ringmq_net::body::heartbeat::HeartbeatData;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use serde::Serialize;

use super::{Reply, error, header, json_body, success};
use crate::clients::ClientChannel;
use crate::connection::Connection;
use crate::shard::Shard;
use crate::state::{ControlEvent, lock};

/// HEART_BEAT: registers the connection's groups and subscriptions,
/// creates subscription groups and `%RETRY%` topics, notifies groups whose
/// membership changed. The reply carries the extFields a 4.9+ broker sends.
pub fn heartbeat(shard: &Rc<Shard>, connection: &Rc<Connection>, req: &RemotingCommand) -> Reply {
    let data: HeartbeatData = match json_body(req, "HeartbeatData") {
        Ok(data) => data,
        Err(reply) => return reply,
    };
    if let Some(refusal) = crate::limits::heartbeat_refusal(req, &data) {
        return refusal;
    }
    let state = &shard.state;
    let mut topics_changed = false;
    for consumer in &data.consumer_data_set {
        let auto = state.config.auto_create_subscription_group;
        let group = lock(&state.groups).find_or_create(&consumer.group_name, auto);
        if let Some(group) = group
            && group.retry_queue_nums > 0
        {
            topics_changed |= lock(&state.topics)
                .ensure_retry_topic(&consumer.group_name)
                .unwrap_or(false);
        }
    }
    if topics_changed {
        state.signal(ControlEvent::TopicsChanged);
    }
    if !data.consumer_data_set.is_empty() {
        state.signal(ControlEvent::GroupsChanged);
    }
    let channel = ClientChannel {
        connection_id: connection.id,
        client_id: data.client_id.clone(),
        remote: connection.peer,
        version: req.version,
        outbound: connection.outbound.clone(),
        last_seen_ms: crate::clock::now_ms(),
    };
    let changes = lock(&state.clients).heartbeat(channel, &data);
    state.announce(changes);
    let mut reply = success(req);
    reply
        .ext_fields
        .insert("IS_SUB_CHANGE".to_owned(), "true".to_owned());
    reply
        .ext_fields
        .insert("IS_SUPPORT_HEART_BEAT_V2".to_owned(), "true".to_owned());
    Reply::command(reply)
}

/// UNREGISTER_CLIENT: leaves the named groups.
pub fn unregister(shard: &Rc<Shard>, connection: &Rc<Connection>, req: &RemotingCommand) -> Reply {
    let head: UnregisterClientRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let changes = lock(&shard.state.clients).unregister(
        connection.id,
        head.producer_group.as_deref(),
        head.consumer_group.as_deref(),
    );
    shard.state.announce(changes);
    Reply::command(success(req))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsumerIdList {
    consumer_id_list: Vec<String>,
}

/// GET_CONSUMER_LIST_BY_GROUP: the group's live client ids.
pub fn consumer_list(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetConsumerListByGroupRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let ids = lock(&shard.state.clients).consumer_ids(&head.consumer_group);
    if ids.is_empty() {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("no consumer for this group, {}", head.consumer_group),
        );
    }
    match ringmq_net::body::encode_json(&ConsumerIdList {
        consumer_id_list: ids,
    }) {
        Ok(body) => Reply::command(success(req).with_body(body)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}

/// CHECK_CLIENT_CONFIG: only TAG filtering is supported.
pub fn check_client_config(req: &RemotingCommand) -> Reply {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Check {
        subscription_data: Option<ringmq_net::body::heartbeat::SubscriptionData>,
    }
    let check: Check = ringmq_net::body::decode_json(&req.body).unwrap_or_default();
    match check.subscription_data {
        Some(sub) if !sub.expression_type.eq_ignore_ascii_case("TAG") => error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "the broker does not support consumer filter expression type {}; use TAG",
                sub.expression_type
            ),
        ),
        _ => Reply::command(success(req)),
    }
}

/// LOCK_BATCH_MQ: locks queues for an orderly consumer; replies with the
/// queues the client now holds.
pub fn lock_batch(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    use ringmq_net::body::queue::{LockBatchRequestBody, LockBatchResponseBody};
    let body: LockBatchRequestBody = match json_body(req, "LockBatchRequestBody") {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let checked = ringmq_net::validate::queue_batch(
        &body.consumer_group,
        &body.client_id,
        body.mq_set.iter(),
    );
    if let Some(refusal) = crate::limits::body_refusal(req, checked) {
        return refusal;
    }
    let queues: Vec<_> = body.mq_set.into_iter().collect();
    let granted = lock(&shard.state.locks).lock(
        &body.consumer_group,
        &body.client_id,
        &queues,
        crate::clock::now_ms(),
        shard.state.config.rebalance_lock_max_live_time_ms,
    );
    let answer = LockBatchResponseBody {
        lock_ok_mq_set: granted.into_iter().collect(),
    };
    match ringmq_net::body::encode_json(&answer) {
        Ok(bytes) => Reply::command(success(req).with_body(bytes)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}

/// UNLOCK_BATCH_MQ: releases the client's locks on the listed queues.
pub fn unlock_batch(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    use ringmq_net::body::queue::UnlockBatchRequestBody;
    let body: UnlockBatchRequestBody = match json_body(req, "UnlockBatchRequestBody") {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let checked = ringmq_net::validate::queue_batch(
        &body.consumer_group,
        &body.client_id,
        body.mq_set.iter(),
    );
    if let Some(refusal) = crate::limits::body_refusal(req, checked) {
        return refusal;
    }
    let queues: Vec<_> = body.mq_set.into_iter().collect();
    lock(&shard.state.locks).unlock(&body.consumer_group, &body.client_id, &queues);
    Reply::command(success(req))
}
