//! `apache.rocketmq.v2.MessagingService` served from the broker: each RPC
//! becomes one or more remoting requests run through the broker's own
//! processors by the in-process [`Gateway`], so gRPC and remoting clients
//! share topics, queues, groups, offsets and the message store.
//!
//! # RPCs
//!
//! | RPC | remoting requests |
//! |---|---|
//! | QueryRoute | topic table (auto-created through `TBW102` when allowed) |
//! | Heartbeat, Telemetry settings | HEART_BEAT (topics as producer groups, the group as a POP consumer) |
//! | SendMessage | SEND_MESSAGE_V2 (FIFO: queue by group hash; timed: `TIMER_DELIVER_MS`; transactional: half) |
//! | EndTransaction | END_TRANSACTION (the transaction id holds the half's offsets, [`crate::handles`]) |
//! | QueryAssignment | topic table |
//! | NotifyClientTermination | UNREGISTER_CLIENT, then the session is dropped |
//! | ForwardMessageToDeadLetterQueue | CONSUMER_SEND_MSG_BACK with delay level -1 |
//! | ReceiveMessage | POP_MESSAGE on queue -1 (every queue of the topic and the group's POP retry topic) |
//! | AckMessage | ACK_MESSAGE per entry |
//! | ChangeInvisibleDuration | CHANGE_MESSAGE_INVISIBLETIME (the new receipt handle is answered) |
//!
//! A receipt handle is the message's commit-log offset and its remoting
//! receipt (`POP_CK`), see [`crate::handles`]; a new consumer group starts
//! at the first message of each queue (`initMode` MIN).
//!
//! Broker pushes on a client's virtual connection become Telemetry
//! commands: CHECK_TRANSACTION_STATE → RecoverOrphanedTransactionCommand,
//! GET_CONSUMER_RUNNING_INFO → PrintThreadStackTraceCommand (the
//! ThreadStackTrace answer becomes the running info's `jstack`).
//!
//! Every RPC answers: refusals are a `Status` in the response with the
//! `Code` a client acts on; RPCs ringmq does not serve (PullMessage,
//! UpdateOffset, GetOffset, QueryOffset, RecallMessage,
//! SyncLiteSubscription) answer `NOT_IMPLEMENTED` at once.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::Stream;
use ringmq_broker::gateway::{Gateway, GatewayError, Pushed, PushedCommands};
use ringmq_broker::topics::TopicConfig;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    CheckTransactionStateRequestHeader, ConsumerSendMsgBackRequestHeader,
    EndTransactionRequestHeader, GetConsumerRunningInfoRequestHeader, SendMessageResponseHeader,
    UnregisterClientRequestHeader,
};
use ringmq_net::topic_attributes::MessageType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{self, Delivery};
use crate::handles::{ReceiptHandle, TransactionHandle};

mod consume;
use crate::pb;
use crate::pb::messaging_service_server::MessagingService;
use crate::session::{Session, Sessions, TELEMETRY_QUEUE_MAX};

/// `initMode` of a pop: a new group starts at each queue's first message
/// (Java `ConsumeInitMode.MIN`).
pub const POP_INIT_MODE_MIN: i32 = 0;
/// The metadata key naming the client (every official SDK sends it).
pub const CLIENT_ID_METADATA: &str = "x-mq-client-id";
/// How long a server→client question (PrintThreadStack) waits.
pub const QUESTION_WAIT_MS: u64 = 3_000;
/// Send attempts the broker suggests to producers.
pub const PRODUCER_MAX_ATTEMPTS: i32 = 3;
/// First retry back-off suggested to clients.
pub const BACKOFF_INITIAL_MS: i64 = 1_000;
/// Longest retry back-off suggested to clients.
pub const BACKOFF_MAX_MS: i64 = 60_000;
/// Messages a consumer is told to receive at most per call (Java's POP bound).
pub const RECEIVE_BATCH_SIZE: i32 = 32;
/// Shortest invisible duration a receive may ask for.
pub const INVISIBLE_MS_MIN: i64 = 1_000;
/// Longest invisible duration (Java proxy's 12 h).
pub const INVISIBLE_MS_MAX: i64 = 12 * 3_600_000;
/// Longest long-polling time of one receive.
pub const POLL_MS_MAX: i64 = 30_000;
/// Entries one AckMessage may carry.
pub const ACK_ENTRIES_MAX: usize = 1024;

/// Where clients reach this endpoint (written into routes).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub host: IpAddr,
    pub port: u16,
}

