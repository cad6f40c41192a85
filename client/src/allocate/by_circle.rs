//! `AVG_BY_CIRCLE`: deal the queues out one at a time, like cards.

use super::{AllocateError, AllocateStrategy, my_index};
use crate::queue::MessageQueue;

/// AllocateMessageQueueAveragelyByCircle: queue k goes to consumer k % c.
#[derive(Debug, Clone, Copy, Default)]
pub struct AveragelyByCircle;

impl AllocateStrategy for AveragelyByCircle {
    fn name(&self) -> &str {
        "AVG_BY_CIRCLE"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        let Some(index) = my_index(current_cid, mq_all, cid_all)? else {
            return Ok(Vec::new());
        };
        Ok(mq_all
            .iter()
            .skip(index)
            .step_by(cid_all.len())
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn six_queues_three_consumers_are_dealt_round_robin() {
        let shares = allocation_of(&AveragelyByCircle, &queues("b", 6), &cids(3));
        let got: Vec<Vec<i32>> = shares
            .iter()
            .map(|s| s.iter().map(|q| q.queue_id).collect())
            .collect();
        assert_eq!(got, vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
    }

    proptest! {
        #[test]
        fn every_queue_goes_to_exactly_one_consumer(n in 1i32..64, c in 1usize..20) {
            let mq = queues("b", n);
            assert_partition(&mq, &allocation_of(&AveragelyByCircle, &mq, &cids(c)));
        }
    }
}
