//! The RocketMQ 5 messaging API (`apache.rocketmq.v2`) for ringmq.
//!
//! This crate holds the message and service definitions in `proto/`
//! (written to match apache/rocketmq-apis field for field, at the revision
//! the official Python SDK 5.1.2 speaks) and the prost/tonic code generated
//! from them by `build.rs` with the protoc vendored by `protoc-bin-vendored`
//! (no system protoc is needed; generation is cheaper to keep right than
//! hand-derived prost types for ~70 messages and a 17-method service).
//!
//! [`GrpcServer`] serves `MessagingService` on a tokio thread of its own,
//! running every RPC through the broker's remoting processors with the
//! in-process [`ringmq_broker::gateway`] ([`service`] has the RPC table).
//!
//! - [`convert`]: gRPC messages to remoting properties and back.
//! - [`handles`]: the transaction ids and receipt handles given to clients.
//! - [`session`]: one tracked client per `x-mq-client-id`.
//! - [`server`]: the thread, listener and shutdown.

pub mod convert;
pub mod handles;
pub mod server;
pub mod service;
pub mod session;

pub use server::{GrpcServer, GrpcStartError};

/// The generated `apache.rocketmq.v2` messages, enums, client and server.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("apache.rocketmq.v2");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::pb;
    use prost::Message;

    #[test]
    fn a_message_round_trips_and_garbage_is_an_error() {
        let message = pb::Message {
            topic: Some(pb::Resource {
                resource_namespace: String::new(),
                name: "T".into(),
            }),
            user_properties: [("k".to_owned(), "v".to_owned())].into(),
            system_properties: Some(pb::SystemProperties {
                tag: Some("TagA".into()),
                keys: vec!["key1".into()],
                message_id: "01".into(),
                message_group: Some("g".into()),
                ..Default::default()
            }),
            body: b"hello".to_vec(),
        };
        let bytes = message.encode_to_vec();
        assert_eq!(pb::Message::decode(bytes.as_slice()).unwrap(), message);
        assert!(pb::Message::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }
}
