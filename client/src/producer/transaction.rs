//! The transactional producer (Java `TransactionMQProducer`): sends a half
//! message, runs the local transaction, and tells the broker the outcome
//! with END_TRANSACTION; answers the broker's CHECK_TRANSACTION_STATE for
//! halves whose outcome it never got (Java
//! `ClientRemotingProcessor.checkTransactionState`).
//!
//! ```no_run
//! use std::any::Any;
//! use std::sync::Arc;
//! use ringmq_client::consumer::MessageExt;
//! use ringmq_client::producer::Producer;
//! use ringmq_client::producer::transaction::{
//!     LocalTransactionState, TransactionListener, TransactionProducer,
//! };
//! use ringmq_client::Message;
//!
//! struct Orders;
//! impl TransactionListener for Orders {
//!     fn execute_local_transaction(&self, _: &Message, _: Option<&(dyn Any + Send + Sync)>) -> LocalTransactionState {
//!         LocalTransactionState::Commit
//!     }
//!     fn check_local_transaction(&self, _: &MessageExt) -> LocalTransactionState {
//!         LocalTransactionState::Commit
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let builder = Producer::builder("orders-pg").namesrv("127.0.0.1:9876");
//! let producer = TransactionProducer::new(builder, Arc::new(Orders))?;
//! let sent = producer.send_message_in_transaction(Message::new("Orders", "paid"), None).await?;
//! println!("{} {:?}", sent.send.msg_id, sent.state);
//! # Ok(()) }
//! ```

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use ringmq_net::message_id::decode_offset_msg_id;
use ringmq_net::properties::{PGROUP, TRAN_MSG};
use ringmq_net::record::RecordView;

use super::{BuildError, Producer, ProducerBuilder, SendError, SendResult, SendStatus};
use crate::consumer::MessageExt;
use crate::instance::{AUTO_CREATE_TOPIC_KEY, BoxFuture, InboundProducer};
use crate::message::{Message, PROPERTY_UNIQ_KEY};
use crate::remoting::RemotingError;

/// The outcome of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTransactionState {
    /// Make the message visible to consumers.
    Commit,
    /// Drop the message.
    Rollback,
    /// Not known yet: the broker will ask again (CHECK_TRANSACTION_STATE).
    Unknown,
}

impl LocalTransactionState {
    /// `commitOrRollback` of END_TRANSACTION.
    pub fn commit_or_rollback(self) -> i32 {
        match self {
            Self::Commit => EndTransactionRequestHeader::TRANSACTION_COMMIT_TYPE,
            Self::Rollback => EndTransactionRequestHeader::TRANSACTION_ROLLBACK_TYPE,
            Self::Unknown => EndTransactionRequestHeader::TRANSACTION_NOT_TYPE,
        }
    }
}

/// The application's side of a transaction.
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction once the half message is stored.
    /// A panic counts as [`LocalTransactionState::Unknown`].
    fn execute_local_transaction(
        &self,
        msg: &Message,
        arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState;

    /// Tells the broker what became of the transaction of `msg` (a half
    /// whose outcome the broker never got). Runs on a blocking thread.
    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState;
}

/// What [`TransactionProducer::send_message_in_transaction`] did.
#[derive(Debug, Clone)]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send: SendResult,
    /// The local transaction's outcome (ROLLBACK when the half was not
    /// stored cleanly).
    pub state: LocalTransactionState,
    /// Why END_TRANSACTION could not be sent, if it could not (the broker
    /// will then check back).
    pub end_error: Option<String>,
}

/// Why END_TRANSACTION was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EndTransactionError {
    /// The send result's offset message id does not decode.
    #[error("the offset message id {0:?} does not decode")]
    OffsetMsgId(String),
    /// The broker has no master address in the route.
    #[error("broker {0:?} has no master address")]
    NoBrokerAddress(String),
    /// The transport failed.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
}

/// A producer of transactional messages; cheap to clone.
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
}

impl std::fmt::Debug for TransactionProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionProducer")
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}

impl TransactionProducer {
    /// Starts the producer `builder` describes, answering checks with
    /// `listener`. Its heartbeats name its group, so brokers can find it.
    pub fn new(
        builder: ProducerBuilder,
        listener: Arc<dyn TransactionListener>,
    ) -> Result<Self, BuildError> {
        let producer = builder.build()?;
        let checker = Arc::new(Checker {
            producer: producer.clone(),
            listener: listener.clone(),
        });
        producer
            .instance()
            .register_transaction_checker(producer.group(), checker);
        // As Java's producer does with its createTopicKey: learn the brokers
        // from TBW102's route, so a producer that has sent nothing yet
        // heart-beats them and can be asked about its group's halves.
        let instance = producer.instance().clone();
        tokio::spawn(async move {
            if let Err(err) = instance.update_route(AUTO_CREATE_TOPIC_KEY).await {
                tracing::debug!(%err, "no route of the auto-create topic; brokers learnt at the first send");
            }
            instance.heartbeat_all().await;
        });
        Ok(Self { producer, listener })
    }

