//! Request processors: one function per request code, grouped by family.
//! [`process`] routes a request by code; every processor returns a
//! [`Reply`] that the connection posts unless the request was one-way.
//!
//! Processors run as tasks on the shard of the connection that received the
//! request; queue operations go through [`crate::shard::Shard`], which
//! forwards them to the owning shard when needed.

mod admin;
mod broker_stats;
mod client;
mod offset;
mod pop;
mod pull;
mod query;
pub(crate) mod retry;
pub mod running_info;
mod send;
mod stats;
mod throttle;
mod transaction;

use std::rc::Rc;

use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{CommandHeader, HeaderError};

use crate::connection::Connection;
use crate::shard::Shard;
use crate::transfer::FileChunk;

/// What to send back for a request.
pub enum Reply {
    /// Nothing (one-way requests, or the request's answer is sent elsewhere).
    None,
    Command(Box<RemotingCommand>),
    /// A response whose body is commit-log bytes sent zero-copy.
    Transfer(Box<RemotingCommand>, Vec<FileChunk>),
}

impl Reply {
    pub fn command(command: RemotingCommand) -> Reply {
        Reply::Command(Box::new(command))
    }

    pub fn transfer(command: RemotingCommand, body: Vec<FileChunk>) -> Reply {
        Reply::Transfer(Box::new(command), body)
    }
}

/// Routes one request to its processor.
pub async fn process(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    if let Err(refusal) = crate::limits::admit(&shard.state, connection, &req) {
        return refusal;
    }
    let started = std::time::Instant::now();
    let reply = match req.code {
        request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            send::send(shard, connection, &req).await
        }
        request::CONSUMER_SEND_MSG_BACK => retry::send_back(shard, &req).await,
        request::END_TRANSACTION => transaction::end_transaction(shard, &req).await,
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => pull::pull(shard, &req).await,
        request::POP_MESSAGE => pop::pop_message(shard, &req).await,
        request::ACK_MESSAGE => pop::ack_message(shard, &req).await,
        request::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(shard, &req).await,
        request::NOTIFICATION => pop::notification(shard, &req).await,
        request::QUERY_CONSUMER_OFFSET => offset::query_consumer_offset(shard, &req).await,
        request::UPDATE_CONSUMER_OFFSET => offset::update_consumer_offset(shard, &req),
        request::GET_MAX_OFFSET
        | request::GET_MIN_OFFSET
        | request::SEARCH_OFFSET_BY_TIMESTAMP
        | request::GET_EARLIEST_MSG_STORETIME => offset::queue_offsets(shard, &req).await,
        request::HEART_BEAT => client::heartbeat(shard, connection, &req),
        request::UNREGISTER_CLIENT => client::unregister(shard, connection, &req),
        request::GET_CONSUMER_LIST_BY_GROUP => client::consumer_list(shard, &req),
        request::CHECK_CLIENT_CONFIG => client::check_client_config(&req),
        request::LOCK_BATCH_MQ => client::lock_batch(shard, &req),
        request::UNLOCK_BATCH_MQ => client::unlock_batch(shard, &req),
        request::UPDATE_AND_CREATE_TOPIC => admin::create_topic(shard, &req),
        request::DELETE_TOPIC_IN_BROKER => admin::delete_topic(shard, &req).await,
        request::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(shard, &req),
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => admin::create_group(shard, &req),
        request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => admin::all_groups(shard, &req),
        request::DELETE_SUBSCRIPTIONGROUP => admin::delete_group(shard, &req),
        request::GET_BROKER_RUNTIME_INFO => admin::runtime_info(shard, &req).await,
        request::GET_TOPIC_STATS_INFO => stats::topic_stats(shard, &req).await,
        request::GET_CONSUME_STATS => stats::consume_stats(shard, &req).await,
        request::VIEW_BROKER_STATS_DATA => broker_stats::view_stats_data(shard, &req),
        request::GET_BROKER_CONSUME_STATS => broker_stats::broker_consume_stats(shard, &req).await,
        request::GET_CONSUMER_CONNECTION_LIST => stats::consumer_connections(shard, &req),
        request::GET_PRODUCER_CONNECTION_LIST => stats::producer_connections(shard, &req),
        request::QUERY_TOPIC_CONSUME_BY_WHO => stats::consume_by_who(shard, &req),
        request::QUERY_CONSUME_TIME_SPAN => stats::consume_time_span(shard, &req).await,
        request::INVOKE_BROKER_TO_RESET_OFFSET => stats::reset_offset(shard, &req).await,
        request::GET_BROKER_CONFIG => stats::broker_config(shard, &req),
        request::UPDATE_BROKER_CONFIG => stats::update_broker_config(shard, &req),
        request::GET_CONSUMER_RUNNING_INFO => {
            running_info::get_consumer_running_info(shard, &req).await
        }
        request::QUERY_MESSAGE => query::query_message(shard, &req).await,
        request::VIEW_MESSAGE_BY_ID => query::view_message(shard, &req).await,
        request::RINGMQ_THROTTLE_SET => throttle::set(shard, &req).await,
        request::RINGMQ_THROTTLE_LIST => throttle::list(shard, &req),
        request::RINGMQ_THROTTLE_CLEAR => throttle::clear(shard, &req).await,
        code => error(
            &req,
            response::REQUEST_CODE_NOT_SUPPORTED,
            format!(" request type {code} not supported"),
        ),
    };
    let code = match &reply {
        Reply::Command(c) | Reply::Transfer(c, _) => Some(c.code),
        Reply::None => None,
    };
    shard
        .state
        .metrics
        .answered(shard.id, req.code, started, code);
    reply
}

/// A SUCCESS response with no header.
pub fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response::SUCCESS, None)
}

/// An error response.
pub fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> Reply {
    Reply::command(RemotingCommand::response_to(req, code, Some(remark.into())))
}

/// Reads a typed header or produces the SYSTEM_ERROR reply Java gives for
/// a missing or malformed required field.
pub fn header<H: CommandHeader>(req: &RemotingCommand) -> Result<H, Reply> {
    req.decode_header::<H>()
        .map_err(|err| header_refusal(req, &err))
}

fn header_refusal(req: &RemotingCommand, err: &HeaderError) -> Reply {
    error(
        req,
        response::SYSTEM_ERROR,
        format!("request code {} has a bad header: {err}", req.code),
    )
}

/// Reads a JSON body or produces a SYSTEM_ERROR reply naming the problem.
pub fn json_body<T: serde::de::DeserializeOwned>(
    req: &RemotingCommand,
    what: &str,
) -> Result<T, Reply> {
    if req.body.is_empty() {
        return Err(error(
            req,
            response::SYSTEM_ERROR,
            format!("the request has no {what} body"),
        ));
    }
    ringmq_net::body::decode_json(&req.body).map_err(|err| {
        error(
            req,
            response::SYSTEM_ERROR,
            format!("the {what} body is not valid: {err}"),
        )
    })
}
