//! The producer: route discovery, queue choice, retries on another broker,
//! fault avoidance, compression, unique ids, and the send variants.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ringmq_client::{Message, producer::Producer};
//!
//! let producer = Producer::builder("orders-pg")
//!     .namesrv("127.0.0.1:9876")
//!     .build()?;
//! let result = producer.send(Message::new("Orders", "hello").with_tags("created")).await?;
//! println!("{} stored at {} offset {}", result.msg_id, result.queue, result.queue_offset);
//! producer.shutdown().await;
//! # Ok(()) }
//! ```

pub mod fault;
pub mod selector;
pub mod transaction;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq_net::batch::{BatchEntry, encode_batch};
use ringmq_net::code::{request, response};
use ringmq_net::command::{RemotingCommand, SerializeType};
use ringmq_net::compress::{COMPRESS_BODY_OVER_BYTES, zlib_compress};
use ringmq_net::header::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use ringmq_net::message_id::UniqIdGenerator;
use ringmq_net::properties::Properties;
use ringmq_net::record::{COMPRESSED_FLAG, COMPRESSION_ZLIB};

use crate::instance::{
    AUTO_CREATE_TOPIC_KEY, ClientConfig, ClientInstance, DEFAULT_TOPIC_QUEUE_NUMS, RouteError,
};
use crate::message::{
    BODY_SIZE_MAX, Message, PROPERTY_DELAY, PROPERTY_UNIQ_KEY, PROPERTY_WAIT, ValidationError,
    validate_group,
};
use crate::queue::MessageQueue;
use crate::remoting::RemotingError;

use fault::LatencyFaults;
pub use selector::{MessageQueueSelector, RoundRobin, SelectByHash};

/// The group name Java reserves; producers must choose their own.
pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";
/// Default time allowed for one send, retries included.
pub const SEND_TIMEOUT_DEFAULT: Duration = Duration::from_secs(3);
/// Default extra attempts after a failed send.
pub const RETRIES_DEFAULT: u32 = 2;
/// Most extra attempts a producer may be configured with.
pub const RETRIES_MAX: u32 = 16;
/// Largest encoded batch body sent in one SEND_BATCH_MESSAGE; larger
/// batches are split.
pub const BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Most messages in one batch request.
pub const BATCH_MESSAGES_MAX: usize = 1_024;
/// The header encoding of send requests unless
/// [`ProducerBuilder::header_encoding`] says otherwise.
pub const SEND_HEADER_ENCODING_DEFAULT: SerializeType = SerializeType::RocketMq;

/// Whether the broker stored the message, and how durably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as the broker is configured).
    SendOk,
    /// Stored, but the synchronous flush timed out.
    FlushDiskTimeout,
    /// Stored, but replication to the slave timed out.
    FlushSlaveTimeout,
    /// Stored, but no slave is available for synchronous replication.
    SlaveNotAvailable,
}

/// The outcome of a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How durably the message was stored.
    pub status: SendStatus,
    /// The message's unique id (UNIQ_KEY); comma-joined for a batch.
    pub msg_id: String,
    /// The broker's offset message id; comma-joined for a batch.
    pub offset_msg_id: String,
    /// The queue the message went to.
    pub queue: MessageQueue,
    /// The message's offset in that queue (the first one for a batch).
    pub queue_offset: i64,
    /// The broker's region id.
    pub region_id: Option<String>,
}

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The message was refused before anything was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The topic has no route.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The topic's route has no writable queue.
    #[error("topic {0:?} has no writable queue")]
    NoQueue(String),
    /// A selector returned no queue.
    #[error("the queue selector chose no queue of topic {0:?}")]
    NoQueueSelected(String),
    /// The broker refused the message with a code that is not retried.
    #[error("broker {broker} refused the message: code {code}: {remark}")]
    Broker {
        /// The broker name.
        broker: String,
        /// The response code.
        code: i32,
        /// The response remark.
        remark: String,
    },
    /// The broker has no master address in the route.
    #[error("broker {0:?} has no master address")]
    NoBrokerAddress(String),
    /// The transport failed (after all retries).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// The time allowed for the send ran out.
    #[error("send timed out after {0:?}")]
    Timeout(Duration),
    /// The producer was shut down.
    #[error("the producer is shut down")]
    Shutdown,
}

