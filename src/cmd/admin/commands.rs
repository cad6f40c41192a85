//! One function per `ringmq admin` verb: ask through the admin API, build
//! a [`Report`] (JSON and table from the same data), print it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use ringmq_client::admin::Admin;
use ringmq_client::admin::calls::TopicSpec;
use ringmq_client::admin::ops::{ResetTarget, TOOLS_CONSUMER_GROUP};
use ringmq_client::consumer::MessageExt;
use ringmq_net::body::{PERM_READ, PERM_READ_WRITE, PERM_WRITE, SubscriptionGroupConfig};
use serde::Serialize;
use serde_json::json;

use super::render::{Report, Table};
use super::{
    Args, BrokerConfigVerb, BrokerVerb, ClusterVerb, ConsumerVerb, GroupVerb, MessageVerb, Noun,
    OffsetVerb, Perm, ProducerVerb, TopicSpecArgs, TopicVerb,
};

/// Runtime-info keys `broker status` shows, in order (Java 4.9 names).
const STATUS_KEYS: &[&str] = &[
    "brokerVersionDesc",
    "flushMode",
    "shards",
    "putTps",
    "getTransferedTps",
    "msgPutTotalTodayNow",
    "msgGetTotalTodayNow",
    "commitLogDiskRatio",
    "commitLogMinOffset",
    "commitLogMaxOffset",
    "readOnly",
    "clientConnections",
    "topicCount",
    "runtime",
];

/// Longest a `message tail` waits between two rounds of pulls.
const TAIL_IDLE_WAIT: Duration = Duration::from_millis(500);

/// Body bytes shown per message in a table.
const BODY_PREVIEW_CHARS: usize = 60;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let admin = Admin::new(&args.namesrv).with_timeout(Duration::from_millis(args.timeout_ms));
    let json = args.json;
    let report = match args.noun {
        Noun::Cluster { verb } => match verb {
            ClusterVerb::List => cluster_list(&admin).await?,
        },
        Noun::Broker { verb } => broker(&admin, verb).await?,
        Noun::Topic { verb } => topic(&admin, verb).await?,
        Noun::Group { verb } => group(&admin, verb).await?,
        Noun::Consumer { verb } => consumer(&admin, verb).await?,
        Noun::Producer { verb } => match verb {
            ProducerVerb::Connections { group } => producer_connections(&admin, &group).await?,
        },
        Noun::Throttle { verb } => super::throttle::run(&admin, verb).await?,
        Noun::Offset { verb } => offset(&admin, verb).await?,
        Noun::Message { verb } => match verb {
            MessageVerb::Tail { topic, count } => return tail(&admin, &topic, count, json).await,
            verb => message(&admin, verb).await?,
        },
        Noun::Dlq { verb } => super::remedy::dlq(&admin, verb).await?,
        Noun::Backlog { verb } => super::remedy::backlog(&admin, verb).await?,
    };
    report.print(json);
    admin.shutdown();
    Ok(())
}

async fn cluster_list(admin: &Admin) -> anyhow::Result<Report> {
    let brokers = admin.brokers().await?;
    let mut rows = Vec::new();
    let mut table = Table::new(&["CLUSTER", "BROKER", "ID", "ADDRESS", "VERSION", "PUT TPS"]);
    for b in &brokers {
        let info = admin.broker_runtime_info(&b.addr).await.ok();
        let get = |k: &str| {
            info.as_ref()
                .and_then(|i| i.table.get(k).cloned())
                .unwrap_or_default()
        };
        table.row(vec![
            b.cluster.clone(),
            b.name.clone(),
            b.id.to_string(),
            b.addr.clone(),
            get("brokerVersionDesc"),
            get("putTps"),
        ]);
        rows.push(json!({
            "cluster": b.cluster, "broker": b.name, "id": b.id, "addr": b.addr,
            "version": get("brokerVersionDesc"), "put_tps": get("putTps"),
        }));
    }
    Ok(Report {
        json: json!({ "brokers": rows }),
        table,
    })
}

