//! `/topics` and `/topics/{topic}`: the topic list with kind filters,
//! create/update/delete, a topic's route, per-queue offsets and consumer
//! groups, and a test message sent with the client crate's producer.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use ringmq_client::admin::calls::TopicSpec;
use ringmq_client::admin::{Admin, AdminError};
use ringmq_client::message::Message;
use ringmq_net::body::{PERM_READ, PERM_READ_WRITE, PERM_WRITE, TopicRouteData};
use ringmq_net::topic::{self as names, validate_topic_name};
use serde::Deserialize;

use super::groups::group_names;
use super::layout::{self, ActionError, Nav, Page, encode};
use crate::state::{AppState, GROUPS_SCANNED_MAX};

/// Queues a topic may be given from the page.
pub const QUEUES_MAX: i32 = 1024;
/// Bytes of a test message body, at most.
pub const TEST_BODY_BYTES_MAX: usize = 64 * 1024;
/// Topics the list shows at most.
pub const TOPICS_SHOWN_MAX: usize = 2000;

/// The kinds the topic list filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An application topic.
    Normal,
    /// `%RETRY%<group>`.
    Retry,
    /// `%DLQ%<group>`.
    Dlq,
    /// A broker or cluster topic (`TBW102`, `RMQ_SYS_*`, the cluster name…).
    System,
}

impl Kind {
    /// The kind of `topic`; `system` names the cluster and broker topics.
    pub fn of(topic: &str, system: &std::collections::BTreeSet<String>) -> Kind {
        if names::is_retry_topic(topic) {
            Kind::Retry
        } else if names::is_dlq_topic(topic) {
            Kind::Dlq
        } else if names::SYSTEM_TOPICS.contains(&topic)
            || topic.starts_with(names::SYSTEM_TOPIC_PREFIX)
            || topic.ends_with(names::REPLY_TOPIC_SUFFIX)
            || system.contains(topic)
        {
            Kind::System
        } else {
            Kind::Normal
        }
    }

    /// Its name in the filter (`?kind=`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Retry => "retry",
            Kind::Dlq => "dlq",
            Kind::System => "system",
        }
    }

    const ALL: [Kind; 4] = [Kind::Normal, Kind::Retry, Kind::Dlq, Kind::System];
}

