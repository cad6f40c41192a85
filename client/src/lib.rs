//! The Rust RocketMQ client library (tokio): producer, push and pull
//! consumers, allocation strategies, rebalance, offset stores.
//!
//! It speaks the RocketMQ 4.x remoting protocol as the Java 4.9 client does
//! (SEND_MESSAGE_V2, long-polling PULL_MESSAGE, JSON heartbeats), so it works
//! against ringmq and any RocketMQ 4.x cluster.
//!
//! # Layout
//!
//! - [`producer`]: [`producer::Producer`] — sync, async, one-way, to a queue,
//!   through a [`producer::MessageQueueSelector`], batches; retries on another
//!   broker, latency fault avoidance, zlib over 4 KiB, unique ids.
//! - [`consumer::push`]: [`consumer::push::PushConsumer`] — long-polling pulls
//!   feeding a listener pool; CLUSTERING (broker offsets) or BROADCASTING
//!   (local offsets file); rebalance every 20 s and on membership changes.
//! - [`consumer::pull`]: [`consumer::pull::PullConsumer`] — assign or
//!   subscribe, `poll`, `commit`, `seek`.
//! - [`allocate`]: the six RocketMQ queue allocation strategies.
//! - [`message`]: [`Message`] and validation; [`consumer::MessageExt`] is a
//!   consumed message.
//! - [`instance`]: the runtime a client shares with its timers (routes,
//!   heartbeats, broker→client calls); [`remoting`]: the TCP transport.
//!
//! # Example
//!
//! ```no_run
//! use ringmq_client::consumer::push::PushConsumer;
//! use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
//! use ringmq_client::{Message, producer::Producer};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = Producer::builder("demo-pg").namesrv("127.0.0.1:9876").build()?;
//! let sent = producer.send(Message::new("Demo", "hello").with_tags("greeting")).await?;
//! println!("sent {} to {}", sent.msg_id, sent.queue);
//!
//! let consumer = PushConsumer::builder("demo-cg")
//!     .namesrv("127.0.0.1:9876")
//!     .subscribe("Demo", "greeting")
//!     .consume_from(ConsumeFrom::FirstOffset)
//!     .listener(|msgs| async move {
//!         for m in msgs {
//!             println!("got {} {:?}", m.msg_id, m.body);
//!         }
//!         ConsumeResult::Success
//!     })
//!     .start()
//!     .await?;
//! tokio::time::sleep(std::time::Duration::from_secs(5)).await;
//! consumer.shutdown().await;
//! producer.shutdown().await;
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod acl;
pub mod admin;
pub mod allocate;
pub mod consumer;
pub mod instance;
pub mod message;
pub mod producer;
pub mod queue;
pub mod remoting;

pub use message::{Message, ValidationError};
pub use queue::MessageQueue;
