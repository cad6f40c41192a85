//! GET_CONSUMER_RUNNING_INFO (307): an admin asks about one consumer; the
//! broker forwards the request to that client over the client's own
//! connection and returns the client's answer (a `ConsumerRunningInfo`
//! body, whose `mqTable` names the queues it holds), as Java 4.9's
//! `AdminBrokerProcessor.getConsumerRunningInfo` / `Broker2Client.callClient`.
//!
//! ```text
//! admin --307 {consumerGroup, clientId, jstackEnable}--> broker (any shard)
//! broker --307, opaque N (broker-wide counter)--> client connection C
//! client --response, opaque N--> broker, on C's shard: on_response(C, N)
//! broker --the client's code, remark and body, admin's opaque--> admin
//! ```
//!
//! Answers are matched on (connection id, opaque), so a client can only
//! answer what was asked of it. At most [`PENDING_MAX`] calls wait at once;
//! each waits [`CLIENT_CALL_TIMEOUT`], then the admin gets SYSTEM_ERROR.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use futures::channel::oneshot;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::GetConsumerRunningInfoRequestHeader;

use super::{Reply, error, header};
use crate::outbound::Outbound;
use crate::shard::Shard;
use crate::state::lock;

/// Calls to clients waiting for an answer, at most.
pub const PENDING_MAX: usize = 1024;
/// How long a client has to answer (below the admin's default 5 s).
pub const CLIENT_CALL_TIMEOUT: Duration = Duration::from_secs(3);

type Pending = HashMap<(u64, i32), oneshot::Sender<RemotingCommand>>;

static PENDING: LazyLock<Mutex<Pending>> = LazyLock::new(Mutex::default);
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

/// Hands a response frame read from connection `connection_id` to the
/// call waiting for it; anything else is dropped.
pub fn on_response(connection_id: u64, command: RemotingCommand) {
    let waiting = lock(&PENDING).remove(&(connection_id, command.opaque));
    if let Some(tx) = waiting {
        let _ = tx.send(command);
    }
}

pub async fn get_consumer_running_info(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetConsumerRunningInfoRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let channel = lock(&shard.state.clients)
        .consumer_channels(&head.consumer_group)
        .into_iter()
        .find(|c| c.client_id == head.client_id)
        .map(|c| (c.connection_id, c.outbound.clone()));
    let Some((connection_id, outbound)) = channel else {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "The Consumer <{}> <{}> not online",
                head.consumer_group, head.client_id
            ),
        );
    };
    let opaque = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    {
        let mut pending = lock(&PENDING);
        if pending.len() >= PENDING_MAX {
            return error(
                req,
                response::SYSTEM_BUSY,
                format!("{PENDING_MAX} calls to consumers are waiting; retry later"),
            );
        }
        pending.insert((connection_id, opaque), tx);
    }
    let forward = req.clone().with_opaque(opaque);
    let posted = Outbound::command(&forward).is_some_and(|frame| outbound.try_post(frame));
    let answer = if posted {
        compio::time::timeout(CLIENT_CALL_TIMEOUT, rx)
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    lock(&PENDING).remove(&(connection_id, opaque));
    match answer {
        Some(answer) => Reply::command(
            RemotingCommand::response_to(req, answer.code, answer.remark).with_body(answer.body),
        ),
        None => error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "invoke consumer <{}> <{}> Exception: no answer within {} ms",
                head.consumer_group,
                head.client_id,
                CLIENT_CALL_TIMEOUT.as_millis()
            ),
        ),
    }
}
