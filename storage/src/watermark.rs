//! Single-threaded wake-up primitives for the store's tasks, all living on
//! one shard's event loop: [`Notify`] wakes one background task, and
//! [`Watermark`] is a monotonically advancing log position that releases the
//! writers waiting for it (written, dispatched, flushed).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::channel::oneshot;

/// Wakes one waiting task; a notification sent while nobody waits is kept
/// (one permit) so it is never lost.
#[derive(Default)]
pub struct Notify {
    permit: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.permit.set(true);
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Completes once a notification is (or was) sent, consuming it.
    pub fn notified(&self) -> Notified<'_> {
        Notified { notify: self }
    }
}

pub struct Notified<'a> {
    notify: &'a Notify,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.permit.replace(false) {
            return Poll::Ready(());
        }
        *self.notify.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A log position that only grows, with waiters released in order once it
/// reaches their target. Failing the watermark drops every waiter, whose
/// receivers then see `Canceled`.
///
/// Waiters are kept in a deque sorted by target: callers wait for log
/// offsets they just reserved, which only grow, so an insert is a
/// `push_back` (no tree node per waiter on the append path); an out-of-order
/// target is inserted at its place.
#[derive(Default)]
pub struct Watermark {
    value: Cell<u64>,
    waiters: RefCell<VecDeque<(u64, oneshot::Sender<()>)>>,
}

impl Watermark {
    pub fn new(value: u64) -> Self {
        Self {
            value: Cell::new(value),
            waiters: RefCell::default(),
        }
    }

    pub fn get(&self) -> u64 {
        self.value.get()
    }

    pub fn has_waiters(&self) -> bool {
        !self.waiters.borrow().is_empty()
    }

    /// A receiver completing once the watermark reaches `target`, or `None`
    /// if it already has.
    pub fn wait_for(&self, target: u64) -> Option<oneshot::Receiver<()>> {
        if self.value.get() >= target {
            return None;
        }
        let (sender, receiver) = oneshot::channel();
        let mut waiters = self.waiters.borrow_mut();
        match waiters.back() {
            Some((last, _)) if *last > target => {
                let at = waiters.partition_point(|(t, _)| *t <= target);
                waiters.insert(at, (target, sender));
            }
            _ => waiters.push_back((target, sender)),
        }
        Some(receiver)
    }

    /// Moves the watermark to `value` (never backwards) and releases waiters.
    pub fn advance(&self, value: u64) {
        if value < self.value.get() {
            return;
        }
        self.value.set(value);
        loop {
            // Released one at a time: a receiver's wake-up runs later, never
            // inside this borrow.
            let next = {
                let mut waiters = self.waiters.borrow_mut();
                match waiters.front() {
                    Some((target, _)) if *target <= value => waiters.pop_front(),
                    _ => None,
                }
            };
            let Some((_, sender)) = next else { break };
            let _ = sender.send(());
        }
    }

    /// Drops every waiter: they will never be released.
    pub fn fail_all(&self) {
        let dropped = std::mem::take(&mut *self.waiters.borrow_mut());
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Waiters are released exactly when the watermark reaches their
        /// target, whatever order they arrive in.
        #[test]
        fn waiters_are_released_at_their_targets(targets in proptest::collection::vec(1u64..100, 0..40), steps in proptest::collection::vec(1u64..100, 1..20)) {
            let mark = Watermark::new(0);
            let mut receivers: Vec<(u64, oneshot::Receiver<()>)> = targets
                .iter()
                .map(|t| (*t, mark.wait_for(*t).unwrap()))
                .collect();
            let mut value = 0;
            for step in steps {
                value = value.max(step);
                mark.advance(step);
                for (target, receiver) in receivers.iter_mut() {
                    let released = matches!(receiver.try_recv(), Ok(Some(())));
                    prop_assert_eq!(released, *target <= value);
                }
                receivers.retain(|(t, _)| *t > value);
            }
            prop_assert_eq!(mark.has_waiters(), !receivers.is_empty());
        }
    }
}
