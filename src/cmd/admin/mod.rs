//! `ringmq admin`: the operator tool, `ringmq admin [--namesrv ADDR]
//! [--json] <noun> <verb> [args]`, built on the admin API of
//! `ringmq_client::admin`, so it works against ringmq and any RocketMQ 4.x
//! cluster. People get aligned tables; `--json` prints one JSON document.
//! A bad address, an unknown topic or group, or a refusal prints one line
//! and exits non-zero; names are checked before anything is changed.

mod commands;
mod remedy;
mod render;
mod throttle;

use anyhow::Context;

use super::produce::STANDALONE_NAMESRV;

/// Flags of `ringmq admin`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Nameserver address(es), `host:port[;host:port]`.
    #[arg(long, global = true, env = "RINGMQ_NAMESRV", default_value = STANDALONE_NAMESRV)]
    pub namesrv: String,
    /// Print one JSON document instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Time one request may take, ms.
    #[arg(long, global = true, default_value_t = 5_000)]
    pub timeout_ms: u64,
    /// What to act on.
    #[command(subcommand)]
    pub noun: Noun,
}

/// The things `ringmq admin` acts on.
#[derive(clap::Subcommand, Debug)]
pub enum Noun {
    /// Clusters and their brokers.
    Cluster {
        #[command(subcommand)]
        verb: ClusterVerb,
    },
    /// One broker's state and configuration.
    Broker {
        #[command(subcommand)]
        verb: BrokerVerb,
    },
    /// Topics: list, route, status, create, update, delete.
    Topic {
        #[command(subcommand)]
        verb: TopicVerb,
    },
    /// Subscription (consumer) groups.
    Group {
        #[command(subcommand)]
        verb: GroupVerb,
    },
    /// A consumer group's progress and connections.
    Consumer {
        #[command(subcommand)]
        verb: ConsumerVerb,
    },
    /// A producer group's connections.
    Producer {
        #[command(subcommand)]
        verb: ProducerVerb,
    },
    /// Producer rate limits per topic or per (topic, producer group).
    Throttle {
        #[command(subcommand)]
        verb: throttle::ThrottleVerb,
    },
    /// Consumer offsets.
    Offset {
        #[command(subcommand)]
        verb: OffsetVerb,
    },
    /// Messages: by id, by key, by queue offset, or followed live.
    Message {
        #[command(subcommand)]
        verb: MessageVerb,
    },
    /// A group's dead letters: list, resend to their topic.
    Dlq {
        #[command(subcommand)]
        verb: remedy::DlqVerb,
    },
    /// A group's backlog: move it to a temporary topic.
    Backlog {
        #[command(subcommand)]
        verb: remedy::BacklogVerb,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ClusterVerb {
    /// Every broker of every cluster with its address and TPS.
    List,
}

#[derive(clap::Subcommand, Debug)]
pub enum BrokerVerb {
    /// Version, flush mode, shards, TPS, disk use, offsets, read-only state.
    Status {
        /// Only this broker (default: every master).
        #[arg(long)]
        broker: Option<String>,
    },
    /// The broker's configuration.
    Config {
        #[command(subcommand)]
        verb: BrokerConfigVerb,
    },
    /// One statistic's last minute, hour and day (VIEW_BROKER_STATS_DATA).
    Stats {
        /// TOPIC_PUT_NUMS, TOPIC_PUT_SIZE, GROUP_GET_NUMS, GROUP_GET_SIZE,
        /// BROKER_PUT_NUMS or BROKER_GET_NUMS.
        #[arg(long)]
        name: String,
        /// A topic, `topic@group`, or the cluster name (BROKER_*).
        #[arg(long)]
        key: String,
        /// Only this broker (default: every master).
        #[arg(long)]
        broker: Option<String>,
    },
    /// Every group's backlog per queue (GET_BROKER_CONSUME_STATS).
    ConsumeStats {
        /// Only ordered topics.
        #[arg(long)]
        order: bool,
        /// Only this broker (default: every master).
        #[arg(long)]
        broker: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum BrokerConfigVerb {
    /// Every key, or one.
    Get {
        /// Only this key.
        key: Option<String>,
        /// Only this broker (default: every master).
        #[arg(long)]
        broker: Option<String>,
    },
    /// Changes one run-time key (UPDATE_BROKER_CONFIG).
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Only this broker (default: every master).
        #[arg(long)]
        broker: Option<String>,
    },
}

/// Queue permission of a topic.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Perm {
    /// Read only.
    R,
    /// Write only.
    W,
    /// Read and write.
    Rw,
}

#[derive(clap::Args, Debug)]
pub struct TopicSpecArgs {
    /// The topic.
    pub topic: String,
    /// Read and write queues per broker.
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Permission.
    #[arg(long, value_enum, default_value = "rw")]
    pub perm: Perm,
    /// An ordered topic.
    #[arg(long)]
    pub order: bool,
    /// The RocketMQ 5 message type the topic accepts (default: every type).
    #[arg(long, value_enum)]
    pub message_type: Option<MessageTypeArg>,
    /// Only on this broker (default: every master).
    #[arg(long)]
    pub broker: Option<String>,
}

/// `--message-type` values (`ringmq_net::topic_attributes::MessageType`).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "UPPER")]
pub enum MessageTypeArg {
    Normal,
    Fifo,
    Delay,
    Transaction,
}

impl From<MessageTypeArg> for ringmq_net::topic_attributes::MessageType {
    fn from(arg: MessageTypeArg) -> Self {
        use ringmq_net::topic_attributes::MessageType;
        match arg {
            MessageTypeArg::Normal => MessageType::Normal,
            MessageTypeArg::Fifo => MessageType::Fifo,
            MessageTypeArg::Delay => MessageType::Delay,
            MessageTypeArg::Transaction => MessageType::Transaction,
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum TopicVerb {
    /// Every topic the nameserver knows.
    List,
    /// The topic's brokers and queue counts.
    Route { topic: String },
    /// Min/max offset and last store time of every queue.
    Status { topic: String },
    /// Creates a topic on every master (or `--broker`).
    Create(TopicSpecArgs),
    /// Changes an existing topic's queues, permission or order flag.
    Update(TopicSpecArgs),
    /// Deletes a topic from its brokers and the nameservers.
    Delete { topic: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum GroupVerb {
    /// Every subscription group of every master.
    List,
    /// Creates a subscription group on every master (or `--broker`).
    Create {
        group: String,
        /// Deliveries before a message goes to the DLQ.
        #[arg(long, default_value_t = 16)]
        retry_max_times: i32,
        /// Only on this broker.
        #[arg(long)]
        broker: Option<String>,
    },
    /// Deletes a subscription group and its offsets on every master.
    Delete { group: String },
    /// The group's configuration on each master.
    Config { group: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum ConsumerVerb {
    /// Lag per queue and in total.
    Progress { group: String },
    /// The group's online members and subscriptions.
    Connections { group: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum ProducerVerb {
    /// The group's online producers.
    Connections { group: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum OffsetVerb {
    /// Moves a group's offsets on a topic.
    Reset {
        group: String,
        topic: String,
        /// To each queue's oldest message.
        #[arg(long, group = "target")]
        to_earliest: bool,
        /// To each queue's end (skip the backlog).
        #[arg(long, group = "target")]
        to_latest: bool,
        /// To the first message stored at or after this time: ms since
        /// the epoch, or `YYYY-MM-DDTHH:MM:SS` (UTC).
        #[arg(long, group = "target")]
        to_time: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum MessageVerb {
    /// A message by offset message id, or by unique id with `--topic`.
    Get {
        id: String,
        #[arg(long)]
        topic: Option<String>,
    },
    /// Messages by key (`--key`) or by queue and offset (`--queue --offset`).
    Query {
        #[arg(long)]
        topic: String,
        #[arg(long, conflicts_with_all = ["queue", "offset"])]
        key: Option<String>,
        /// Stored at or after (ms or `YYYY-MM-DDTHH:MM:SS` UTC).
        #[arg(long)]
        from: Option<String>,
        /// Stored at or before.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, requires = "offset")]
        queue: Option<i32>,
        #[arg(long, requires = "queue")]
        offset: Option<i64>,
        /// Messages to read from the offset, at most.
        #[arg(long, default_value_t = 1)]
        count: i32,
    },
    /// Prints messages as they arrive (from each queue's end).
    Tail {
        #[arg(long)]
        topic: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(commands::run(args))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_and_namesrv_are_accepted_before_the_noun() {
        let args: Args = crate::cmd::parse_args(
            "admin",
            &[
                "--namesrv",
                "1.2.3.4:9876",
                "--json",
                "consumer",
                "progress",
                "g",
            ],
        )
        .unwrap();
        assert!(args.json);
        assert_eq!(args.namesrv, "1.2.3.4:9876");
        assert!(matches!(
            args.noun,
            Noun::Consumer {
                verb: ConsumerVerb::Progress { .. }
            }
        ));
    }

    #[test]
    fn reset_takes_exactly_one_target() {
        let both = crate::cmd::parse_args::<Args>(
            "admin",
            &["offset", "reset", "g", "t", "--to-earliest", "--to-latest"],
        );
        assert!(both.is_err());
    }
}
