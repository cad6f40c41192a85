//! The in-process gateway: lets code outside the shards (the gRPC endpoint,
//! on its own tokio thread) run remoting requests through the same
//! [`crate::processor::process`] a TCP client reaches, without a socket.
//!
//! # Shape
//!
//! - [`Gateway`] is `Send + Sync + Clone`: it holds the broker's shared state
//!   and posts each call to a shard's inbox as [`ShardMessage::Gateway`]
//!   with a oneshot for the answer.
//! - Each outside client (one gRPC client id) gets a [`VirtualClient`]: a
//!   connection id, a peer address and an [`OutboundSender`] of its own, as
//!   a TCP connection has. Its calls always run on the same shard (chosen
//!   from the client key), where a [`Connection`] is built around those
//!   three for the duration of the call, so HEART_BEAT registers the client
//!   in the [`crate::clients::ClientRegistry`] like any other connection.
//! - Whatever the broker pushes to that connection (CHECK_TRANSACTION_STATE,
//!   NOTIFY_CONSUMER_IDS_CHANGED, GET_CONSUMER_RUNNING_INFO, a close on
//!   expiry) lands in the client's [`PushedCommands`], decoded back into
//!   [`RemotingCommand`]s, for the outside protocol to translate.
//!
//! Answers are plain owned commands: a [`Reply::Transfer`]'s segment chunks
//! are copied into the response body (the outside protocol re-encodes the
//! records anyway).
//!
//! Bounded: calls in flight per virtual client are bounded by
//! [`GATEWAY_CALLS_IN_FLIGHT_MAX`] (a semaphore-free counter checked before
//! posting; an overloaded client gets [`GatewayError::Busy`]); pushed
//! commands wait in the outbound queue's usual bound
//! ([`crate::outbound::OUTBOUND_FRAMES_MAX`]).

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use futures::channel::oneshot;
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;

use crate::connection::Connection;
use crate::groups::SubscriptionGroupConfig;
use crate::outbound::{Outbound, OutboundReceiver, OutboundSender};
use crate::processor::{self, Reply};
use crate::shard::{Shard, ShardMessage};
use crate::state::{BrokerState, ControlEvent, lock};
use crate::topics::{CREATED_TOPIC_QUEUE_NUMS, TopicConfig, TopicRefusal};

/// Calls one virtual client may have in flight at once.
pub const GATEWAY_CALLS_IN_FLIGHT_MAX: usize = 256;

/// Runs remoting requests on the broker's shards for outside protocols.
#[derive(Clone)]
pub struct Gateway {
    state: Arc<BrokerState>,
}

/// One outside client as the broker sees it: a connection without a socket.
#[derive(Clone)]
pub struct VirtualClient {
    connection_id: u64,
    peer: SocketAddr,
    shard: usize,
    outbound: OutboundSender,
    in_flight: Arc<AtomicUsize>,
}

/// Commands the broker pushed to a [`VirtualClient`]'s connection.
pub struct PushedCommands {
    queue: OutboundReceiver,
    decoder: FrameDecoder,
    buffer: BytesMut,
}

/// One request forwarded to a shard by the gateway.
pub struct GatewayCall {
    connection_id: u64,
    peer: SocketAddr,
    outbound: OutboundSender,
    request: RemotingCommand,
}

/// Why a gateway call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The broker is stopping (or the shard is gone).
    #[error("the broker is shutting down")]
    Unavailable,
    /// The client has [`GATEWAY_CALLS_IN_FLIGHT_MAX`] calls in flight.
    #[error("more than {GATEWAY_CALLS_IN_FLIGHT_MAX} calls in flight for this client")]
    Busy,
}

/// What the broker pushed to a virtual client.
pub enum Pushed {
    /// A request or notice (e.g. CHECK_TRANSACTION_STATE).
    Command(RemotingCommand),
    /// The broker closed the connection (the client expired).
    Closed,
}

impl Gateway {
    pub(crate) fn new(state: Arc<BrokerState>) -> Gateway {
        Gateway { state }
    }

    /// The broker's shared state (read-only use: topic table, config).
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// A new virtual connection for the client known by `key` (e.g. its
    /// client id) reaching the broker from `peer`.
    pub fn connect(&self, key: &str, peer: SocketAddr) -> (VirtualClient, PushedCommands) {
        let (outbound, queue) = OutboundSender::channel();
        let shards = self.state.shard_count().max(1) as u64;
        let shard = (ringmq_net::hash::fnv1a64(key.as_bytes()) % shards) as usize;
        let client = VirtualClient {
            connection_id: self.state.next_connection_id(),
            peer,
            shard,
            outbound,
            in_flight: Arc::default(),
        };
        let pushed = PushedCommands {
            queue,
            decoder: FrameDecoder::new(self.state.config.frame_bytes_max),
            buffer: BytesMut::new(),
        };
        (client, pushed)
    }

