//! The identity of one message queue: (topic, broker name, queue id).
//!
//! This is `ringmq_net::body::MessageQueue`, re-exported: ordering is topic,
//! then broker name, then queue id — the order RocketMQ sorts `mqAll` in
//! before allocation (spec §7.2) — and `Display` is Java's `toString()`,
//! which consistent hashing hashes.

pub use ringmq_net::body::MessageQueue;
