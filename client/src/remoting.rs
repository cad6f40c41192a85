//! The tokio transport: one TCP connection per address, requests matched to
//! responses by `opaque`, and broker→client requests handed to the owner.
//!
//! Each connection has a writer task (frames from a bounded channel,
//! flushed when the channel runs dry) and a reader task (splits the stream
//! with `FrameDecoder`; a response completes the waiting request's oneshot,
//! a request becomes an [`InboundRequest`] on the client's inbound channel).
//! A connection whose reader or writer fails is marked closed, its waiters
//! are failed at once, and the next request to that address reconnects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ringmq_client::remoting::RemotingError> {
//! use ringmq_client::remoting::{RemotingClient, RemotingConfig};
//! use ringmq_net::code::request;
//! use ringmq_net::command::RemotingCommand;
//! use std::time::Duration;
//!
//! let (client, _inbound) = RemotingClient::new(RemotingConfig::default());
//! let reply = client
//!     .invoke("127.0.0.1:9876", RemotingCommand::request(request::GET_BROKER_CLUSTER_INFO),
//!             Duration::from_secs(3))
//!     .await?;
//! println!("code {}", reply.code);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::{EncodeError, FRAME_MAX_BYTES_DEFAULT, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Requests awaiting a response on one connection, at most.
pub const IN_FLIGHT_PER_CONNECTION_MAX: usize = 4_096;
/// Encoded frames queued for the writer task, at most.
pub const WRITE_QUEUE_FRAMES_MAX: usize = 1_024;
/// Broker→client requests queued for the owner, at most (more are refused
/// with SYSTEM_BUSY).
pub const INBOUND_QUEUE_MAX: usize = 256;
/// Default time to establish a TCP connection.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(3);
/// Addresses with a remembered dial lock before idle ones are forgotten.
const DIAL_LOCKS_MAX: usize = 1_024;
/// Read buffer growth step.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Why a request got no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemotingError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The peer.
        addr: String,
        /// The OS error text or "timed out".
        reason: String,
    },
    /// No response came within the timeout.
    #[error("request code {code} to {addr} timed out after {timeout_ms} ms")]
    Timeout {
        /// The peer.
        addr: String,
        /// The request code.
        code: i32,
        /// The timeout.
        timeout_ms: u128,
    },
    /// The connection closed before the response came.
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// The peer.
        addr: String,
    },
    /// The command could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    /// The client was shut down.
    #[error("the remoting client is shut down")]
    Shutdown,
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct RemotingConfig {
    /// Time allowed for a TCP connect.
    pub connect_timeout: Duration,
    /// Requests in flight per connection.
    pub in_flight_max: usize,
    /// Largest frame accepted from a peer.
    pub frame_max_bytes: usize,
    /// Sees every request before it is sent (ACL signing, [`crate::acl`]).
    pub rpc_hook: Option<Arc<dyn crate::acl::RpcHook>>,
}

impl Default for RemotingConfig {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            in_flight_max: IN_FLIGHT_PER_CONNECTION_MAX,
            frame_max_bytes: FRAME_MAX_BYTES_DEFAULT,
            rpc_hook: None,
        }
    }
}

/// A request a broker sent to us, with the way to answer it.
#[derive(Debug)]
pub struct InboundRequest {
    /// The peer's address as we dialled it.
    pub from: String,
    /// The request.
    pub command: RemotingCommand,
    /// Sends the response (ignored for one-way requests).
    pub responder: Responder,
}

/// Answers one inbound request on the connection it came from.
#[derive(Debug, Clone)]
pub struct Responder {
    writer: mpsc::Sender<Bytes>,
}

impl Responder {
    /// Sends `reply` (built with `RemotingCommand::response_to`).
    pub async fn reply(&self, reply: RemotingCommand) {
        let mut out = BytesMut::new();
        if reply.encode(&mut out).is_ok() {
            let _ = self.writer.send(out.freeze()).await;
        }
    }
}

/// Hashes an opaque with one multiplication (Fibonacci hashing): opaques
/// are our own sequential request ids, not attacker-chosen keys, so the
/// map needs spread, not SipHash's flood resistance. Every request inserts
/// and removes one.
#[derive(Debug, Default, Clone, Copy)]
struct OpaqueHasher(u64);

impl std::hash::Hasher for OpaqueHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(OPAQUE_HASH_MULTIPLIER);
        }
    }
    fn write_i32(&mut self, opaque: i32) {
        self.0 = u64::from(opaque as u32).wrapping_mul(OPAQUE_HASH_MULTIPLIER);
    }
}

/// 2^64 / the golden ratio: consecutive opaques land far apart.
const OPAQUE_HASH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

type Pending = Arc<
    Mutex<
        HashMap<i32, oneshot::Sender<RemotingCommand>, std::hash::BuildHasherDefault<OpaqueHasher>>,
    >,