impl Endpoint {
    fn endpoints(&self) -> pb::Endpoints {
        let scheme = if self.host.is_ipv6() {
            pb::AddressScheme::IPv6
        } else {
            pb::AddressScheme::IPv4
        };
        pb::Endpoints {
            scheme: scheme as i32,
            addresses: vec![pb::Address {
                host: self.host.to_string(),
                port: i32::from(self.port),
            }],
        }
    }
}

/// The service (cheap to clone: shared parts are behind `Arc`s).
#[derive(Clone)]
pub struct Messaging {
    gateway: Gateway,
    endpoint: Endpoint,
    sessions: Arc<Sessions>,
}

/// A response type with a `status` field, for refusals.
trait WithStatus: Default {
    fn with_status(status: pb::Status) -> Self;
}

macro_rules! with_status {
    ($($ty:ty),* $(,)?) => {
        $(impl WithStatus for $ty {
            // Some responses have no field besides `status`.
            #[allow(clippy::needless_update)]
            fn with_status(status: pb::Status) -> Self {
                Self { status: Some(status), ..Default::default() }
            }
        })*
    };
}

with_status!(
    pb::QueryRouteResponse,
    pb::HeartbeatResponse,
    pb::SendMessageResponse,
    pb::QueryAssignmentResponse,
    pb::AckMessageResponse,
    pb::ForwardMessageToDeadLetterQueueResponse,
    pb::EndTransactionResponse,
    pb::NotifyClientTerminationResponse,
    pb::ChangeInvisibleDurationResponse,
    pb::UpdateOffsetResponse,
    pb::GetOffsetResponse,
    pb::QueryOffsetResponse,
    pb::RecallMessageResponse,
    pb::SyncLiteSubscriptionResponse,
);

/// A `Status` message.
pub fn status(code: pb::Code, message: impl Into<String>) -> pb::Status {
    pb::Status {
        code: code as i32,
        message: message.into(),
    }
}

fn ok() -> pb::Status {
    status(pb::Code::Ok, "OK")
}

/// The answer of an RPC that either succeeded or was refused.
fn answer<T: WithStatus>(outcome: Result<T, pb::Status>) -> Result<Response<T>, Status> {
    Ok(Response::new(outcome.unwrap_or_else(T::with_status)))
}

/// The message types a topic's queues accept. Topics carry no message
/// type yet, so every queue accepts every type (RocketMQ 5's behaviour for
/// a topic created without one).
fn accepted_types(topic: &TopicConfig) -> Vec<i32> {
    MessageType::ALL
        .into_iter()
        .filter(|kind| topic.accepts(*kind))
        .map(|kind| grpc_type(kind) as i32)
        .collect()
}

/// The gRPC name of a topic message type.
fn grpc_type(kind: MessageType) -> pb::MessageType {
    match kind {
        MessageType::Normal => pb::MessageType::Normal,
        MessageType::Fifo => pb::MessageType::Fifo,
        MessageType::Delay => pb::MessageType::Delay,
        MessageType::Transaction => pb::MessageType::Transaction,
    }
}

/// The topic message type of a send's delivery.
fn delivery_type(delivery: &Delivery) -> MessageType {
    match delivery {
        Delivery::Normal => MessageType::Normal,
        Delivery::Fifo { .. } => MessageType::Fifo,
        Delivery::Timed { .. } => MessageType::Delay,
        Delivery::Transaction => MessageType::Transaction,
    }
}

/// The status of a whole batch answer from its entries' statuses: OK when
/// every entry is OK, the entry's own for a batch of one, else
/// MULTIPLE_RESULTS with `failed` as its message.
pub(crate) fn batch_status(entries: &[Option<&pb::Status>], failed: &str) -> pb::Status {
    let is_ok = |s: &Option<&pb::Status>| s.is_some_and(|s| s.code == pb::Code::Ok as i32);
    match entries {
        _ if entries.iter().all(is_ok) => ok(),
        [only] => only.cloned().unwrap_or_else(ok),
        _ => status(pb::Code::MultipleResults, failed),
    }
}

