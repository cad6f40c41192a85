//! `/groups` and `/groups/{group}`: consumer groups sorted by lag, a
//! group's lag over time, per-queue progress, online clients, offset reset
//! (earliest, latest, a time) and the backlog move.

use std::collections::BTreeSet;

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use ringmq_client::admin::ops::ResetTarget;
use ringmq_client::admin::{Admin, AdminError, ConsumerProgress};
use ringmq_net::body::Connection;
use serde::Deserialize;

use super::layout::{self, ActionError, Nav, Page, encode};
use crate::chart::{self, Line};
use crate::history::lag_series;
use crate::state::{AppState, GROUPS_SCANNED_MAX, now_ms};

/// Every subscription group any master knows, sorted.
pub async fn group_names(admin: &Admin) -> Result<BTreeSet<String>, AdminError> {
    let mut names = BTreeSet::new();
    for broker in admin.masters(None).await? {
        names.extend(
            admin
                .groups(&broker.addr)
                .await?
                .subscription_group_table
                .into_keys(),
        );
    }
    Ok(names)
}

/// The online clients of `group` over every master (deduplicated by id).
pub async fn clients(admin: &Admin, group: &str) -> Result<Vec<Connection>, AdminError> {
    let mut out: Vec<Connection> = Vec::new();
    for broker in admin.masters(None).await? {
        if let Some(conn) = admin.consumer_connections(&broker.addr, group).await? {
            for c in conn.connection_set {
                if !out.iter().any(|o| o.client_id == c.client_id) {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// The list's query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// A previous action's report.
    pub done: Option<String>,
}

/// GET `/groups`: every group, largest lag first.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let live = list_live(state.admin()).await;
    let page = Page {
        title: "Consumer groups".to_owned(),
        nav: Nav::Groups,
        notice: query.done,
        controls: html! {},
        live,
    };
    layout::render(&state, &headers, page)
}

async fn list_live(admin: &Admin) -> Markup {
    let names = match group_names(admin).await {
        Ok(names) => names,
        Err(err) => return layout::failure(&err),
    };
    let mut rows = Vec::new();
    for group in names.iter().take(GROUPS_SCANNED_MAX) {
        let progress = admin.consumer_progress(group).await;
        let online = clients(admin, group).await.map(|c| c.len()).unwrap_or(0);
        rows.push((group.clone(), progress, online));
    }
    rows.sort_by_key(|(g, p, _)| {
        (
            std::cmp::Reverse(p.as_ref().map(|p| p.total_lag).unwrap_or(-1)),
            g.clone(),
        )
    });
    html! {
        @if names.len() > GROUPS_SCANNED_MAX {
            p.muted { "showing " (GROUPS_SCANNED_MAX) " of " (names.len()) " groups" }
        }
        table #groups {
            thead { tr { th { "group" } th.num { "total lag" } th.num { "queues" } th.num { "online clients" } } }
            tbody {
                @for (group, progress, online) in &rows {
                    tr {
                        td { a href={"/groups/" (encode(group))} { (group) } }
                        @match progress {
                            Ok(p) => { td.num.lag { (p.total_lag) } td.num { (p.queues.len()) } }
                            Err(e) => { td.bad colspan="2" { (e.to_string()) } }
                        }
                        td.num { (online) }
                    }
                }
            }
        }
    }
}

/// The topics a group's forms offer, its own topics before its retry topic
/// (the first option is what a form submits unless another is chosen).
fn form_topics(progress: &Result<ConsumerProgress, AdminError>) -> Vec<String> {
    let set: BTreeSet<String> = progress
        .as_ref()
        .map(|p| p.queues.iter().map(|q| q.topic.clone()).collect())
        .unwrap_or_default();
    let (retry, own): (Vec<String>, Vec<String>) = set
        .into_iter()
        .partition(|t| ringmq_net::topic::is_retry_topic(t));
    own.into_iter().chain(retry).collect()
}

/// GET `/groups/{group}`.
pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let progress = state.admin().consumer_progress(&group).await;
    let topics = form_topics(&progress);
    let live = detail_live(&state, &group, &progress).await;
    let path = encode(&group);
    let topic_select = html! {
        label { "topic "
            select name="topic" required {
                @for t in &topics { option value=(t) { (t) } }
            }
        }
    };
    let controls = html! {
        div.actions {
            details.form {
                summary { "Reset offsets" }
                form #reset-offsets method="post" action={"/groups/" (path) "/reset"}
                    data-confirm={"Move the offsets of group " (group) "? Its consumers will skip or repeat messages."} {
                    (topic_select)
                    label { "to "
                        select name="to" {
                            option value="earliest" { "earliest" }
                            option value="latest" { "latest" }
                            option value="time" { "time (UTC, below)" }
                        }
                    }
                    label { "time " input type="datetime-local" name="time" step="1"; }
                    button.danger type="submit" { "reset" }
                }
            }
            (super::extra_group_controls(&group, &topics))
        }
    };
    let page = Page {
        title: format!("Group {group}"),
        nav: Nav::Groups,
        notice: query.done,
        controls,
        live,
    };
    layout::render(&state, &headers, page)
}

async fn detail_live(
    state: &AppState,
    group: &str,
    progress: &Result<ConsumerProgress, AdminError>,
) -> Markup {
    let progress = match progress {
        Ok(p) => p,
        Err(err) => return layout::failure(err),
    };
    let clients = clients(state.admin(), group).await;
    let series = lag_series(group);
    let (points, refused) = {
        let history = state.history();
        (history.points(&series), history.is_refused(&series))
    };
    let svg = chart::line_chart(
        &format!("total lag of {group}"),
        "messages",
        &[Line {
            label: "lag",
            points: &points,
        }],
        now_ms(),
        super::overview::history_window_ms(state),
    );
    html! {
        p.big { "total lag " span #total-lag { (progress.total_lag) } }
        section {
            h2 { "Lag over time" }
            (layout::svg(svg))
            @if refused { p.muted { "history is full (series cap): this group's lag is not kept" } }
        }
        section {
            h2 { "Queues" }
            table #group-queues {
                thead { tr {
                    th { "topic" } th { "broker" } th.num { "queue" } th.num { "broker offset" }
                    th.num { "consumer offset" } th.num { "lag" } th { "client" } th { "last consumed" }
                } }
                tbody {
                    @for q in &progress.queues {
                        tr {
                            td { a href={"/topics/" (encode(&q.topic))} { (q.topic) } }
                            td { (q.broker) } td.num { (q.queue_id) } td.num { (q.broker_offset) }
                            td.num { (q.consumer_offset) } td.num.lag { (q.lag) }
                            td { (q.client.as_deref().unwrap_or("-")) } td { (layout::time(q.last_timestamp)) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Online clients" }
            @match &clients {
                Err(err) => (layout::failure(err)),
                Ok(list) if list.is_empty() => p.muted #clients { "no client online" },
                Ok(list) => table #clients {
                    thead { tr { th { "client id" } th { "address" } th { "language" } th.num { "version" } } }
                    tbody {
                        @for c in list {
                            tr { td { (c.client_id) } td { (c.client_addr) } td { (c.language) } td.num { (c.version) } }
                        }
                    }
                },
            }
        }
    }
}

/// The reset form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    /// The topic.
    pub topic: String,
    /// `earliest`, `latest` or `time`.
    pub to: String,
    /// With `time`: `YYYY-MM-DDTHH:MM[:SS]`, UTC.
    pub time: Option<String>,
}

/// POST `/groups/{group}/reset`.
pub async fn reset(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, ActionError> {
    let target = match form.to.as_str() {
        "earliest" => ResetTarget::Earliest,
        "latest" => ResetTarget::Latest,
        "time" => {
            let text = form.time.as_deref().unwrap_or_default();
            ResetTarget::Time(layout::parse_time(text).ok_or_else(|| {
                ActionError::Invalid(format!(
                    "bad time {text:?}: give YYYY-MM-DDTHH:MM[:SS] (UTC)"
                ))
            })?)
        }
        other => {
            return Err(ActionError::Invalid(format!(
                "unknown reset target {other:?}"
            )));
        }
    };
    let outcome = state
        .admin()
        .reset_offset(&group, &form.topic, target)
        .await?;
    Ok(layout::done(
        &format!("/groups/{}", encode(&group)),
        &format!(
            "offsets of {group} on {} reset ({} queues, {})",
            form.topic,
            outcome.queues.len(),
            outcome.applied_by
        ),
    ))
}

/// The backlog-move form.
#[derive(Debug, Deserialize)]
pub struct MoveForm {
    /// The topic whose backlog moves.
    pub topic: String,
    /// The temporary topic.
    pub to: String,
}

/// POST `/groups/{group}/move`: the group's unconsumed messages on the
/// topic are copied to the temporary topic and the group moves past them.
pub async fn backlog_move(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Form(form): Form<MoveForm>,
) -> Result<Response, ActionError> {
    let report = state
        .admin()
        .backlog_move(&group, form.topic.trim(), form.to.trim())
        .await?;
    let state_text = if report.complete {
        format!("complete, offsets moved ({})", report.applied_by)
    } else {
        "incomplete: offsets not moved, run it again".to_owned()
    };
    Ok(layout::done(
        &format!("/groups/{}", encode(&group)),
        &format!(
            "backlog of {group} on {} moved to {}: {} copied, {} already copied; {state_text}",
            report.topic, report.to, report.copied, report.already_copied
        ),
    ))
}
