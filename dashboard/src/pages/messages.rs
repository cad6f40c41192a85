//! `/messages` and `/messages/{id}`: search by id, by key, by topic and
//! time range, by queue and offset; one message's properties and body (text,
//! hex, or pretty JSON), its consumption state per group, and a resend to
//! one group.
//!
//! Resend to a group stores a copy in the group's retry topic
//! (`%RETRY%<group>`) with `RETRY_TOPIC` naming the original topic, the way
//! a consumer's send-back does: only that group's consumers receive it, as
//! a message of the original topic.

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use ringmq_client::admin::ops::TOOLS_CONSUMER_GROUP;
use ringmq_client::admin::{Admin, AdminError};
use ringmq_client::consumer::MessageExt;
use ringmq_client::message::Message;
use ringmq_net::body::MessageQueue;
use ringmq_net::topic::{retry_topic, validate_topic_name};
use serde::Deserialize;

use super::layout::{self, ActionError, Nav, Page, encode};
use super::topics::consuming_groups;
use crate::state::AppState;

/// Messages one search shows at most.
pub const RESULTS_MAX: usize = 64;
/// Messages pulled per queue for a time-range search.
const RANGE_PULL_PER_QUEUE: i32 = 32;
/// Body bytes a detail page shows at most.
pub const BODY_SHOWN_MAX: usize = 256 * 1024;
/// Body characters a result row previews.
const PREVIEW_CHARS: usize = 80;
/// Retry and delay bookkeeping a resent copy does not carry over (the
/// unique key and user properties are kept).
const RESEND_DROPPED: &[&str] = &[
    "RETRY_TOPIC",
    "REAL_TOPIC",
    "REAL_QID",
    "DELAY",
    "WAIT",
    "RECONSUME_TIME",
    "MAX_RECONSUME_TIMES",
    "CONSUME_START_TIME",
    "MIN_OFFSET",
    "MAX_OFFSET",
];
/// The property naming a retried message's original topic.
const PROPERTY_RETRY_TOPIC: &str = "RETRY_TOPIC";

/// The search form.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// A message id (unique or offset id).
    pub id: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// A business key.
    pub key: Option<String>,
    /// Start of a time range, `YYYY-MM-DDTHH:MM[:SS]` UTC.
    pub begin: Option<String>,
    /// End of a time range.
    pub end: Option<String>,
    /// A queue id.
    pub queue: Option<String>,
    /// An offset in that queue.
    pub offset: Option<String>,
}

fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// GET `/messages`.
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Response {
    let live = match run_search(state.admin(), &query).await {
        Ok(None) => {
            html! { p.muted { "give an id, a topic and key, a topic and time range, or a topic, queue and offset" } }
        }
        Ok(Some(found)) => results(&found),
        Err(err) => layout::failure(&err),
    };
    let v = |f: &Option<String>| f.clone().unwrap_or_default();
    let controls = html! {
        form.search #message-search method="get" action="/messages" {
            label { "topic " input type="text" name="topic" value=(v(&query.topic)); }
            label { "message id " input type="text" name="id" size="34" value=(v(&query.id)); }
            label { "key " input type="text" name="key" value=(v(&query.key)); }
            label { "from " input type="datetime-local" step="1" name="begin" value=(v(&query.begin)); }
            label { "to " input type="datetime-local" step="1" name="end" value=(v(&query.end)); }
            label { "queue " input type="number" min="0" name="queue" value=(v(&query.queue)); }
            label { "offset " input type="number" min="0" name="offset" value=(v(&query.offset)); }
            button type="submit" { "search" }
            p.muted { "by id (with its topic for a unique id) · by topic and key · by topic and time range (UTC) · by topic, queue and offset" }
        }
    };
    let page = Page {
        title: "Messages".to_owned(),
        nav: Nav::Messages,
        notice: None,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

/// Why a search cannot run.
#[derive(Debug, thiserror::Error)]
enum SearchError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{0}")]
    Invalid(String),
}

async fn run_search(
    admin: &Admin,
    q: &SearchQuery,
) -> Result<Option<Vec<MessageExt>>, SearchError> {
    let topic = given(&q.topic);
    if let Some(topic) = topic {
        validate_topic_name(topic).map_err(|e| SearchError::Invalid(e.to_string()))?;
    }
    let time = |f: &Option<String>| -> Result<Option<i64>, SearchError> {
        given(f)
            .map(|t| {
                layout::parse_time(t).ok_or_else(|| {
                    SearchError::Invalid(format!("bad time {t:?}: YYYY-MM-DDTHH:MM[:SS]"))
                })
            })
            .transpose()
    };
    let (begin, end) = (time(&q.begin)?, time(&q.end)?);
    let range = (begin.unwrap_or(0), end.unwrap_or(i64::MAX));
    let number = |f: &Option<String>, what: &str| -> Result<Option<i64>, SearchError> {
        given(f)
            .map(|n| {
                n.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| SearchError::Invalid(format!("bad {what} {n:?}")))
            })
            .transpose()
    };
    let (queue, offset) = (number(&q.queue, "queue")?, number(&q.offset, "offset")?);
    let mut found = if let Some(id) = given(&q.id) {
        admin.message_by_id(id, topic).await?
    } else if let (Some(topic), Some(key)) = (topic, given(&q.key)) {
        admin.messages_by_key(topic, key, range).await?
    } else if let (Some(topic), Some(queue), Some(offset)) = (topic, queue, offset) {
        let queue =
            i32::try_from(queue).map_err(|_| SearchError::Invalid("queue too large".into()))?;
        admin
            .messages_at(topic, queue, offset, RANGE_PULL_PER_QUEUE)
            .await?
    } else if let (Some(topic), Some(_)) = (topic, begin) {
        in_time_range(admin, topic, range).await?
    } else {
        return Ok(None);
    };
    found.truncate(RESULTS_MAX);
    Ok(Some(found))
}

