//! POP consumption state (RocketMQ 5): checkpoints of popped messages, their
//! acks and revival. [`log`] is the durable per-shard checkpoint log.

pub mod log;
