//! The RocketMQ 5 messaging API (`apache.rocketmq.v2`) for ringmq.
//!
//! This crate holds the message and service definitions in `proto/`
//! (written to match apache/rocketmq-apis field for field, at the revision
//! the official Python SDK 5.1.2 speaks) and the prost/tonic code generated
//! from them by `build.rs` with the protoc vendored by `protoc-bin-vendored`
//! (no system protoc is needed; generation is cheaper to keep right than
//! hand-derived prost types for ~70 messages and a 17-method service).
//!
//! Status: only the generated types ([`pb`]) exist so far; the server that
//! serves `MessagingService` from the broker is not written yet.

/// The generated `apache.rocketmq.v2` messages, enums, client and server.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("apache.rocketmq.v2");
}