/// The gRPC code for a remoting response code that is not SUCCESS.
fn remoting_refusal(code: i32, remark: Option<&str>) -> pb::Status {
    let grpc = match code {
        response::SYSTEM_BUSY | response::FLOW_CONTROL => pb::Code::TooManyRequests,
        response::TOPIC_NOT_EXIST => pb::Code::TopicNotFound,
        response::SUBSCRIPTION_GROUP_NOT_EXIST => pb::Code::ConsumerGroupNotFound,
        response::NO_PERMISSION => pb::Code::Forbidden,
        response::MESSAGE_ILLEGAL => pb::Code::BadRequest,
        response::FLUSH_DISK_TIMEOUT => pb::Code::MasterPersistenceTimeout,
        response::FLUSH_SLAVE_TIMEOUT => pb::Code::SlavePersistenceTimeout,
        response::SLAVE_NOT_AVAILABLE => pb::Code::HaNotAvailable,
        response::REQUEST_CODE_NOT_SUPPORTED => pb::Code::NotImplemented,
        _ => pb::Code::InternalServerError,
    };
    let remark = remark.unwrap_or("");
    status(grpc, format!("{remark} (remoting code {code})"))
}

fn resource_name(resource: Option<&pb::Resource>, what: pb::Code) -> Result<String, pb::Status> {
    resource
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| status(what, "the request names no resource"))
}

impl Messaging {
    pub fn new(gateway: Gateway, endpoint: Endpoint) -> Messaging {
        Messaging {
            sessions: Arc::new(Sessions::new(gateway.clone())),
            gateway,
            endpoint,
        }
    }

