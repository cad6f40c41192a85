//! QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15) and the queue
//! offset calls GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
//! SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32)
//! (spec §2.5).

use std::rc::Rc;

use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};

use super::{Reply, error, header, success};
use crate::shard::Shard;
use crate::state::lock;
use crate::store::{QueueQuery, QueueQueryKind};

/// QUERY_CONSUMER_OFFSET: the committed offset; for a group that never
/// committed, 0 while the queue still starts at 0 (Java's "message 0 is
/// still hot" rule), else QUERY_NOT_FOUND.
pub async fn query_consumer_offset(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: QueryConsumerOffsetRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let stored = lock(&shard.state.offsets).query(&head.consumer_group, &head.topic, head.queue_id);
    let offset = match stored {
        Some(offset) => Some(offset),
        None => {
            let min = shard
                .queue(QueueQuery::new(
                    &head.topic,
                    head.queue_id,
                    QueueQueryKind::MinOffset,
                ))
                .await;
            let max = shard
                .queue(QueueQuery::new(
                    &head.topic,
                    head.queue_id,
                    QueueQueryKind::MaxOffset,
                ))
                .await;
            (min.value <= 0 && max.value > 0).then_some(0)
        }
    };
    match offset {
        Some(offset) => {
            Reply::command(success(req).with_header(&QueryConsumerOffsetResponseHeader { offset }))
        }
        None => error(
            req,
            response::QUERY_NOT_FOUND,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        ),
    }
}

/// UPDATE_CONSUMER_OFFSET: stores the commit (usually one-way).
pub fn update_consumer_offset(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: UpdateConsumerOffsetRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    lock(&shard.state.offsets).commit(
        &head.consumer_group,
        &head.topic,
        head.queue_id,
        head.commit_offset,
    );
    Reply::command(success(req))
}

/// The four per-queue lookups answered by the queue's owner shard.
pub async fn queue_offsets(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let query = match queue_query(req) {
        Ok(query) => query,
        Err(reply) => return reply,
    };
    let kind = query.kind;
    let value = shard.queue(query).await.value;
    let reply = success(req);
    Reply::command(match kind {
        QueueQueryKind::MaxOffset => {
            reply.with_header(&GetMaxOffsetResponseHeader { offset: value })
        }
        QueueQueryKind::MinOffset => {
            reply.with_header(&GetMinOffsetResponseHeader { offset: value })
        }
        QueueQueryKind::OffsetAt(_) => {
            reply.with_header(&SearchOffsetResponseHeader { offset: value })
        }
        QueueQueryKind::EarliestStoreTime | QueueQueryKind::StoreTimeAt(_) => {
            reply.with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp: value })
        }
    })
}

fn queue_query(req: &RemotingCommand) -> Result<QueueQuery, Reply> {
    Ok(match req.code {
        request::GET_MAX_OFFSET => {
            let h: GetMaxOffsetRequestHeader = header(req)?;
            QueueQuery::new(&h.topic, h.queue_id, QueueQueryKind::MaxOffset)
        }
        request::GET_MIN_OFFSET => {
            let h: GetMinOffsetRequestHeader = header(req)?;
            QueueQuery::new(&h.topic, h.queue_id, QueueQueryKind::MinOffset)
        }
        request::SEARCH_OFFSET_BY_TIMESTAMP => {
            let h: SearchOffsetRequestHeader = header(req)?;
            QueueQuery::new(&h.topic, h.queue_id, QueueQueryKind::OffsetAt(h.timestamp))
        }
        _ => {
            let h: GetEarliestMsgStoretimeRequestHeader = header(req)?;
            QueueQuery::new(&h.topic, h.queue_id, QueueQueryKind::EarliestStoreTime)
        }
    })
}
