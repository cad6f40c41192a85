//! A connection's outbound queue: everything the broker sends on one client
//! connection (responses, long-polled pull results, broker→client requests
//! such as NOTIFY_CONSUMER_IDS_CHANGED) goes through one bounded queue that
//! any shard or the control thread may post to; the connection's writer task
//! (on the connection's shard) drains it in order.
//!
//! Bounded: a client that does not read its socket fills the queue; after
//! that, posts fail (requests get no answer and notifications are dropped)
//! instead of growing memory. The sender also counts the bytes queued
//! ([`OutboundSender::queued_bytes`]), so the connection's reader stops
//! reading requests while too many reply bytes wait (`crate::limits`).
//!
//! The writer answers many requests per socket write: each wake-up drains
//! what is queued into one [`WriteBatch`] (small frames copied into one
//! buffer, zero-copy bodies kept as their own pieces), bounded by
//! [`WRITE_BATCH_BYTES_MAX`] and [`WRITE_BATCH_CHUNKS_MAX`], and sends it
//! with one `write`/`writev`. Frames keep their queue order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use ringmq_net::command::RemotingCommand;

use crate::transfer::{FileChunk, WireChunk};

/// Frames queued per connection before posts are refused.
pub const OUTBOUND_FRAMES_MAX: usize = 1024;
/// A writer stops draining the queue into one write at this many bytes.
pub const WRITE_BATCH_BYTES_MAX: usize = 256 * 1024;
/// A writer stops draining at this many pieces (iovecs; IOV_MAX is 1024).
pub const WRITE_BATCH_CHUNKS_MAX: usize = 512;
/// Frames up to this size are copied into the batch buffer; larger ones
/// are sent from their own allocation.
const COPIED_FRAME_BYTES_MAX: usize = 16 * 1024;

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
    /// Bytes this item puts on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Outbound::Frame(frame) => frame.len(),
            Outbound::Transfer { prefix, body } => {
                prefix.len() + body.iter().map(FileChunk::len).sum::<usize>()
            }
            Outbound::Close => 0,
        }
    }

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
    queued: QueuedBytes,
}

/// Bytes posted to a connection and not yet written; shared by its senders
/// and its writer.
#[derive(Clone, Default)]
pub struct QueuedBytes(Arc<AtomicUsize>);

impl QueuedBytes {
    /// The writer wrote `n` bytes.
    pub fn written(&self, n: usize) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(n))
            });
    }

    fn posted(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes queued now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The receiving side, owned by the connection's writer task.
pub type OutboundReceiver = flume::Receiver<Outbound>;

impl OutboundSender {
    pub fn channel() -> (OutboundSender, OutboundReceiver) {
        let (tx, rx) = flume::bounded(OUTBOUND_FRAMES_MAX);
        let queued = QueuedBytes::default();
        (OutboundSender { inner: tx, queued }, rx)
    }

    /// The byte count the connection's writer must decrement.
    pub fn queued(&self) -> QueuedBytes {
        self.queued.clone()
    }

    /// Reply bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued.get()
    }

    /// Queues without waiting; `false` when full or closed.
    pub fn try_post(&self, item: Outbound) -> bool {
        let len = item.wire_len();
        let sent = self.inner.try_send(item).is_ok();
        if sent {
            self.queued.posted(len);
        }
        sent
    }

    /// Queues, waiting for room; `false` when the connection is gone.
    pub async fn post(&self, item: Outbound) -> bool {
        let len = item.wire_len();
        self.queued.posted(len);
        let sent = self.inner.send_async(item).await.is_ok();
        if !sent {
            self.queued.written(len);
        }
        sent
    }

    /// Whether the connection's writer is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_disconnected()
    }
}

/// The frames one socket write sends (see the module doc).
#[derive(Default)]
pub struct WriteBatch {
    chunks: Vec<WireChunk>,
    copied: BytesMut,
    bytes: usize,
    closing: bool,
}

