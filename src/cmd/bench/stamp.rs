//! The bench message body and how much work a run may do.
//!
//! Every bench body starts with a stamp, so a consumer can tell this run's
//! messages from older ones and measure send→receive latency (both ends on
//! the clock of one host, or of hosts kept in sync):
//!
//! ```text
//! 0        4                12               20            message_size
//! +--------+----------------+----------------+----------------+
//! | "RBEN" | run id (u64 BE)| sent at (u64 BE| padding 'x'... |
//! | magic  |                | µs since epoch)|                |
//! +--------+----------------+----------------+----------------+
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The stamp's first bytes.
pub const STAMP_MAGIC: [u8; 4] = *b"RBEN";

/// Bytes of the stamp; the smallest bench message.
pub const STAMP_LEN: usize = 20;

/// A bench body of `size` bytes (at least [`STAMP_LEN`]) stamped with
/// `run_id` and the current time.
pub fn stamped_body(run_id: u64, size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(size.max(STAMP_LEN));
    body.extend_from_slice(&STAMP_MAGIC);
    body.extend_from_slice(&run_id.to_be_bytes());
    body.extend_from_slice(&now_us().to_be_bytes());
    body.resize(size.max(STAMP_LEN), b'x');
    body
}

/// `(run id, sent at µs)` of a stamped body; `None` for any other body.
pub fn read_stamp(body: &[u8]) -> Option<(u64, u64)> {
    if body.get(..4)? != STAMP_MAGIC {
        return None;
    }
    let run_id = u64::from_be_bytes(body.get(4..12)?.try_into().ok()?);
    let sent_us = u64::from_be_bytes(body.get(12..20)?.try_into().ok()?);
    Some((run_id, sent_us))
}

/// Microseconds since the UNIX epoch (0 if the clock is before it).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How much a run may send: until a deadline, and at most `count`
/// messages when a count is given; with a rate, message `i` is due
/// `i / rate` seconds after the start. Shared by all sending tasks.
#[derive(Debug)]
pub struct Budget {
    started: Instant,
    deadline: Instant,
    count: Option<u64>,
    rate: Option<u64>,
    claimed: AtomicU64,
}

impl Budget {
    /// A budget ending after `time`, capped at `count` messages.
    pub fn new(time: Duration, count: Option<u64>) -> Self {
        let started = Instant::now();
        Self {
            started,
            deadline: started + time,
            count,
            rate: None,
            claimed: AtomicU64::new(0),
        }
    }

    /// The same budget, paced to `rate` messages per second (0 = unpaced).
    pub fn with_rate(mut self, rate: Option<u64>) -> Self {
        self.rate = rate.filter(|r| *r > 0);
        self
    }

    /// Claims up to `n` messages (0 means the run is over) and tells when
    /// they are due under the rate (`None` without one): the caller waits until then, and counts
    /// latency from then, so a late sender is not hidden.
    pub fn claim_paced(&self, n: u64) -> (u64, Option<Instant>) {
        if Instant::now() >= self.deadline {
            return (0, None);
        }
        let before = self.claimed.fetch_add(n, Ordering::Relaxed);
        let granted = match self.count {
            Some(count) => n.min(count.saturating_sub(before)),
            None => n,
        };
        (granted, self.due(before))
    }

    /// When message number `index` is due under the rate.
    fn due(&self, index: u64) -> Option<Instant> {
        let rate = self.rate?;
        let secs = index as f64 / rate as f64;
        self.started
            .checked_add(Duration::try_from_secs_f64(secs).ok()?)
    }

    /// When the run ends at the latest.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The message cap, if any.
    pub fn count(&self) -> Option<u64> {
        self.count
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_body_has_the_size_asked_and_reads_back() {
        let before = now_us();
        let body = stamped_body(77, 1024);
        assert_eq!(body.len(), 1024);
        let (run, sent) = read_stamp(&body).unwrap();
        assert_eq!(run, 77);
        assert!(sent >= before && sent <= now_us());
        assert!(body[STAMP_LEN..].iter().all(|b| *b == b'x'));
    }

    #[test]
    fn a_body_smaller_than_the_stamp_grows_to_the_stamp() {
        assert_eq!(stamped_body(1, 3).len(), STAMP_LEN);
    }

    #[test]
    fn foreign_and_truncated_bodies_have_no_stamp() {
        assert_eq!(read_stamp(b"hello world, not a bench body"), None);
        let body = stamped_body(5, 64);
        assert_eq!(read_stamp(&body[..STAMP_LEN - 1]), None);
        assert_eq!(read_stamp(&[]), None);
    }

    #[test]
    fn a_counted_budget_grants_exactly_the_count() {
        let budget = Budget::new(Duration::from_secs(3600), Some(10));
        let mut granted = 0;
        for _ in 0..10 {
            granted += budget.claim_paced(3).0;
        }
        assert_eq!(granted, 10);
        assert_eq!(budget.claim_paced(1).0, 0);
    }

    #[test]
    fn a_paced_budget_spaces_messages_by_the_rate() {
        let budget = Budget::new(Duration::from_secs(3600), None).with_rate(Some(1000));
        let (n0, due0) = budget.claim_paced(10);
        let (n1, due1) = budget.claim_paced(10);
        assert_eq!((n0, n1), (10, 10));
        assert_eq!(due1.unwrap() - due0.unwrap(), Duration::from_millis(10));
        let unpaced = Budget::new(Duration::from_secs(3600), None).with_rate(Some(0));
        assert_eq!(unpaced.claim_paced(1), (1, None));
    }

    #[test]
    fn an_expired_budget_grants_nothing() {
        let budget = Budget::new(Duration::ZERO, None);
        assert_eq!(budget.claim_paced(1).0, 0);
    }
}