    /// The underlying producer (for plain sends and shutdown).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs the local transaction with
    /// `arg`, and sends its outcome (Java `sendMessageInTransaction`).
    /// A delay level is dropped, as Java does.
    pub async fn send_message_in_transaction(
        &self,
        msg: Message,
        arg: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<TransactionSendResult, SendError> {
        let mut msg = msg.with_delay_level(0);
        msg.set_system_property(TRAN_MSG, "true");
        msg.set_system_property(PGROUP, self.producer.group());
        let send = self.producer.send_half(msg.clone()).await?;
        msg.set_system_property(PROPERTY_UNIQ_KEY, send.msg_id.clone());
        let state = if send.status == SendStatus::SendOk {
            let run = || self.listener.execute_local_transaction(&msg, arg);
            std::panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| {
                tracing::warn!(msg_id = %send.msg_id, "the local transaction panicked; its state is unknown");
                LocalTransactionState::Unknown
            })
        } else {
            LocalTransactionState::Rollback
        };
        let end_error = self.end_transaction(&send, state).await.err().map(|err| {
            tracing::warn!(msg_id = %send.msg_id, ?state, %err, "END_TRANSACTION not sent; the broker will check back");
            err.to_string()
        });
        Ok(TransactionSendResult {
            send,
            state,
            end_error,
        })
    }

    /// Sends END_TRANSACTION (one-way) for the half `send` stored.
    pub async fn end_transaction(
        &self,
        send: &SendResult,
        state: LocalTransactionState,
    ) -> Result<(), EndTransactionError> {
        let (_, commit_log_offset) = decode_offset_msg_id(&send.offset_msg_id)
            .map_err(|_| EndTransactionError::OffsetMsgId(send.offset_msg_id.clone()))?;
        let broker = &send.queue.broker_name;
        let addr = self
            .producer
            .instance()
            .master_addr(broker)
            .ok_or_else(|| EndTransactionError::NoBrokerAddress(broker.clone()))?;
        let header = EndTransactionRequestHeader {
            producer_group: self.producer.group().to_string(),
            tran_state_table_offset: send.queue_offset,
            commit_log_offset,
            commit_or_rollback: state.commit_or_rollback(),
            from_transaction_check: Some(false),
            msg_id: send.msg_id.clone(),
            transaction_id: Some(send.msg_id.clone()),
            topic: None,
            bname: None,
        };
        let request = RemotingCommand::request(request::END_TRANSACTION).with_header(&header);
        self.producer
            .instance()
            .invoke_oneway(&addr, request)
            .await?;
        Ok(())
    }
}

/// The producer group a CHECK_TRANSACTION_STATE is for (its half's `PGROUP`).
pub(crate) fn check_group(command: &RemotingCommand) -> Option<String> {
    let view = RecordView::parse(&command.body).ok()?;
    ringmq_net::properties::find(view.properties_raw(), PGROUP).map(str::to_string)
}

/// Answers CHECK_TRANSACTION_STATE for one producer group.
struct Checker {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
}

impl InboundProducer for Checker {
    fn check_transaction(&self, from: String, command: RemotingCommand) -> BoxFuture<'static, ()> {
        let producer = self.producer.clone();
        let listener = self.listener.clone();
        Box::pin(async move { answer_check(producer, listener, from, command).await })
    }
}

async fn answer_check(
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
    from: String,
    command: RemotingCommand,
) {
    let head: CheckTransactionStateRequestHeader = match command.decode_header() {
        Ok(head) => head,
        Err(err) => {
            tracing::warn!(%err, "CHECK_TRANSACTION_STATE with a bad header ignored");
            return;
        }
    };
    let msg = RecordView::parse(&command.body)
        .ok()
        .and_then(|view| MessageExt::from_record(&view, ""));
    let Some(msg) = msg else {
        tracing::warn!(%from, "CHECK_TRANSACTION_STATE whose body is not a message ignored");
        return;
    };
    let uniq = msg
        .property(PROPERTY_UNIQ_KEY)
        .map_or_else(|| msg.msg_id.clone(), str::to_string);
    let checked = tokio::task::spawn_blocking(move || {
        let state =
            std::panic::catch_unwind(AssertUnwindSafe(|| listener.check_local_transaction(&msg)));
        state.unwrap_or(LocalTransactionState::Unknown)
    })
    .await;
    let state = checked.unwrap_or(LocalTransactionState::Unknown);
    let header = EndTransactionRequestHeader {
        producer_group: producer.group().to_string(),
        tran_state_table_offset: head.tran_state_table_offset,
        commit_log_offset: head.commit_log_offset,
        commit_or_rollback: state.commit_or_rollback(),
        from_transaction_check: Some(true),
        msg_id: uniq,
        transaction_id: head.transaction_id,
        topic: None,
        bname: None,
    };
    let request = RemotingCommand::request(request::END_TRANSACTION).with_header(&header);
    if let Err(err) = producer.instance().invoke_oneway(&from, request).await {
        tracing::warn!(%from, %err, "END_TRANSACTION answering a check not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_java_commit_or_rollback_values() {
        assert_eq!(LocalTransactionState::Commit.commit_or_rollback(), 8);
        assert_eq!(LocalTransactionState::Rollback.commit_or_rollback(), 12);
        assert_eq!(LocalTransactionState::Unknown.commit_or_rollback(), 0);
    }

    #[test]
    fn a_check_names_the_group_of_its_half_and_garbage_names_none() {
        let host = "127.0.0.1:10911".parse().unwrap();
        let mut props = String::new();
        props.push_str("PGROUP\u{1}pg\u{2}UNIQ_KEY\u{1}U");
        let record = ringmq_net::record::MessageRecord {
            queue_id: 0,
            flag: 0,
            queue_offset: 3,
            physical_offset: 4,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: host,
            store_timestamp: 2,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: bytes::Bytes::from_static(b"x"),
            topic: "T".into(),
            properties: props,
        };
        let command = RemotingCommand::request(request::CHECK_TRANSACTION_STATE)
            .with_body(record.to_vec().unwrap());
        assert_eq!(check_group(&command).as_deref(), Some("pg"));
        let garbage =
            RemotingCommand::request(request::CHECK_TRANSACTION_STATE).with_body(vec![1u8, 2, 3]);
        assert_eq!(check_group(&garbage), None);
    }
}