impl WriteBatch {
    /// Adds `item` after everything already in the batch. After
    /// [`Outbound::Close`] the batch is full and closing.
    pub fn push(&mut self, item: Outbound) {
        match item {
            Outbound::Frame(frame) => {
                self.bytes += frame.len();
                if frame.len() <= COPIED_FRAME_BYTES_MAX {
                    self.copied.extend_from_slice(&frame);
                } else {
                    self.seal_copied();
                    self.chunks.push(WireChunk::Bytes(frame));
                }
            }
            Outbound::Transfer { prefix, body } => {
                self.bytes += prefix.len() + body.iter().map(FileChunk::len).sum::<usize>();
                self.copied.extend_from_slice(&prefix);
                self.seal_copied();
                self.chunks.extend(body.into_iter().map(WireChunk::File));
            }
            Outbound::Close => self.closing = true,
        }
    }

    /// Whether no more items should be added before writing.
    pub fn is_full(&self) -> bool {
        self.closing
            || self.bytes >= WRITE_BATCH_BYTES_MAX
            || self.chunks.len() >= WRITE_BATCH_CHUNKS_MAX
    }

    /// Whether [`Outbound::Close`] was pushed: write, then close.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// The pieces to write, in order; the batch is empty again afterwards
    /// (its copy buffer is reused once the write released it).
    pub fn take(&mut self) -> Vec<WireChunk> {
        self.seal_copied();
        self.bytes = 0;
        std::mem::take(&mut self.chunks)
    }

    fn seal_copied(&mut self) {
        if !self.copied.is_empty() {
            self.chunks
                .push(WireChunk::Bytes(self.copied.split().freeze()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ringmq_net::code::{request, response};
    use ringmq_net::command::SerializeType;
    use ringmq_net::frame::FrameDecoder;

    fn reply(opaque: i32, serialize_type: SerializeType, body: usize) -> RemotingCommand {
        let mut req = RemotingCommand::request(request::SEND_MESSAGE).with_opaque(opaque);
        req.serialize_type = serialize_type;
        RemotingCommand::response_to(&req, response::SUCCESS, None).with_body(vec![7u8; body])
    }

    fn concat(chunks: &[WireChunk]) -> BytesMut {
        let mut out = BytesMut::new();
        for chunk in chunks {
            out.extend_from_slice(compio::buf::IoBuf::as_init(chunk));
        }
        out
    }

    #[test]
    fn batch_keeps_order_and_opaques_of_mixed_frames() {
        let mut batch = WriteBatch::default();
        let mut sent = Vec::new();
        for opaque in 0..40 {
            let serialize_type = if opaque % 2 == 0 {
                SerializeType::Json
            } else {
                SerializeType::RocketMq
            };
            // Every tenth frame is too large to copy: it stays its own piece.
            let body = if opaque % 10 == 3 { 20_000 } else { 16 };
            let command = reply(opaque, serialize_type, body);
            batch.push(Outbound::command(&command).unwrap());
            sent.push(command);
        }
        let chunks = batch.take();
        assert!(chunks.len() < sent.len(), "small frames share a buffer");
        let mut wire = concat(&chunks);
        let mut decoder = FrameDecoder::default();
        for expected in sent {
            assert_eq!(decoder.decode(&mut wire).unwrap(), Some(expected));
        }
        assert!(wire.is_empty());
        assert!(batch.take().is_empty(), "take empties the batch");
    }

    #[test]
    fn batch_is_full_at_its_byte_bound_and_after_close() {
        let mut batch = WriteBatch::default();
        let frame = Bytes::from(vec![0u8; 4096]);
        let mut pushed = 0;
        while !batch.is_full() {
            batch.push(Outbound::Frame(frame.clone()));
            pushed += 1;
            assert!(pushed <= WRITE_BATCH_BYTES_MAX / 4096 + 1, "bounded");
        }
        assert_eq!(pushed, WRITE_BATCH_BYTES_MAX / 4096);
        assert_eq!(concat(&batch.take()).len(), pushed * 4096);
        assert!(!batch.is_full());
        batch.push(Outbound::Close);
        assert!(batch.is_full() && batch.is_closing());
    }

    #[test]
    fn an_unread_connection_queues_at_most_the_bound() {
        let (sender, receiver) = OutboundSender::channel();
        let frame = Bytes::from_static(b"frame");
        let mut accepted = 0;
        for _ in 0..OUTBOUND_FRAMES_MAX * 2 {
            if sender.try_post(Outbound::Frame(frame.clone())) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, OUTBOUND_FRAMES_MAX);
        assert_eq!(receiver.len(), OUTBOUND_FRAMES_MAX);
    }
}
