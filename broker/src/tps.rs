//! Put and get TPS as Java 4.9's `StoreStatsService` reports them in
//! GET_BROKER_RUNTIME_INFO (`putTps`, `getTransferedTps`): three averages,
//! over the last 10 s, 1 min and 10 min, separated by spaces, each empty
//! until that much history exists.
//!
//! A sampler thread ([`spawn`]) reads the broker's message counters once a
//! second into a ring of at most [`SAMPLES_MAX`] samples (bounded memory);
//! it holds only a `Weak` reference and ends when the broker stops.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::state::{BrokerState, lock};

/// Sampling period (Java samples once a second).
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(1);
/// Samples kept: ten minutes and one.
pub const SAMPLES_MAX: usize = 601;
/// The windows reported, in samples (seconds).
pub const WINDOWS: [usize; 3] = [10, 60, 600];

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: i64,
    put: u64,
    got: u64,
}

/// The sample ring.
#[derive(Debug, Default)]
pub struct TpsSampler {
    samples: Mutex<VecDeque<Sample>>,
}

impl TpsSampler {
    /// Records the counters at `at_ms`.
    pub fn sample(&self, at_ms: i64, put: u64, got: u64) {
        let mut samples = lock(&self.samples);
        if samples.len() >= SAMPLES_MAX {
            samples.pop_front();
        }
        samples.push_back(Sample { at_ms, put, got });
    }

    /// `putTps`: "10s 1min 10min".
    pub fn put_tps(&self) -> String {
        self.format(|s| s.put)
    }

    /// `getTransferedTps`: messages delivered by pulls, same windows.
    pub fn get_tps(&self) -> String {
        self.format(|s| s.got)
    }

    fn format(&self, value: impl Fn(&Sample) -> u64) -> String {
        let samples = lock(&self.samples);
        WINDOWS
            .iter()
            .map(|&window| tps(&samples, window, &value).map_or_else(String::new, java_double))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Average per second over the last `window` sample intervals, if known.
fn tps(samples: &VecDeque<Sample>, window: usize, value: &impl Fn(&Sample) -> u64) -> Option<f64> {
    let last = samples.back()?;
    let index = samples.len().checked_sub(window + 1)?;
    let before = samples.get(index)?;
    let elapsed_ms = last.at_ms.saturating_sub(before.at_ms);
    if elapsed_ms <= 0 {
        return Some(0.0);
    }
    let delta = value(last).saturating_sub(value(before));
    Some(delta as f64 * 1000.0 / elapsed_ms as f64)
}

/// A double as Java's `Double.toString` writes common values ("12.5", "0.0").
fn java_double(value: f64) -> String {
    format!("{value:?}")
}

/// Starts the sampler thread for `state`.
pub fn spawn(state: &Arc<BrokerState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let weak: Weak<BrokerState> = Arc::downgrade(state);
    std::thread::Builder::new()
        .name("ringmq-tps".into())
        .spawn(move || {
            loop {
                let Some(state) = weak.upgrade() else { return };
                if state.is_shutting_down() {
                    return;
                }
                state.tps.sample(
                    crate::clock::now_ms(),
                    state.counters.messages_put.load(Ordering::Relaxed),
                    state.counters.messages_got.load(Ordering::Relaxed),
                );
                crate::broker_stats::sample(&state, crate::clock::now_ms());
                drop(state);
                std::thread::sleep(SAMPLE_PERIOD);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fill_in_as_history_grows_and_average_per_second() {
        let sampler = TpsSampler::default();
        assert_eq!(sampler.put_tps(), "  ");
        for i in 0..=10u64 {
            sampler.sample(i as i64 * 1000, i * 5, i);
        }
        assert_eq!(sampler.put_tps(), "5.0  ");
        assert_eq!(sampler.get_tps(), "1.0  ");
        for i in 11..=700u64 {
            sampler.sample(i as i64 * 1000, i * 5, 0);
        }
        assert_eq!(sampler.put_tps(), "5.0 5.0 5.0");
    }

    #[test]
    fn the_ring_is_bounded() {
        let sampler = TpsSampler::default();
        for i in 0..(SAMPLES_MAX as i64 * 3) {
            sampler.sample(i, 0, 0);
        }
        assert_eq!(lock(&sampler.samples).len(), SAMPLES_MAX);
    }
}
