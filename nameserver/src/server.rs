//! The nameserver's network side on tokio: the accept loop, one task per
//! connection, the broker-liveness scanner and graceful shutdown.
//!
//! Per-connection memory is bounded: the read buffer holds at most one frame
//! of [`NameserverConfig::max_frame_bytes`] (plus one read chunk), and
//! requests are answered in order with the response written before the next
//! request is read, so at most one response is queued
//! ([`WRITE_QUEUE_FRAMES_LIMIT`]). A peer that stops reading stalls only its
//! own connection and is dropped after the idle timeout.
//!
//! A connection is closed, without touching any other, when a frame does not
//! decode, when it sends nothing for [`NameserverConfig::idle_timeout_ms`],
//! when a write stalls for as long, or when the liveness scanner expires a
//! broker that registered over it. Closing it drops every broker that
//! registered over it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ringmq_net::frame::{FrameDecoder, FrameError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::NameserverConfig;
use crate::kv::{KvConfig, KvError};
use crate::processor::Processor;
use crate::route::ConnectionId;

/// Responses queued per connection: the one being written.
pub const WRITE_QUEUE_FRAMES_LIMIT: usize = 1;
/// Initial read buffer of a connection; it grows up to one frame.
pub const READ_BUFFER_INITIAL_BYTES: usize = 4 * 1024;
/// A read buffer that grew beyond this is released once it is empty.
pub const READ_BUFFER_KEEP_BYTES: usize = 64 * 1024;
/// A write buffer that grew beyond this (a large topic list) is released
/// after the write.
pub const WRITE_BUFFER_KEEP_BYTES: usize = 64 * 1024;
/// How long shutdown waits for connections to finish their request.
pub const SHUTDOWN_DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Why the nameserver could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The KV config could not be loaded.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The ACL file could not be used.
    #[error(transparent)]
    Acl(#[from] crate::acl::AclLoadError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The runtime or thread of [`crate::NameserverThread`] could not start.
    #[error("cannot start the nameserver thread: {0}")]
    Runtime(std::io::Error),
    /// Accepting connections failed.
    #[error("accepting connections failed: {0}")]
    Accept(std::io::Error),
}

/// A bound nameserver, not yet serving. Embed it in a process with
/// [`Nameserver::bind`] then [`Nameserver::serve`].
pub struct Nameserver {
    listener: TcpListener,
    processor: Arc<Processor>,
    connections: Arc<OpenConnections>,
    config: NameserverConfig,
    acl: Option<Arc<crate::acl::NamesrvAcl>>,
}

impl Nameserver {
    /// Validates `config`, loads the KV config from `config.data_dir` (if
    /// any) and binds `config.listen` (port 0 picks a free port).
    pub async fn bind(config: NameserverConfig) -> Result<Self, ServerError> {
        config.validate()?;
        let kv = match &config.data_dir {
            Some(dir) => KvConfig::open(dir)?,
            None => KvConfig::in_memory(),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|error| ServerError::Bind {
                    addr: config.listen,
                    error,
                })?;
        let processor = Arc::new(Processor::new(kv, config.order_message_enable));
        let acl = match (&config.acl_file, config.acl_enable) {
            (Some(path), true) => Some(Arc::new(crate::acl::NamesrvAcl::open(path)?)),
            _ => None,
        };
        Ok(Self {
            listener,
            processor,
            connections: Arc::new(OpenConnections::default()),
            config,
            acl,
        })
    }

    /// Renders this nameserver's Prometheus text (cheap to clone, usable
    /// from any thread).
    pub fn metrics_renderer(&self) -> std::sync::Arc<dyn Fn() -> String + Send + Sync> {
        let processor = self.processor.clone();
        std::sync::Arc::new(move || processor.render_metrics())
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always knows its address; fall back to the
        // configured one rather than panic.
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Serves until `shutdown` completes, then stops accepting, lets every
    /// connection finish the request in hand (for at most
    /// [`SHUTDOWN_DRAIN_LIMIT`]) and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(scan_liveness(
            self.processor.clone(),
            self.connections.clone(),
            self.config.scan_interval(),
            self.config.broker_expiry(),
            stop_rx.clone(),
        ));
        let result = self.accept_until(shutdown, &mut tasks, &stop_rx).await;
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_DRAIN_LIMIT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("nameserver shutdown: connections still busy, aborting them");
            tasks.abort_all();
        }
        tracing::info!("nameserver stopped");
        result
    }

    async fn accept_until(
        &self,
        shutdown: impl Future<Output = ()>,
        tasks: &mut JoinSet<()>,
        stop_rx: &watch::Receiver<bool>,
    ) -> Result<(), ServerError> {
        let permits = Arc::new(Semaphore::new(self.config.max_connections as usize));
        let next_id = AtomicU64::new(1);
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => accepted,
                // Reap finished connection tasks so the set stays small.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) if is_transient_accept_error(&e) => {
                    tracing::warn!("accept failed, continuing: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(ServerError::Accept(e)),
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!(
                    %peer,
                    limit = self.config.max_connections,
                    "connection refused: max_connections reached"
                );
                drop(stream);
                continue;
            };
            let id = ConnectionId(next_id.fetch_add(1, Ordering::Relaxed));
            let connection = Connection {
                id,
                peer,
                processor: self.processor.clone(),
                connections: self.connections.clone(),
                close: self.connections.open(id),
                decoder: FrameDecoder::new(self.config.max_frame_bytes),
                idle_timeout: self.config.idle_timeout(),
                acl: self.acl.clone(),
            };
            let stop = stop_rx.clone();
            tasks.spawn(async move {
                connection.run(stream, stop).await;
                drop(permit);
            });
        }
    }
}

fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE: too many open files
        || e.raw_os_error() == Some(23) // ENFILE
}

/// Drops brokers that have not registered within `expiry`, every `interval`.
async fn scan_liveness(
    processor: Arc<Processor>,
    connections: Arc<OpenConnections>,
    interval: Duration,
    expiry: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticker.tick() => {}
        }
        for (addr, connection) in processor.expire_brokers(Instant::now(), expiry) {
            tracing::warn!(
                broker = %addr,
                expiry_ms = expiry.as_millis() as u64,
                "broker expired: no registration within the expiry period; closing its connection"
            );
            connections.close(connection);
        }
    }
}

/// The open connections, so that the liveness scanner can close the
/// connection of an expired broker (as Java's nameserver does).
#[derive(Debug, Default)]
struct OpenConnections {
    closers: Mutex<HashMap<ConnectionId, Arc<Notify>>>,
}

impl OpenConnections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Arc<Notify>>> {
        self.closers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection; the returned notifier fires on [`Self::close`].
    fn open(&self, id: ConnectionId) -> Arc<Notify> {
        let close = Arc::new(Notify::new());
        self.lock().insert(id, close.clone());
        close
    }

    /// Asks a connection to close (a no-op if it is already gone).
    fn close(&self, id: ConnectionId) {
        if let Some(close) = self.lock().get(&id) {
            close.notify_one();
        }
    }

    fn forget(&self, id: ConnectionId) {
        self.lock().remove(&id);
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnectionEnd {
    #[error("peer closed the connection")]
    Eof,
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("server shutting down")]
    Shutdown,
    #[error("its broker expired")]
    BrokerExpired,
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// One client or broker connection.
struct Connection {
    id: ConnectionId,
    peer: SocketAddr,
    processor: Arc<Processor>,
    connections: Arc<OpenConnections>,
    close: Arc<Notify>,
    decoder: FrameDecoder,
    idle_timeout: Duration,
    acl: Option<Arc<crate::acl::NamesrvAcl>>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let end = self.serve(stream, stop).await;
        self.connections.forget(self.id);
        match &end {
            ConnectionEnd::Eof | ConnectionEnd::Shutdown => {
                tracing::debug!(peer = %self.peer, "connection closed: {end}")
            }
            _ => tracing::info!(peer = %self.peer, "connection closed: {end}"),
        }
        for addr in self.processor.connection_closed(self.id) {
            tracing::info!(broker = %addr, peer = %self.peer, "broker dropped: its connection closed");
        }
    }

    async fn serve(
        &mut self,
        mut stream: TcpStream,
        mut stop: watch::Receiver<bool>,
    ) -> ConnectionEnd {
        let mut buf = BytesMut::with_capacity(READ_BUFFER_INITIAL_BYTES);
        let mut out = BytesMut::new();
        loop {
            if let Err(end) = self.answer_buffered(&mut buf, &mut out, &mut stream).await {
                return end;
            }
            if buf.is_empty() && buf.capacity() > READ_BUFFER_KEEP_BYTES {
                buf = BytesMut::with_capacity(READ_BUFFER_INITIAL_BYTES);
            }
            if buf.capacity() == buf.len() {
                buf.reserve(READ_BUFFER_INITIAL_BYTES);
            }
            let read = tokio::select! {
                _ = stop.changed() => return ConnectionEnd::Shutdown,
                () = self.close.notified() => return ConnectionEnd::BrokerExpired,
                read = tokio::time::timeout(self.idle_timeout, stream.read_buf(&mut buf)) => read,
            };
            match read {
                Err(_) => return ConnectionEnd::Idle(self.idle_timeout),
                Ok(Ok(0)) => return ConnectionEnd::Eof,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return ConnectionEnd::Io(e),
            }
        }
    }

    /// Decodes and answers every whole frame in `buf`, one at a time.
    async fn answer_buffered(
        &mut self,
        buf: &mut BytesMut,
        out: &mut BytesMut,
        stream: &mut TcpStream,
    ) -> Result<(), ConnectionEnd> {
        while let Some(request) = self.decoder.decode(buf)? {
            if request.is_response() {
                continue; // the nameserver sends no requests, so expects no responses
            }
            let refusal = self
                .acl
                .as_ref()
                .and_then(|acl| acl.refusal(&request, self.peer.ip()));
            let response = match refusal {
                Some(refusal) => (!request.is_oneway()).then_some(refusal),
                None => self.processor.process(&request, self.id, Instant::now()),
            };
            let Some(response) = response else {
                continue;
            };
            out.clear();
            if let Err(e) = response.encode(out) {
                tracing::error!(code = request.code, "cannot encode a response: {e}");
                return Err(ConnectionEnd::Io(std::io::Error::other(e)));
            }
            match tokio::time::timeout(self.idle_timeout, stream.write_all(out)).await {
                Err(_) => return Err(ConnectionEnd::Idle(self.idle_timeout)),
                Ok(result) => result?,
            }
            if out.capacity() > WRITE_BUFFER_KEEP_BYTES {
                *out = BytesMut::new();
            }
        }
        Ok(())
    }
}
