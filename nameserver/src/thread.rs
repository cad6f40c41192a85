//! [`NameserverThread`]: a nameserver on its own OS thread with its own
//! single-threaded tokio runtime, for processes whose main loop is not
//! tokio (e.g. `ringmq standalone`, whose broker runs on compio).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::config::NameserverConfig;
use crate::server::{Nameserver, ServerError};

/// Renders the nameserver's Prometheus text.
pub type Renderer = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

/// A running nameserver on a dedicated thread. [`NameserverThread::stop`]
/// (or dropping it) shuts it down gracefully and joins the thread.
pub struct NameserverThread {
    addr: SocketAddr,
    metrics: Renderer,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl NameserverThread {
    /// Binds `config.listen` and starts serving on a new thread named
    /// `ringmq-namesrv`. Returns once the socket is bound, or with the
    /// reason it could not be.
    pub fn start(config: NameserverConfig) -> Result<Self, ServerError> {
        let (bound_tx, bound_rx) =
            mpsc::sync_channel::<Result<(SocketAddr, Renderer), ServerError>>(1);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ringmq-namesrv".to_string())
            .spawn(move || run_thread(config, &bound_tx, stop_rx))
            .map_err(ServerError::Runtime)?;
        match bound_rx.recv() {
            Ok(Ok((addr, metrics))) => Ok(Self {
                addr,
                metrics,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            // The thread ended without reporting: it returned an error.
            Err(_) => match thread.join() {
                Ok(Err(error)) => Err(error),
                _ => Err(ServerError::Runtime(std::io::Error::other(
                    "the nameserver thread ended before binding",
                ))),
            },
        }
    }

    /// The address the nameserver listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Renders the nameserver's Prometheus text.
    pub fn metrics_renderer(&self) -> Renderer {
        self.metrics.clone()
    }

    /// Shuts the nameserver down gracefully and waits for its thread.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServerError::Runtime(std::io::Error::other(
                "the nameserver thread panicked",
            ))),
        }
    }
}

impl Drop for NameserverThread {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!("nameserver thread ended with an error: {error}");
        }
    }
}

fn run_thread(
    config: NameserverConfig,
    bound: &mpsc::SyncSender<Result<(SocketAddr, Renderer), ServerError>>,
    stop: oneshot::Receiver<()>,
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        let server = match Nameserver::bind(config).await {
            Ok(server) => server,
            Err(error) => {
                let _ = bound.send(Err(error));
                return Ok(());
            }
        };
        let _ = bound.send(Ok((server.local_addr(), server.metrics_renderer())));
        server
            .serve(async {
                let _ = stop.await;
            })
            .await
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn thread_serves_until_stopped_and_frees_its_port() {
        let config = NameserverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..NameserverConfig::default()
        };
        let server = NameserverThread::start(config).unwrap();
        let addr = server.local_addr();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let request = ringmq_net::command::RemotingCommand::request(9999).with_opaque(4);
        let mut out = bytes::BytesMut::new();
        request.encode(&mut out).unwrap();
        stream.write_all(&out).unwrap();
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).unwrap();
        assert!(u32::from_be_bytes(length) > 4);
        server.stop().unwrap();
        // The listener is closed once stop returns.
        assert!(std::net::TcpListener::bind(addr).is_ok());
    }

    #[test]
    fn bind_failure_is_reported_by_start() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = NameserverConfig {
            listen: taken.local_addr().unwrap(),
            ..NameserverConfig::default()
        };
        let error = NameserverThread::start(config).err().unwrap();
        assert!(matches!(error, ServerError::Bind { .. }), "{error}");
    }
}
