//! Why a broker did not start reaches the caller as a type, not as text: a
//! store that cannot be opened is `StartError::Shard(ShardStartError::Store)`
//! carrying the storage's own `OpenError`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_broker::{Broker, ShardStartError, StartError};
use ringmq_storage::OpenError;

#[test]
fn a_store_in_use_is_a_typed_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), 1);
    let Err(err) = Broker::start(test_config(dir.path(), 1)) else {
        panic!("a second broker opened a store that is in use");
    };
    match &err {
        StartError::Shard(ShardStartError::Store {
            shard: 0,
            source: OpenError::Locked(_),
            ..
        }) => {}
        other => panic!("expected a locked store, got {other:?}"),
    }
    let chain = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        chain.is_some_and(|text| text.contains("locked")),
        "the storage error is the source: {err}"
    );
    running.shutdown();
}
