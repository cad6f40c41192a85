//! A connection's outbound queue: everything the broker sends on one client
//! connection (responses, long-polled pull results, broker→client requests
//! such as NOTIFY_CONSUMER_IDS_CHANGED) goes through one bounded queue that
//! any shard or the control thread may post to; the connection's writer task
//! (on the connection's shard) drains it in order.
//!
//! Bounded: a client that does not read its socket fills the queue; after
//! that, posts fail (requests get no answer and notifications are dropped)
//! instead of growing memory.

use bytes::{Bytes, BytesMut};
use ringmq_net::command::RemotingCommand;

use crate::transfer::FileChunk;

/// Frames queued per connection before posts are refused.
pub const OUTBOUND_FRAMES_MAX: usize = 1024;

/// One frame to write.
pub enum Outbound {
    /// A whole encoded frame.
    Frame(Bytes),
    /// A frame whose body is commit-log bytes sent from the segment file
    /// mapping without copying them through user space.
    Transfer { prefix: Bytes, body: Vec<FileChunk> },
    /// Close the connection after everything queued before it.
    Close,
}

impl Outbound {
    /// Encodes `command`; `None` (logged) if it cannot be encoded.
    pub fn command(command: &RemotingCommand) -> Option<Outbound> {
        let mut out = BytesMut::new();
        match command.encode(&mut out) {
            Ok(()) => Some(Outbound::Frame(out.freeze())),
            Err(err) => {
                tracing::warn!(code = command.code, %err, "cannot encode a command; dropped");
                None
            }
        }
    }

    /// A frame with `command`'s header followed by `body` chunks.
    pub fn transfer(command: &RemotingCommand, body: Vec<FileChunk>) -> Option<Outbound> {
        let body_len = body.iter().map(FileChunk::len).sum();
        let mut prefix = BytesMut::new();
        match command.encode_prefix(body_len, &mut prefix) {
            Ok(()) => Some(Outbound::Transfer {
                prefix: prefix.freeze(),
                body,
            }),
            Err(err) => {
                tracing::warn!(code = command.code, %err, "cannot encode a command; dropped");
                None
            }
        }
    }
}

/// The sending side of a connection's outbound queue (any thread).
#[derive(Clone)]
pub struct OutboundSender {
    inner: flume::Sender<Outbound>,
}

/// The receiving side, owned by the connection's writer task.
pub type OutboundReceiver = flume::Receiver<Outbound>;

impl OutboundSender {
    pub fn channel() -> (OutboundSender, OutboundReceiver) {
        let (tx, rx) = flume::bounded(OUTBOUND_FRAMES_MAX);
        (OutboundSender { inner: tx }, rx)
    }

    /// Queues without waiting; `false` when full or closed.
    pub fn try_post(&self, item: Outbound) -> bool {
        self.inner.try_send(item).is_ok()
    }

    /// Queues, waiting for room; `false` when the connection is gone.
    pub async fn post(&self, item: Outbound) -> bool {
        self.inner.send_async(item).await.is_ok()
    }

    /// Whether the connection's writer is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_disconnected()
    }
}