    /// The caller's session, from its `x-mq-client-id`.
    fn session<T>(&self, request: &Request<T>) -> Result<Arc<Session>, pb::Status> {
        let client_id = request
            .metadata()
            .get(CLIENT_ID_METADATA)
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                status(
                    pb::Code::ClientIdRequired,
                    format!("the {CLIENT_ID_METADATA} metadata is required"),
                )
            })?;
        let peer = request
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        self.sessions
            .get_or_create(client_id, peer, |session, pushed| {
                self.spawn_pump(Arc::downgrade(&session), pushed);
            })
            .map_err(|refusal| status(pb::Code::TooManyRequests, refusal.message()))
    }

    /// Runs one remoting request for `session`.
    async fn call(
        &self,
        session: &Session,
        command: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, pb::Status> {
        self.gateway
            .call(&session.client, command)
            .await
            .map_err(|err| match err {
                GatewayError::Busy => status(pb::Code::TooManyRequests, err.to_string()),
                GatewayError::Unavailable => status(pb::Code::InternalServerError, err.to_string()),
            })
    }

    /// Runs a request that must answer SUCCESS.
    async fn call_ok(
        &self,
        session: &Session,
        command: RemotingCommand,
    ) -> Result<RemotingCommand, pb::Status> {
        let reply = self
            .call(session, command)
            .await?
            .ok_or_else(|| status(pb::Code::InternalServerError, "the broker gave no answer"))?;
        if reply.code != response::SUCCESS {
            return Err(remoting_refusal(reply.code, reply.remark.as_deref()));
        }
        Ok(reply)
    }

    /// Registers what `session` is (HEART_BEAT).
    async fn heartbeat(&self, session: &Session) -> Result<(), pb::Status> {
        let data = session.heartbeat_data();
        let body = ringmq_net::body::encode_json(&data)
            .map_err(|err| status(pb::Code::InternalServerError, err.to_string()))?;
        let command = RemotingCommand::request(request::HEART_BEAT).with_body(body);
        self.call_ok(session, command).await.map(|_| ())
    }

    fn topic(&self, name: &str) -> Result<TopicConfig, pb::Status> {
        self.gateway
            .topic_for_route(name)
            .map_err(|refusal| status(pb::Code::TopicNotFound, refusal.remark))
    }

    fn message_queue(&self, topic: &TopicConfig, id: i32) -> pb::MessageQueue {
        let readable = topic.is_readable() && id < topic.read_queue_nums;
        let writable = topic.is_writable() && id < topic.write_queue_nums;
        let permission = match (readable, writable) {
            (true, true) => pb::Permission::ReadWrite,
            (true, false) => pb::Permission::Read,
            (false, true) => pb::Permission::Write,
            (false, false) => pb::Permission::None,
        };
        pb::MessageQueue {
            topic: Some(pb::Resource {
                resource_namespace: String::new(),
                name: topic.topic_name.clone(),
            }),
            id,
            permission: permission as i32,
            broker: Some(pb::Broker {
                name: self.gateway.state().config.broker_name.clone(),
                id: 0,
                endpoints: Some(self.endpoint.endpoints()),
            }),
            accept_message_types: accepted_types(topic),
        }
    }

    async fn query_route_inner(
        &self,
        request: Request<pb::QueryRouteRequest>,
    ) -> Result<pb::QueryRouteResponse, pb::Status> {
        self.session(&request)?;
        let name = resource_name(request.get_ref().topic.as_ref(), pb::Code::IllegalTopic)?;
        let topic = self.topic(&name)?;
        let message_queues = (0..topic.queue_count())
            .map(|id| self.message_queue(&topic, id))
            .collect();
        Ok(pb::QueryRouteResponse {
            status: Some(ok()),
            message_queues,
        })
    }

    async fn heartbeat_inner(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<pb::HeartbeatResponse, pb::Status> {
        let session = self.session(&request)?;
        if let Some(group) = request
            .get_ref()
            .group
            .as_ref()
            .filter(|g| !g.name.is_empty())
        {
            session.set_consumer_group(&group.name);
        }
        self.heartbeat(&session).await?;
        Ok(pb::HeartbeatResponse { status: Some(ok()) })
    }

    async fn send_inner(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<pb::SendMessageResponse, pb::Status> {
        let session = self.session(&request)?;
        let messages = &request.get_ref().messages;
        if messages.is_empty() {
            return Err(status(pb::Code::BadRequest, "the request holds no message"));
        }
        let mut entries = Vec::with_capacity(messages.len());
        for message in messages {
            let entry = match self.send_one(&session, message).await {
                Ok(entry) => entry,
                Err(refusal) => pb::SendResultEntry {
                    status: Some(refusal),
                    ..Default::default()
                },
            };
            entries.push(entry);
        }
        let statuses: Vec<Option<&pb::Status>> =
            entries.iter().map(|e| e.status.as_ref()).collect();
        let top = batch_status(&statuses, "some messages were not sent");
        Ok(pb::SendMessageResponse {
            status: Some(top),
            entries,
        })
    }

    async fn send_one(
        &self,
        session: &Session,
        message: &pb::Message,
    ) -> Result<pb::SendResultEntry, pb::Status> {
        let out = convert::outgoing(message).map_err(|err| status(err.code(), err.to_string()))?;
        let topic = self.topic(&out.topic)?;
        let kind = delivery_type(&out.delivery);
        if !topic.accepts(kind) {
            let own = topic.message_type().map_or("any", |own| own.as_str());
            return Err(status(
                pb::Code::MessagePropertyConflictWithType,
                format!(
                    "topic {} accepts {own} messages, not {kind} ones (its message.type attribute)",
                    out.topic
                ),
            ));
        }
        let queue_id = match &out.delivery {
            Delivery::Fifo { group } => {
                let queues = u64::try_from(topic.write_queue_nums.max(1)).unwrap_or(1);
                (ringmq_net::hash::fnv1a64(group.as_bytes()) % queues) as i32
            }
            _ => -1,
        };
        if out.delivery == Delivery::Transaction && session.add_producer_topic(&out.topic) {
            // The check-back looks for a producer of the half's group.
            self.heartbeat(session).await?;
        }
        let config = &self.gateway.state().config;
        let default_queues = i32::try_from(config.default_topic_queue_nums).unwrap_or(1);
        let command = convert::send_request(&out, &out.topic, queue_id, default_queues);
        let reply = self.call_ok(session, command).await.map_err(|refusal| {
            if matches!(out.delivery, Delivery::Timed { .. })
                && refusal.message.contains("remoting code 13)")
            {
                status(pb::Code::IllegalDeliveryTime, refusal.message)
            } else {
                refusal
            }
        })?;
        let head: SendMessageResponseHeader = reply
            .decode_header()
            .map_err(|err| status(pb::Code::InternalServerError, err.to_string()))?;
        let transaction_id = if out.delivery == Delivery::Transaction {
            let (_, commit_log_offset) = ringmq_net::message_id::decode_offset_msg_id(&head.msg_id)
                .map_err(|err| status(pb::Code::InternalServerError, err.to_string()))?;
            TransactionHandle {
                commit_log_offset,
                queue_offset: head.queue_offset,
            }
            .render()
        } else {
            String::new()
        };
        Ok(pb::SendResultEntry {
            status: Some(ok()),
            message_id: out.message_id,
            transaction_id,
            offset: head.queue_offset,
            recall_handle: String::new(),
        })
    }

    async fn end_transaction_inner(
        &self,
        request: Request<pb::EndTransactionRequest>,
    ) -> Result<pb::EndTransactionResponse, pb::Status> {
        let session = self.session(&request)?;
        let req = request.get_ref();
        let topic = resource_name(req.topic.as_ref(), pb::Code::IllegalTopic)?;
        let handle = TransactionHandle::parse(&req.transaction_id)
            .map_err(|err| status(pb::Code::InvalidTransactionId, err.to_string()))?;
        let commit_or_rollback = match req.resolution() {
            pb::TransactionResolution::Commit => {
                EndTransactionRequestHeader::TRANSACTION_COMMIT_TYPE
            }
            pb::TransactionResolution::Rollback => {
                EndTransactionRequestHeader::TRANSACTION_ROLLBACK_TYPE
            }
            pb::TransactionResolution::Unspecified => {
                EndTransactionRequestHeader::TRANSACTION_NOT_TYPE
            }
        };
        let header = EndTransactionRequestHeader {
            producer_group: topic.clone(),
            tran_state_table_offset: handle.queue_offset,
            commit_log_offset: handle.commit_log_offset,
            commit_or_rollback,
            from_transaction_check: Some(req.source() == pb::TransactionSource::SourceServerCheck),
            msg_id: req.message_id.clone(),
            transaction_id: Some(req.message_id.clone()),
            topic: Some(topic),
            bname: None,
        };
        let command = RemotingCommand::request(request::END_TRANSACTION).with_header(&header);
        match self.call(&session, command).await? {
            // An unknown resolution is left to the check-back: no answer.
            None => Ok(pb::EndTransactionResponse { status: Some(ok()) }),
            Some(reply) if reply.code == response::SUCCESS => {
                Ok(pb::EndTransactionResponse { status: Some(ok()) })
            }
            Some(reply) => Err(status(
                pb::Code::InvalidTransactionId,
                reply.remark.unwrap_or_default(),
            )),
        }
    }

    async fn query_assignment_inner(
        &self,
        request: Request<pb::QueryAssignmentRequest>,
    ) -> Result<pb::QueryAssignmentResponse, pb::Status> {
        self.session(&request)?;
        let req = request.get_ref();
        let name = resource_name(req.topic.as_ref(), pb::Code::IllegalTopic)?;
        let group = resource_name(req.group.as_ref(), pb::Code::IllegalConsumerGroup)?;
        self.gateway.group(&group).ok_or_else(|| {
            status(
                pb::Code::ConsumerGroupNotFound,
                format!("group {group} does not exist"),
            )
        })?;
        let topic = self.topic(&name)?;
        let assignments = (0..topic.read_queue_nums)
            .filter(|_| topic.is_readable())
            .map(|id| pb::Assignment {
                message_queue: Some(self.message_queue(&topic, id)),
            })
            .collect();
        Ok(pb::QueryAssignmentResponse {
            status: Some(ok()),
            assignments,
        })
    }

    async fn notify_termination_inner(
        &self,
        request: Request<pb::NotifyClientTerminationRequest>,
    ) -> Result<pb::NotifyClientTerminationResponse, pb::Status> {
        let session = self.session(&request)?;
        if let Some(group) = request
            .get_ref()
            .group
            .as_ref()
            .filter(|g| !g.name.is_empty())
        {
            let header = UnregisterClientRequestHeader {
                client_id: session.client_id.clone(),
                producer_group: None,
                consumer_group: Some(group.name.clone()),
            };
            let command = RemotingCommand::request(request::UNREGISTER_CLIENT).with_header(&header);
            self.call_ok(&session, command).await?;
        }
        self.sessions.remove(&session.client_id);
        Ok(pb::NotifyClientTerminationResponse { status: Some(ok()) })
    }

    async fn forward_to_dlq_inner(
        &self,
        request: Request<pb::ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<pb::ForwardMessageToDeadLetterQueueResponse, pb::Status> {
        let session = self.session(&request)?;
        let req = request.get_ref();
        let topic = resource_name(req.topic.as_ref(), pb::Code::IllegalTopic)?;
        let group = resource_name(req.group.as_ref(), pb::Code::IllegalConsumerGroup)?;
        let handle = ReceiptHandle::parse(&req.receipt_handle)
            .map_err(|err| status(pb::Code::InvalidReceiptHandle, err.to_string()))?;
        let header = ConsumerSendMsgBackRequestHeader {
            offset: handle.physical_offset,
            group,
            delay_level: -1,
            origin_msg_id: Some(req.message_id.clone()),
            origin_topic: Some(topic),
            unit_mode: false,
            max_reconsume_times: Some(req.max_delivery_attempts),
            bname: None,
        };
        let command =
            RemotingCommand::request(request::CONSUMER_SEND_MSG_BACK).with_header(&header);
        self.call_ok(&session, command).await?;
        Ok(pb::ForwardMessageToDeadLetterQueueResponse { status: Some(ok()) })
    }

    /// The settings the broker answers a client's settings with.
    fn answer_settings(&self, sent: &pb::Settings) -> pb::Settings {
        let config = &self.gateway.state().config;
        let mut settings = sent.clone();
        let mut max_attempts = PRODUCER_MAX_ATTEMPTS;
        match settings.pub_sub.as_mut() {
            Some(pb::settings::PubSub::Publishing(publishing)) => {
                publishing.max_body_size =
                    i32::try_from(config.message_bytes_max).unwrap_or(i32::MAX);
                publishing.validate_message_type = true;
            }
            Some(pb::settings::PubSub::Subscription(subscription)) => {
                if let Some(group) = subscription
                    .group
                    .as_ref()
                    .and_then(|g| self.gateway.group(&g.name))
                {
                    max_attempts = group.retry_max_times.saturating_add(1);
                }
                subscription.fifo = Some(false);
                subscription.receive_batch_size = Some(RECEIVE_BATCH_SIZE);
            }
            None => {}
        }
        settings.backoff_policy = Some(pb::RetryPolicy {
            max_attempts,
            strategy: Some(pb::retry_policy::Strategy::ExponentialBackoff(
                pb::ExponentialBackoff {
                    initial: Some(convert::duration(BACKOFF_INITIAL_MS)),
                    max: Some(convert::duration(BACKOFF_MAX_MS)),
                    multiplier: 2.0,
                },
            )),
        });
        settings.metric = Some(pb::Metric {
            on: false,
            endpoints: None,
        });
        settings
    }

    /// One command a client sent on its Telemetry stream.
    async fn on_telemetry(
        &self,
        session: &Session,
        command: pb::TelemetryCommand,
        replies: &mpsc::Sender<Result<pb::TelemetryCommand, Status>>,
    ) {
        use pb::telemetry_command::Command;
        let reply = match command.command.clone() {
            Some(Command::Settings(settings)) => {
                session.set_settings(&settings);
                match self.heartbeat(session).await {
                    Ok(()) => pb::TelemetryCommand {
                        status: Some(ok()),
                        command: Some(Command::Settings(self.answer_settings(&settings))),
                    },
                    Err(refusal) => pb::TelemetryCommand {
                        status: Some(refusal),
                        command: None,
                    },
                }
            }
            Some(Command::ThreadStackTrace(trace)) => {
                session.answer(&trace.nonce, command);
                return;
            }
            Some(Command::VerifyMessageResult(result)) => {
                session.answer(&result.nonce, command);
                return;
            }
            _ => pb::TelemetryCommand {
                status: Some(status(
                    pb::Code::NotImplemented,
                    "a client sends Settings, ThreadStackTrace or VerifyMessageResult on this stream",
                )),
                command: None,
            },
        };
        let _ = replies.send(Ok(reply)).await;
    }

    /// Forwards what the broker pushes to `session`'s virtual connection.
    fn spawn_pump(&self, session: Weak<Session>, mut pushed: PushedCommands) {
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(item) = pushed.next().await {
                let Some(session) = session.upgrade() else {
                    break;
                };
                if let Pushed::Command(command) = item {
                    this.on_pushed(&session, command).await;
                }
            }
        });
    }

    async fn on_pushed(&self, session: &Session, command: RemotingCommand) {
        match command.code {
            request::CHECK_TRANSACTION_STATE => self.recover_orphan(session, &command),
            request::GET_CONSUMER_RUNNING_INFO if !command.is_oneway() => {
                let connection_id = session.client.connection_id();
                let nonce = format!("{connection_id}-{}", command.opaque);
                let question = session.ask(&nonce);
                let asked = question.is_some()
                    && session.push(pb::TelemetryCommand {
                        status: None,
                        command: Some(
                            pb::telemetry_command::Command::PrintThreadStackTraceCommand(
                                pb::PrintThreadStackTraceCommand {
                                    nonce: nonce.clone(),
                                },
                            ),
                        ),
                    });
                let trace = match question {
                    Some(answer) if asked => {
                        tokio::time::timeout(Duration::from_millis(QUESTION_WAIT_MS), answer)
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                    _ => None,
                };
                session.forget(&nonce);
                let reply = self.running_info_reply(&command, trace);
                ringmq_broker::processor::running_info::on_response(connection_id, reply);
            }
            request::NOTIFY_CONSUMER_IDS_CHANGED => {
                // POP consumers do not rebalance: nothing to tell.
            }
            code if !command.is_oneway() => {
                let reply = RemotingCommand::response_to(
                    &command,
                    response::REQUEST_CODE_NOT_SUPPORTED,
                    Some(format!(
                        "request code {code} is not supported by gRPC clients"
                    )),
                );
                ringmq_broker::processor::running_info::on_response(
                    session.client.connection_id(),
                    reply,
                );
            }
            code => {
                tracing::debug!(code, client = %session.client_id, "pushed notice dropped for a gRPC client")
            }
        }
    }

    fn running_info_reply(
        &self,
        command: &RemotingCommand,
        trace: Option<pb::TelemetryCommand>,
    ) -> RemotingCommand {
        let stack = match trace.and_then(|t| t.command) {
            Some(pb::telemetry_command::Command::ThreadStackTrace(trace)) => {
                trace.thread_stack_trace
            }
            _ => None,
        };
        let wanted = command
            .decode_header::<GetConsumerRunningInfoRequestHeader>()
            .is_ok_and(|h| h.jstack_enable);
        let Some(stack) = stack else {
            return RemotingCommand::response_to(
                command,
                response::SYSTEM_ERROR,
                Some("the gRPC client did not answer PrintThreadStackTraceCommand".to_owned()),
            );
        };
        let info = ringmq_net::body::consumer::ConsumerRunningInfo {
            jstack: wanted.then_some(stack),
            properties: [("PROP_CLIENT_PROTOCOL".to_owned(), "GRPC_V2".to_owned())].into(),
            ..Default::default()
        };
        match ringmq_net::body::encode_json(&info) {
            Ok(body) => {
                RemotingCommand::response_to(command, response::SUCCESS, None).with_body(body)
            }
            Err(err) => {
                RemotingCommand::response_to(command, response::SYSTEM_ERROR, Some(err.to_string()))
            }
        }
    }

    /// CHECK_TRANSACTION_STATE → RecoverOrphanedTransactionCommand.
    fn recover_orphan(&self, session: &Session, command: &RemotingCommand) {
        let Ok(head) = command.decode_header::<CheckTransactionStateRequestHeader>() else {
            tracing::warn!(client = %session.client_id, "a transaction check with a bad header; dropped");
            return;
        };
        let message = ringmq_net::record::MessageRecord::decode(&command.body)
            .map_err(|err| err.to_string())
            .and_then(|(record, _)| {
                convert::incoming(
                    &record,
                    self.gateway.state().store_host,
                    convert::Delivered::default(),
                )
                .map_err(|err| err.to_string())
            });
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(client = %session.client_id, %err, "a transaction check's half does not decode; dropped");
                return;
            }
        };
        let transaction_id = TransactionHandle {
            commit_log_offset: head.commit_log_offset,
            queue_offset: head.tran_state_table_offset,
        }
        .render();
        let pushed = session.push(pb::TelemetryCommand {
            status: None,
            command: Some(
                pb::telemetry_command::Command::RecoverOrphanedTransactionCommand(
                    pb::RecoverOrphanedTransactionCommand {
                        message: Some(message),
                        transaction_id,
                    },
                ),
            ),
        });
        if !pushed {
            tracing::warn!(client = %session.client_id, "no open Telemetry stream for a transaction check; the next scan retries");
        }
    }
}

