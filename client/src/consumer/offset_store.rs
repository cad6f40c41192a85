//! Consumer offsets: an in-memory table of "next offset to consume" per
//! queue, and the local file that makes BROADCASTING offsets durable.
//!
//! CLUSTERING offsets live on the broker (QUERY/UPDATE_CONSUMER_OFFSET);
//! the consumer keeps them in an [`OffsetTable`] and flushes every 5 s.
//! BROADCASTING offsets are written to
//! `<dir>/<ip@instanceName>/<group>/offsets.json` by [`LocalOffsetFile`].
//!
//! File layout (standard JSON; the Java client's fastjson object-keyed map
//! is not valid JSON, so this file is ringmq's own):
//!
//! ```text
//! {"offsetTable":[{"topic":"T","brokerName":"b","queueId":0,"offset":42}, ...]}
//! ```
//!
//! Saving writes `offsets.json.tmp`, fsyncs it, copies the previous file
//! to `offsets.json.bak`, then renames the temporary over `offsets.json`,
//! so a crash leaves either the old or the new table, never a torn one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::queue::MessageQueue;

/// Largest offsets file read back, to refuse a corrupt or hostile file.
pub const OFFSET_FILE_SIZE_MAX: u64 = 64 * 1024 * 1024;

/// Why offsets could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    /// Reading or writing the offsets file failed.
    #[error("offsets file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The offsets file is not the expected JSON.
    #[error("offsets file {path} is not valid: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The offsets file is over the size limit.
    #[error("offsets file {0} is larger than {OFFSET_FILE_SIZE_MAX} bytes")]
    TooLarge(PathBuf),
}

/// Next offset to consume per queue, shared by the pull loop and the timers.
#[derive(Debug, Default)]
pub struct OffsetTable {
    offsets: Mutex<HashMap<MessageQueue, i64>>,
}

impl OffsetTable {
    /// A table seeded with `offsets`.
    pub fn with_offsets(offsets: HashMap<MessageQueue, i64>) -> Self {
        Self {
            offsets: Mutex::new(offsets),
        }
    }

