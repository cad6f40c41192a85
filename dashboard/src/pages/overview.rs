//! `/`: brokers and nameservers with their state, the cluster's message
//! rates over the last 15 minutes, disk use and store alarms.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;

use super::layout::{self, Nav, Page};
use crate::chart::{self, Line};
use crate::history::{SERIES_IN, SERIES_OUT};
use crate::state::{AppState, now_ms};

/// Disk use (fraction) from which the overview raises an alarm: the
/// broker's default `disk_usage_max_percent`, above which sends are refused.
pub const DISK_ALARM_RATIO: f64 = 0.90;

/// GET `/`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let live = live(&state).await;
    let page = Page {
        title: "Overview".to_owned(),
        nav: Nav::Overview,
        notice: None,
        controls: html! {},
        live,
    };
    layout::render(&state, &headers, page)
}

async fn live(state: &AppState) -> Markup {
    let admin = state.admin();
    let mut namesrvs = Vec::new();
    for addr in admin.namesrv_addrs() {
        let ping = RemotingCommand::request(request::GET_BROKER_CLUSTER_INFO);
        let up = admin.call(addr, "nameserver ping", ping).await;
        namesrvs.push((addr.clone(), up.err().map(|e| e.to_string())));
    }
    let brokers = admin.brokers().await;
    let mut rows = Vec::new();
    if let Ok(brokers) = &brokers {
        for b in brokers {
            rows.push((b.clone(), admin.broker_runtime_info(&b.addr).await));
        }
    }
    let chart = {
        let window = history_window_ms(state);
        let (ins, outs) = {
            let history = state.history();
            (history.points(SERIES_IN), history.points(SERIES_OUT))
        };
        chart::line_chart(
            "messages per second, last 15 minutes",
            "msg/s",
            &[
                Line {
                    label: "in (stored)",
                    points: &ins,
                },
                Line {
                    label: "out (pulled)",
                    points: &outs,
                },
            ],
            now_ms(),
            window,
        )
    };
    html! {
        section {
            h2 { "Message rates" }
            (layout::svg(chart))
        }
        section {
            h2 { "Nameservers" }
            table #namesrvs {
                thead { tr { th { "address" } th { "state" } } }
                tbody {
                    @for (addr, err) in &namesrvs {
                        tr {
                            td { (addr) }
                            @match err {
                                None => td.ok { "up" },
                                Some(e) => td.bad { "down: " (e) },
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Brokers" }
            @match &brokers {
                Err(err) => (layout::failure(err)),
                Ok(_) => table #brokers {
                    thead { tr {
                        th { "cluster" } th { "broker" } th { "id" } th { "address" } th { "state" }
                        th { "version" } th.num { "connections" } th.num { "stored" } th.num { "pulled" }
                        th.num { "disk used" } th { "alarms" }
                    } }
                    tbody {
                        @for (b, info) in &rows {
                            @let get = |k: &str| info.as_ref().ok().and_then(|i| i.table.get(k).cloned());
                            @let disk = get("commitLogDiskRatio").and_then(|v| v.parse::<f64>().ok());
                            @let read_only = get("readOnly");
                            tr {
                                td { (b.cluster) }
                                td { (b.name) }
                                td { (if b.id == 0 { "master".to_owned() } else { format!("slave {}", b.id) }) }
                                td { (b.addr) }
                                @match info {
                                    Ok(_) => td.ok { "up" },
                                    Err(e) => td.bad { "unreachable: " (e.to_string()) },
                                }
                                td { (get("brokerVersionDesc").unwrap_or_default()) }
                                td.num { (get("clientConnections").unwrap_or_default()) }
                                td.num { (get("msgPutTotalTodayNow").unwrap_or_default()) }
                                td.num { (get("msgGetTotalTodayNow").unwrap_or_default()) }
                                td.num { @if let Some(d) = disk { (format!("{:.1} %", d * 100.0)) } @else { "-" } }
                                td { (alarms(disk, read_only.as_deref())) }
                            }
                        }
                    }
                },
            }
        }
    }
}

fn alarms(disk: Option<f64>, read_only: Option<&str>) -> Markup {
    let full = disk.is_some_and(|d| d >= DISK_ALARM_RATIO);
    let ro = read_only.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    html! {
        @if ro { span.alarm { "store read-only" } " " }
        @if full { span.alarm { "disk above " (format!("{:.0}", DISK_ALARM_RATIO * 100.0)) " %: sends refused" } }
        @if !ro && !full {
            span.ok { "none" }
            @if read_only.is_none() { span.muted { " (read-only state not reported)" } }
        }
    }
}

/// The span of the history the charts show, ms.
pub fn history_window_ms(state: &AppState) -> i64 {
    let config = state.history().config();
    let span = config
        .sample_every
        .saturating_mul(u32::try_from(config.points_per_series).unwrap_or(u32::MAX));
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}
