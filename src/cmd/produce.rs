//! `ringmq produce`: sends messages from the shell and prints where each one
//! went, so a person can try ringmq (or any RocketMQ 4.x cluster) by hand.
//!
//! The body is the BODY argument, the contents of `--file`, or — when
//! neither is given — one message per line of stdin. Each send prints one
//! line:
//!
//! ```text
//! msgId=<UNIQ_KEY> offsetMsgId=<broker id> queue=<broker>/<queueId> queueOffset=<n> status=<SendOk|...>
//! ```
//!
//! With `--transaction commit|rollback|unknown` each message is sent as a
//! transactional half and the local transaction "returns" that state (a
//! check-back from the broker gets the same answer while the command runs);
//! `unknown` leaves the outcome to the broker's check-back, answered by any
//! producer of the group.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use ringmq_client::Message;
use ringmq_client::producer::transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer,
};
use ringmq_client::producer::{Producer, SendResult};

/// The standalone nameserver address, the default of `--namesrv`.
pub const STANDALONE_NAMESRV: &str = "127.0.0.1:9876";

/// Longest stdin line sent as one message (a message body's limit).
pub const STDIN_LINE_BYTES_MAX: usize = ringmq_client::message::BODY_SIZE_MAX;

/// Most stdin lines one invocation sends.
pub const STDIN_LINES_MAX: u64 = 10_000_000;

/// Flags of `ringmq produce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Nameserver address(es), `host:port[;host:port]`.
    #[arg(long, env = "RINGMQ_NAMESRV", default_value = STANDALONE_NAMESRV)]
    pub namesrv: String,
    /// Topic to send to.
    #[arg(long)]
    pub topic: String,
    /// Tag of every message.
    #[arg(long)]
    pub tag: Option<String>,
    /// A key of every message (repeatable).
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// A user property `name=value` of every message (repeatable).
    #[arg(long = "property", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
    /// Delay level (1 = 1 s ... 18 = 2 h in RocketMQ's default table).
    #[arg(long)]
    pub delay_level: Option<u32>,
    /// Deliver this long after sending (`30s`, `5m`, `1h30m`; RocketMQ 5
    /// timer property `TIMER_DELIVER_MS`).
    #[arg(long, value_parser = super::time_arg::parse_duration, conflicts_with_all = ["delay_level", "deliver_at"])]
    pub deliver_after: Option<std::time::Duration>,
    /// Deliver at this time: RFC 3339 (`2026-12-02T03:04:05Z`) or epoch ms.
    #[arg(long, value_parser = super::time_arg::parse_time, conflicts_with = "delay_level")]
    pub deliver_at: Option<std::time::SystemTime>,
    /// Producer group.
    #[arg(long, default_value = "ringmq-cli-producer")]
    pub group: String,
    #[command(flatten)]
    pub credentials: super::credentials::CredentialArgs,
    /// Send each message in a transaction whose local outcome is this.
    #[arg(long, value_enum)]
    pub transaction: Option<TransactionMode>,
    /// Send the contents of this file as one message.
    #[arg(long, conflicts_with = "body")]
    pub file: Option<PathBuf>,
    /// The message body; without it (and without --file) each stdin line is
    /// one message.
    pub body: Option<String>,
}

/// The local transaction outcome `--transaction` gives every message.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionMode {
    Commit,
    Rollback,
    Unknown,
}

impl TransactionMode {
    fn state(self) -> LocalTransactionState {
        match self {
            TransactionMode::Commit => LocalTransactionState::Commit,
            TransactionMode::Rollback => LocalTransactionState::Rollback,
            TransactionMode::Unknown => LocalTransactionState::Unknown,
        }
    }
}

/// Answers every local transaction and check with one state.
struct FixedOutcome(LocalTransactionState);

impl TransactionListener for FixedOutcome {
    fn execute_local_transaction(
        &self,
        _: &Message,
        _: Option<&(dyn std::any::Any + Send + Sync)>,
    ) -> LocalTransactionState {
        self.0
    }

    fn check_local_transaction(
        &self,
        _: &ringmq_client::consumer::MessageExt,
    ) -> LocalTransactionState {
        self.0
    }
}

/// A plain or a transactional producer.
enum Sender {
    Plain(Producer),
    Transactional(TransactionProducer),
}

