//! The message store: commit-log segments, consume queues, key index, group
//! commit, flush, recovery and retention. Knows nothing of sockets.
//!
//! One [`MessageStore`] per broker shard, living on that shard's compio
//! event loop. On disk (`StoreConfig::data_dir`):
//!
//! ```text
//! commitlog/<20-digit local offset>        segments (RocketMQ records, §4.1)
//! consumequeue/<topic>/<queueId>/<20-digit byte offset>   20-byte units (§5.2)
//! keyindex/<20-digit first local offset>  key hash table (slots + chained entries)
//! checkpoint                               log flushed / indexed offsets
//! abort                                    present while open (crash marker)
//! lock                                     flock'ed while open
//! ```
//!
//! Modules: [`store`] (append path and background tasks), [`reads`] (pulls
//! and queries), [`retention`], [`recovery`], and the formats
//! [`log_record`], [`consume_queue`], [`key_index`], [`checkpoint`],
//! [`physical_offset`], all through `ringmq_net::codec`. Byte layouts and
//! recovery rules of every file: `docs/disk-format.md`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod checkpoint;
pub mod config;
pub mod consume_queue;
pub mod error;
pub mod fileio;
pub mod indexes;
pub mod key_index;
pub mod log_record;
pub mod mmap;
pub mod physical_offset;
pub mod reads;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod store;
mod watermark;

pub use config::{FaultPoint, FlushMode, StoreConfig};
pub use error::{PutError, ReadError};
pub use reads::{GetResult, GetStatus, RecordRange, TagFilter};
pub use recovery::OpenError;
pub use retention::RetentionReport;
pub use store::{ArrivalListener, FlushListener, MessageStore, PutResult, WaitFor, WriteBacklog};