fn not_implemented(rpc: &str) -> pb::Status {
    status(
        pb::Code::NotImplemented,
        format!("{rpc} is not served by this broker"),
    )
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn one_status<T: Send + 'static>(item: T) -> ResponseStream<T> {
    Box::pin(futures::stream::iter([Ok(item)]))
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn query_route(
        &self,
        request: Request<pb::QueryRouteRequest>,
    ) -> Result<Response<pb::QueryRouteResponse>, Status> {
        answer(self.query_route_inner(request).await)
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        answer(self.heartbeat_inner(request).await)
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        answer(self.send_inner(request).await)
    }

    async fn query_assignment(
        &self,
        request: Request<pb::QueryAssignmentRequest>,
    ) -> Result<Response<pb::QueryAssignmentResponse>, Status> {
        answer(self.query_assignment_inner(request).await)
    }

    type ReceiveMessageStream = ResponseStream<pb::ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        request: Request<pb::ReceiveMessageRequest>,
    ) -> Result<Response<Self::ReceiveMessageStream>, Status> {
        use pb::receive_message_response::Content;
        let items: Vec<Content> = match self.receive_inner(request).await {
            Ok(messages) if messages.is_empty() => vec![Content::Status(status(
                pb::Code::MessageNotFound,
                "no new message",
            ))],
            Ok(messages) => {
                let mut items = vec![Content::DeliveryTimestamp(convert::timestamp(
                    ringmq_net::message_id::now_ms(),
                ))];
                items.extend(messages.into_iter().map(Content::Message));
                items.push(Content::Status(ok()));
                items
            }
            Err(refusal) => vec![Content::Status(refusal)],
        };
        let stream = futures::stream::iter(items.into_iter().map(|content| {
            Ok(pb::ReceiveMessageResponse {
                content: Some(content),
            })
        }));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ack_message(
        &self,
        request: Request<pb::AckMessageRequest>,
    ) -> Result<Response<pb::AckMessageResponse>, Status> {
        answer(self.ack_inner(request).await)
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        request: Request<pb::ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<pb::ForwardMessageToDeadLetterQueueResponse>, Status> {
        answer(self.forward_to_dlq_inner(request).await)
    }

    type PullMessageStream = ResponseStream<pb::PullMessageResponse>;

    async fn pull_message(
        &self,
        _request: Request<pb::PullMessageRequest>,
    ) -> Result<Response<Self::PullMessageStream>, Status> {
        Ok(Response::new(one_status(pb::PullMessageResponse {
            content: Some(pb::pull_message_response::Content::Status(not_implemented(
                "PullMessage",
            ))),
        })))
    }

    async fn update_offset(
        &self,
        _request: Request<pb::UpdateOffsetRequest>,
    ) -> Result<Response<pb::UpdateOffsetResponse>, Status> {
        answer(Err(not_implemented("UpdateOffset")))
    }

    async fn get_offset(
        &self,
        _request: Request<pb::GetOffsetRequest>,
    ) -> Result<Response<pb::GetOffsetResponse>, Status> {
        answer(Err(not_implemented("GetOffset")))
    }

    async fn query_offset(
        &self,
        _request: Request<pb::QueryOffsetRequest>,
    ) -> Result<Response<pb::QueryOffsetResponse>, Status> {
        answer(Err(not_implemented("QueryOffset")))
    }

    async fn end_transaction(
        &self,
        request: Request<pb::EndTransactionRequest>,
    ) -> Result<Response<pb::EndTransactionResponse>, Status> {
        answer(self.end_transaction_inner(request).await)
    }

    type TelemetryStream = ReceiverStream<Result<pb::TelemetryCommand, Status>>;

    async fn telemetry(
        &self,
        request: Request<Streaming<pb::TelemetryCommand>>,
    ) -> Result<Response<Self::TelemetryStream>, Status> {
        let session = self
            .session(&request)
            .map_err(|refusal| Status::invalid_argument(refusal.message))?;
        let mut inbound = request.into_inner();
        let (replies, stream) = mpsc::channel(TELEMETRY_QUEUE_MAX);
        session.attach_telemetry(replies.clone());
        let this = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(command)) = inbound.message().await {
                this.on_telemetry(&session, command, &replies).await;
            }
            session.detach_telemetry(&replies);
        });
        Ok(Response::new(ReceiverStream::new(stream)))
    }

    async fn notify_client_termination(
        &self,
        request: Request<pb::NotifyClientTerminationRequest>,
    ) -> Result<Response<pb::NotifyClientTerminationResponse>, Status> {
        answer(self.notify_termination_inner(request).await)
    }

    async fn change_invisible_duration(
        &self,
        request: Request<pb::ChangeInvisibleDurationRequest>,
    ) -> Result<Response<pb::ChangeInvisibleDurationResponse>, Status> {
        answer(self.change_invisible_inner(request).await)
    }

    async fn recall_message(
        &self,
        _request: Request<pb::RecallMessageRequest>,
    ) -> Result<Response<pb::RecallMessageResponse>, Status> {
        answer(Err(not_implemented("RecallMessage")))
    }

    async fn sync_lite_subscription(
        &self,
        _request: Request<pb::SyncLiteSubscriptionRequest>,
    ) -> Result<Response<pb::SyncLiteSubscriptionResponse>, Status> {
        answer(Err(not_implemented("SyncLiteSubscription")))
    }
}
