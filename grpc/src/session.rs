//! One gRPC client (one `x-mq-client-id`) as the endpoint tracks it: its
//! broker-side virtual connection ([`VirtualClient`]), the settings it sent
//! on its Telemetry stream, the producer topics and consumer group it uses
//! (what its heartbeats register), and the sender of its Telemetry stream,
//! over which broker-pushed commands are forwarded.
//!
//! Bounded: at most [`SESSIONS_MAX`] sessions; a new client beyond that
//! first evicts sessions idle for [`SESSION_IDLE_MS`], and is refused when
//! none is. Pending server→client questions (PrintThreadStack) per session
//! are bounded by [`PENDING_QUESTIONS_MAX`].

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use ringmq_broker::gateway::{Gateway, PushedCommands, VirtualClient};
use ringmq_net::body::heartbeat::{
    ConsumeType, ConsumerData, HeartbeatData, MessageModel, ProducerData, SubscriptionData,
};
use tokio::sync::mpsc;
use tonic::Status;

use crate::pb;

/// Clients tracked at once.
pub const SESSIONS_MAX: usize = 10_000;
/// A session unseen for this long may be evicted (Java's channel expiry).
pub const SESSION_IDLE_MS: i64 = 120_000;
/// Commands queued on one Telemetry stream before pushes are dropped.
pub const TELEMETRY_QUEUE_MAX: usize = 256;
/// Server→client questions awaiting an answer on one session.
pub const PENDING_QUESTIONS_MAX: usize = 64;

/// The sending side of a client's Telemetry response stream.
pub type TelemetrySender = mpsc::Sender<Result<pb::TelemetryCommand, Status>>;

/// One client (see the module doc).
pub struct Session {
    pub client_id: String,
    pub client: VirtualClient,
    state: Mutex<SessionState>,
}

#[derive(Default)]
struct SessionState {
    settings: Option<pb::Settings>,
    producer_topics: BTreeSet<String>,
    consumer_group: Option<String>,
    telemetry: Option<TelemetrySender>,
    last_seen_ms: i64,
    pending: HashMap<String, tokio::sync::oneshot::Sender<pb::TelemetryCommand>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> i64 {
    ringmq_net::message_id::now_ms()
}

impl Session {
    /// Records the settings from the client's Telemetry stream; they name
    /// its producer topics or its consumer group and subscriptions.
    pub fn set_settings(&self, settings: &pb::Settings) {
        let mut state = lock(&self.state);
        match &settings.pub_sub {
            Some(pb::settings::PubSub::Publishing(publishing)) => {
                for topic in &publishing.topics {
                    state.producer_topics.insert(topic.name.clone());
                }
            }
            Some(pb::settings::PubSub::Subscription(subscription)) => {
                if let Some(group) = &subscription.group {
                    state.consumer_group = Some(group.name.clone());
                }
            }
            None => {}
        }
        state.settings = Some(settings.clone());
    }

    /// The settings last received, if any.
    pub fn settings(&self) -> Option<pb::Settings> {
        lock(&self.state).settings.clone()
    }

    /// Adds a producer topic; `true` when it is new (re-register then).
    pub fn add_producer_topic(&self, topic: &str) -> bool {
        lock(&self.state).producer_topics.insert(topic.to_owned())
    }

    /// Notes the consumer group a heartbeat named.
    pub fn set_consumer_group(&self, group: &str) {
        lock(&self.state).consumer_group = Some(group.to_owned());
    }

    /// The client's Telemetry stream, while it is open.
    pub fn attach_telemetry(&self, sender: TelemetrySender) {
        lock(&self.state).telemetry = Some(sender);
    }

    /// The stream of `sender` closed (a newer stream of the client stays).
    pub fn detach_telemetry(&self, sender: &TelemetrySender) {
        let mut state = lock(&self.state);
        if state
            .telemetry
            .as_ref()
            .is_some_and(|s| s.same_channel(sender))
        {
            state.telemetry = None;
        }
    }

    /// Queues `command` on the Telemetry stream; `false` when there is no
    /// open stream or it is full.
    pub fn push(&self, command: pb::TelemetryCommand) -> bool {
        let sender = lock(&self.state).telemetry.clone();
        sender.is_some_and(|s| s.try_send(Ok(command)).is_ok())
    }