/// The list's filters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `normal`, `retry`, `dlq`, `system`, `all` (default: normal).
    pub kind: Option<String>,
    /// A substring of the name.
    pub q: Option<String>,
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/topics`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let kind = query.kind.as_deref().unwrap_or("normal");
    let needle = query.q.clone().unwrap_or_default();
    let live = list_live(state.admin(), kind, &needle).await;
    let controls = html! {
        form.inline #topic-filter method="get" action="/topics" {
            label { "kind "
                select name="kind" {
                    @for k in Kind::ALL.iter().map(|k| k.name()).chain(["all"]) {
                        option value=(k) selected[k == kind] { (k) }
                    }
                }
            }
            label { "name contains " input type="text" name="q" value=(needle); }
            button type="submit" { "filter" }
        }
        details.form {
            summary { "Create a topic" }
            form #create-topic method="post" action="/topics" {
                label { "name " input type="text" name="topic" required; }
                label { "queues " input type="number" name="queues" value="8" min="1" max=(QUEUES_MAX); }
                (perm_select(PERM_READ_WRITE))
                label { input type="checkbox" name="order" value="true"; " ordered" }
                button type="submit" { "create on every master" }
            }
        }
    };
    let page = Page {
        title: "Topics".to_owned(),
        nav: Nav::Topics,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

async fn list_live(admin: &Admin, kind: &str, needle: &str) -> Markup {
    let topics = match admin.topic_list().await {
        Ok(list) => list.topic_list,
        Err(err) => return layout::failure(&err),
    };
    let system = cluster_topics(admin).await;
    let shown: Vec<(&String, Kind)> = topics
        .iter()
        .map(|t| (t, Kind::of(t, &system)))
        .filter(|(t, k)| (kind == "all" || k.name() == kind) && t.contains(needle))
        .take(TOPICS_SHOWN_MAX)
        .collect();
    html! {
        p.muted { (shown.len()) " of " (topics.len()) " topics" }
        table #topics {
            thead { tr { th { "topic" } th { "kind" } } }
            tbody {
                @for (t, k) in &shown {
                    tr { td { a href={"/topics/" (encode(t))} { (t) } } td { (k.name()) } }
                }
            }
        }
    }
}

/// Cluster and broker names, which are topics too (system kind).
async fn cluster_topics(admin: &Admin) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    if let Ok(brokers) = admin.brokers().await {
        for b in brokers {
            out.insert(b.cluster);
            out.insert(b.name);
        }
    }
    out
}

fn perm_select(current: i32) -> Markup {
    html! {
        label { "permission "
            select name="perm" {
                @for (value, name) in [(PERM_READ_WRITE, "read-write"), (PERM_READ, "read"), (PERM_WRITE, "write")] {
                    option value=(value) selected[value == current] { (name) }
                }
            }
        }
    }
}

/// The create and update form.
#[derive(Debug, Deserialize)]
pub struct TopicForm {
    /// The name (create only).
    pub topic: Option<String>,
    /// Read and write queues.
    pub queues: i32,
    /// `PermName` bits.
    pub perm: i32,
    /// Ordered.
    pub order: Option<String>,
}

fn spec(topic: &str, form: &TopicForm) -> Result<TopicSpec, ActionError> {
    validate_topic_name(topic).map_err(|e| ActionError::Invalid(e.to_string()))?;
    if names::SYSTEM_TOPICS.contains(&topic) {
        return Err(ActionError::Invalid(format!("{topic} is a system topic")));
    }
    if !(1..=QUEUES_MAX).contains(&form.queues) {
        return Err(ActionError::Invalid(format!(
            "queues must be within 1..={QUEUES_MAX}"
        )));
    }
    if ![PERM_READ, PERM_WRITE, PERM_READ_WRITE].contains(&form.perm) {
        return Err(ActionError::Invalid(format!(
            "unknown permission {}",
            form.perm
        )));
    }
    Ok(TopicSpec {
        topic: topic.to_owned(),
        queues: form.queues,
        perm: form.perm,
        order: form.order.as_deref() == Some("true"),
        message_type: None,
    })
}

/// POST `/topics`: creates the topic on every master.
pub async fn create(
    State(state): State<AppState>,
    Form(form): Form<TopicForm>,
) -> Result<Response, ActionError> {
    let topic = form.topic.clone().unwrap_or_default();
    let spec = spec(topic.trim(), &form)?;
    let masters = state.admin().masters(None).await?;
    for b in &masters {
        state.admin().create_topic(&b.addr, &spec).await?;
    }
    Ok(layout::done(
        &format!("/topics/{}", encode(&spec.topic)),
        &format!(
            "topic {} created on {} broker(s)",
            spec.topic,
            masters.len()
        ),
    ))
}

/// POST `/topics/{topic}/update`: new queue count or permission on every
/// master serving the topic.
pub async fn update(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Form(form): Form<TopicForm>,
) -> Result<Response, ActionError> {
    let spec = spec(&topic, &form)?;
    let masters = state.admin().topic_masters(&topic).await?;
    for (_, addr, _, _) in &masters {
        state.admin().create_topic(addr, &spec).await?;
    }
    Ok(layout::done(
        &format!("/topics/{}", encode(&topic)),
        &format!("topic {topic} updated on {} broker(s)", masters.len()),
    ))
}

/// POST `/topics/{topic}/delete`: from every master, then the nameservers.
pub async fn delete(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Response, ActionError> {
    validate_topic_name(&topic).map_err(|e| ActionError::Invalid(e.to_string()))?;
    let masters = state.admin().topic_masters(&topic).await?;
    for (_, addr, _, _) in &masters {
        state.admin().delete_topic_in_broker(addr, &topic).await?;
    }
    state.admin().delete_topic_in_namesrv(&topic).await?;
    Ok(layout::done("/topics", &format!("topic {topic} deleted")))
}

/// The test-message form.
#[derive(Debug, Deserialize)]
pub struct SendForm {
    /// The body, as text.
    pub body: String,
    /// The tag (optional).
    pub tag: Option<String>,
    /// The key (optional).
    pub key: Option<String>,
}

/// POST `/topics/{topic}/send`: one message through the client's producer.
pub async fn send(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Form(form): Form<SendForm>,
) -> Result<Response, ActionError> {
    validate_topic_name(&topic).map_err(|e| ActionError::Invalid(e.to_string()))?;
    if form.body.len() > TEST_BODY_BYTES_MAX {
        return Err(ActionError::Invalid(format!(
            "a test message body is at most {TEST_BODY_BYTES_MAX} bytes"
        )));
    }
    let mut msg = Message::new(topic.as_str(), form.body.into_bytes());
    if let Some(tag) = form.tag.filter(|t| !t.trim().is_empty()) {
        msg = msg.with_tags(tag.trim());
    }
    if let Some(key) = form.key.filter(|k| !k.trim().is_empty()) {
        msg = msg.with_keys([key.trim().to_owned()]);
    }
    let producer = state.producer().await.map_err(ActionError::Send)?;
    let sent = producer
        .send(msg)
        .await
        .map_err(|e| ActionError::Send(e.to_string()))?;
    Ok(layout::done(
        &format!("/topics/{}", encode(&topic)),
        &format!(
            "sent {} to {} queue {} at offset {}",
            sent.msg_id, sent.queue.broker_name, sent.queue.queue_id, sent.queue_offset
        ),
    ))
}

/// The detail page's query.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/topics/{topic}`.
pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let route = state.admin().topic_route(&topic).await;
    let live = detail_live(state.admin(), &topic, &route).await;
    let (queues, perm) = route
        .as_ref()
        .ok()
        .and_then(|r| r.queue_datas.first())
        .map_or((8, PERM_READ_WRITE), |q| (q.write_queue_nums, q.perm));
    let path = encode(&topic);
    let controls = html! {
        div.actions {
            details.form {
                summary { "Send a test message" }
                form #send-message method="post" action={"/topics/" (path) "/send"} {
                    label { "body " textarea name="body" rows="2" cols="40" required {} }
                    label { "tag " input type="text" name="tag"; }
                    label { "key " input type="text" name="key"; }
                    button type="submit" { "send" }
                }
            }
            details.form {
                summary { "Update" }
                form #update-topic method="post" action={"/topics/" (path) "/update"} {
                    label { "queues " input type="number" name="queues" value=(queues) min="1" max=(QUEUES_MAX); }
                    (perm_select(perm & PERM_READ_WRITE))
                    button type="submit" { "update" }
                }
            }
            form.inline #delete-topic method="post" action={"/topics/" (path) "/delete"}
                data-confirm={"Delete topic " (topic) " from every broker and nameserver? Its messages become unreachable."} {
                button.danger type="submit" { "delete topic" }
            }
            a href={"/messages?topic=" (path)} { "search its messages" }
        }
    };
    let page = Page {
        title: format!("Topic {topic}"),
        nav: Nav::Topics,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

async fn detail_live(
    admin: &Admin,
    topic: &str,
    route: &Result<TopicRouteData, AdminError>,
) -> Markup {
    let route = match route {
        Ok(route) => route,
        Err(err) => return layout::failure(err),
    };
    let masters = ringmq_client::admin::ops::masters_of_route(route);
    let mut queues = Vec::new();
    let mut errors = Vec::new();
    for (name, addr, _, _) in &masters {
        match admin.topic_stats(addr, topic).await {
            Ok(stats) => queues.extend(stats.offset_table.into_iter().map(|(mq, o)| {
                let broker = if mq.broker_name.is_empty() {
                    name.clone()
                } else {
                    mq.broker_name
                };
                (
                    broker,
                    mq.queue_id,
                    o.min_offset,
                    o.max_offset,
                    o.last_update_timestamp,
                )
            })),
            Err(err) => errors.push(err.to_string()),
        }
    }
    let stored: i64 = queues
        .iter()
        .map(|q| q.3.saturating_sub(q.2))
        .fold(0, i64::saturating_add);
    let consumers = consuming_groups(admin, topic, &masters).await;
    html! {
        section {
            h2 { "Route" }
            table #route {
                thead { tr { th { "broker" } th { "master" } th.num { "read queues" } th.num { "write queues" } th { "permission" } } }
                tbody {
                    @for q in &route.queue_datas {
                        tr {
                            td { (q.broker_name) }
                            td { (route.broker_datas.iter().find(|b| b.broker_name == q.broker_name).and_then(|b| b.master_addr()).unwrap_or("-")) }
                            td.num { (q.read_queue_nums) }
                            td.num { (q.write_queue_nums) }
                            td { (perm_name(q.perm)) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Queues" }
            @for e in &errors { (layout::failure(e)) }
            p.muted #stored { (stored) " messages stored" }
            table #queues {
                thead { tr { th { "broker" } th.num { "queue" } th.num { "min offset" } th.num { "max offset" } th { "last stored" } } }
                tbody {
                    @for (broker, id, min, max, last) in &queues {
                        tr {
                            td { (broker) } td.num { (id) } td.num { (min) } td.num { (max) } td { (layout::time(*last)) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Consumer groups" }
            @if consumers.is_empty() { p.muted { "no group has consumed this topic" } }
            @else {
                table #consumers {
                    thead { tr { th { "group" } th.num { "lag on this topic" } } }
                    tbody {
                        @for (group, lag) in &consumers {
                            tr { td { a href={"/groups/" (encode(group))} { (group) } } td.num { (lag) } }
                        }
                    }
                }
            }
        }
    }
}

/// Groups with offsets on `topic` and their lag there (GET_CONSUME_STATS
/// of the topic, per group, on the topic's masters).
pub async fn consuming_groups(
    admin: &Admin,
    topic: &str,
    masters: &[(String, String, i32, i32)],
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let Ok(groups) = group_names(admin).await else {
        return out;
    };
    for group in groups.iter().take(GROUPS_SCANNED_MAX) {
        for (_, addr, _, _) in masters {
            let Ok(stats) = admin.consume_stats(addr, group, Some(topic)).await else {
                continue;
            };
            if stats.offset_table.is_empty() {
                continue;
            }
            let lag = stats
                .offset_table
                .values()
                .map(|w| w.broker_offset.saturating_sub(w.consumer_offset).max(0))
                .fold(0, i64::saturating_add);
            let entry = out.entry(group.clone()).or_insert(0);
            *entry = i64::saturating_add(*entry, lag);
        }
    }
    out
}

/// `RW`, `R`, `W` or `-`.
pub fn perm_name(perm: i32) -> &'static str {
    match (perm & PERM_READ != 0, perm & PERM_WRITE != 0) {
        (true, true) => "read-write",
        (true, false) => "read",
        (false, true) => "write",
        (false, false) => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_name_rules() {
        let cluster = std::collections::BTreeSet::from(["DefaultCluster".to_owned()]);
        assert_eq!(Kind::of("Orders", &cluster), Kind::Normal);
        assert_eq!(Kind::of("%RETRY%g", &cluster), Kind::Retry);
        assert_eq!(Kind::of("%DLQ%g", &cluster), Kind::Dlq);
        assert_eq!(Kind::of("TBW102", &cluster), Kind::System);
        assert_eq!(Kind::of("RMQ_SYS_TRACE_TOPIC", &cluster), Kind::System);
        assert_eq!(Kind::of("DefaultCluster", &cluster), Kind::System);
    }
}
