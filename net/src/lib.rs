//! The RocketMQ 4.x wire and record format as data: frames, remoting
//! commands, typed headers and bodies, message records and ids. No I/O.
//!
//! Everything here is pure encoding and decoding so that the broker (compio),
//! the nameserver and the client (tokio) share one definition of every byte.
//! Decoders never panic on any input: they return typed errors.
//!
//! Layout:
//! - [`code`]: request codes, response codes, language codes, versions, flags.
//! - [`codec`]: the shared big-endian reader / writer of every binary format.
//! - [`frame`]: the length-prefixed frame codec (incremental decoder).
//! - [`command`]: [`command::RemotingCommand`] with JSON and ROCKETMQ headers.
//! - [`header`]: typed request/response headers <-> `extFields`.
//! - [`body`]: JSON bodies (heartbeat, routes, register-broker, locks, ...).
//! - [`record`]: the commit-log message record (== pull body), sysflags.
//! - [`properties`]: the 0x01/0x02 property string.
//! - [`message_id`]: offset message ids and unique client ids.
//! - [`batch`]: SEND_BATCH_MESSAGE body entries.
//! - [`compress`]: zlib body compression.
//! - [`hash`]: Java `String.hashCode` for tag codes.
//! - [`topic`]: topic/group name rules, system topics, retry and DLQ topic names.
//! - [`acl`]: RocketMQ ACL 1.0: request signatures, `plain_acl.yml`, the permission decision.
//! - [`validate`]: every name and count a request carries, checked before it is served.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod acl;
pub mod acl_file;
pub mod batch;
pub mod body;
pub mod code;
pub mod codec;
pub mod command;
pub mod compress;
pub mod frame;
pub mod hash;
pub mod header;
pub mod message_id;
pub mod properties;
pub mod record;
pub mod topic;
pub mod topic_attributes;
pub mod validate;
