//! Flow control of the write path: when a shard's commit-log writer falls
//! behind, sends are refused at once with RocketMQ's busy answers
//! (SYSTEM_BUSY and Java 4.9's remarks) instead of queueing behind it and
//! letting latency grow without bound. Checked on the shard that owns the
//! queue, just before the records are reserved, in this order (Java's):
//!
//! - **`[PC_SYNCHRONIZED]`**: the commit-log write in progress has taken
//!   longer than `os_page_cache_busy_timeout_ms` (Java
//!   `osPageCacheBusyTimeOutMills`, 1000 ms): the page cache is stalling.
//! - **`[TIMEOUT_CLEAN_QUEUE]`**: the oldest record reserved but not yet
//!   handed to the writer has waited longer than `wait_time_in_queue_ms`
//!   (Java `waitTimeMillsInSendQueue`, 200 ms).
//! - **`[OVERLOAD]`**: the shard already has `send_pending_max` appends in
//!   progress (Java's send pool queue, `sendThreadPoolQueueCapacity`).
//!
//! Each refusal is counted in `ringmq_rejected_total{reason}`. The limits
//! are atomics that UPDATE_BROKER_CONFIG may change at run time; the send
//! path reads three of them (no lock) and the store's backlog (its own
//! shard's state, no clock read while nothing waits).

use std::sync::atomic::{AtomicU64, Ordering};

use ringmq_storage::WriteBacklog;

use crate::config::BrokerConfig;
use crate::metrics::RefusalReason;

/// Default of `wait_time_in_queue_ms` (Java `waitTimeMillsInSendQueue`).
pub const WAIT_TIME_IN_QUEUE_MS_DEFAULT: u64 = 200;
/// Default of `os_page_cache_busy_timeout_ms` (Java `osPageCacheBusyTimeOutMills`).
pub const OS_PAGE_CACHE_BUSY_TIMEOUT_MS_DEFAULT: u64 = 1_000;
/// Default of `send_pending_max` (Java `sendThreadPoolQueueCapacity`).
pub const SEND_PENDING_MAX_DEFAULT: usize = 10_000;

/// The limits in force, one copy read per send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub wait_time_in_queue_ms: u64,
    pub os_page_cache_busy_timeout_ms: u64,
    pub send_pending_max: u64,
}

/// The limits, changeable at run time (shared by every shard).
#[derive(Debug, Default)]
pub struct FlowLimits {
    wait_time_in_queue_ms: AtomicU64,
    os_page_cache_busy_timeout_ms: AtomicU64,
    send_pending_max: AtomicU64,
}

impl FlowLimits {
    /// The limits a configuration starts with.
    pub fn new(config: &BrokerConfig) -> FlowLimits {
        let limits = FlowLimits::default();
        limits.set(Limits {
            wait_time_in_queue_ms: config.wait_time_in_queue_ms,
            os_page_cache_busy_timeout_ms: config.os_page_cache_busy_timeout_ms,
            send_pending_max: config.send_pending_max as u64,
        });
        limits
    }

    /// The limits now.
    pub fn get(&self) -> Limits {
        Limits {
            wait_time_in_queue_ms: self.wait_time_in_queue_ms.load(Ordering::Relaxed),
            os_page_cache_busy_timeout_ms: self
                .os_page_cache_busy_timeout_ms
                .load(Ordering::Relaxed),
            send_pending_max: self.send_pending_max.load(Ordering::Relaxed),
        }
    }

