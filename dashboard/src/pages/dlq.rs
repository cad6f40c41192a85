//! `/dlq` and `/dlq/{group}`: the groups with dead letters, a group's dead
//! letters, and resending one or all of them to their original topics
//! (`Admin::dlq_list` / `Admin::dlq_resend`).

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use ringmq_client::admin::Admin;
use ringmq_client::admin::remedy::Resend;
use ringmq_net::topic::DLQ_GROUP_TOPIC_PREFIX;
use serde::Deserialize;

use super::layout::{self, ActionError, Nav, Page, encode};
use super::messages::body_as;
use crate::state::AppState;

/// Dead letters a group's page lists at most.
pub const DLQ_SHOWN_MAX: usize = 200;
/// Body characters a row previews.
const PREVIEW_CHARS: usize = 80;

/// The pages' query.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/dlq`: every group that has a dead-letter topic.
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let live = match state.admin().topic_list().await {
        Err(err) => layout::failure(&err),
        Ok(list) => {
            let groups: Vec<&str> = list
                .topic_list
                .iter()
                .filter_map(|t| t.strip_prefix(DLQ_GROUP_TOPIC_PREFIX))
                .collect();
            html! {
                @if groups.is_empty() { p.muted { "no group has dead letters" } }
                @else {
                    table #dlq-groups {
                        thead { tr { th { "group" } th { "dead-letter topic" } } }
                        tbody {
                            @for g in &groups {
                                tr {
                                    td { a href={"/dlq/" (encode(g))} { (g) } }
                                    td { (DLQ_GROUP_TOPIC_PREFIX) (g) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = Page {
        title: "Dead letters".to_owned(),
        nav: Nav::DeadLetters,
        notice: query.done,
        controls: html! {},
        live,
    };
    layout::render(&state, &headers, page)
}

/// GET `/dlq/{group}`.
pub async fn group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let live = group_live(state.admin(), &group).await;
    let path = encode(&group);
    let controls = html! {
        div.actions {
            form.inline #dlq-resend-all method="post" action={"/dlq/" (path) "/resend"}
                data-confirm={"Resend every dead letter of " (group) " not resent yet to its original topic?"} {
                input type="hidden" name="which" value="all";
                button.danger type="submit" { "resend all" }
            }
            a href={"/groups/" (path)} { "group " (group) }
        }
    };
    let page = Page {
        title: format!("Dead letters of {group}"),
        nav: Nav::DeadLetters,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

async fn group_live(admin: &Admin, group: &str) -> Markup {
    let letters = match admin.dlq_list(group, DLQ_SHOWN_MAX).await {
        Ok(letters) => letters,
        Err(err) => return layout::failure(&err),
    };
    let path = encode(group);
    html! {
        p.muted #dlq-count { (letters.len()) " dead letter(s)" }
        table #dead-letters {
            thead { tr {
                th { "message id" } th { "original topic" } th { "broker" } th.num { "queue" } th.num { "offset" }
                th { "keys" } th { "tags" } th.num { "reconsumed" } th { "stored" } th { "body" } th { "state" } th {}
            } }
            tbody {
                @for d in &letters {
                    tr {
                        td.mono { (d.msg_id) }
                        td { a href={"/topics/" (encode(&d.original_topic))} { (d.original_topic) } }
                        td { (d.broker) } td.num { (d.queue_id) } td.num { (d.offset) }
                        td { (d.keys.as_deref().unwrap_or("")) } td { (d.tags.as_deref().unwrap_or("")) }
                        td.num { (d.reconsume_times) } td { (layout::time(d.store_timestamp)) }
                        td.body { (preview(&d.body)) }
                        @if d.resent { td.ok { "resent" } } @else { td.bad { "dead" } }
                        td {
                            @if !d.resent {
                                form.inline method="post" action={"/dlq/" (path) "/resend"}
                                    data-confirm={"Resend " (d.msg_id) " to " (d.original_topic) "?"} {
                                    input type="hidden" name="which" value="one";
                                    input type="hidden" name="id" value=(d.msg_id);
                                    button type="submit" { "resend" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn preview(body: &[u8]) -> String {
    body_as(body, "text").chars().take(PREVIEW_CHARS).collect()
}

/// The resend form.
#[derive(Debug, Deserialize)]
pub struct ResendForm {
    /// `one` or `all`.
    pub which: String,
    /// With `one`: the message id.
    pub id: Option<String>,
}

/// POST `/dlq/{group}/resend`.
pub async fn resend(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Response, ActionError> {
    let which = match (form.which.as_str(), form.id) {
        ("all", _) => Resend::All,
        ("one", Some(id)) if !id.trim().is_empty() => Resend::Id(id.trim().to_owned()),
        _ => {
            return Err(ActionError::Invalid(
                "give which=all, or which=one with an id".into(),
            ));
        }
    };
    let report = state.admin().dlq_resend(&group, &which).await?;
    let mut text = format!(
        "resent {}, {} already resent before",
        report.resent, report.skipped_already_resent
    );
    if !report.failed.is_empty() {
        text.push_str(&format!("; failed: {}", report.failed.join("; ")));
    }
    Ok(layout::done(&format!("/dlq/{}", encode(&group)), &text))
}
