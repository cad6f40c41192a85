//! The Rust RocketMQ client library (tokio): producer, push and pull consumers, allocation strategies, rebalance, offset stores.
