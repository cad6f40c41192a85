//! The producer.

pub mod fault;
pub mod selector;

pub use selector::{MessageQueueSelector, SelectByHash};
