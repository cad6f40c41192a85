//! The gRPC endpoint's thread: a tokio runtime of its own serving
//! [`crate::service::Messaging`] with tonic on one listener, until
//! [`GrpcServer`] is dropped or stopped.
//!
//! The listener is bound before the thread starts, so a taken port is an
//! error of [`GrpcServer::start`] and `local_addr` is known at once (port 0
//! picks a free one).

use std::net::SocketAddr;
use std::thread::JoinHandle;

use ringmq_broker::gateway::Gateway;

use crate::pb::messaging_service_server::MessagingServiceServer;
use crate::service::{Endpoint, Messaging};

/// Worker threads of the endpoint's runtime: conversions are cheap, the
/// work happens on the broker's shards.
pub const GRPC_WORKER_THREADS: usize = 2;
/// How long open calls may run on after a stop.
pub const SHUTDOWN_GRACE_MS: u64 = 1_000;
/// Concurrent streams one HTTP/2 connection may open.
pub const GRPC_STREAMS_PER_CONNECTION_MAX: u32 = 1024;

/// Why the gRPC endpoint did not start.
#[derive(Debug, thiserror::Error)]
pub enum GrpcStartError {
    #[error("grpc_listen {address:?} is not host:port")]
    Address { address: String },
    #[error("cannot listen for gRPC on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the gRPC thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A running gRPC endpoint; dropping it stops it.
pub struct GrpcServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl GrpcServer {
    /// Serves `apache.rocketmq.v2.MessagingService` on `listen`
    /// (`host:port`) for the broker behind `gateway`. Routes name
    /// `advertised_host` and the bound port as the broker's gRPC endpoint.
    pub fn start(
        listen: &str,
        advertised_host: std::net::IpAddr,
        gateway: Gateway,
    ) -> Result<GrpcServer, GrpcStartError> {
        let address: SocketAddr = listen.parse().map_err(|_| GrpcStartError::Address {
            address: listen.to_owned(),
        })?;
        let listener = std::net::TcpListener::bind(address)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| GrpcStartError::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| GrpcStartError::Listen { address, source })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(GRPC_WORKER_THREADS)
            .thread_name("ringmq-grpc")
            .enable_all()
            .build()
            .map_err(GrpcStartError::Thread)?;
        let endpoint = Endpoint {
            host: advertised_host,
            port: local_addr.port(),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("ringmq-grpc-main".into())
            .spawn(move || {
                runtime.block_on(serve(listener, endpoint, gateway, stopped));
            })
            .map_err(GrpcStartError::Thread)?;
        Ok(GrpcServer {
            local_addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where the endpoint listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops serving (open streams are cancelled) and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    endpoint: Endpoint,
    gateway: Gateway,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(%err, "the gRPC listener cannot be used");
            return;
        }
    };
    let messaging = Messaging::new(gateway, endpoint);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut graceful = stopped.clone();
    let server = tonic::transport::Server::builder()
        .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION_MAX)
        .add_service(MessagingServiceServer::new(messaging))
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = graceful.wait_for(|stop| *stop).await;
        });
    // Telemetry streams never end by themselves: after the stop, open
    // streams get SHUTDOWN_GRACE_MS to finish, then the runtime drops them.
    let mut deadline = stopped;
    tokio::select! {
        served = server => {
            if let Err(err) = served {
                tracing::error!(%err, "the gRPC endpoint stopped");
            }
        }
        _ = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(std::time::Duration::from_millis(SHUTDOWN_GRACE_MS)).await;
        } => {}
    }
}