    /// Registers a question with `nonce`; its answer comes from
    /// [`Session::answer`]. `None` when too many are pending.
    pub fn ask(&self, nonce: &str) -> Option<tokio::sync::oneshot::Receiver<pb::TelemetryCommand>> {
        let mut state = lock(&self.state);
        if state.pending.len() >= PENDING_QUESTIONS_MAX {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        state.pending.insert(nonce.to_owned(), tx);
        Some(rx)
    }

    /// Drops a question that timed out.
    pub fn forget(&self, nonce: &str) {
        lock(&self.state).pending.remove(nonce);
    }

    /// Delivers a client's answer to the question with `nonce`.
    pub fn answer(&self, nonce: &str, command: pb::TelemetryCommand) {
        if let Some(waiter) = lock(&self.state).pending.remove(nonce) {
            let _ = waiter.send(command);
        }
    }

    fn touch(&self) {
        lock(&self.state).last_seen_ms = now_ms();
    }

    fn idle_since(&self) -> i64 {
        lock(&self.state).last_seen_ms
    }

    /// The HEART_BEAT body registering what this client is: its topics as
    /// producer groups (a gRPC producer has no group; the topic stands for
    /// it, so a transaction check reaches a producer of the topic), and its
    /// consumer group with the subscriptions from its settings.
    pub fn heartbeat_data(&self) -> HeartbeatData {
        let state = lock(&self.state);
        let producer_data_set = state
            .producer_topics
            .iter()
            .map(|topic| ProducerData {
                group_name: topic.clone(),
            })
            .collect();
        let consumer_data_set = state
            .consumer_group
            .iter()
            .map(|group| ConsumerData {
                group_name: group.clone(),
                consume_type: ConsumeType::ConsumePop,
                message_model: MessageModel::Clustering,
                subscription_data_set: subscriptions(state.settings.as_ref()),
                ..ConsumerData::default()
            })
            .collect();
        HeartbeatData {
            client_id: self.client_id.clone(),
            consumer_data_set,
            producer_data_set,
        }
    }
}

/// The subscriptions a consumer's settings name, as remoting subscriptions.
fn subscriptions(settings: Option<&pb::Settings>) -> Vec<SubscriptionData> {
    let Some(pb::settings::PubSub::Subscription(subscription)) =
        settings.and_then(|s| s.pub_sub.as_ref())
    else {
        return Vec::new();
    };
    let version = now_ms();
    subscription
        .subscriptions
        .iter()
        .filter_map(|entry| {
            let topic = entry.topic.as_ref()?.name.clone();
            let expression = entry.expression.as_ref();
            let text = expression.map_or("*", |e| e.expression.as_str());
            let mut data = SubscriptionData::tag(topic, text, version);
            if expression.is_some_and(|e| e.r#type() == pb::FilterType::Sql) {
                data.expression_type =
                    ringmq_net::body::heartbeat::EXPRESSION_TYPE_SQL92.to_owned();
                data.sub_string = text.to_owned();
                data.tags_set.clear();
                data.code_set.clear();
            }
            Some(data)
        })
        .collect()
}

/// Every session of the endpoint.
pub struct Sessions {
    gateway: Gateway,
    table: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    pub fn new(gateway: Gateway) -> Sessions {
        Sessions {
            gateway,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// The session of `client_id`, created on first sight (its virtual
    /// connection is opened and the pushed-command pump started by
    /// `on_new`).
    pub fn get_or_create(
        &self,
        client_id: &str,
        peer: SocketAddr,
        on_new: impl FnOnce(Arc<Session>, PushedCommands),
    ) -> Result<Arc<Session>, Status> {
        let mut table = lock(&self.table);
        if let Some(found) = table.get(client_id) {
            found.touch();
            return Ok(found.clone());
        }
        if table.len() >= SESSIONS_MAX {
            let cutoff = now_ms() - SESSION_IDLE_MS;
            let idle: Vec<String> = table
                .iter()
                .filter(|(_, s)| s.idle_since() < cutoff)
                .map(|(id, _)| id.clone())
                .collect();
            for id in idle {
                if let Some(session) = table.remove(&id) {
                    self.gateway.disconnect(&session.client);
                }
            }
            if table.len() >= SESSIONS_MAX {
                return Err(Status::resource_exhausted(format!(
                    "the broker tracks {SESSIONS_MAX} gRPC clients, its limit"
                )));
            }
        }
        let (client, pushed) = self.gateway.connect(client_id, peer);
        let session = Arc::new(Session {
            client_id: client_id.to_owned(),
            client,
            state: Mutex::new(SessionState {
                last_seen_ms: now_ms(),
                ..SessionState::default()
            }),
        });
        table.insert(client_id.to_owned(), session.clone());
        drop(table);
        on_new(session.clone(), pushed);
        Ok(session)
    }

    /// Forgets a client (NotifyClientTermination): it leaves its groups.
    pub fn remove(&self, client_id: &str) {
        let removed = lock(&self.table).remove(client_id);
        if let Some(session) = removed {
            self.gateway.disconnect(&session.client);
        }
    }
}