async fn broker(admin: &Admin, verb: BrokerVerb) -> anyhow::Result<Report> {
    match verb {
        BrokerVerb::Status { broker } => {
            let mut out = BTreeMap::new();
            let mut table = Table::new(&["BROKER", "KEY", "VALUE"]);
            for b in admin.masters(broker.as_deref()).await? {
                let info = admin.broker_runtime_info(&b.addr).await?;
                for key in STATUS_KEYS {
                    if let Some(v) = info.table.get(*key) {
                        table.row(vec![b.name.clone(), (*key).to_owned(), v.clone()]);
                    }
                }
                out.insert(
                    b.name.clone(),
                    json!({"addr": b.addr, "runtime": info.table}),
                );
            }
            Ok(Report {
                json: json!({ "brokers": out }),
                table,
            })
        }
        BrokerVerb::Config { verb } => broker_config(admin, verb).await,
        BrokerVerb::Stats { name, key, broker } => {
            broker_stats(admin, &name, &key, broker.as_deref()).await
        }
        BrokerVerb::ConsumeStats { order, broker } => {
            broker_consume_stats(admin, order, broker.as_deref()).await
        }
    }
}

async fn broker_stats(
    admin: &Admin,
    name: &str,
    key: &str,
    broker: Option<&str>,
) -> anyhow::Result<Report> {
    let mut out = BTreeMap::new();
    let mut table = Table::new(&["BROKER", "WINDOW", "SUM", "TPS", "AVGPT"]);
    for b in admin.masters(broker).await? {
        let data = admin.broker_stats(&b.addr, name, key).await?;
        for (window, item) in [
            ("minute", data.stats_minute),
            ("hour", data.stats_hour),
            ("day", data.stats_day),
        ] {
            table.row(vec![
                b.name.clone(),
                window.to_owned(),
                item.sum.to_string(),
                format!("{:.2}", item.tps),
                format!("{:.2}", item.avgpt),
            ]);
        }
        out.insert(b.name, data);
    }
    Ok(Report::new(&out, table))
}

async fn broker_consume_stats(
    admin: &Admin,
    order: bool,
    broker: Option<&str>,
) -> anyhow::Result<Report> {
    let mut out = BTreeMap::new();
    let mut table = Table::new(&["BROKER", "GROUP", "TOPICS", "QUEUES", "DIFF"]);
    for b in admin.masters(broker).await? {
        let list = admin.broker_consume_stats(&b.addr, order).await?;
        for entry in &list.consume_stats_list {
            for (group, stats) in entry {
                let queues: usize = stats.iter().map(|s| s.offset_table.len()).sum();
                let diff: i64 = stats.iter().map(|s| s.total_diff()).sum();
                table.row(vec![
                    b.name.clone(),
                    group.clone(),
                    stats.len().to_string(),
                    queues.to_string(),
                    diff.to_string(),
                ]);
            }
        }
        out.insert(b.name, list);
    }
    Ok(Report::new(&out, table))
}

async fn broker_config(admin: &Admin, verb: BrokerConfigVerb) -> anyhow::Result<Report> {
    match verb {
        BrokerConfigVerb::Get { key, broker } => {
            let mut out = BTreeMap::new();
            let mut table = Table::new(&["BROKER", "KEY", "VALUE"]);
            for b in admin.masters(broker.as_deref()).await? {
                let mut config = admin.broker_config(&b.addr).await?;
                if let Some(key) = &key {
                    let Some(value) = config.remove(key) else {
                        bail!("broker {} has no config key {key}", b.name);
                    };
                    config = BTreeMap::from([(key.clone(), value)]);
                }
                for (k, v) in &config {
                    table.row(vec![b.name.clone(), k.clone(), v.clone()]);
                }
                out.insert(b.name, config);
            }
            Ok(Report::new(&out, table))
        }
        BrokerConfigVerb::Set { key, value, broker } => {
            let masters = admin.masters(broker.as_deref()).await?;
            let mut table = Table::new(&["BROKER", "KEY", "VALUE"]);
            for b in &masters {
                admin.update_broker_config(&b.addr, &key, &value).await?;
                table.row(vec![b.name.clone(), key.clone(), value.clone()]);
            }
            let names: Vec<&str> = masters.iter().map(|b| b.name.as_str()).collect();
            Ok(Report {
                json: json!({"key": key, "value": value, "brokers": names}),
                table,
            })
        }
    }
}

