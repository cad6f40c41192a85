//! Consumers: the long-polling [`push::PushConsumer`] and the lite
//! [`pull::PullConsumer`], with what they share — subscriptions, offsets,
//! the broker requests of consumption, and consumed messages.

pub mod broker;
pub mod message_ext;
pub mod offset_store;
pub mod orderly;
pub mod process_queue;
pub mod pull;
pub mod push;
pub(crate) mod rebalance;
pub mod subscription;

pub use message_ext::MessageExt;
pub use ringmq_net::body::MessageModel;

use crate::instance::RouteError;
use crate::message::ValidationError;
use crate::remoting::RemotingError;

/// The group name Java reserves; consumers must choose their own.
pub const DEFAULT_CONSUMER_GROUP: &str = "DEFAULT_CONSUMER";

/// Where a consumer group starts on a queue it has no offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumeFrom {
    /// The queue's current end: only new messages (the default).
    #[default]
    LastOffset,
    /// The queue's first message.
    FirstOffset,
    /// The first message stored at or after this time (ms since epoch).
    Timestamp(i64),
}

impl ConsumeFrom {
    /// The name sent in heartbeats.
    pub fn wire(self) -> ringmq_net::body::ConsumeFromWhere {
        use ringmq_net::body::ConsumeFromWhere as W;
        match self {
            ConsumeFrom::LastOffset => W::ConsumeFromLastOffset,
            ConsumeFrom::FirstOffset => W::ConsumeFromFirstOffset,
            ConsumeFrom::Timestamp(_) => W::ConsumeFromTimestamp,
        }
    }
}

/// What a listener says about the messages it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed; the offset may move past them.
    Success,
    /// Failed; deliver again later (sent back to the broker's retry topic
    /// in CLUSTERING, dropped with a warning in BROADCASTING, as in Java).
    ReconsumeLater,
}

/// Why a consumer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The group or a topic is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A subscription expression is invalid.
    #[error(transparent)]
    Subscribe(#[from] subscription::SubscribeError),
    /// No nameserver address was given.
    #[error("no nameserver address given")]
    NoNameserver,
    /// No listener was set on a push consumer.
    #[error("a push consumer needs a listener")]
    NoListener,
    /// No topic was subscribed or assigned.
    #[error("nothing to consume: subscribe to or assign at least one topic")]
    NothingToConsume,
    /// The queue's broker is not in any route.
    #[error("no address known for broker {0:?}")]
    NoBrokerAddress(String),
    /// The broker answered with an error code.
    #[error("broker answered code {code} to request {request}: {remark}")]
    Broker {
        /// The request code.
        request: i32,
        /// The response code.
        code: i32,
        /// The response remark.
        remark: String,
    },
    /// A response header did not decode.
    #[error("unreadable response header: {0}")]
    Header(#[from] ringmq_net::header::HeaderError),
    /// The topic route could not be obtained.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The transport failed.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// Local offsets could not be read or written.
    #[error(transparent)]
    Offsets(#[from] offset_store::OffsetError),
    /// The allocation strategy refused to pick this consumer's queues.
    #[error("cannot allocate queues: {0}")]
    Allocate(#[from] crate::allocate::AllocateError),
    /// The consumer was shut down.
    #[error("the consumer is shut down")]
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocate::AllocateError;

    #[test]
    fn a_refused_allocation_is_not_reported_as_a_shutdown() {
        let err = ConsumerError::from(AllocateError::EmptyClientId);
        assert!(matches!(
            err,
            ConsumerError::Allocate(AllocateError::EmptyClientId)
        ));
        assert_eq!(
            err.to_string(),
            "cannot allocate queues: the current consumer id is empty"
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("the current consumer id is empty"));
    }
}
