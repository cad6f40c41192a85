//! One client connection on its shard: a reader that splits the byte stream
//! into commands and starts a task per request, and a writer that drains the
//! connection's [`OutboundSender`] queue onto the socket, everything queued
//! at a wake-up in one write ([`WriteBatch`]).
//!
//! Input safety: a malformed frame (bad length, unknown serialize type,
//! broken header) closes this connection only; frames are bounded by
//! `frame_bytes_max`, requests in flight by `connection_requests_in_flight_max`,
//! queued output by [`crate::outbound::OUTBOUND_FRAMES_MAX`] frames and
//! `connection_outbound_bytes_max` bytes, connections and idle time as
//! [`crate::limits`] says. Nothing read from the network can panic the shard.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;
use compio::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;

use crate::outbound::{Outbound, OutboundReceiver, OutboundSender, QueuedBytes, WriteBatch};
use crate::processor::{self, Reply};
use crate::shard::Shard;
use crate::state::lock;
use crate::transfer::WireChunk;

/// Read buffer growth step.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What request handlers know about the connection they serve.
pub struct Connection {
    pub id: u64,
    pub peer: SocketAddr,
    pub outbound: OutboundSender,
    in_flight: Cell<usize>,
    last_frame_ms: Cell<i64>,
}

impl Connection {
    /// Requests in progress.
    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    /// When the last whole request frame arrived (ms since the epoch).
    pub fn last_frame_ms(&self) -> i64 {
        self.last_frame_ms.get()
    }

    /// A connection without a socket, for one call of an in-process client
    /// ([`crate::gateway`]): its id and outbound queue outlive the call.
    pub fn virtual_for(id: u64, peer: SocketAddr, outbound: OutboundSender) -> Connection {
        Connection {
            id,
            peer,
            outbound,
            in_flight: Cell::new(0),
            last_frame_ms: Cell::new(crate::clock::now_ms()),
        }
    }
}

/// Serves a connection until it closes.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream, peer: SocketAddr) {
    let counts = Arc::clone(&shard.state.connection_counts);
    let _permit = match counts.open(peer, &shard.state.config) {
        Ok(permit) => permit,
        Err(refusal) => {
            tracing::warn!(%peer, %refusal, "connection refused");
            let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
            return;
        }
    };
    let (outbound, queue) = OutboundSender::channel();
    let queued = outbound.queued();
    let connection = Rc::new(Connection {
        id: shard.state.next_connection_id(),
        peer,
        outbound,
        in_flight: Cell::new(0),
        last_frame_ms: Cell::new(crate::clock::now_ms()),
    });
    tracing::debug!(shard = shard.id, %peer, connection = connection.id, "connection opened");
    let writer = compio::runtime::spawn(write_loop(stream.clone(), queue, queued));
    let idle_timeout = shard.state.config.connection_idle_timeout_ms;
    let watch = compio::runtime::spawn(crate::limits::idle_watch(
        connection.clone(),
        stream.clone(),
        idle_timeout,
    ));
    read_loop(&shard, &connection, stream.clone()).await;
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
    drop(writer);
    drop(watch);
    let changes = lock(&shard.state.clients).connection_closed(connection.id);
    shard.state.announce(changes);
    tracing::debug!(shard = shard.id, %peer, connection = connection.id, "connection closed");
}

async fn read_loop(shard: &Rc<Shard>, connection: &Rc<Connection>, mut stream: TcpStream) {
    let mut decoder = FrameDecoder::new(shard.state.config.frame_bytes_max);
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let reply_budget = shard.state.config.connection_outbound_bytes_max;
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(command)) => {
                    connection.last_frame_ms.set(crate::clock::now_ms());
                    dispatch(shard, connection, command);
                    crate::limits::wait_for_reply_room(connection, reply_budget).await;
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(peer = %connection.peer, %err, "malformed frame; closing the connection");
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(READ_CHUNK_BYTES);
        }
        let BufResult(result, returned) = stream.append(buf).await;
        buf = returned;
        match result {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Starts a task for one incoming command.
fn dispatch(shard: &Rc<Shard>, connection: &Rc<Connection>, command: RemotingCommand) {
    if command.is_response() {
        // Answers to our one-way notices never come; a client's answer to a
        // forwarded call goes to its caller; anything else is ignored.
        processor::running_info::on_response(connection.id, command);
        return;
    }
    let in_flight_max = shard.state.config.connection_requests_in_flight_max;
    if connection.in_flight.get() >= in_flight_max {
        if !command.is_oneway() {
            let busy = RemotingCommand::response_to(
                &command,
                response::SYSTEM_BUSY,
                Some(format!(
                    "[OVERLOAD] more than {in_flight_max} requests in flight on this connection (connection_requests_in_flight_max); retry later"
                )),
            );
            if let Some(frame) = Outbound::command(&busy) {
                connection.outbound.try_post(frame);
            }
        }
        return;
    }
    connection.in_flight.set(connection.in_flight.get() + 1);
    shard.in_flight.set(shard.in_flight.get() + 1);
    let shard = shard.clone();
    let connection = connection.clone();
    compio::runtime::spawn(async move {
        let oneway = command.is_oneway();
        let reply = processor::process(&shard, &connection, command).await;
        if !oneway {
            post_reply(&connection, reply).await;
        }
        connection
            .in_flight
            .set(connection.in_flight.get().saturating_sub(1));
        shard.in_flight.set(shard.in_flight.get().saturating_sub(1));
    })
    .detach();
}

async fn post_reply(connection: &Connection, reply: Reply) {
    let frame = match reply {
        Reply::None => None,
        Reply::Command(command) => Outbound::command(&command),
        Reply::Transfer(command, chunks) => Outbound::transfer(&command, chunks),
    };
    if let Some(frame) = frame {
        connection.outbound.post(frame).await;
    }
}

async fn write_loop(mut stream: TcpStream, queue: OutboundReceiver, queued: QueuedBytes) {
    let mut batch = WriteBatch::default();
    while let Ok(first) = queue.recv_async().await {
        let mut bytes = first.wire_len();
        batch.push(first);
        while !batch.is_full() {
            let Ok(next) = queue.try_recv() else {
                break;
            };
            bytes += next.wire_len();
            batch.push(next);
        }
        let written = write_chunks(&mut stream, batch.take()).await;
        queued.written(bytes);
        if written.is_err() || batch.is_closing() {
            break;
        }
    }
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Both);
}

/// One `write` for a single piece, one `writev` for several.
async fn write_chunks(stream: &mut TcpStream, mut chunks: Vec<WireChunk>) -> std::io::Result<()> {
    if chunks.len() > 1 {
        return stream.write_vectored_all(chunks).await.0;
    }
    match chunks.pop() {
        Some(chunk) => stream.write_all(chunk).await.0,
        None => Ok(()),
    }
}