async fn topic(admin: &Admin, verb: TopicVerb) -> anyhow::Result<Report> {
    match verb {
        TopicVerb::List => {
            let list = admin.topic_list().await?;
            let mut table = Table::new(&["TOPIC"]);
            for t in &list.topic_list {
                table.row(vec![t.clone()]);
            }
            Ok(Report {
                json: json!({ "topics": list.topic_list }),
                table,
            })
        }
        TopicVerb::Route { topic } => {
            let route = admin.topic_route(&topic).await?;
            let mut table = Table::new(&["BROKER", "ADDRESS", "READ", "WRITE", "PERM"]);
            let mut rows = Vec::new();
            for q in &route.queue_datas {
                let addr = route
                    .broker_datas
                    .iter()
                    .find(|b| b.broker_name == q.broker_name)
                    .and_then(|b| b.master_addr())
                    .unwrap_or("")
                    .to_owned();
                table.row(vec![
                    q.broker_name.clone(),
                    addr.clone(),
                    q.read_queue_nums.to_string(),
                    q.write_queue_nums.to_string(),
                    perm_name(q.perm).to_owned(),
                ]);
                rows.push(json!({"broker": q.broker_name, "addr": addr,
                    "read_queues": q.read_queue_nums, "write_queues": q.write_queue_nums,
                    "perm": q.perm}));
            }
            Ok(Report {
                json: json!({"topic": topic, "brokers": rows}),
                table,
            })
        }
        TopicVerb::Status { topic } => topic_status(admin, &topic).await,
        TopicVerb::Create(spec) => topic_upsert(admin, spec, false).await,
        TopicVerb::Update(spec) => topic_upsert(admin, spec, true).await,
        TopicVerb::Delete { topic } => {
            let masters = admin.topic_masters(&topic).await?;
            for (_, addr, _, _) in &masters {
                admin.delete_topic_in_broker(addr, &topic).await?;
            }
            admin.delete_topic_in_namesrv(&topic).await?;
            let names: Vec<&str> = masters.iter().map(|m| m.0.as_str()).collect();
            let mut table = Table::new(&["DELETED", "FROM"]);
            table.row(vec![topic.clone(), names.join(",")]);
            Ok(Report {
                json: json!({"topic": topic, "deleted_from": names}),
                table,
            })
        }
    }
}

fn perm_name(perm: i32) -> &'static str {
    match (perm & PERM_READ != 0, perm & PERM_WRITE != 0) {
        (true, true) => "RW",
        (true, false) => "R",
        (false, true) => "W",
        (false, false) => "-",
    }
}

#[derive(Serialize)]
struct QueueStatus {
    broker: String,
    queue_id: i32,
    min_offset: i64,
    max_offset: i64,
    last_update_timestamp: i64,
}

async fn topic_status(admin: &Admin, topic: &str) -> anyhow::Result<Report> {
    let mut queues = Vec::new();
    for (name, addr, _, _) in admin.topic_masters(topic).await? {
        let stats = admin.topic_stats(&addr, topic).await?;
        for (mq, o) in stats.offset_table {
            queues.push(QueueStatus {
                broker: if mq.broker_name.is_empty() {
                    name.clone()
                } else {
                    mq.broker_name
                },
                queue_id: mq.queue_id,
                min_offset: o.min_offset,
                max_offset: o.max_offset,
                last_update_timestamp: o.last_update_timestamp,
            });
        }
    }
    let total: i64 = queues
        .iter()
        .map(|q| q.max_offset.saturating_sub(q.min_offset))
        .sum();
    let mut table = Table::new(&["BROKER", "QUEUE", "MIN", "MAX", "LAST UPDATE (ms)"]);
    for q in &queues {
        table.row(vec![
            q.broker.clone(),
            q.queue_id.to_string(),
            q.min_offset.to_string(),
            q.max_offset.to_string(),
            q.last_update_timestamp.to_string(),
        ]);
    }
    table.footer(format!("messages stored: {total}"));
    Ok(Report {
        json: json!({"topic": topic, "messages": total, "queues": queues}),
        table,
    })
}

