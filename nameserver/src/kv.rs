//! KV config: namespaced string settings kept by the nameserver for tools
//! and brokers (RocketMQ `KVConfigManager`), e.g. namespace
//! `ORDER_TOPIC_CONFIG` maps a topic to its ordered-queue layout.
//!
//! Persisted, when a data directory is configured, as `kvConfig.json` in
//! RocketMQ's format, rewritten whole on every change through a temporary
//! file and a rename so a crash leaves either the old or the new file:
//!
//! ```text
//! {"configTable":{"<namespace>":{"<key>":"<value>", ...}, ...}}
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the persisted table inside the data directory.
pub const KV_FILE_NAME: &str = "kvConfig.json";
/// Most entries over all namespaces; further PUTs are refused.
pub const KV_ENTRIES_LIMIT: usize = 100_000;
/// Longest namespace, key or value accepted, in bytes.
pub const KV_TEXT_BYTES_LIMIT: usize = 64 * 1024;
/// Namespace whose entries describe ordered topics.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Why a KV change failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("the KV config already holds {KV_ENTRIES_LIMIT} entries; delete some first")]
    Full,
    #[error("the KV {what} is {len} bytes, more than the limit of {KV_TEXT_BYTES_LIMIT}")]
    TooLong { what: &'static str, len: usize },
    #[error("cannot persist the KV config to {path}: {error}")]
    Persist {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the KV config file {path} is not valid: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvFile {
    #[serde(default)]
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

/// The KV table, optionally backed by a file. See the module doc.
#[derive(Debug, Default)]
pub struct KvConfig {
    table: BTreeMap<String, BTreeMap<String, String>>,
    file: Option<PathBuf>,
}

impl KvConfig {
    /// A table kept in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Opens (creating the directory if needed) the table persisted in
    /// `data_dir`; a missing file is an empty table.
    pub fn open(data_dir: &Path) -> Result<Self, KvError> {
        let path = data_dir.join(KV_FILE_NAME);
        std::fs::create_dir_all(data_dir).map_err(|error| KvError::Persist {
            path: data_dir.to_path_buf(),
            error,
        })?;
        let table = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: KvFile =
                    serde_json::from_slice(&bytes).map_err(|e| KvError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                file.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(KvError::Persist { path, error }),
        };
        Ok(Self {
            table,
            file: Some(path),
        })
    }

    /// PUT_KV_CONFIG: sets one value and persists.
    pub fn put(&mut self, namespace: &str, key: &str, value: &str) -> Result<(), KvError> {
        for (what, text) in [("namespace", namespace), ("key", key), ("value", value)] {
            if text.len() > KV_TEXT_BYTES_LIMIT {
                return Err(KvError::TooLong {
                    what,
                    len: text.len(),
                });
            }
        }
        let exists = self.get(namespace, key).is_some();
        if !exists && self.len() >= KV_ENTRIES_LIMIT {
            return Err(KvError::Full);
        }
        self.table
            .entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        self.persist()
    }

    /// GET_KV_CONFIG.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.table.get(namespace)?.get(key).map(String::as_str)
    }

    /// DELETE_KV_CONFIG: removes one value (absent is fine) and persists.
    pub fn delete(&mut self, namespace: &str, key: &str) -> Result<(), KvError> {
        let Some(entries) = self.table.get_mut(namespace) else {
            return Ok(());
        };
        if entries.remove(key).is_none() {
            return Ok(());
        }
        if entries.is_empty() {
            self.table.remove(namespace);
        }
        self.persist()
    }

    /// GET_KVLIST_BY_NAMESPACE: every entry of a namespace, `None` when it
    /// has none.
    pub fn namespace(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.table
            .get(namespace)
            .filter(|entries| !entries.is_empty())
    }

    /// Number of entries over all namespaces.
    pub fn len(&self) -> usize {
        self.table.values().map(BTreeMap::len).sum()
    }

    /// True when no entry exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn persist(&self) -> Result<(), KvError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let file = KvFile {
            config_table: self.table.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| KvError::Persist {
            path: path.clone(),
            error: std::io::Error::other(e),
        })?;
        write_atomically(path, &bytes).map_err(|error| KvError::Persist {
            path: path.clone(),
            error,
        })
    }
}

/// Writes `bytes` to a sibling temporary file, syncs it and renames it over
/// `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        // Best effort: make the rename durable.
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_round_trip_in_memory() {
        let mut kv = KvConfig::in_memory();
        kv.put("ns", "k", "v").unwrap();
        assert_eq!(kv.get("ns", "k"), Some("v"));
        assert_eq!(kv.namespace("ns").unwrap().len(), 1);
        kv.delete("ns", "k").unwrap();
        assert_eq!(kv.get("ns", "k"), None);
        assert!(kv.namespace("ns").is_none());
        assert!(kv.is_empty());
    }

    #[test]
    fn persisted_table_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut kv = KvConfig::open(dir.path()).unwrap();
            kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:4").unwrap();
            kv.put("ns", "gone", "x").unwrap();
            kv.delete("ns", "gone").unwrap();
        }
        let kv = KvConfig::open(dir.path()).unwrap();
        assert_eq!(kv.get(ORDER_TOPIC_CONFIG, "T"), Some("broker-a:4"));
        assert_eq!(kv.len(), 1);
        let text = std::fs::read_to_string(dir.path().join(KV_FILE_NAME)).unwrap();
        assert!(text.contains("configTable"), "{text}");
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KV_FILE_NAME), b"{not json").unwrap();
        let err = KvConfig::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains(KV_FILE_NAME), "{err}");
    }

    #[test]
    fn oversized_value_is_refused() {
        let mut kv = KvConfig::in_memory();
        let big = "x".repeat(KV_TEXT_BYTES_LIMIT + 1);
        assert!(matches!(
            kv.put("ns", "k", &big),
            Err(KvError::TooLong { what: "value", .. })
        ));
    }
}
