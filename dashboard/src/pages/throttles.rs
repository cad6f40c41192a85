//! `/throttles`: the per-topic (and per producer group) rate limits of
//! every master broker, set and cleared (`Admin::throttle_*`).

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use ringmq_client::admin::throttle::ThrottleRule;
use serde::Deserialize;

use super::layout::{self, ActionError, Nav, Page, encode};
use crate::state::AppState;

/// The page's query.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/throttles`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let live = match state.admin().throttle_list().await {
        Err(err) => layout::failure(&err),
        Ok(rules) => html! {
            @if rules.is_empty() { p.muted #throttle-count { "no throttle is set" } }
            @else {
                table #throttles {
                    thead { tr { th { "broker" } th { "topic" } th { "producer group" } th.num { "msg/s" } th.num { "sends refused" } th {} } }
                    tbody {
                        @for t in &rules {
                            tr {
                                td { (t.broker) }
                                td { a href={"/topics/" (encode(&t.rule.topic))} { (t.rule.topic) } }
                                td { (t.rule.producer_group.as_deref().unwrap_or("(every producer)")) }
                                td.num { (t.rule.rate) } td.num { (t.rejected) }
                                td {
                                    form.inline method="post" action="/throttles/clear"
                                        data-confirm={"Clear the throttle of " (t.rule.topic) "?"} {
                                        input type="hidden" name="topic" value=(t.rule.topic);
                                        input type="hidden" name="producer_group" value=(t.rule.producer_group.clone().unwrap_or_default());
                                        button type="submit" { "clear" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    };
    let controls = html! {
        details.form open {
            summary { "Set a throttle (every master)" }
            form #set-throttle method="post" action="/throttles" {
                label { "topic " input type="text" name="topic" required; }
                label { "producer group " input type="text" name="producer_group" placeholder="(every producer)"; }
                label { "messages per second " input type="number" name="rate" min="1" required; }
                button type="submit" { "set" }
            }
        }
    };
    let page = Page {
        title: "Throttles".to_owned(),
        nav: Nav::Throttles,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

/// The set form.
#[derive(Debug, Deserialize)]
pub struct SetForm {
    /// The topic.
    pub topic: String,
    /// The producer group (empty = every producer).
    pub producer_group: Option<String>,
    /// Messages per second.
    pub rate: u32,
}

fn group(field: Option<String>) -> Option<String> {
    field.map(|g| g.trim().to_owned()).filter(|g| !g.is_empty())
}

/// POST `/throttles`.
pub async fn set(
    State(state): State<AppState>,
    Form(form): Form<SetForm>,
) -> Result<Response, ActionError> {
    let rule = ThrottleRule {
        topic: form.topic.trim().to_owned(),
        producer_group: group(form.producer_group),
        rate: form.rate,
    };
    state.admin().throttle_set(&rule).await?;
    Ok(layout::done(
        "/throttles",
        &format!("{} limited to {} msg/s", rule.topic, rule.rate),
    ))
}

/// The clear form.
#[derive(Debug, Deserialize)]
pub struct ClearForm {
    /// The topic.
    pub topic: Option<String>,
    /// The producer group (empty = any).
    pub producer_group: Option<String>,
}

/// POST `/throttles/clear`.
pub async fn clear(
    State(state): State<AppState>,
    Form(form): Form<ClearForm>,
) -> Result<Response, ActionError> {
    let topic = group(form.topic);
    let producer_group = group(form.producer_group);
    let removed = state
        .admin()
        .throttle_clear(topic.as_deref(), producer_group.as_deref())
        .await?;
    Ok(layout::done(
        "/throttles",
        &format!("{removed} rule(s) cleared"),
    ))
}