async fn topic_upsert(admin: &Admin, args: TopicSpecArgs, update: bool) -> anyhow::Result<Report> {
    ringmq_net::topic::validate_topic_name(&args.topic)
        .map_err(|err| anyhow::anyhow!("bad topic name {:?}: {err}", args.topic))?;
    if !(1..=1024).contains(&args.queues) {
        bail!("--queues must be within 1..=1024");
    }
    let targets: Vec<(String, String)> = if update {
        let masters = admin.topic_masters(&args.topic).await?;
        masters
            .into_iter()
            .filter(|m| args.broker.as_deref().is_none_or(|b| b == m.0))
            .map(|m| (m.0, m.1))
            .collect()
    } else {
        admin
            .masters(args.broker.as_deref())
            .await?
            .into_iter()
            .map(|b| (b.name, b.addr))
            .collect()
    };
    if targets.is_empty() {
        bail!(
            "no broker to {} topic {} on",
            if update { "update" } else { "create" },
            args.topic
        );
    }
    let perm = match args.perm {
        Perm::R => PERM_READ,
        Perm::W => PERM_WRITE,
        Perm::Rw => PERM_READ_WRITE,
    };
    let spec = TopicSpec {
        topic: args.topic.clone(),
        queues: args.queues,
        perm,
        order: args.order,
        message_type: args.message_type.map(Into::into),
    };
    let message_type = spec.message_type.map_or("ANY", |kind| kind.as_str());
    let mut table = Table::new(&["TOPIC", "BROKER", "QUEUES", "PERM", "ORDER", "TYPE"]);
    for (name, addr) in &targets {
        admin.create_topic(addr, &spec).await?;
        table.row(vec![
            spec.topic.clone(),
            name.clone(),
            spec.queues.to_string(),
            perm_name(perm).to_owned(),
            spec.order.to_string(),
            message_type.to_owned(),
        ]);
    }
    let names: Vec<&str> = targets.iter().map(|t| t.0.as_str()).collect();
    Ok(Report {
        json: json!({"topic": spec.topic, "queues": spec.queues, "perm": perm,
            "order": spec.order, "messageType": spec.message_type.map(|kind| kind.as_str()),
            "brokers": names}),
        table,
    })
}

