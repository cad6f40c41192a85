//! `CONFIG`: a fixed, user-configured list of queues, whatever the inputs.

use super::{AllocateError, AllocateStrategy};
use crate::queue::MessageQueue;

/// AllocateMessageQueueByConfig: always returns the configured queues.
#[derive(Debug, Clone, Default)]
pub struct ByConfig {
    queues: Vec<MessageQueue>,
}

impl ByConfig {
    /// A strategy that always answers `queues`.
    pub fn new(queues: Vec<MessageQueue>) -> Self {
        Self { queues }
    }
}

impl AllocateStrategy for ByConfig {
    fn name(&self) -> &str {
        "CONFIG"
    }

    fn allocate(
        &self,
        _group: &str,
        _current_cid: &str,
        _mq_all: &[MessageQueue],
        _cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        Ok(self.queues.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn configured_queues_are_returned_regardless_of_inputs() {
        let fixed = vec![MessageQueue::new("X", "b", 7)];
        let s = ByConfig::new(fixed.clone());
        assert_eq!(
            s.allocate("g", "c000", &queues("b", 3), &cids(2)),
            Ok(fixed.clone())
        );
        assert_eq!(s.allocate("g", "other", &[], &[]), Ok(fixed));
    }
}