    /// Replaces the limits.
    pub fn set(&self, limits: Limits) {
        self.wait_time_in_queue_ms
            .store(limits.wait_time_in_queue_ms, Ordering::Relaxed);
        self.os_page_cache_busy_timeout_ms
            .store(limits.os_page_cache_busy_timeout_ms, Ordering::Relaxed);
        self.send_pending_max
            .store(limits.send_pending_max, Ordering::Relaxed);
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    PcSynchronized { writing_ms: u64 },
    TimeoutCleanQueue { queued_ms: u64, pending: usize },
    Overload { pending: usize },
}

impl Busy {
    /// The SYSTEM_BUSY remark, prefixed as Java 4.9's.
    pub fn remark(&self) -> String {
        match self {
            Busy::PcSynchronized { writing_ms } => format!(
                "[PC_SYNCHRONIZED]broker busy, start flow control for a while; \
                 a commit-log write has taken {writing_ms} ms"
            ),
            Busy::TimeoutCleanQueue { queued_ms, pending } => format!(
                "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, \
                 period in queue: {queued_ms}ms, size of queue: {pending}"
            ),
            Busy::Overload { pending } => format!(
                "[OVERLOAD]system busy, start flow control for a while; \
                 {pending} sends pending on this shard"
            ),
        }
    }

    /// The metrics label.
    pub fn reason(&self) -> RefusalReason {
        match self {
            Busy::PcSynchronized { .. } => RefusalReason::PcSynchronized,
            Busy::TimeoutCleanQueue { .. } => RefusalReason::TimeoutCleanQueue,
            Busy::Overload { .. } => RefusalReason::Overload,
        }
    }
}

/// Whether a send may go ahead given `pending` appends in progress on the
/// shard and its writer's `backlog`.
pub fn decide(limits: &Limits, pending: usize, backlog: WriteBacklog) -> Result<(), Busy> {
    if backlog.writing_ms > limits.os_page_cache_busy_timeout_ms {
        return Err(Busy::PcSynchronized {
            writing_ms: backlog.writing_ms,
        });
    }
    if backlog.queued_ms > limits.wait_time_in_queue_ms {
        return Err(Busy::TimeoutCleanQueue {
            queued_ms: backlog.queued_ms,
            pending,
        });
    }
    if pending as u64 >= limits.send_pending_max {
        return Err(Busy::Overload { pending });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        wait_time_in_queue_ms: 200,
        os_page_cache_busy_timeout_ms: 1000,
        send_pending_max: 3,
    };

    fn backlog(queued_ms: u64, writing_ms: u64) -> WriteBacklog {
        WriteBacklog {
            queued_ms,
            writing_ms,
        }
    }

    #[test]
    fn a_writer_keeping_up_admits_every_send() {
        assert_eq!(decide(&LIMITS, 0, backlog(0, 0)), Ok(()));
        assert_eq!(
            decide(&LIMITS, 2, backlog(200, 1000)),
            Ok(()),
            "limits are inclusive"
        );
    }

    #[test]
    fn a_stalled_write_is_pc_synchronized_before_anything_else() {
        let busy = decide(&LIMITS, 99, backlog(5000, 1001)).unwrap_err();
        assert_eq!(busy, Busy::PcSynchronized { writing_ms: 1001 });
        assert!(busy.remark().starts_with("[PC_SYNCHRONIZED]broker busy"));
        assert_eq!(busy.reason(), RefusalReason::PcSynchronized);
    }

    #[test]
    fn an_old_queued_record_is_timeout_clean_queue() {
        let busy = decide(&LIMITS, 1, backlog(201, 10)).unwrap_err();
        assert_eq!(
            busy,
            Busy::TimeoutCleanQueue {
                queued_ms: 201,
                pending: 1
            }
        );
        assert!(
            busy.remark()
                .starts_with("[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 201ms, size of queue: 1"),
            "{}",
            busy.remark()
        );
    }

    #[test]
    fn too_many_pending_sends_is_overload() {
        let busy = decide(&LIMITS, 3, backlog(0, 0)).unwrap_err();
        assert_eq!(busy, Busy::Overload { pending: 3 });
        assert!(busy.remark().starts_with("[OVERLOAD]system busy"));
        assert_eq!(busy.reason(), RefusalReason::Overload);
    }

    #[test]
    fn limits_change_at_run_time() {
        let config = BrokerConfig::default();
        let limits = FlowLimits::new(&config);
        assert_eq!(
            limits.get().wait_time_in_queue_ms,
            WAIT_TIME_IN_QUEUE_MS_DEFAULT
        );
        limits.set(LIMITS);
        assert_eq!(limits.get(), LIMITS);
    }
}