async fn group(admin: &Admin, verb: GroupVerb) -> anyhow::Result<Report> {
    match verb {
        GroupVerb::List => {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for b in admin.masters(None).await? {
                for name in admin
                    .groups(&b.addr)
                    .await?
                    .subscription_group_table
                    .into_keys()
                {
                    groups.entry(name).or_default().push(b.name.clone());
                }
            }
            let mut table = Table::new(&["GROUP", "BROKERS"]);
            for (g, bs) in &groups {
                table.row(vec![g.clone(), bs.join(",")]);
            }
            Ok(Report::new(&json!({ "groups": groups }), table))
        }
        GroupVerb::Create {
            group,
            retry_max_times,
            broker,
        } => {
            if group.trim().is_empty() || group.len() > ringmq_net::topic::TOPIC_NAME_BYTES_MAX {
                bail!("bad group name {group:?}");
            }
            let config = SubscriptionGroupConfig {
                retry_max_times,
                ..SubscriptionGroupConfig::new(group.as_str())
            };
            let masters = admin.masters(broker.as_deref()).await?;
            let mut table = Table::new(&["GROUP", "BROKER"]);
            for b in &masters {
                admin.create_group(&b.addr, &config).await?;
                table.row(vec![group.clone(), b.name.clone()]);
            }
            Ok(Report::new(&config, table))
        }
        GroupVerb::Delete { group } => {
            if !admin.group_exists(&group).await? {
                bail!("consumer group {group} does not exist");
            }
            let masters = admin.masters(None).await?;
            for b in &masters {
                admin.delete_group(&b.addr, &group).await?;
            }
            let names: Vec<&str> = masters.iter().map(|b| b.name.as_str()).collect();
            let mut table = Table::new(&["DELETED", "FROM"]);
            table.row(vec![group.clone(), names.join(",")]);
            Ok(Report {
                json: json!({"group": group, "deleted_from": names}),
                table,
            })
        }
        GroupVerb::Config { group } => {
            let mut out = BTreeMap::new();
            for b in admin.masters(None).await? {
                if let Some(c) = admin
                    .groups(&b.addr)
                    .await?
                    .subscription_group_table
                    .remove(&group)
                {
                    out.insert(b.name, c);
                }
            }
            if out.is_empty() {
                bail!("consumer group {group} does not exist");
            }
            let mut table = Table::new(&["BROKER", "KEY", "VALUE"]);
            for (b, c) in &out {
                if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(c) {
                    for (k, v) in map {
                        table.row(vec![b.clone(), k, v.to_string()]);
                    }
                }
            }
            Ok(Report::new(&out, table))
        }
    }
}

async fn consumer(admin: &Admin, verb: ConsumerVerb) -> anyhow::Result<Report> {
    match verb {
        ConsumerVerb::Progress { group } => {
            let progress = admin.consumer_progress(&group).await?;
            let mut table = Table::new(&[
                "TOPIC",
                "BROKER",
                "QUEUE",
                "BROKER OFFSET",
                "CONSUMER OFFSET",
                "LAG",
                "CLIENT",
                "LAST (ms)",
            ]);
            for q in &progress.queues {
                table.row(vec![
                    q.topic.clone(),
                    q.broker.clone(),
                    q.queue_id.to_string(),
                    q.broker_offset.to_string(),
                    q.consumer_offset.to_string(),
                    q.lag.to_string(),
                    q.client.clone().unwrap_or_else(|| "-".into()),
                    q.last_timestamp.to_string(),
                ]);
            }
            table.footer(format!("total lag: {}", progress.total_lag));
            Ok(Report::new(&progress, table))
        }
        ConsumerVerb::Connections { group } => {
            let mut connections = Vec::new();
            let mut subscriptions = BTreeMap::new();
            let mut model = None;
            for b in admin.masters(None).await? {
                if let Some(c) = admin.consumer_connections(&b.addr, &group).await? {
                    for conn in c.connection_set {
                        connections.push(json!({"broker": b.name, "client_id": conn.client_id,
                            "client_addr": conn.client_addr, "language": conn.language,
                            "version": conn.version}));
                    }
                    for (t, s) in c.subscription_table {
                        subscriptions.insert(t, s.sub_string);
                    }
                    model = c.message_model.map(|m| format!("{m:?}"));
                }
            }
            if connections.is_empty() {
                bail!("consumer group {group} has no consumer online");
            }
            let mut table = Table::new(&["BROKER", "CLIENT ID", "ADDRESS", "VERSION"]);
            for c in &connections {
                table.row(vec![
                    c["broker"].as_str().unwrap_or("").to_owned(),
                    c["client_id"].as_str().unwrap_or("").to_owned(),
                    c["client_addr"].as_str().unwrap_or("").to_owned(),
                    c["version"].to_string(),
                ]);
            }
            for (t, s) in &subscriptions {
                table.footer(format!("subscribed: {t} {s}"));
            }
            Ok(Report {
                json: json!({"group": group, "message_model": model,
                    "connections": connections, "subscriptions": subscriptions}),
                table,
            })
        }
    }
}

