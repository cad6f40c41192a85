//! Interop of transactional messages: the independent `rocketmq-client-rust`
//! 1.0.0 `TransactionMQProducer` against a real `ringmq` broker: a commit is
//! delivered, a rollback is not, and an unknown outcome is resolved by the
//! broker's CHECK_TRANSACTION_STATE, answered by that client's check
//! listener with END_TRANSACTION.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;
mod txn_common;

use common::{client_runtime, test_runtime};
use ringmq_tests::unique_name;
use rocketmq_client_rust::{LocalTransactionState, TransactionListener, TransactionMQProducer};
use rocketmq_model::common::message::MessageTrait;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use txn_common::*;

fn body_text(body: Option<&[u8]>) -> String {
    body.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Executes by the body's prefix; a check answers commit.
struct ByBody {
    checks: Arc<AtomicUsize>,
}

impl TransactionListener for ByBody {
    fn execute_local_transaction(
        &self,
        msg: &dyn MessageTrait,
        _: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        let body = body_text(msg.get_body().map(|b| &b[..]));
        if body.starts_with("commit") {
            LocalTransactionState::CommitMessage
        } else if body.starts_with("rollback") {
            LocalTransactionState::RollbackMessage
        } else {
            LocalTransactionState::Unknown
        }
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if body_text(msg.get_body().map(|b| &b[..])).starts_with("unknown") {
            LocalTransactionState::CommitMessage
        } else {
            LocalTransactionState::RollbackMessage
        }
    }
}

#[test]
fn the_independent_transactional_producer_commits_rolls_back_and_answers_checks() {
    let topic = unique_name("TxnInterop");
    let cluster = cluster(&topic, 15);
    let addr = cluster.brokers[0].addr();
    let checks = Arc::new(AtomicUsize::new(0));
    let listener = ByBody {
        checks: checks.clone(),
    };
    test_runtime().block_on(async {
        let mut producer = TransactionMQProducer::builder(client_runtime("txn-producer"))
            .producer_group(unique_name("txn-interop-pg"))
            .name_server_addr(cluster.namesrv_addr())
            .send_msg_timeout(u32::try_from(common::SEND_TIMEOUT_MS).unwrap())
            .transaction_listener(listener)
            .build();
        producer.start().await.unwrap();
        for body in ["commit-0", "rollback-0", "unknown-0"] {
            let msg = Message::builder()
                .topic(topic.as_str())
                .body(body.as_bytes().to_vec())
                .build_unchecked();
            let sent = producer
                .send_message_in_transaction::<(), _>(msg, None)
                .await
                .unwrap_or_else(|e| panic!("{body}: {}", common::error_chain(&e)));
            assert!(sent.send_result.is_some(), "{body} was stored as a half");
        }
        settle(&cluster, "3 outcomes", || {
            max_offset(&addr, OP_TOPIC, 0) >= 3
        });
        producer.shutdown().await;
    });
    assert_eq!(topic_bodies(&addr, &topic), ["commit-0", "unknown-0"]);
    assert_eq!(max_offset(&addr, OP_TOPIC, 0), 3);
    assert!(
        checks.load(Ordering::SeqCst) >= 1,
        "the unknown one was checked back"
    );
}