impl SendError {
    /// Whether another broker might succeed (Java `retryResponseCodes`).
    fn is_retryable(&self) -> bool {
        match self {
            SendError::Remoting(_) | SendError::NoBrokerAddress(_) => true,
            SendError::Broker { code, .. } => matches!(
                *code,
                response::TOPIC_NOT_EXIST
                    | response::SERVICE_NOT_AVAILABLE
                    | response::SYSTEM_ERROR
                    | response::SYSTEM_BUSY
                    | response::NO_PERMISSION
                    | response::NO_BUYER_ID
                    | response::NOT_IN_CURRENT_UNIT
            ),
            _ => false,
        }
    }
}

/// Why a producer could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    /// The group name is invalid or reserved.
    #[error(transparent)]
    Group(#[from] ValidationError),
    /// No nameserver address was given.
    #[error("no nameserver address given")]
    NoNameserver,
}

/// Configures a [`Producer`].
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    group: String,
    client: ClientConfig,
    send_timeout: Duration,
    retries: u32,
    compress_over: usize,
    body_max: usize,
    fault_avoidance: bool,
    header_encoding: SerializeType,
}

impl ProducerBuilder {
    /// How send requests encode their header (default
    /// [`SerializeType::RocketMq`], the binary header every RocketMQ 4.x
    /// broker accepts and answers in kind: cheaper to write and parse than
    /// JSON). [`SerializeType::Json`] sends what Java's client sends.
    pub fn header_encoding(mut self, encoding: SerializeType) -> Self {
        self.header_encoding = encoding;
        self
    }