async fn producer_connections(admin: &Admin, group: &str) -> anyhow::Result<Report> {
    let mut connections = Vec::new();
    for b in admin.masters(None).await? {
        if let Some(c) = admin.producer_connections(&b.addr, group).await? {
            for conn in c.connection_set {
                connections.push(json!({"broker": b.name, "client_id": conn.client_id,
                    "client_addr": conn.client_addr, "version": conn.version}));
            }
        }
    }
    if connections.is_empty() {
        bail!("producer group {group} has no producer online");
    }
    let mut table = Table::new(&["BROKER", "CLIENT ID", "ADDRESS", "VERSION"]);
    for c in &connections {
        table.row(vec![
            c["broker"].as_str().unwrap_or("").to_owned(),
            c["client_id"].as_str().unwrap_or("").to_owned(),
            c["client_addr"].as_str().unwrap_or("").to_owned(),
            c["version"].to_string(),
        ]);
    }
    Ok(Report {
        json: json!({"group": group, "connections": connections}),
        table,
    })
}

async fn offset(admin: &Admin, verb: OffsetVerb) -> anyhow::Result<Report> {
    let OffsetVerb::Reset {
        group,
        topic,
        to_earliest,
        to_latest,
        to_time,
    } = verb;
    let target = match (to_earliest, to_latest, to_time) {
        (true, false, None) => ResetTarget::Earliest,
        (false, true, None) => ResetTarget::Latest,
        (false, false, Some(t)) => ResetTarget::Time(parse_time(&t)?),
        _ => bail!("give exactly one of --to-earliest, --to-latest, --to-time"),
    };
    let outcome = admin.reset_offset(&group, &topic, target).await?;
    let mut table = Table::new(&["BROKER", "QUEUE", "NEW OFFSET"]);
    for q in &outcome.queues {
        table.row(vec![
            q.broker.clone(),
            q.queue_id.to_string(),
            q.offset.to_string(),
        ]);
    }
    table.footer(format!("applied by: {}", outcome.applied_by));
    Ok(Report::new(&outcome, table))
}

/// Milliseconds since the epoch, or `YYYY-MM-DDTHH:MM:SS[.mmm]` in UTC.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || anyhow::anyhow!("bad time {text:?}: expected ms or YYYY-MM-DDTHH:MM:SS (UTC)");
    let (date, time) = text.split_once(['T', ' ']).ok_or_else(bad)?;
    let nums = |s: &str, sep: char| -> Option<Vec<i64>> {
        s.split(sep).map(|p| p.parse::<i64>().ok()).collect()
    };
    let d = nums(date, '-').ok_or_else(bad)?;
    let (hms, millis) = time
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((time.trim_end_matches('Z'), "0"));
    let t = nums(hms, ':').ok_or_else(bad)?;
    if millis.is_empty() || millis.len() > 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let millis: i64 = format!("{millis:0<3}").parse().map_err(|_| bad())?;
    let (&[y, mo, day], &[h, mi, s]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok((days_from_civil(y, mo, day) * 86_400 + h * 3_600 + mi * 60 + s) * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Serialize)]
struct MessageView {
    msg_id: String,
    offset_msg_id: String,
    topic: String,
    broker: String,
    queue_id: i32,
    queue_offset: i64,
    tags: Option<String>,
    keys: Vec<String>,
    born_timestamp: i64,
    store_timestamp: i64,
    born_host: String,
    store_host: String,
    reconsume_times: i32,
    properties: BTreeMap<String, String>,
    body: String,
    body_bytes: usize,
}

