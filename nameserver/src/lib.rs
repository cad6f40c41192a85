//! The nameserver: brokers register their topics here and clients ask it
//! for topic routes (RocketMQ 4.x `namesrv`, spec §2.8–§2.10). Slim, on
//! tokio; nameservers share nothing, so brokers register with all of them.
//!
//! Embedding (what `ringmq nameserver` and `ringmq standalone` do):
//!
//! ```no_run
//! # async fn run() -> Result<(), ringmq_nameserver::ServerError> {
//! use ringmq_nameserver::{Nameserver, NameserverConfig};
//! let server = Nameserver::bind(NameserverConfig::default()).await?;
//! println!("nameserver on {}", server.local_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! A process whose main loop is not tokio can use [`NameserverThread`]
//! instead: `NameserverThread::start(config)?` binds and serves on its own
//! thread, `.local_addr()`, `.stop()` (or drop) shuts down and joins.
//!
//! Modules: [`config`] (TOML, env, defaults), [`route`] (the route table,
//! pure logic), [`kv`] (KV config, persisted), [`processor`] (request →
//! response), [`wire`] (bodies), [`server`] (sockets, liveness, shutdown), [`thread`]
//! (a nameserver on its own thread).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod acl;
pub mod config;
pub mod kv;
pub mod metrics;
pub mod processor;
pub mod route;
pub mod server;
pub mod thread;
pub mod wire;

pub use config::{ConfigError, DEFAULT_CONFIG_TOML, NameserverConfig};
pub use server::{Nameserver, ServerError};
pub use thread::NameserverThread;