    /// Signs every request with RocketMQ ACL credentials (see [`crate::acl`]).
    pub fn with_credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.client = self.client.with_credentials(access_key, secret_key);
        self
    }

    /// Nameserver addresses, `;`- or `,`-separated.
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.client = self.client.with_namesrv(addrs);
        self
    }

    /// The instance name (part of the client id).
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.client.instance_name = name.into();
        self
    }

    /// Time allowed for one send including retries (default 3 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Extra attempts on another broker after a failure (default 2, max 16).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries.min(RETRIES_MAX);
        self
    }

    /// Bodies larger than this are zlib-compressed (default 4096 bytes).
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.compress_over = bytes;
        self
    }

    /// Largest body accepted (default 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.body_max = bytes;
        self
    }

    /// Skip brokers that were slow or failed recently (default on).
    pub fn fault_avoidance(mut self, on: bool) -> Self {
        self.fault_avoidance = on;
        self
    }

    /// Route refresh and heartbeat intervals (default 30 s each).
    pub fn intervals(mut self, route_poll: Duration, heartbeat: Duration) -> Self {
        self.client.route_poll_interval = route_poll;
        self.client.heartbeat_interval = heartbeat;
        self
    }

    /// Starts the producer (timers, heartbeats). Needs a tokio runtime.
    pub fn build(self) -> Result<Producer, BuildError> {
        validate_group(&self.group, DEFAULT_PRODUCER_GROUP)?;
        if self.client.namesrv_addrs.is_empty() {
            return Err(BuildError::NoNameserver);
        }
        let instance = ClientInstance::start(self.client.clone());
        instance.register_producer(&self.group);
        let ids = UniqIdGenerator::for_this_process(instance.client_ip());
        Ok(Producer {
            inner: Arc::new(ProducerInner {
                config: self,
                instance,
                ids: Mutex::new(ids),
                round_robin: Mutex::new(HashMap::new()),
                faults: LatencyFaults::default(),
                shut_down: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }
}

/// A message ready for the wire: properties encoded, body maybe compressed.
struct Prepared {
    topic: String,
    body: Bytes,
    flag: i32,
    sys_flag: i32,
    properties: String,
    uniq_id: String,
    batch: bool,
}

struct ProducerInner {
    config: ProducerBuilder,
    instance: ClientInstance,
    ids: Mutex<UniqIdGenerator>,
    round_robin: Mutex<HashMap<String, Arc<RoundRobin>>>,
    faults: LatencyFaults,
    shut_down: std::sync::atomic::AtomicBool,
}

/// Sends messages; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<ProducerInner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("group", &self.inner.config.group)
            .field("client_id", &self.inner.instance.client_id())
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// A builder for a producer of `group`.
    pub fn builder(group: impl Into<String>) -> ProducerBuilder {
        ProducerBuilder {
            group: group.into(),
            client: ClientConfig::default(),
            send_timeout: SEND_TIMEOUT_DEFAULT,
            retries: RETRIES_DEFAULT,
            compress_over: COMPRESS_BODY_OVER_BYTES,
            body_max: BODY_SIZE_MAX,
            fault_avoidance: true,
            header_encoding: SEND_HEADER_ENCODING_DEFAULT,
        }
    }

    /// The client id brokers see.
    pub fn client_id(&self) -> &str {
        self.inner.instance.client_id()
    }

    /// The producer group.
    pub fn group(&self) -> &str {
        &self.inner.config.group
    }

    /// Sends `msg` and waits for the broker's answer, retrying on another
    /// broker (up to `retries` times) within the send timeout.
    pub async fn send(&self, msg: Message) -> Result<SendResult, SendError> {
        let prepared = self.prepare(msg)?;
        self.send_with_retries(&prepared, self.inner.config.retries)
            .await
    }

    /// Like [`send`](Self::send), but returns a `'static` future you can
    /// `tokio::spawn`; validation errors are returned at once.
    pub fn send_async(
        &self,
        msg: Message,
    ) -> Result<
        impl std::future::Future<Output = Result<SendResult, SendError>> + Send + 'static,
        SendError,
    > {
        let prepared = self.prepare(msg)?;
        let me = self.clone();
        Ok(async move {
            me.send_with_retries(&prepared, me.inner.config.retries)
                .await
        })
    }

    /// Sends `msg` one-way: no answer, no retry; returns once written.
    pub async fn send_oneway(&self, msg: Message) -> Result<(), SendError> {
        let prepared = self.prepare(msg)?;
        let queues = self.shared_queues(&prepared.topic).await?;
        let mq = self
            .round_robin(&prepared.topic)
            .pick(&queues, None, self.faults())
            .ok_or_else(|| SendError::NoQueue(prepared.topic.clone()))?;
        let addr = self.broker_addr(&mq.broker_name).await?;
        let request = self.request(&prepared, mq);
        self.inner.instance.invoke_oneway(&addr, request).await?;
        Ok(())
    }

    /// Sends `msg` to exactly `queue` (no retry on another queue).
    pub async fn send_to_queue(
        &self,
        msg: Message,
        queue: &MessageQueue,
    ) -> Result<SendResult, SendError> {
        let prepared = self.prepare(msg)?;
        if queue.topic != prepared.topic {
            return Err(SendError::NoQueue(queue.topic.clone()));
        }
        let deadline = Instant::now() + self.inner.config.send_timeout;
        self.send_once(&prepared, queue, deadline).await
    }

    /// Sends `msg` to the queue `selector` picks for `arg` (ordered sends:
    /// the same `arg` always maps to the same queue while the route holds).
    pub async fn send_with_selector(
        &self,
        msg: Message,
        selector: &dyn MessageQueueSelector,
        arg: &str,
    ) -> Result<SendResult, SendError> {
        let queues = self.shared_queues(msg.topic()).await?;
        let queue = selector
            .select(&queues, &msg, arg)
            .ok_or_else(|| SendError::NoQueueSelected(msg.topic().to_string()))?;
        self.send_to_queue(msg, &queue).await
    }

    /// Sends `msgs` (one topic, no delay) as SEND_BATCH_MESSAGE requests of
    /// at most [`BATCH_BYTES_MAX`] bytes each; one result per request.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<Vec<SendResult>, SendError> {
        let chunks = self.prepare_batch(msgs)?;
        let mut results = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            results.push(
                self.send_with_retries(&chunk, self.inner.config.retries)
                    .await?,
            );
        }
        Ok(results)
    }

    /// Sends the half of a transaction (sysflag PREPARED; the caller set
    /// `TRAN_MSG` and `PGROUP`), with the usual retries.
    pub(crate) async fn send_half(&self, msg: Message) -> Result<SendResult, SendError> {
        let mut prepared = self.prepare(msg)?;
        prepared.sys_flag |= ringmq_net::record::TRANSACTION_PREPARED_TYPE;
        self.send_with_retries(&prepared, self.inner.config.retries)
            .await
    }

    /// The client runtime this producer runs on.
    pub(crate) fn instance(&self) -> &ClientInstance {
        &self.inner.instance
    }

    /// Unregisters from the brokers and stops the timers.
    pub async fn shutdown(&self) {
        self.inner
            .shut_down
            .store(true, std::sync::atomic::Ordering::Release);
        self.inner.instance.shutdown().await;
    }

    fn faults(&self) -> Option<&LatencyFaults> {
        self.inner
            .config
            .fault_avoidance
            .then_some(&self.inner.faults)
    }

    fn round_robin(&self, topic: &str) -> Arc<RoundRobin> {
        let Ok(mut table) = self.inner.round_robin.lock() else {
            return Arc::new(RoundRobin::new_random());
        };
        // Look up first: `entry` would allocate the key on every send.
        if let Some(found) = table.get(topic) {
            return found.clone();
        }
        table
            .entry(topic.to_string())
            .or_insert_with(|| Arc::new(RoundRobin::new_random()))
            .clone()
    }

    /// Writable queues of `topic`, from the cached or fetched route.
    pub async fn queues(&self, topic: &str) -> Result<Vec<MessageQueue>, SendError> {
        self.shared_queues(topic)
            .await
            .map(|queues| queues.to_vec())
    }

    /// [`queues`](Self::queues) without the copy: the route cache's own
    /// list, worked out once per fetched route.
    async fn shared_queues(&self, topic: &str) -> Result<Arc<[MessageQueue]>, SendError> {
        let queues = self.inner.instance.writable_queues(topic).await?;
        if queues.is_empty() {
            return Err(SendError::NoQueue(topic.to_string()));
        }
        Ok(queues)
    }

    async fn broker_addr(&self, broker: &str) -> Result<String, SendError> {
        self.inner
            .instance
            .master_addr(broker)
            .ok_or_else(|| SendError::NoBrokerAddress(broker.to_string()))
    }

    fn next_uniq_id(&self) -> String {
        self.inner
            .ids
            .lock()
            .map(|mut ids| ids.next_id())
            .unwrap_or_default()
    }

    fn prepare(&self, mut msg: Message) -> Result<Prepared, SendError> {
        if self
            .inner
            .shut_down
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(SendError::Shutdown);
        }
        msg.validate(self.inner.config.body_max)?;
        let uniq_id = match msg.property(PROPERTY_UNIQ_KEY) {
            Some(id) => id.to_string(),
            None => {
                let id = self.next_uniq_id();
                msg.set_system_property(PROPERTY_UNIQ_KEY, id.clone());
                id
            }
        };
        let (body, sys_flag) = if msg.body().len() > self.inner.config.compress_over {
            match zlib_compress(msg.body()) {
                Ok(packed) => (Bytes::from(packed), COMPRESSED_FLAG | COMPRESSION_ZLIB),
                // As Java's producer does: a body that cannot be compressed is sent as is.
                Err(err) => {
                    tracing::warn!(%err, "sending the body uncompressed");
                    (msg.body().clone(), 0)
                }
            }
        } else {
            (msg.body().clone(), 0)
        };
        Ok(Prepared {
            topic: msg.topic().to_string(),
            body,
            flag: msg.flag(),
            sys_flag,
            properties: encode_properties(&msg),
            uniq_id,
            batch: false,
        })
    }

    fn prepare_batch(&self, msgs: Vec<Message>) -> Result<Vec<Prepared>, SendError> {
        let first = msgs
            .first()
            .ok_or(ValidationError::BatchIllegal("the batch is empty"))?;
        let topic = first.topic().to_string();
        let wait = first.property(PROPERTY_WAIT).unwrap_or("true").to_string();
        let mut chunks = Vec::new();
        let mut entries: Vec<BatchEntry> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        let mut bytes = 0usize;
        for mut msg in msgs {
            msg.validate(self.inner.config.body_max)?;
            check_batchable(&msg, &topic, &wait)?;
            let id = self.next_uniq_id();
            msg.set_system_property(PROPERTY_UNIQ_KEY, id.clone());
            let entry = BatchEntry {
                flag: msg.flag(),
                body: msg.body().clone(),
                properties: encode_properties(&msg),
            };
            let len = entry.encoded_len();
            if !entries.is_empty()
                && (bytes + len > BATCH_BYTES_MAX || entries.len() >= BATCH_MESSAGES_MAX)
            {
                chunks.push(batch_chunk(
                    &topic,
                    &wait,
                    std::mem::take(&mut entries),
                    std::mem::take(&mut ids),
                )?);
                bytes = 0;
            }
            bytes += len;
            entries.push(entry);
            ids.push(id);
        }
        chunks.push(batch_chunk(&topic, &wait, entries, ids)?);
        Ok(chunks)
    }

    async fn send_with_retries(
        &self,
        prepared: &Prepared,
        retries: u32,
    ) -> Result<SendResult, SendError> {
        let timeout = self.inner.config.send_timeout;
        let deadline = Instant::now() + timeout;
        let queues = self.shared_queues(&prepared.topic).await?;
        let rr = self.round_robin(&prepared.topic);
        let mut last_broker: Option<String> = None;
        let mut last_error = SendError::Timeout(timeout);
        for _attempt in 0..=retries {
            if Instant::now() >= deadline {
                break;
            }
            let mq = rr
                .pick(&queues, last_broker.as_deref(), self.faults())
                .ok_or_else(|| SendError::NoQueue(prepared.topic.clone()))?;
            match self.send_once(prepared, mq, deadline).await {
                Ok(result) => return Ok(result),
                Err(error) if error.is_retryable() => {
                    tracing::debug!(broker = %mq.broker_name, %error, "send failed; retrying elsewhere");
                    last_broker = Some(mq.broker_name.clone());
                    last_error = error;
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error)
    }

    async fn send_once(
        &self,
        prepared: &Prepared,
        mq: &MessageQueue,
        deadline: Instant,
    ) -> Result<SendResult, SendError> {
        let addr = self.broker_addr(&mq.broker_name).await?;
        let request = self.request(prepared, mq);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(SendError::Timeout(self.inner.config.send_timeout));
        }
        let started = Instant::now();
        let outcome = self
            .inner
            .instance
            .remoting()
            .invoke(&addr, request, remaining)
            .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = outcome
            .map_err(SendError::from)
            .and_then(|reply| send_result(prepared, mq, &reply));
        let failed = result.as_ref().err().is_some_and(SendError::is_retryable);
        self.inner
            .faults
            .record(&mq.broker_name, latency_ms, failed);
        result
    }

    fn request(&self, prepared: &Prepared, mq: &MessageQueue) -> RemotingCommand {
        let (properties, reconsume_times, max_reconsume_times) = retry_counts(prepared);
        let header = SendMessageRequestHeaderV2 {
            producer_group: self.inner.config.group.clone(),
            topic: prepared.topic.clone(),
            default_topic: AUTO_CREATE_TOPIC_KEY.into(),
            default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
            queue_id: mq.queue_id,
            sys_flag: prepared.sys_flag,
            born_timestamp: ringmq_net::message_id::now_ms(),
            flag: prepared.flag,
            properties: Some(properties),
            reconsume_times: Some(reconsume_times),
            unit_mode: false,
            max_reconsume_times,
            batch: prepared.batch,
            broker_name: Some(mq.broker_name.clone()),
            bname: None,
        };
        let code = if prepared.batch {
            request::SEND_BATCH_MESSAGE
        } else {
            request::SEND_MESSAGE_V2
        };
        let mut request = RemotingCommand::request(code)
            .with_owned_header(header)
            .with_body(prepared.body.clone());
        request.serialize_type = self.inner.config.header_encoding;
        request
    }
}

