//! The progress bar of a bench run (indicatif, on stderr): filled by
//! message count when the run is counted, by time otherwise, with the
//! messages so far and their rate beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::drain::Receipt;
use super::report::{Tally, rates};
use super::stamp::Budget;

/// Refresh interval.
pub const PROGRESS_TICK: Duration = Duration::from_millis(250);

/// A progress bar refreshed by a ticker task until [`Progress::finish`].
pub struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// A bar over a sending budget: by count when counted, else by time.
    pub fn start(label: &str, budget: &Budget, tally: Arc<Tally>) -> Self {
        let count = move || tally.messages();
        match budget.count() {
            Some(total) => Self::spawn(label, total, None, count),
            None => {
                let total = budget.deadline().saturating_duration_since(Instant::now());
                Self::spawn(label, millis(total), Some(Instant::now()), count)
            }
        }
    }

    /// A bar counting received messages up to `target`.
    pub fn counting(label: &str, target: u64, receipt: Arc<Receipt>) -> Self {
        Self::spawn(label, target, None, move || receipt.tally.messages())
    }

    /// `timed_from`: the bar shows elapsed time since then (else the count).
    fn spawn(
        label: &str,
        length: u64,
        timed_from: Option<Instant>,
        count: impl Fn() -> u64 + Send + 'static,
    ) -> Self {
        let bar = ProgressBar::new(length);
        let style = ProgressStyle::with_template(
            "{prefix:>8} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        let ticking = bar.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROGRESS_TICK);
            loop {
                tick.tick().await;
                let n = count();
                let position = match timed_from {
                    Some(from) => millis(from.elapsed()),
                    None => n,
                };
                ticking.set_position(position.min(length));
                let (rate, _) = rates(n, 0, started.elapsed());
                ticking.set_message(format!("{n} msgs, {rate:.0}/s"));
            }
        });
        Self { bar, ticker }
    }

    /// Stops the ticker and clears the bar.
    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
