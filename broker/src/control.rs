//! The control thread: everything periodic or blocking that must not run on
//! a shard's event loop. It persists consumer offsets every
//! `offset_persist_period_ms` and at shutdown, persists topics and
//! subscription groups when they change, registers with the nameservers
//! every `register_period_ms` and on topic changes, expires silent client
//! channels every [`CLIENT_SCAN_PERIOD_MS`], and unregisters at shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::outbound::Outbound;
use crate::persist::write_atomically;
use crate::registration;
use crate::state::{BrokerState, ControlEvent, lock};

/// Period of the client-channel expiry scan (RocketMQ: 10 s); shorter when
/// the idle expiry itself is shorter than twice that.
pub const CLIENT_SCAN_PERIOD_MS: u64 = 10_000;
/// Shortest client-channel expiry scan period.
pub const CLIENT_SCAN_PERIOD_MS_MIN: u64 = 50;

/// The broker's config files.
pub struct ConfigFiles {
    pub topics: PathBuf,
    pub groups: PathBuf,
    pub offsets: PathBuf,
}

impl ConfigFiles {
    pub fn under(data_dir: &std::path::Path) -> ConfigFiles {
        let dir = data_dir.join("config");
        ConfigFiles {
            topics: dir.join("topics.json"),
            groups: dir.join("subscriptionGroup.json"),
            offsets: dir.join("consumerOffset.json"),
        }
    }
}

/// Runs until [`ControlEvent::Shutdown`] (or every sender is gone).
pub fn run(state: Arc<BrokerState>, events: flume::Receiver<ControlEvent>) {
    let files = ConfigFiles::under(&state.config.data_dir);
    let register_every = Duration::from_millis(state.config.register_period_ms);
    let persist_every = Duration::from_millis(state.config.offset_persist_period_ms);
    let scan_every = Duration::from_millis(
        CLIENT_SCAN_PERIOD_MS
            .min(state.config.client_idle_expiry_ms / 2)
            .max(CLIENT_SCAN_PERIOD_MS_MIN),
    );
    let mut links = registration::NameserverLinks::new(&state.config);
    let mut next_register = Instant::now();
    let mut next_persist = Instant::now() + persist_every;
    let mut next_scan = Instant::now() + scan_every;
    persist_topics(&state, &files);
    persist_groups(&state, &files, true);
    loop {
        let now = Instant::now();
        if now >= next_register {
            registration::register_all(&state, &mut links);
            next_register = Instant::now() + register_every;
        }
        if now >= next_persist {
            persist_offsets(&state, &files, false);
            persist_groups(&state, &files, false);
            next_persist = now + persist_every;
        }
        if now >= next_scan {
            expire_clients(&state);
            next_scan = now + scan_every;
        }
        let wake = next_register.min(next_persist).min(next_scan);
        match events.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(ControlEvent::TopicsChanged) => {
                persist_topics(&state, &files);
                next_register = Instant::now();
            }
            Ok(ControlEvent::GroupsChanged) => persist_groups(&state, &files, false),
            Ok(ControlEvent::Shutdown) | Err(flume::RecvTimeoutError::Disconnected) => break,
            Err(flume::RecvTimeoutError::Timeout) => {}
        }
        if state.is_shutting_down() {
            break;
        }
    }
    wait_for_shards(&state);
    persist_offsets(&state, &files, true);
    persist_groups(&state, &files, true);
    persist_topics(&state, &files);
    registration::unregister_all(&state, &mut links);
    tracing::info!("control thread stopped");
}

fn persist_json<T: serde::Serialize>(path: &std::path::Path, value: &T) {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => {
            if let Err(err) = write_atomically(path, &bytes) {
                tracing::error!(path = %path.display(), %err, "cannot persist");
            }
        }
        Err(err) => tracing::error!(path = %path.display(), %err, "cannot serialize"),
    }
}

/// Writes `consumerOffset.json` if offsets changed (or always when `force`).
pub fn persist_offsets(state: &BrokerState, files: &ConfigFiles, force: bool) {
    let snapshot = {
        let mut offsets = lock(&state.offsets);
        if force {
            let _ = offsets.take_dirty_snapshot();
            Some(offsets.snapshot())
        } else {
            offsets.take_dirty_snapshot()
        }
    };
    if let Some(snapshot) = snapshot {
        persist_json(&files.offsets, &snapshot);
    }
}

fn persist_topics(state: &BrokerState, files: &ConfigFiles) {
    let wrapper = lock(&state.topics).to_wrapper();
    persist_json(&files.topics, &wrapper);
}

fn persist_groups(state: &BrokerState, files: &ConfigFiles, force: bool) {
    let wrapper = {
        let mut groups = lock(&state.groups);
        let dirty = groups.take_dirty();
        (dirty || force).then(|| groups.to_wrapper())
    };
    if let Some(wrapper) = wrapper {
        persist_json(&files.groups, &wrapper);
    }
}

fn expire_clients(state: &BrokerState) {
    let idle = i64::try_from(state.config.client_idle_expiry_ms).unwrap_or(i64::MAX);
    let (changes, closed) = lock(&state.clients).expire(crate::clock::now_ms(), idle);
    for outbound in closed {
        outbound.try_post(Outbound::Close);
    }
    state.announce(changes);
}

/// Waits (bounded) until every shard thread has drained and stopped.
fn wait_for_shards(state: &BrokerState) {
    let deadline = Instant::now() + Duration::from_millis(crate::shard::DRAIN_WAIT_MS_MAX * 2);
    while state
        .shards_running
        .load(std::sync::atomic::Ordering::Acquire)
        > 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}
