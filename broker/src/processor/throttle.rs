//! The ringmq-private throttle requests (RINGMQ_THROTTLE_SET / _LIST /
//! _CLEAR, bodies in `ringmq_net::body::throttle`) and the check every send
//! passes ([`admit`]); the rules and their cost are in [`crate::throttle`].
//!
//! SET and CLEAR answer only once the rule file is written (on a blocking
//! thread, never on the event loop), so an acknowledged change survives a
//! restart.

use std::rc::Rc;

use ringmq_net::body::throttle::{
    ThrottleClearBody, ThrottleClearedBody, ThrottleListBody, ThrottleRuleData,
};
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::SendMessageRequestHeader;

use super::{Reply, error, json_body, success};
use crate::shard::Shard;
use crate::state::BrokerState;

/// The refusal of a send over a throttle rule; `Ok` when none applies.
/// With no rule at all this costs one epoch load and one empty-map check.
pub fn admit(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &SendMessageRequestHeader,
    batch: bool,
) -> Result<(), Reply> {
    let state = &shard.state;
    let rules = shard
        .throttles
        .read(state.throttles.epoch(), || state.throttles.snapshot());
    if rules.is_empty() || !rules.contains_key(&head.topic) {
        return Ok(());
    }
    let count = if batch {
        ringmq_net::batch::decode_batch(&req.body).map_or(1, |entries| entries.len())
    } else {
        1
    };
    let now = state.throttles.now_ns();
    crate::throttle::check(&rules, now, &head.topic, &head.producer_group, count as u64).map_err(
        |refused| {
            state.metrics.throttled(shard.id);
            error(req, response::SYSTEM_BUSY, refused.remark())
        },
    )
}

/// RINGMQ_THROTTLE_SET: adds or replaces one rule.
pub async fn set(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let rule: ThrottleRuleData = match json_body(req, "throttle rule") {
        Ok(rule) => rule,
        Err(reply) => return reply,
    };
    if let Err(err) = shard.state.throttles.set(rule) {
        return error(req, response::SYSTEM_ERROR, err.to_string());
    }
    persisted(req, shard.state.clone()).await
}

/// RINGMQ_THROTTLE_LIST: every rule with its refusal count.
pub fn list(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let body = ThrottleListBody {
        throttles: shard.state.throttles.list(),
    };
    body_reply(req, &body)
}

/// RINGMQ_THROTTLE_CLEAR: removes the rules matching the filter body (an
/// empty body removes every rule).
pub async fn clear(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let filter: ThrottleClearBody = if req.body.is_empty() {
        ThrottleClearBody::default()
    } else {
        match json_body(req, "throttle filter") {
            Ok(filter) => filter,
            Err(reply) => return reply,
        }
    };
    if let Err(err) = filter.validate() {
        return error(req, response::SYSTEM_ERROR, err.to_string());
    }
    let removed = shard.state.throttles.clear(&filter);
    if removed > 0
        && let Reply::Command(failed) = persisted(req, shard.state.clone()).await
        && failed.code != response::SUCCESS
    {
        return Reply::Command(failed);
    }
    body_reply(
        req,
        &ThrottleClearedBody {
            removed: removed as u64,
        },
    )
}

/// Writes the rule file off the event loop; SUCCESS once it is durable.
async fn persisted(req: &RemotingCommand, state: std::sync::Arc<BrokerState>) -> Reply {
    let written = compio::runtime::spawn_blocking(move || state.throttles.persist()).await;
    match written {
        Ok(Ok(())) => Reply::command(success(req)),
        Ok(Err(err)) => error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "the rule is in force but could not be saved, so it will not survive a restart: {err}"
            ),
        ),
        Err(_) => error(
            req,
            response::SYSTEM_ERROR,
            "the rule is in force but saving it failed, so it will not survive a restart",
        ),
    }
}

fn body_reply<T: serde::Serialize>(req: &RemotingCommand, body: &T) -> Reply {
    match ringmq_net::body::encode_json(body) {
        Ok(bytes) => Reply::command(success(req).with_body(bytes)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}