/// Messages of `topic` stored within `range`: each queue from the first
/// offset at or after its start, a bounded pull per queue.
async fn in_time_range(
    admin: &Admin,
    topic: &str,
    range: (i64, i64),
) -> Result<Vec<MessageExt>, AdminError> {
    let mut found = Vec::new();
    for (name, addr, read, _) in admin.topic_masters(topic).await? {
        for queue_id in 0..read {
            let start = admin.offset_at(&addr, topic, queue_id, range.0).await?;
            let queue = MessageQueue::new(topic, name.as_str(), queue_id);
            let pulled = admin
                .pull(
                    &addr,
                    &queue,
                    TOOLS_CONSUMER_GROUP,
                    start,
                    RANGE_PULL_PER_QUEUE,
                )
                .await?;
            found.extend(
                pulled
                    .messages
                    .into_iter()
                    .filter(|m| m.store_timestamp >= range.0 && m.store_timestamp <= range.1),
            );
            if found.len() >= RESULTS_MAX {
                return Ok(found);
            }
        }
    }
    found.sort_by_key(|m| m.store_timestamp);
    Ok(found)
}

fn results(found: &[MessageExt]) -> Markup {
    html! {
        p.muted #result-count { (found.len()) " message(s)" }
        table #messages {
            thead { tr {
                th { "message id" } th { "topic" } th { "broker" } th.num { "queue" } th.num { "offset" }
                th { "tags" } th { "keys" } th { "stored" } th { "body" }
            } }
            tbody {
                @for m in found {
                    tr {
                        td.mono { a href={"/messages/" (encode(&m.msg_id)) "?topic=" (encode(&m.topic))} { (m.msg_id) } }
                        td { (m.topic) } td { (m.broker_name) } td.num { (m.queue_id) } td.num { (m.queue_offset) }
                        td { (m.tags().unwrap_or("")) } td { (m.properties.keys().collect::<Vec<_>>().join(" ")) }
                        td { (layout::time(m.store_timestamp)) }
                        td.body { (preview(&m.body)) }
                    }
                }
            }
        }
    }
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        out.push('…');
    }
    out
}

