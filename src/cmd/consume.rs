//! `ringmq consume`: a push consumer that prints every message it receives
//! (ids, queue, offset, keys, tags, properties, body as lossy UTF-8), so a
//! person can read a topic from the shell. It stops after `--count`
//! messages, after `--timeout`, or on Ctrl-C/SIGTERM, and commits the
//! group's offsets on the way out (the next run resumes after them).
//!
//! Each message prints one line:
//!
//! ```text
//! msgId=<UNIQ_KEY> queue=<broker>/<queueId> offset=<n> keys=[k1,k2] tags=<t> props={k=v, ...} body=<text>
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use ringmq_client::consumer::orderly::ConsumeOrderlyStatus;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt, MessageModel};

use super::produce::STANDALONE_NAMESRV;

/// Longest body printed; longer bodies are cut (and say so).
pub const BODY_PRINT_BYTES_MAX: usize = 4 * 1024;

/// Flags of `ringmq consume`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Nameserver address(es), `host:port[;host:port]`.
    #[arg(long, env = "RINGMQ_NAMESRV", default_value = STANDALONE_NAMESRV)]
    pub namesrv: String,
    /// Topic to read.
    #[arg(long)]
    pub topic: String,
    /// Consumer group (its offsets decide where reading resumes).
    #[arg(long, default_value = "ringmq-cli-consumer")]
    pub group: String,
    /// Start from the first stored message when the group has no offset
    /// (default: only new messages).
    #[arg(long)]
    pub from_beginning: bool,
    /// Tag subscription expression, e.g. `TagA || TagB`.
    #[arg(long, default_value = "*")]
    pub tag: String,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// BROADCASTING: every consumer of the group gets every message
    /// (offsets kept in a local file) instead of sharing the queues.
    #[arg(long)]
    pub broadcast: bool,
    #[command(flatten)]
    pub credentials: super::credentials::CredentialArgs,
    /// Orderly: lock each queue at its broker and read its messages
    /// strictly in offset order, one queue at a time per queue.
    #[arg(long)]
    pub orderly: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(consume(args))
}

async fn consume(args: Args) -> anyhow::Result<()> {
    let received = Arc::new(AtomicU64::new(0));
    let (reached_tx, mut reached) = tokio::sync::mpsc::channel::<()>(1);
    let count = args.count;
    let printer = Printer {
        received: received.clone(),
        reached: reached_tx,
        count,
    };
    let model = if args.broadcast {
        MessageModel::Broadcasting
    } else {
        MessageModel::Clustering
    };
    // One message per listener call, one call at a time: the count stops
    // the stream between two messages, and lines never interleave.
    args.credentials.install();
    let builder = super::credentials::push_consumer(PushConsumer::builder(args.group.as_str()))
        .namesrv(&args.namesrv)
        .subscribe(args.topic.as_str(), args.tag.as_str())
        .message_model(model)
        .consume_from(if args.from_beginning {
            ConsumeFrom::FirstOffset
        } else {
            ConsumeFrom::LastOffset
        })
        .consume_concurrency(1)
        .consume_batch_size(1);
    let builder = if args.orderly {
        builder.orderly_listener(move |msgs, _context| {
            printer.print(&msgs);
            async { ConsumeOrderlyStatus::Success }
        })
    } else {
        builder.listener(move |msgs| {
            printer.print(&msgs);
            async { ConsumeResult::Success }
        })
    };
    let consumer = builder.start().await.context("cannot start the consumer")?;
    eprintln!(
        "consuming {} as group {} ({}{}); Ctrl-C stops",
        args.topic,
        args.group,
        if args.broadcast {
            "broadcasting"
        } else {
            "clustering"
        },
        if args.orderly { ", orderly" } else { "" }
    );
    let timeout = args
        .timeout
        .map_or(Duration::MAX, Duration::from_secs)
        .min(Duration::from_secs(u64::from(u32::MAX)));
    tokio::select! {
        _ = reached.recv(), if count.is_some() => {}
        _ = super::standalone::wait_for_stop_signal() => {}
        _ = tokio::time::sleep(timeout) => {}
    }
    consumer.shutdown().await;
    eprintln!(
        "received {} message(s); offsets committed",
        received.load(Ordering::Acquire)
    );
    Ok(())
}

/// Prints what the listener receives and signals when `count` is reached.
struct Printer {
    received: Arc<AtomicU64>,
    reached: tokio::sync::mpsc::Sender<()>,
    count: Option<u64>,
}

impl Printer {
    fn print(&self, msgs: &[MessageExt]) {
        for msg in msgs {
            println!("{}", describe(msg));
            let n = self.received.fetch_add(1, Ordering::AcqRel) + 1;
            if self.count.is_some_and(|c| n >= c) {
                let _ = self.reached.try_send(());
            }
        }
    }
}

/// One line about a received message.
pub fn describe(msg: &MessageExt) -> String {
    let props: Vec<String> = msg
        .properties
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "msgId={} queue={}/{} offset={} keys=[{}] tags={} props={{{}}} body={}",
        msg.msg_id,
        msg.broker_name,
        msg.queue_id,
        msg.queue_offset,
        msg.keys().join(","),
        msg.tags().unwrap_or("-"),
        props.join(", "),
        printable_body(&msg.body)
    )
}

/// The body as lossy UTF-8, cut at [`BODY_PRINT_BYTES_MAX`].
pub fn printable_body(body: &[u8]) -> String {
    match body.get(..BODY_PRINT_BYTES_MAX) {
        Some(head) if body.len() > BODY_PRINT_BYTES_MAX => format!(
            "{}... ({} bytes)",
            String::from_utf8_lossy(head),
            body.len()
        ),
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        crate::cmd::parse_args("consume", argv)
    }

    #[test]
    fn defaults_are_standalone_all_tags_and_new_messages_only() {
        let args = parse(&["--topic", "T"]).unwrap();
        assert_eq!(args.namesrv, STANDALONE_NAMESRV);
        assert_eq!(args.tag, "*");
        assert!(!args.from_beginning && !args.broadcast && !args.orderly);
        assert_eq!(args.count, None);
    }

    #[test]
    fn all_flags_parse() {
        let args = parse(&[
            "--namesrv",
            "10.0.0.1:9876",
            "--topic",
            "T",
            "--group",
            "G",
            "--from-beginning",
            "--tag",
            "A || B",
            "--count",
            "7",
            "--broadcast",
            "--orderly",
        ])
        .unwrap();
        assert_eq!(args.group, "G");
        assert_eq!(args.tag, "A || B");
        assert_eq!(args.count, Some(7));
        assert!(args.from_beginning && args.broadcast && args.orderly);
    }

    #[test]
    fn a_topic_is_required() {
        assert!(parse(&["--group", "G"]).is_err());
    }

    #[test]
    fn invalid_utf8_bodies_print_lossily_and_long_ones_are_cut() {
        assert_eq!(printable_body(b"hi\xff"), "hi\u{fffd}");
        let long = vec![b'a'; BODY_PRINT_BYTES_MAX + 10];
        let shown = printable_body(&long);
        assert!(shown.ends_with(&format!("... ({} bytes)", BODY_PRINT_BYTES_MAX + 10)));
        assert!(shown.starts_with(&"a".repeat(BODY_PRINT_BYTES_MAX)));
    }
}