    /// Sets the offset of `mq`; with `increase_only` a smaller value is ignored.
    pub fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let Ok(mut table) = self.offsets.lock() else {
            return;
        };
        let slot = table.entry(mq.clone()).or_insert(offset);
        if !increase_only || offset > *slot {
            *slot = offset;
        }
    }

    /// The offset of `mq`, if known.
    pub fn read(&self, mq: &MessageQueue) -> Option<i64> {
        self.offsets.lock().ok()?.get(mq).copied()
    }

    /// Forgets `mq` (when it is no longer assigned), returning its offset.
    pub fn remove(&self, mq: &MessageQueue) -> Option<i64> {
        self.offsets.lock().ok()?.remove(mq)
    }

    /// A copy of every offset.
    pub fn snapshot(&self) -> HashMap<MessageQueue, i64> {
        self.offsets.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetEntry {
    topic: String,
    broker_name: String,
    queue_id: i32,
    offset: i64,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OffsetFileBody {
    offset_table: Vec<OffsetEntry>,
}

/// The BROADCASTING offsets file of one consumer group.
#[derive(Debug, Clone)]
pub struct LocalOffsetFile {
    path: PathBuf,
}

impl LocalOffsetFile {
    /// The file for `group` of client `client_key` under `dir`.
    pub fn new(dir: &Path, client_key: &str, group: &str) -> Self {
        Self {
            path: dir.join(client_key).join(group).join("offsets.json"),
        }
    }

    /// The default base directory: `$HOME/.rocketmq_offsets`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".rocketmq_offsets")
    }

    /// Where the offsets live.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the offsets; a missing file is an empty table, and a corrupt
    /// main file falls back to the `.bak` copy.
    pub fn load(&self) -> Result<HashMap<MessageQueue, i64>, OffsetError> {
        match read_table(&self.path) {
            Ok(table) => Ok(table),
            Err(OffsetError::Corrupt { .. }) => read_table(&self.path.with_extension("json.bak")),
            Err(other) => Err(other),
        }
    }

    /// Writes `offsets` atomically (tmp + fsync + rename), keeping a `.bak`.
    pub fn save(&self, offsets: &HashMap<MessageQueue, i64>) -> Result<(), OffsetError> {
        let io = |source| OffsetError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut entries: Vec<OffsetEntry> = offsets
            .iter()
            .map(|(mq, offset)| OffsetEntry {
                topic: mq.topic.clone(),
                broker_name: mq.broker_name.clone(),
                queue_id: mq.queue_id,
                offset: *offset,
            })
            .collect();
        entries.sort_by(|a, b| {
            (&a.topic, &a.broker_name, a.queue_id).cmp(&(&b.topic, &b.broker_name, b.queue_id))
        });
        let json = serde_json::to_vec(&OffsetFileBody {
            offset_table: entries,
        })
        .map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        if self.path.exists() {
            std::fs::copy(&self.path, self.path.with_extension("json.bak")).map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        Ok(())
    }
}

fn read_table(path: &Path) -> Result<HashMap<MessageQueue, i64>, OffsetError> {
    let io = |source| OffsetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(io(e)),
    };
    if meta.len() > OFFSET_FILE_SIZE_MAX {
        return Err(OffsetError::TooLarge(path.to_path_buf()));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let body: OffsetFileBody =
        serde_json::from_slice(&bytes).map_err(|source| OffsetError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(body
        .offset_table
        .into_iter()
        .map(|e| {
            (
                MessageQueue::new(e.topic, e.broker_name, e.queue_id),
                e.offset,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ringmq-client-offsets-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn saved_offsets_are_read_back() {
        let dir = temp_dir("roundtrip");
        let file = LocalOffsetFile::new(&dir, "127.0.0.1@i1", "g");
        assert!(file.load().unwrap().is_empty());
        let mut offsets = HashMap::new();
        offsets.insert(MessageQueue::new("T", "b", 0), 42);
        offsets.insert(MessageQueue::new("T", "b", 1), 7);
        file.save(&offsets).unwrap();
        offsets.insert(MessageQueue::new("T", "b", 1), 8);
        file.save(&offsets).unwrap();
        assert_eq!(file.load().unwrap(), offsets);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_falls_back_to_the_backup() {
        let dir = temp_dir("corrupt");
        let file = LocalOffsetFile::new(&dir, "c", "g");
        let mut offsets = HashMap::new();
        offsets.insert(MessageQueue::new("T", "b", 0), 1);
        file.save(&offsets).unwrap();
        file.save(&offsets).unwrap();
        std::fs::write(file.path(), b"{not json").unwrap();
        assert_eq!(file.load().unwrap(), offsets);
        std::fs::remove_dir_all(dir).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn any_offset_table_survives_a_save_and_load(
            entries in proptest::collection::vec(("[a-zA-Z%_-]{1,20}", "[a-z@-]{1,12}", 0i32..64, any_offset()), 0..40)
        ) {
            let dir = temp_dir("prop");
            let file = LocalOffsetFile::new(&dir, "c", "g");
            let table: HashMap<MessageQueue, i64> = entries
                .into_iter()
                .map(|(t, b, q, o)| (MessageQueue::new(t, b, q), o))
                .collect();
            file.save(&table).unwrap();
            proptest::prop_assert_eq!(file.load().unwrap(), table);
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    fn any_offset() -> impl proptest::strategy::Strategy<Value = i64> {
        proptest::prelude::any::<i64>()
    }

    #[test]
    fn increase_only_updates_never_go_backwards() {
        let table = OffsetTable::default();
        let mq = MessageQueue::new("T", "b", 0);
        table.update(&mq, 10, true);
        table.update(&mq, 5, true);
        assert_eq!(table.read(&mq), Some(10));
        table.update(&mq, 5, false);
        assert_eq!(table.read(&mq), Some(5));
    }
}
