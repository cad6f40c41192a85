//! Single-threaded wake-up primitives for the store's tasks, all living on
//! one shard's event loop: [`Notify`] wakes one background task, and
//! [`Watermark`] is a monotonically advancing log position that releases the
//! writers waiting for it (written, dispatched, flushed).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
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
#[derive(Default)]
pub struct Watermark {
    value: Cell<u64>,
    waiters: RefCell<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
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
        self.waiters
            .borrow_mut()
            .entry(target)
            .or_default()
            .push(sender);
        Some(receiver)
    }

    /// Moves the watermark to `value` (never backwards) and releases waiters.
    pub fn advance(&self, value: u64) {
        if value < self.value.get() {
            return;
        }
        self.value.set(value);
        let released = {
            let mut waiters = self.waiters.borrow_mut();
            let rest = waiters.split_off(&(value.saturating_add(1)));
            std::mem::replace(&mut *waiters, rest)
        };
        for sender in released.into_values().flatten() {
            let _ = sender.send(());
        }
    }

    /// Drops every waiter: they will never be released.
    pub fn fail_all(&self) {
        let dropped = std::mem::take(&mut *self.waiters.borrow_mut());
        drop(dropped);
    }
}
