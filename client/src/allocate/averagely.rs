//! `AVG`: contiguous blocks, the first `n % c` consumers taking one extra
//! queue (RocketMQ's default strategy).

use super::{AllocateError, AllocateStrategy, my_index};
use crate::queue::MessageQueue;

/// AllocateMessageQueueAveragely.
#[derive(Debug, Clone, Copy, Default)]
pub struct Averagely;

impl AllocateStrategy for Averagely {
    fn name(&self) -> &str {
        "AVG"
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
        let (n, c) = (mq_all.len(), cid_all.len());
        let modulo = n % c;
        let gets_extra = modulo > 0 && index < modulo;
        let size = if n <= c {
            1
        } else if gets_extra {
            n / c + 1
        } else {
            n / c
        };
        let start = if gets_extra {
            index * size
        } else {
            index * size + modulo
        };
        let range = size.min(n.saturating_sub(start));
        Ok((0..range)
            .filter_map(|i| mq_all.get((start + i) % n).cloned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    fn ids(share: &[MessageQueue]) -> Vec<i32> {
        share.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn six_queues_three_consumers_get_two_contiguous_each() {
        let shares = allocation_of(&Averagely, &queues("b", 6), &cids(3));
        let got: Vec<_> = shares.iter().map(|s| ids(s)).collect();
        assert_eq!(got, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
    }

    #[test]
    fn eight_queues_three_consumers_first_two_take_the_remainder() {
        let shares = allocation_of(&Averagely, &queues("b", 8), &cids(3));
        let got: Vec<_> = shares.iter().map(|s| ids(s)).collect();
        assert_eq!(got, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]);
    }

    #[test]
    fn more_consumers_than_queues_leaves_the_last_idle() {
        let shares = allocation_of(&Averagely, &queues("b", 2), &cids(4));
        let got: Vec<_> = shares.iter().map(|s| ids(s)).collect();
        assert_eq!(got, vec![vec![0], vec![1], vec![], vec![]]);
    }

    proptest! {
        #[test]
        fn every_queue_goes_to_exactly_one_consumer(n in 1i32..64, c in 1usize..20) {
            let mq = queues("b", n);
            assert_partition(&mq, &allocation_of(&Averagely, &mq, &cids(c)));
        }
    }
}
