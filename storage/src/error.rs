//! Error types, one per operation: opening ([`crate::OpenError`], in
//! recovery), appending ([`PutError`]) and reading ([`ReadError`]).

use std::io;

use thiserror::Error;

use crate::store::PutResult;

/// Why an append was refused or not confirmed.
#[derive(Debug, Error)]
pub enum PutError {
    /// A write or fdatasync failed earlier; the store refuses writes until
    /// it is reopened (failed syncs are never retried).
    #[error("store is read-only after an I/O failure: {0}")]
    ReadOnly(String),
    /// Disk usage is above the configured threshold (or the disk is full);
    /// writes resume automatically once space is freed.
    #[error("disk usage {usage_percent}% is above the limit; writes refused until space is freed")]
    DiskFull { usage_percent: u8 },
    /// The record is malformed, too large, or names an invalid topic.
    #[error("message illegal: {0}")]
    MessageIllegal(String),
    /// The records are stored and visible but no fdatasync covered them
    /// within the sync-flush timeout (RocketMQ FLUSH_DISK_TIMEOUT).
    #[error("stored, but not flushed to disk within the sync-flush timeout")]
    FlushTimeout(Vec<PutResult>),
    /// A new segment could not be created (not a disk-full condition).
    #[error("commit-log segment unavailable: {0}")]
    SegmentUnavailable(String),
}

/// Why a read failed.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("physical offset {0} belongs to shard {1}, not this store")]
    WrongShard(i64, u16),
    #[error("physical offset {0} is not in the readable log")]
    OutOfRange(i64),
    #[error("no valid record at physical offset {0}")]
    NotARecord(i64),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}
