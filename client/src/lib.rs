//! The Rust RocketMQ client library (tokio): producer, push and pull
//! consumers, allocation strategies, rebalance, offset stores.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod allocate;
pub mod consumer;
pub mod instance;
pub mod message;
pub mod producer;
pub mod queue;
pub mod remoting;

pub use message::{Message, ValidationError};
pub use queue::MessageQueue;
