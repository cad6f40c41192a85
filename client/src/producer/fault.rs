//! Latency-based fault avoidance: brokers that answered slowly or failed
//! are skipped for a while when choosing a queue (Java `MQFaultStrategy`).
//!
//! A send's latency maps to an isolation time through two step tables; a
//! failure counts as 30 s of latency. A broker is available again once its
//! isolation has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Latency steps (ms) ...
const LATENCY_STEPS_MS: [u64; 7] = [50, 100, 550, 1_000, 2_000, 3_000, 15_000];
/// ... and the isolation (ms) each step earns.
const ISOLATION_STEPS_MS: [u64; 7] = [0, 0, 30_000, 60_000, 120_000, 180_000, 600_000];
/// The latency charged to a failed send.
pub const FAILURE_LATENCY_MS: u64 = 30_000;
/// Most brokers tracked, so a churning cluster cannot grow the table.
pub const FAULT_TABLE_BROKERS_MAX: usize = 4_096;

const _: () = assert!(LATENCY_STEPS_MS.len() == ISOLATION_STEPS_MS.len());

/// How long a broker is skipped after a send that took `latency_ms`.
pub fn isolation_for(latency_ms: u64) -> Duration {
    let step = LATENCY_STEPS_MS
        .iter()
        .zip(ISOLATION_STEPS_MS.iter())
        .rev()
        .find(|(threshold, _)| latency_ms >= **threshold);
    Duration::from_millis(step.map(|(_, isolation)| *isolation).unwrap_or(0))
}

/// Per-broker availability, shared by all sends of a producer.
#[derive(Debug, Default)]
pub struct LatencyFaults {
    available_at: Mutex<HashMap<String, Instant>>,
}

impl LatencyFaults {
    /// Records a send to `broker` that took `latency_ms` (or failed).
    pub fn record(&self, broker: &str, latency_ms: u64, failed: bool) {
        let charged = if failed {
            FAILURE_LATENCY_MS
        } else {
            latency_ms
        };
        let isolation = isolation_for(charged);
        let Ok(mut table) = self.available_at.lock() else {
            return;
        };
        if isolation.is_zero() {
            // The usual case, a fast send with nobody isolated: no hashing.
            if !table.is_empty() {
                table.remove(broker);
            }
            return;
        }
        if table.len() >= FAULT_TABLE_BROKERS_MAX && !table.contains_key(broker) {
            let now = Instant::now();
            table.retain(|_, at| *at > now);
            if table.len() >= FAULT_TABLE_BROKERS_MAX {
                return;
            }
        }
        table.insert(broker.to_string(), Instant::now() + isolation);
    }

    /// Whether `broker` may be chosen now.
    pub fn is_available(&self, broker: &str) -> bool {
        let Ok(table) = self.available_at.lock() else {
            return true;
        };
        table.is_empty() || table.get(broker).is_none_or(|at| Instant::now() >= *at)
    }

    /// Among `brokers`, the one whose isolation ends first.
    pub fn least_isolated<'a>(&self, brokers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
        let table = self.available_at.lock().ok()?;
        brokers.min_by_key(|b| table.get(*b).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sends_earn_no_isolation_and_slow_ones_do() {
        assert_eq!(isolation_for(10), Duration::ZERO);
        assert_eq!(isolation_for(549), Duration::ZERO);
        assert_eq!(isolation_for(550), Duration::from_secs(30));
        assert_eq!(isolation_for(FAILURE_LATENCY_MS), Duration::from_secs(600));
    }

    #[test]
    fn a_failed_broker_is_unavailable_until_a_fast_send_clears_it() {
        let faults = LatencyFaults::default();
        faults.record("a", 5, true);
        assert!(!faults.is_available("a"));
        assert!(faults.is_available("b"));
        faults.record("a", 5, false);
        assert!(faults.is_available("a"));
    }

    #[test]
    fn least_isolated_prefers_the_untracked_broker() {
        let faults = LatencyFaults::default();
        faults.record("a", 0, true);
        assert_eq!(faults.least_isolated(["a", "b"].into_iter()), Some("b"));
    }
}