/// A send to a retry topic carries its counts in the header, not in the
/// properties (Java `sendKernelImpl`): returns the properties to send, the
/// reconsume times and the max reconsume times.
fn retry_counts(prepared: &Prepared) -> (String, i32, Option<i32>) {
    if !ringmq_net::topic::is_retry_topic(&prepared.topic) {
        return (prepared.properties.clone(), 0, None);
    }
    let mut props = Properties::parse(&prepared.properties);
    let times = props
        .remove(ringmq_net::properties::RECONSUME_TIME)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let max = props
        .remove(ringmq_net::properties::MAX_RECONSUME_TIMES)
        .and_then(|v| v.trim().parse().ok());
    (props.encode(), times, max)
}

fn check_batchable(msg: &Message, topic: &str, wait: &str) -> Result<(), ValidationError> {
    if msg.topic() != topic {
        return Err(ValidationError::BatchIllegal(
            "all messages must share one topic",
        ));
    }
    if msg.property(PROPERTY_DELAY).is_some()
        || msg
            .property(crate::message::PROPERTY_TIMER_DELIVER_MS)
            .is_some()
    {
        return Err(ValidationError::BatchIllegal(
            "batched messages cannot be delayed",
        ));
    }
    if ringmq_net::topic::is_retry_topic(topic) {
        return Err(ValidationError::BatchIllegal(
            "batches cannot go to retry topics",
        ));
    }
    if msg.property(PROPERTY_WAIT).unwrap_or("true") != wait {
        return Err(ValidationError::BatchIllegal(
            "all messages must share WAIT",
        ));
    }
    Ok(())
}