impl Sender {
    async fn send(&self, msg: Message) -> anyhow::Result<SendResult> {
        match self {
            Sender::Plain(producer) => producer.send(msg).await.context("send failed"),
            Sender::Transactional(producer) => {
                let sent = producer
                    .send_message_in_transaction(msg, None)
                    .await
                    .context("send failed")?;
                if let Some(err) = &sent.end_error {
                    eprintln!("END_TRANSACTION not sent ({err}); the broker will check back");
                }
                Ok(sent.send)
            }
        }
    }

    async fn shutdown(&self) {
        match self {
            Sender::Plain(producer) => producer.shutdown().await,
            Sender::Transactional(producer) => producer.producer().shutdown().await,
        }
    }
}

/// Parses `name=value` (the name must not be empty; the value may be).
pub fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected name=value, got {text:?}")),
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(produce(args))
}

async fn produce(args: Args) -> anyhow::Result<()> {
    args.credentials.install();
    let builder =
        super::credentials::producer(Producer::builder(args.group.as_str())).namesrv(&args.namesrv);
    let producer = match args.transaction {
        None => Sender::Plain(builder.build().context("cannot build the producer")?),
        Some(mode) => Sender::Transactional(
            TransactionProducer::new(builder, std::sync::Arc::new(FixedOutcome(mode.state())))
                .context("cannot build the producer")?,
        ),
    };
    let outcome = send_all(&producer, &args).await;
    producer.shutdown().await;
    outcome
}

/// Sends the body, the file or every stdin line; stops at the first error.
async fn send_all(producer: &Sender, args: &Args) -> anyhow::Result<()> {
    if let Some(body) = &args.body {
        return send_one(producer, args, body.clone().into_bytes()).await;
    }
    if let Some(path) = &args.file {
        let body =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return send_one(producer, args, body).await;
    }
    let (lines, mut next_line) = stdin_lines();
    let mut sent = 0u64;
    while let Some(line) = next_line.recv().await {
        let line = line.context("cannot read stdin")?;
        send_one(producer, args, line.into_bytes()).await?;
        sent += 1;
        if sent >= STDIN_LINES_MAX {
            eprintln!("stopping after {STDIN_LINES_MAX} lines");
            break;
        }
    }
    drop(next_line);
    let _ = lines.join();
    Ok(())
}

/// Reads stdin on a thread (blocking reads) and hands lines over.
fn stdin_lines() -> (
    std::thread::JoinHandle<()>,
    tokio::sync::mpsc::Receiver<std::io::Result<String>>,
) {
    const LINES_BUFFERED_MAX: usize = 64;
    let (tx, rx) = tokio::sync::mpsc::channel(LINES_BUFFERED_MAX);
    let reader = std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let line = line.and_then(|l| {
                if l.len() > STDIN_LINE_BYTES_MAX {
                    Err(std::io::Error::other(format!(
                        "a line of {} bytes exceeds {STDIN_LINE_BYTES_MAX}",
                        l.len()
                    )))
                } else {
                    Ok(l)
                }
            });
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    (reader, rx)
}

async fn send_one(producer: &Sender, args: &Args, body: Vec<u8>) -> anyhow::Result<()> {
    let sent = producer.send(message(args, body)).await?;
    println!("{}", describe(&sent));
    Ok(())
}

/// The message `args` describe, carrying `body`.
pub fn message(args: &Args, body: Vec<u8>) -> Message {
    let mut msg = Message::new(args.topic.as_str(), body);
    if let Some(tag) = &args.tag {
        msg = msg.with_tags(tag.as_str());
    }
    if !args.keys.is_empty() {
        msg = msg.with_keys(args.keys.iter().map(String::as_str));
    }
    for (name, value) in &args.properties {
        msg = msg.with_property(name.as_str(), value.as_str());
    }
    if let Some(level) = args.delay_level {
        msg = msg.with_delay_level(level);
    }
    if let Some(delay) = args.deliver_after {
        msg = msg.deliver_after(delay);
    }
    if let Some(when) = args.deliver_at {
        msg = msg.deliver_at(when);
    }
    msg
}

