//! Long polling (RocketMQ `PullRequestHoldService`): a pull with the suspend
//! flag that finds nothing new is parked on the owner shard, keyed by its
//! queue, and re-run as soon as the store reports new units in that queue
//! (the store's arrival listener, called right after the index rebuilder
//! made them visible) or when its hold time ends. No polling tick.
//!
//! Lives on the owner shard: [`PullHolds`] is in a `RefCell` of the shard,
//! borrowed only inside synchronous code (never across `.await`).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;

use crate::shard::Shard;
use crate::store::{PullJob, PullOutcome};

/// Pulls one shard may hold parked at once; beyond this they are answered
/// immediately (the client simply pulls again).
pub const HELD_PULLS_PER_SHARD_MAX: usize = 100_000;
/// Longest hold honoured, whatever the client asks.
pub const HOLD_MS_MAX: u64 = 60_000;

/// Parked pulls per queue.
#[derive(Default)]
pub struct PullHolds {
    waiting: HashMap<(String, i32), Vec<oneshot::Sender<()>>>,
    held: usize,
}

impl PullHolds {
    /// Parks a waiter on a queue; `None` when the shard holds too many.
    fn park(&mut self, topic: &str, queue_id: i32) -> Option<oneshot::Receiver<()>> {
        let key = (topic.to_owned(), queue_id);
        let waiters = self.waiting.entry(key).or_default();
        let before = waiters.len();
        waiters.retain(|w| !w.is_canceled());
        self.held -= before - waiters.len();
        if self.held >= HELD_PULLS_PER_SHARD_MAX {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        waiters.push(tx);
        self.held += 1;
        Some(rx)
    }

    /// Releases every pull parked on a queue.
    pub fn wake(&mut self, topic: &str, queue_id: i32) {
        if self.waiting.is_empty() {
            return;
        }
        if let Some(waiters) = self.waiting.remove(&(topic.to_owned(), queue_id)) {
            self.held -= waiters.len();
            for waiter in waiters {
                let _ = waiter.send(());
            }
        }
    }

    /// Releases everything (shutdown).
    pub fn wake_all(&mut self) {
        for (_, waiters) in self.waiting.drain() {
            for waiter in waiters {
                let _ = waiter.send(());
            }
        }
        self.held = 0;
    }

    pub fn held(&self) -> usize {
        self.held
    }
}

/// Runs a pull on the owner shard; parks it if it found nothing and may
/// wait, then runs it once more and returns whatever that finds.
pub async fn pull_or_hold(shard: &Rc<Shard>, job: PullJob) -> PullOutcome {
    let first = shard.store.get(&job);
    let Some(hold_ms) = job.hold_ms else {
        return first;
    };
    if !first.is_empty_tail() || shard.state.is_shutting_down() {
        return first;
    }
    let polling = &shard.state.polling;
    let hold_ms = if polling.long_polling_enable() {
        hold_ms.min(HOLD_MS_MAX)
    } else {
        polling.short_polling_ms()
    };
    let parked = shard.holds.borrow_mut().park(&job.topic, job.queue_id);
    let Some(woken) = parked else {
        return first;
    };
    let timer = Box::pin(compio::time::sleep(Duration::from_millis(hold_ms)));
    futures::future::select(woken, timer).await;
    shard.store.get(&job)
}

/// Waits until any of `queues` (all owned by this shard) gets new messages,
/// or `hold_ms` (capped like a pull's hold) passes: POP long polling.
/// `false` at once when the shard already holds too many waiters.
pub async fn wait_for_arrival(shard: &Rc<Shard>, queues: &[(String, i32)], hold_ms: u64) -> bool {
    let mut woken = Vec::with_capacity(queues.len());
    {
        let mut holds = shard.holds.borrow_mut();
        for (topic, queue_id) in queues {
            match holds.park(topic, *queue_id) {
                Some(rx) => woken.push(rx),
                None => return false,
            }
        }
    }
    if woken.is_empty() || shard.state.is_shutting_down() {
        return true;
    }
    let timer = Box::pin(compio::time::sleep(Duration::from_millis(
        hold_ms.min(HOLD_MS_MAX),
    )));
    futures::future::select(futures::future::select_all(woken), timer).await;
    true
}

/// Connects the store's arrival listener to this shard's parked pulls.
pub fn install_wakeup(shard: &Rc<Shard>) {
    let weak = Rc::downgrade(shard);
    shard.store.inner().set_arrival_listener(Rc::new(
        move |topic: &str, queue_id: i32, _max: i64| {
            if let Some(shard) = weak.upgrade() {
                shard.holds.borrow_mut().wake(topic, queue_id);
            }
        },
    ));
}

/// Answers every parked pull now (the shard is stopping).
pub fn release_all(shard: &Rc<Shard>) {
    shard.holds.borrow_mut().wake_all();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wake_releases_only_the_queue_it_names() {
        let mut holds = PullHolds::default();
        let mut a = holds.park("T", 0).unwrap();
        let mut b = holds.park("T", 1).unwrap();
        holds.wake("T", 0);
        assert_eq!(a.try_recv().unwrap(), Some(()));
        assert_eq!(b.try_recv().unwrap(), None);
        assert_eq!(holds.held(), 1);
    }

    #[test]
    fn abandoned_waiters_are_pruned_on_the_next_park() {
        let mut holds = PullHolds::default();
        drop(holds.park("T", 0).unwrap());
        let _kept = holds.park("T", 0).unwrap();
        assert_eq!(holds.held(), 1);
    }
}
