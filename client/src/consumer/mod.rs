//! Consumers.

pub mod offset_store;
pub mod subscription;