/// One line about a send: ids, queue, offset, status.
pub fn describe(sent: &SendResult) -> String {
    format!(
        "msgId={} offsetMsgId={} queue={}/{} queueOffset={} status={:?}",
        sent.msg_id,
        sent.offset_msg_id,
        sent.queue.broker_name,
        sent.queue.queue_id,
        sent.queue_offset,
        sent.status
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        crate::cmd::parse_args("produce", argv)
    }

    #[test]
    fn namesrv_defaults_to_the_standalone_address() {
        let args = parse(&["--topic", "T"]).unwrap();
        assert_eq!(args.namesrv, STANDALONE_NAMESRV);
        assert!(args.body.is_none() && args.file.is_none());
    }

    #[test]
    fn flags_become_message_tags_keys_properties_and_delay() {
        let args = parse(&[
            "--topic",
            "T",
            "--tag",
            "TagA",
            "--key",
            "k1",
            "--key",
            "k2",
            "--property",
            "color=blue",
            "--property",
            "empty=",
            "--delay-level",
            "3",
            "hello",
        ])
        .unwrap();
        let msg = message(&args, args.body.clone().unwrap().into_bytes());
        assert_eq!(msg.topic(), "T");
        assert_eq!(msg.tags(), Some("TagA"));
        assert_eq!(msg.keys(), vec!["k1", "k2"]);
        assert_eq!(msg.property("color"), Some("blue"));
        assert_eq!(msg.property("empty"), Some(""));
        assert_eq!(msg.delay_level(), 3);
        assert_eq!(&msg.body()[..], b"hello");
    }

    #[test]
    fn a_property_without_equals_or_name_is_refused() {
        assert!(parse(&["--topic", "T", "--property", "novalue"]).is_err());
        assert!(parse(&["--topic", "T", "--property", "=v"]).is_err());
    }

    #[test]
    fn deliver_flags_set_the_timer_property() {
        let args = parse(&["--topic", "T", "--deliver-at", "2026-12-02T03:04:05Z", "x"]).unwrap();
        let msg = message(&args, b"x".to_vec());
        assert_eq!(msg.deliver_time_ms(), Some(1_796_180_645_000));
        let args = parse(&["--topic", "T", "--deliver-at", "1796180645000", "x"]).unwrap();
        assert_eq!(
            message(&args, b"x".to_vec()).deliver_time_ms(),
            Some(1_796_180_645_000)
        );
        let args = parse(&["--topic", "T", "--deliver-after", "30s", "x"]).unwrap();
        assert_eq!(args.deliver_after, Some(std::time::Duration::from_secs(30)));
        assert!(message(&args, b"x".to_vec()).deliver_time_ms().is_some());
    }

    #[test]
    fn bad_or_conflicting_deliver_flags_are_refused_clearly() {
        let err = parse(&["--topic", "T", "--deliver-after", "30"]).unwrap_err();
        assert!(err.to_string().contains("expected a duration"), "{err}");
        let err = parse(&["--topic", "T", "--deliver-at", "soon"]).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
        assert!(parse(&["--topic", "T", "--deliver-after", "1s", "--deliver-at", "5"]).is_err());
        assert!(
            parse(&[
                "--topic",
                "T",
                "--deliver-after",
                "1s",
                "--delay-level",
                "2"
            ])
            .is_err()
        );
    }

    #[test]
    fn transaction_takes_commit_rollback_or_unknown() {
        let args = parse(&["--topic", "T", "--transaction", "rollback", "x"]).unwrap();
        assert_eq!(args.transaction, Some(TransactionMode::Rollback));
        assert_eq!(
            TransactionMode::Unknown.state(),
            LocalTransactionState::Unknown
        );
        assert!(parse(&["--topic", "T", "--transaction", "maybe", "x"]).is_err());
        assert_eq!(parse(&["--topic", "T", "x"]).unwrap().transaction, None);
    }

    #[test]
    fn body_and_file_are_exclusive() {
        assert!(parse(&["--topic", "T", "--file", "/tmp/x", "body"]).is_err());
    }

    #[test]
    fn a_send_is_described_with_ids_queue_offset_and_status() {
        let sent = SendResult {
            status: ringmq_client::producer::SendStatus::SendOk,
            msg_id: "AAA".into(),
            offset_msg_id: "BBB".into(),
            queue: ringmq_client::MessageQueue {
                topic: "T".into(),
                broker_name: "broker-a".into(),
                queue_id: 3,
            },
            queue_offset: 42,
            region_id: None,
        };
        assert_eq!(
            describe(&sent),
            "msgId=AAA offsetMsgId=BBB queue=broker-a/3 queueOffset=42 status=SendOk"
        );
    }
}