/// The detail page's query.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    /// The topic (needed for a unique id).
    pub topic: Option<String>,
    /// `text`, `hex` or `json`.
    pub format: Option<String>,
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/messages/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let topic = given(&query.topic).map(str::to_owned);
    let format = query.format.clone().unwrap_or_else(|| "text".to_owned());
    let found = state.admin().message_by_id(&id, topic.as_deref()).await;
    let live = match &found {
        Ok(list) => match list.first() {
            Some(m) => message_live(state.admin(), m, &format).await,
            None => layout::failure(&format!("no message {id}")),
        },
        Err(err) => layout::failure(err),
    };
    let groups = match found.as_ref().ok().and_then(|l| l.first()) {
        Some(m) => {
            let masters = state
                .admin()
                .topic_masters(&m.topic)
                .await
                .unwrap_or_default();
            consuming_groups(state.admin(), &m.topic, &masters)
                .await
                .into_keys()
                .collect()
        }
        None => Vec::new(),
    };
    let topic_q = topic.clone().unwrap_or_default();
    let controls = html! {
        div.actions {
            span { "body as: " }
            @for f in ["text", "hex", "json"] {
                a.tab.active[f == format] href={"/messages/" (encode(&id)) "?topic=" (encode(&topic_q)) "&format=" (f)} { (f) }
            }
            details.form {
                summary { "Resend to a group" }
                form #resend-message method="post" action={"/messages/" (encode(&id)) "/resend"}
                    data-confirm="Deliver this message again to the chosen group?" {
                    input type="hidden" name="topic" value=(topic_q);
                    label { "group "
                        input type="text" name="group" list="message-groups" required;
                        datalist #message-groups { @for g in &groups { option value=(g) {} } }
                    }
                    button type="submit" { "resend" }
                }
            }
        }
    };
    let page = Page {
        title: format!("Message {id}"),
        nav: Nav::Messages,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

async fn message_live(admin: &Admin, m: &MessageExt, format: &str) -> Markup {
    let states = consumption(admin, m).await;
    html! {
        section {
            h2 { "Where" }
            table.kv #message-where {
                tr { th { "topic" } td { a href={"/topics/" (encode(&m.topic))} { (m.topic) } } }
                tr { th { "broker" } td { (m.broker_name) " (" (m.store_host) ")" } }
                tr { th { "queue / offset" } td { (m.queue_id) " / " (m.queue_offset) } }
                tr { th { "message id" } td.mono { (m.msg_id) } }
                tr { th { "offset message id" } td.mono { (m.offset_msg_id) } }
                tr { th { "born" } td { (layout::time(m.born_timestamp)) " from " (m.born_host) } }
                tr { th { "stored" } td { (layout::time(m.store_timestamp)) } }
                tr { th { "reconsume times" } td { (m.reconsume_times) } }
                tr { th { "body size" } td { (m.body.len()) " bytes" } }
            }
        }
        section {
            h2 { "Properties" }
            table.kv #message-properties {
                @for (k, v) in m.properties.iter() { tr { th { (k) } td { (v) } } }
            }
        }
        section {
            h2 { "Body (" (format) ")" }
            pre #message-body { (body_as(&m.body, format)) }
        }
        section {
            h2 { "Consumption per group" }
            @if states.is_empty() { p.muted { "no group consumes this topic" } }
            @else {
                table #consumption {
                    thead { tr { th { "group" } th.num { "consumer offset" } th { "state" } } }
                    tbody {
                        @for (group, offset, consumed) in &states {
                            tr {
                                td { a href={"/groups/" (encode(group))} { (group) } }
                                td.num { (offset) }
                                @if *consumed { td.ok { "consumed" } } @else { td.bad { "not consumed yet" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Each consuming group's committed offset on the message's queue and
/// whether it is past the message.
async fn consumption(admin: &Admin, m: &MessageExt) -> Vec<(String, i64, bool)> {
    let Ok(masters) = admin.topic_masters(&m.topic).await else {
        return Vec::new();
    };
    let Some((_, addr, _, _)) = masters.iter().find(|b| b.0 == m.broker_name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for group in consuming_groups(admin, &m.topic, &masters)
        .await
        .into_keys()
    {
        if let Ok(Some(offset)) = admin
            .consumer_offset(addr, &group, &m.topic, m.queue_id)
            .await
        {
            out.push((group, offset, offset > m.queue_offset));
        }
    }
    out
}

/// The body as text, a hex dump, or pretty-printed JSON.
pub fn body_as(body: &[u8], format: &str) -> String {
    let shown = body.get(..BODY_SHOWN_MAX).unwrap_or(body);
    let mut out = match format {
        "hex" => hex_dump(shown),
        "json" => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
            Err(err) => format!("(not JSON: {err})\n{}", String::from_utf8_lossy(shown)),
        },
        _ => String::from_utf8_lossy(shown).into_owned(),
    };
    if body.len() > shown.len() && format != "json" {
        out.push_str(&format!("\n… {} more bytes", body.len() - shown.len()));
    }
    out
}

fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", i * 16));
        for b in chunk {
            out.push_str(&format!("{b:02x} "));
        }
        for _ in chunk.len()..16 {
            out.push_str("   ");
        }
        out.push(' ');
        out.extend(chunk.iter().map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                char::from(*b)
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

/// The resend form.
#[derive(Debug, Deserialize)]
pub struct ResendForm {
    /// The message's topic.
    pub topic: Option<String>,
    /// The group to deliver to.
    pub group: String,
}

/// POST `/messages/{id}/resend`: a copy into the group's retry topic.
pub async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Response, ActionError> {
    let group = form.group.trim();
    let target = retry_topic(group);
    validate_topic_name(&target)
        .map_err(|e| ActionError::Invalid(format!("bad group {group:?}: {e}")))?;
    let topic = given(&form.topic);
    let found = state.admin().message_by_id(&id, topic).await?;
    let m = found
        .first()
        .ok_or_else(|| ActionError::Invalid(format!("no message {id}")))?;
    let mut copy = Message::new(target.as_str(), m.body.clone());
    for (k, v) in m
        .properties
        .iter()
        .filter(|(k, _)| !RESEND_DROPPED.contains(k))
    {
        copy = copy.with_property(k, v);
    }
    copy = copy.with_property(PROPERTY_RETRY_TOPIC, m.topic.as_str());
    let producer = state.producer().await.map_err(ActionError::Send)?;
    let sent = producer
        .send(copy)
        .await
        .map_err(|e| ActionError::Send(e.to_string()))?;
    Ok(layout::done(
        &format!("/messages/{}?topic={}", encode(&id), encode(&m.topic)),
        &format!("resent to group {group} as {}", sent.msg_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_render_as_text_hex_and_json() {
        assert_eq!(body_as(b"hi", "text"), "hi");
        assert!(body_as(b"hi\x00", "hex").starts_with("00000000  68 69 00 "));
        assert_eq!(body_as(br#"{"a":1}"#, "json"), "{\n  \"a\": 1\n}");
        assert!(body_as(b"nope", "json").starts_with("(not JSON"));
    }

    #[test]
    fn previews_are_bounded() {
        let long = "x".repeat(500);
        assert_eq!(preview(long.as_bytes()).chars().count(), PREVIEW_CHARS + 1);
    }
}
