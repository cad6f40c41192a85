//! What every request handler shares: the admin client (the one way the
//! dashboard talks to the cluster), the chart history and the sampler that
//! fills it, and the producer used for test messages.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ringmq_client::admin::Admin;
use ringmq_client::producer::Producer;
use tokio::sync::OnceCell;

use crate::history::{self, History, HistoryConfig, Point, RateMeter};

/// Producer group of the dashboard's test messages.
pub const TEST_PRODUCER_GROUP: &str = "ringmq_dashboard_producer";
/// Groups whose lag a list page or the sampler looks at, at most.
pub const GROUPS_SCANNED_MAX: usize = 256;
/// Runtime-info keys holding the stored and pulled message totals.
const PUT_TOTAL_KEY: &str = "msgPutTotalTodayNow";
const GET_TOTAL_KEY: &str = "msgGetTotalTodayNow";

/// The shared state of the dashboard's handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    admin: Admin,
    namesrv: String,
    credentials: Option<(String, String)>,
    history: Mutex<History>,
    meter: Mutex<RateMeter>,
    refresh: Duration,
    producer: OnceCell<Producer>,
}

impl AppState {
    /// State over `admin`; `credentials` (ACL access and secret key) sign the
    /// test-message producer as they sign `admin`.
    pub fn new(
        admin: Admin,
        credentials: Option<(String, String)>,
        history: HistoryConfig,
        refresh: Duration,
    ) -> Self {
        let namesrv = admin.namesrv_addrs().join(";");
        Self {
            inner: Arc::new(Inner {
                admin,
                namesrv,
                credentials,
                history: Mutex::new(History::new(history)),
                meter: Mutex::new(RateMeter::default()),
                refresh,
                producer: OnceCell::new(),
            }),
        }
    }

    /// The admin client.
    pub fn admin(&self) -> &Admin {
        &self.inner.admin
    }

    /// How often pages refresh their live part.
    pub fn refresh(&self) -> Duration {
        self.inner.refresh
    }

    /// The chart history (never poisoned for long: a poisoned lock is taken
    /// over, the history is only samples).
    pub fn history(&self) -> MutexGuard<'_, History> {
        self.inner
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The producer for test messages, started on first use.
    pub async fn producer(&self) -> Result<&Producer, String> {
        self.inner
            .producer
            .get_or_try_init(|| async {
                let mut builder =
                    Producer::builder(TEST_PRODUCER_GROUP).namesrv(&self.inner.namesrv);
                if let Some((access, secret)) = &self.inner.credentials {
                    builder = builder.with_credentials(access, secret);
                }
                builder.build().map_err(|err| err.to_string())
            })
            .await
    }

    /// Stops the producer, if one was started, and the admin connections.
    pub async fn shutdown(&self) {
        if let Some(producer) = self.inner.producer.get() {
            producer.shutdown().await;
        }
        self.inner.admin.shutdown();
    }

    /// Takes one sample of every series: the cluster's in/out rates and
    /// each group's total lag. Failures are logged and leave a gap.
    pub async fn sample(&self) {
        let now = now_ms();
        if let Err(err) = self.sample_rates(now).await {
            tracing::debug!("dashboard sample of rates: {err}");
        }
        if let Err(err) = self.sample_lags(now).await {
            tracing::debug!("dashboard sample of lags: {err}");
        }
    }

    async fn sample_rates(&self, now: i64) -> Result<(), ringmq_client::admin::AdminError> {
        let brokers = self.admin().brokers().await?;
        let (mut rate_in, mut rate_out, mut measured) = (0.0, 0.0, false);
        let mut sources = BTreeSet::new();
        for broker in &brokers {
            let Ok(info) = self.admin().broker_runtime_info(&broker.addr).await else {
                continue;
            };
            let total = |key: &str| info.table.get(key).and_then(|v| v.parse::<u64>().ok());
            let mut meter = self
                .inner
                .meter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (suffix, key, sum) in [
                ("in", PUT_TOTAL_KEY, &mut rate_in),
                ("out", GET_TOTAL_KEY, &mut rate_out),
            ] {
                let source = format!("{}/{suffix}", broker.addr);
                if let Some(rate) = total(key).and_then(|t| meter.rate(&source, now, t)) {
                    *sum += rate;
                    measured = true;
                }
                sources.insert(source);
            }
        }
        self.inner
            .meter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(&sources);
        if measured {
            let mut history = self.history();
            history.record(
                history::SERIES_IN,
                Point {
                    at_ms: now,
                    value: rate_in,
                },
            );
            history.record(
                history::SERIES_OUT,
                Point {
                    at_ms: now,
                    value: rate_out,
                },
            );
        }
        Ok(())
    }

    async fn sample_lags(&self, now: i64) -> Result<(), ringmq_client::admin::AdminError> {
        let groups = crate::pages::groups::group_names(self.admin()).await?;
        let mut keep = BTreeSet::new();
        for group in groups.iter().take(GROUPS_SCANNED_MAX) {
            let name = history::lag_series(group);
            if let Ok(progress) = self.admin().consumer_progress(group).await {
                self.history().record(
                    &name,
                    Point {
                        at_ms: now,
                        value: progress.total_lag as f64,
                    },
                );
            }
            keep.insert(name);
        }
        self.history().retain_prefixed(history::LAG_PREFIX, &keep);
        Ok(())
    }
}

/// Runs [`AppState::sample`] every `every` until the task is aborted.
pub async fn sampler(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        state.sample().await;
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