fn batch_chunk(
    topic: &str,
    wait: &str,
    entries: Vec<BatchEntry>,
    ids: Vec<String>,
) -> Result<Prepared, SendError> {
    let mut body = Vec::new();
    encode_batch(&entries, &mut body)
        .map_err(|_| ValidationError::BatchIllegal("a message is too large to batch"))?;
    let mut props = Properties::new();
    props.insert(PROPERTY_WAIT, wait);
    Ok(Prepared {
        topic: topic.to_string(),
        body: Bytes::from(body),
        flag: 0,
        sys_flag: 0,
        properties: props.encode(),
        uniq_id: ids.join(","),
        batch: true,
    })
}

/// The wire property string of `msg`, written straight from its map (a
/// map has each name once, so no [`Properties`] is built in between).
fn encode_properties(msg: &Message) -> String {
    let len: usize = msg
        .properties()
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum();
    let mut out = String::with_capacity(len);
    for (k, v) in msg.properties() {
        if !out.is_empty() {
            out.push(ringmq_net::properties::PROPERTY_SEPARATOR);
        }
        out.push_str(k);
        out.push(ringmq_net::properties::NAME_VALUE_SEPARATOR);
        out.push_str(v);
    }
    out
}

fn send_result(
    prepared: &Prepared,
    mq: &MessageQueue,
    reply: &RemotingCommand,
) -> Result<SendResult, SendError> {
    let status = match reply.code {
        response::SUCCESS => SendStatus::SendOk,
        response::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
        response::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
        response::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
        code => {
            return Err(SendError::Broker {
                broker: mq.broker_name.clone(),
                code,
                remark: reply.remark.clone().unwrap_or_default(),
            });
        }
    };
    let header: SendMessageResponseHeader =
        reply.decode_header().map_err(|e| SendError::Broker {
            broker: mq.broker_name.clone(),
            code: reply.code,
            remark: format!("unreadable send response header: {e}"),
        })?;
    Ok(SendResult {
        status,
        msg_id: prepared.uniq_id.clone(),
        offset_msg_id: header.msg_id,
        queue: MessageQueue::new(&prepared.topic, &mq.broker_name, header.queue_id),
        queue_offset: header.queue_offset,
        region_id: header.msg_region,
    })
}