>;

/// One TCP connection to a broker or nameserver.
#[derive(Debug)]
struct Connection {
    addr: String,
    writer: mpsc::Sender<Bytes>,
    pending: Pending,
    in_flight: Arc<Semaphore>,
    closed: Arc<AtomicBool>,
    tasks: [JoinHandle<()>; 2],
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }
}

#[derive(Debug)]
struct Shared {
    config: RemotingConfig,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    dialing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    inbound: mpsc::Sender<InboundRequest>,
    next_opaque: AtomicI32,
    shut_down: AtomicBool,
}

/// A pool of connections, cheap to clone.
#[derive(Debug, Clone)]
pub struct RemotingClient {
    shared: Arc<Shared>,
}

impl RemotingClient {
    /// A client and the receiver of broker→client requests.
    pub fn new(config: RemotingConfig) -> (Self, mpsc::Receiver<InboundRequest>) {
        let (inbound, inbound_rx) = mpsc::channel(INBOUND_QUEUE_MAX);
        let shared = Shared {
            config,
            connections: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashMap::new()),
            inbound,
            next_opaque: AtomicI32::new(0),
            shut_down: AtomicBool::new(false),
        };
        (
            Self {
                shared: Arc::new(shared),
            },
            inbound_rx,
        )
    }

    fn before_request(&self, addr: &str, request: &mut RemotingCommand) {
        if let Some(hook) = &self.shared.config.rpc_hook {
            hook.before_request(addr, request);
        }
    }

    /// Sends `request` to `addr` and waits up to `timeout` for its response.
    pub async fn invoke(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let code = request.code;
        let timed_out = || RemotingError::Timeout {
            addr: addr.to_string(),
            code,
            timeout_ms: timeout.as_millis(),
        };
        let conn = tokio::time::timeout_at(deadline, self.connection(addr))
            .await
            .map_err(|_| timed_out())??;
        let _permit = tokio::time::timeout_at(deadline, conn.in_flight.clone().acquire_owned())
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| closed(addr))?;
        let opaque = self.next_opaque();
        request.opaque = opaque;
        self.before_request(addr, &mut request);
        let frame = encode(&request)?;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = conn.pending.lock() {
            pending.insert(opaque, tx);
        }
        let outcome = tokio::time::timeout_at(deadline, async {
            conn.writer.send(frame).await.map_err(|_| closed(addr))?;
            rx.await.map_err(|_| closed(addr))
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => {
                if let Ok(mut pending) = conn.pending.lock() {
                    pending.remove(&opaque);
                }
                Err(timed_out())
            }
        }
    }

    /// Sends `request` one-way (no response is expected or awaited).
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<(), RemotingError> {
        let code = request.code;
        let sent = tokio::time::timeout(timeout, async {
            let conn = self.connection(addr).await?;
            request.opaque = self.next_opaque();
            request.set_oneway();
            self.before_request(addr, &mut request);
            let frame = encode(&request)?;
            conn.writer.send(frame).await.map_err(|_| closed(addr))
        })
        .await;
        sent.unwrap_or_else(|_| {
            Err(RemotingError::Timeout {
                addr: addr.to_string(),
                code,
                timeout_ms: timeout.as_millis(),
            })
        })
    }

    /// Closes the connection to `addr`, if any (e.g. a broker went away).
    pub fn close(&self, addr: &str) {
        let conn = self
            .shared
            .connections
            .lock()
            .ok()
            .and_then(|mut map| map.remove(addr));
        if let Some(conn) = conn {
            conn.close();
        }
    }

    /// Closes every connection; later requests fail with `Shutdown`.
    pub fn shutdown(&self) {
        self.shared.shut_down.store(true, Ordering::Release);
        let all: Vec<Arc<Connection>> = self
            .shared
            .connections
            .lock()
            .map(|mut map| map.drain().map(|(_, c)| c).collect())
            .unwrap_or_default();
        for conn in all {
            conn.close();
        }
    }

    /// Addresses with an open connection.
    pub fn connected_addrs(&self) -> Vec<String> {
        self.shared
            .connections
            .lock()
            .map(|map| {
                map.values()
                    .filter(|c| !c.is_closed())
                    .map(|c| c.addr.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn next_opaque(&self) -> i32 {
        self.shared.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    async fn connection(&self, addr: &str) -> Result<Arc<Connection>, RemotingError> {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(RemotingError::Shutdown);
        }
        if let Some(conn) = self.live_connection(addr) {
            return Ok(conn);
        }
        // One dial per address at a time: concurrent first requests share it.
        let dial_lock = self.dial_lock(addr)?;
        let _dialing = dial_lock.lock().await;
        if let Some(conn) = self.live_connection(addr) {
            return Ok(conn);
        }
        let fresh = Arc::new(self.connect(addr).await?);
        let mut map = self
            .shared
            .connections
            .lock()
            .map_err(|_| RemotingError::Shutdown)?;
        match map.get(addr) {
            Some(existing) if !existing.is_closed() => {
                fresh.close();
                Ok(existing.clone())
            }
            _ => {
                if let Some(old) = map.insert(addr.to_string(), fresh.clone()) {
                    old.close();
                }
                Ok(fresh)
            }
        }
    }

    fn dial_lock(&self, addr: &str) -> Result<Arc<tokio::sync::Mutex<()>>, RemotingError> {
        let mut locks = self
            .shared
            .dialing
            .lock()
            .map_err(|_| RemotingError::Shutdown)?;
        if locks.len() >= DIAL_LOCKS_MAX && !locks.contains_key(addr) {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Ok(locks.entry(addr.to_string()).or_default().clone())
    }

    fn live_connection(&self, addr: &str) -> Option<Arc<Connection>> {
        let map = self.shared.connections.lock().ok()?;
        map.get(addr).filter(|c| !c.is_closed()).cloned()
    }

    async fn connect(&self, addr: &str) -> Result<Connection, RemotingError> {
        let connect_error = |reason: String| RemotingError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let stream =
            tokio::time::timeout(self.shared.config.connect_timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| connect_error("timed out".into()))?
                .map_err(|e| connect_error(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        let (writer, frames) = mpsc::channel(WRITE_QUEUE_FRAMES_MAX);
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let write_task = tokio::spawn(write_loop(write_half, frames, closed.clone()));
        let reader = Reader {
            addr: addr.to_string(),
            decoder: FrameDecoder::new(self.shared.config.frame_max_bytes),
            pending: pending.clone(),
            inbound: self.shared.inbound.clone(),
            writer: writer.clone(),
            closed: closed.clone(),
        };
        let read_task = tokio::spawn(reader.run(read_half));
        Ok(Connection {
            addr: addr.to_string(),
            writer,
            pending,
            in_flight: Arc::new(Semaphore::new(self.shared.config.in_flight_max)),
            closed,
            tasks: [write_task, read_task],
        })
    }
}

fn closed(addr: &str) -> RemotingError {
    RemotingError::ConnectionClosed {
        addr: addr.to_string(),
    }
}

fn encode(command: &RemotingCommand) -> Result<Bytes, RemotingError> {
    // `encode` reserves the whole frame itself: one allocation.
    let mut out = BytesMut::new();
    command.encode(&mut out)?;
    Ok(out.freeze())
}

async fn write_loop(
    half: tokio::net::tcp::OwnedWriteHalf,
    mut frames: mpsc::Receiver<Bytes>,
    closed: Arc<AtomicBool>,
) {
    let mut out = BufWriter::new(half);
    while let Some(frame) = frames.recv().await {
        if out.write_all(&frame).await.is_err() {
            break;
        }
        // Coalesce whatever else is queued, then flush once.
        let mut failed = false;
        while let Ok(next) = frames.try_recv() {
            if out.write_all(&next).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed || out.flush().await.is_err() {
            break;
        }
    }
    closed.store(true, Ordering::Release);
}

struct Reader {
    addr: String,
    decoder: FrameDecoder,
    pending: Pending,
    inbound: mpsc::Sender<InboundRequest>,
    writer: mpsc::Sender<Bytes>,
    closed: Arc<AtomicBool>,
}

impl Reader {
    async fn run(mut self, mut half: tokio::net::tcp::OwnedReadHalf) {
        let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
        'read: loop {
            if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
                buf.reserve(READ_CHUNK_BYTES);
            }
            match half.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            loop {
                match self.decoder.decode(&mut buf) {
                    Ok(Some(command)) => self.dispatch(command).await,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(addr = %self.addr, %error, "bad frame; closing connection");
                        break 'read;
                    }
                }
            }
        }
        self.closed.store(true, Ordering::Release);
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }

    async fn dispatch(&self, command: RemotingCommand) {
        if command.is_response() {
            let waiter = self
                .pending
                .lock()
                .ok()
                .and_then(|mut p| p.remove(&command.opaque));
            if let Some(waiter) = waiter {
                let _ = waiter.send(command);
            }
            return;
        }
        let responder = Responder {
            writer: self.writer.clone(),
        };
        let request = InboundRequest {
            from: self.addr.clone(),
            command,
            responder,
        };
        if let Err(mpsc::error::TrySendError::Full(refused)) = self.inbound.try_send(request)
            && !refused.command.is_oneway()
        {
            let busy = RemotingCommand::response_to(
                &refused.command,
                response::SYSTEM_BUSY,
                Some("[OVERLOAD] client inbound queue is full".into()),
            );
            refused.responder.reply(busy).await;
        }
    }
}