    /// Runs `request` as if `client` had sent it; `None` when the request
    /// has no answer (one-way, or an END_TRANSACTION left to the check).
    pub async fn call(
        &self,
        client: &VirtualClient,
        request: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, GatewayError> {
        let Some(inbox) = self.state.shards.get(client.shard) else {
            return Err(GatewayError::Unavailable);
        };
        if self.state.is_shutting_down() {
            return Err(GatewayError::Unavailable);
        }
        if client.in_flight.fetch_add(1, Ordering::AcqRel) >= GATEWAY_CALLS_IN_FLIGHT_MAX {
            client.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(GatewayError::Busy);
        }
        let call = GatewayCall {
            connection_id: client.connection_id,
            peer: client.peer,
            outbound: client.outbound.clone(),
            request,
        };
        let (tx, rx) = oneshot::channel();
        let answer = match inbox.send_async(ShardMessage::Gateway(call, tx)).await {
            Ok(()) => rx.await.map_err(|_| GatewayError::Unavailable),
            Err(_) => Err(GatewayError::Unavailable),
        };
        client.in_flight.fetch_sub(1, Ordering::AcqRel);
        answer
    }

    /// A topic's configuration for a route lookup, auto-created through
    /// `TBW102` as a first send would create it (when `auto_create_topic_enable`).
    pub fn topic_for_route(&self, topic: &str) -> Result<TopicConfig, TopicRefusal> {
        let config = &self.state.config;
        let queues =
            i32::try_from(config.default_topic_queue_nums).unwrap_or(CREATED_TOPIC_QUEUE_NUMS);
        let (found, created) = lock(&self.state.topics).topic_for_send(
            topic,
            ringmq_net::topic::AUTO_CREATE_TOPIC,
            queues,
            config.auto_create_topic_enable,
        )?;
        if created {
            self.state.signal(ControlEvent::TopicsChanged);
        }
        Ok(found)
    }

    /// A subscription group, created when missing and
    /// `auto_create_subscription_group` allows.
    pub fn group(&self, name: &str) -> Option<SubscriptionGroupConfig> {
        let auto = self.state.config.auto_create_subscription_group;
        let mut groups = lock(&self.state.groups);
        let existed = groups.get(name).is_some();
        let found = groups.find_or_create(name, auto);
        drop(groups);
        if !existed && found.is_some() {
            self.state.signal(ControlEvent::GroupsChanged);
        }
        found
    }

    /// Forgets `client` (it terminated or its stream ended): it leaves every
    /// group, and the groups it left are told.
    pub fn disconnect(&self, client: &VirtualClient) {
        let changes = lock(&self.state.clients).connection_closed(client.connection_id);
        self.state.announce(changes);
    }
}

impl VirtualClient {
    /// The connection id the broker knows this client by.
    pub fn connection_id(&self) -> u64 {
        self.connection_id
    }
}

impl PushedCommands {
    /// The next command the broker pushed; `None` once the broker dropped
    /// every sender (the client's registry entry and calls are gone).
    pub async fn next(&mut self) -> Option<Pushed> {
        loop {
            match self.decoder.decode(&mut self.buffer) {
                Ok(Some(command)) => return Some(Pushed::Command(command)),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, "a command pushed to a gateway client does not decode; dropped");
                    self.buffer.clear();
                }
            }
            match self.queue.recv_async().await.ok()? {
                Outbound::Frame(frame) => self.buffer.extend_from_slice(&frame),
                Outbound::Transfer { prefix, body } => {
                    self.buffer.extend_from_slice(&prefix);
                    for chunk in body {
                        self.buffer.extend_from_slice(chunk.as_slice());
                    }
                }
                Outbound::Close => return Some(Pushed::Closed),
            }
        }
    }
}

/// Serves one gateway call on `shard` (runs as its own task there).
pub(crate) async fn serve(shard: Rc<Shard>, call: GatewayCall) -> Option<RemotingCommand> {
    let GatewayCall {
        connection_id,
        peer,
        outbound,
        request,
    } = call;
    let connection = Rc::new(Connection::virtual_for(connection_id, peer, outbound));
    shard.in_flight.set(shard.in_flight.get() + 1);
    let reply = processor::process(&shard, &connection, request).await;
    shard.in_flight.set(shard.in_flight.get().saturating_sub(1));
    flatten(reply)
}

/// An owned command for a reply; transfer chunks become the body.
fn flatten(reply: Reply) -> Option<RemotingCommand> {
    match reply {
        Reply::None => None,
        Reply::Command(command) => Some(*command),
        Reply::Transfer(command, chunks) => {
            let len = chunks.iter().map(crate::transfer::FileChunk::len).sum();
            let mut body = BytesMut::with_capacity(len);
            for chunk in &chunks {
                body.extend_from_slice(chunk.as_slice());
            }
            Some((*command).with_body(body.freeze()))
        }
    }
}
