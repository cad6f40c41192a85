//! QUERY_MESSAGE (12) by key or unique id, and VIEW_MESSAGE_BY_ID (33) by
//! physical offset (spec §2.13). Bodies are whole stored records, copied
//! (they are few and small, unlike pull batches).

use std::rc::Rc;

use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};

use super::{Reply, error, header, success};
use crate::shard::Shard;
use crate::store::KeyQuery;

/// RocketMQ `defaultQueryMaxNum`: unique-key queries return at most this many.
pub const QUERY_MAX_NUM_DEFAULT: usize = 32;
/// Upper bound on records one QUERY_MESSAGE returns.
pub const QUERY_MAX_NUM_LIMIT: usize = 64;

pub async fn query_message(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: QueryMessageRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let max_num = if head.unique_key_query == Some(true) {
        QUERY_MAX_NUM_DEFAULT
    } else {
        usize::try_from(head.max_num)
            .unwrap_or(1)
            .clamp(1, QUERY_MAX_NUM_LIMIT)
    };
    let found = shard
        .query_key(KeyQuery {
            topic: head.topic.clone(),
            key: head.key.clone(),
            max_num,
            begin_ms: head.begin_timestamp,
            end_ms: head.end_timestamp,
        })
        .await;
    if found.is_empty() {
        return error(
            req,
            response::QUERY_NOT_FOUND,
            "can not find message, maybe time range not correct",
        );
    }
    let last = found.iter().map(|r| r.physical_offset).max().unwrap_or(0);
    let body: Vec<u8> = found.into_iter().flat_map(|r| r.bytes).collect();
    Reply::command(
        success(req)
            .with_header(&QueryMessageResponseHeader {
                index_last_update_timestamp: crate::clock::now_ms(),
                index_last_update_phyoffset: last,
            })
            .with_body(body),
    )
}

pub async fn view_message(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ViewMessageRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    match shard.read_record(head.offset).await {
        Some(record) => Reply::command(success(req).with_body(record.bytes)),
        None => error(
            req,
            response::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", head.offset),
        ),
    }
}