fn view(m: &MessageExt) -> MessageView {
    MessageView {
        msg_id: m.msg_id.clone(),
        offset_msg_id: m.offset_msg_id.clone(),
        topic: m.topic.clone(),
        broker: m.broker_name.clone(),
        queue_id: m.queue_id,
        queue_offset: m.queue_offset,
        tags: m.tags().map(str::to_owned),
        keys: m.keys().into_iter().map(str::to_owned).collect(),
        born_timestamp: m.born_timestamp,
        store_timestamp: m.store_timestamp,
        born_host: m.born_host.to_string(),
        store_host: m.store_host.to_string(),
        reconsume_times: m.reconsume_times,
        properties: m
            .properties
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&m.body).into_owned(),
        body_bytes: m.body.len(),
    }
}

fn message_table(views: &[MessageView]) -> Table {
    let mut table = Table::new(&[
        "MSG ID",
        "QUEUE",
        "OFFSET",
        "TAGS",
        "KEYS",
        "STORED (ms)",
        "BODY",
    ]);
    for v in views {
        table.row(vec![
            v.msg_id.clone(),
            format!("{}/{}", v.broker, v.queue_id),
            v.queue_offset.to_string(),
            v.tags.clone().unwrap_or_default(),
            v.keys.join(" "),
            v.store_timestamp.to_string(),
            v.body.chars().take(BODY_PREVIEW_CHARS).collect(),
        ]);
    }
    table
}

async fn message(admin: &Admin, verb: MessageVerb) -> anyhow::Result<Report> {
    let found = match verb {
        MessageVerb::Get { id, topic } => admin.message_by_id(&id, topic.as_deref()).await?,
        MessageVerb::Query {
            topic,
            key: Some(key),
            from,
            to,
            ..
        } => {
            let from = from.as_deref().map(parse_time).transpose()?.unwrap_or(0);
            let to = to
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(i64::MAX);
            admin.messages_by_key(&topic, &key, (from, to)).await?
        }
        MessageVerb::Query {
            topic,
            queue: Some(queue),
            offset: Some(offset),
            count,
            ..
        } => admin.messages_at(&topic, queue, offset, count).await?,
        MessageVerb::Query { .. } => bail!("give --key K, or --queue Q --offset O"),
        MessageVerb::Tail { .. } => bail!("tail is handled apart"),
    };
    let views: Vec<MessageView> = found.iter().map(view).collect();
    let table = message_table(&views);
    Ok(Report::new(&json!({ "messages": views }), table))
}

/// Follows every queue of `topic` from its current end, printing each
/// message (a table row, or one JSON document per line with `--json`).
async fn tail(admin: &Admin, topic: &str, count: Option<u64>, json: bool) -> anyhow::Result<()> {
    let mut cursors = Vec::new();
    for (name, addr, read, _) in admin.topic_masters(topic).await? {
        for queue_id in 0..read {
            let end = admin.max_offset(&addr, topic, queue_id).await?;
            cursors.push((name.clone(), addr.clone(), queue_id, end));
        }
    }
    let mut printed = 0u64;
    loop {
        let mut any = false;
        for (name, addr, queue_id, next) in &mut cursors {
            let queue = ringmq_net::body::MessageQueue::new(topic, name.as_str(), *queue_id);
            let pulled = admin
                .pull(addr, &queue, TOOLS_CONSUMER_GROUP, *next, 32)
                .await
                .with_context(|| format!("pull from {name}/{queue_id}"))?;
            *next = pulled.next_begin_offset;
            for m in &pulled.messages {
                any = true;
                let v = view(m);
                if json {
                    println!("{}", serde_json::to_string(&v).unwrap_or_default());
                } else {
                    print!("{}", message_table(std::slice::from_ref(&v)).render());
                }
                printed += 1;
                if count.is_some_and(|c| printed >= c) {
                    return Ok(());
                }
            }
        }
        if !any {
            tokio::time::sleep(TAIL_IDLE_WAIT).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_ms_or_utc_dates() {
        assert_eq!(parse_time("1700000000000").ok(), Some(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01").ok(), Some(1_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5").ok(),
            Some(1_700_000_000_500)
        );
        assert!(parse_time("2023-13-01T00:00:00").is_err());
        assert!(parse_time("yesterday").is_err());
    }
}
