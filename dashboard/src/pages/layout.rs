//! The frame every page shares (navigation, notice, the live part the
//! script refreshes), the error page that shows a broker's remark, and small
//! formatting helpers.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use ringmq_client::admin::AdminError;

use crate::state::AppState;

/// The request header the live refresh sends: answer with the live part only.
pub const LIVE_HEADER: &str = "x-live";

/// The sections of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`.
    Overview,
    /// `/topics`.
    Topics,
    /// `/groups`.
    Groups,
    /// `/messages`.
    Messages,
    /// `/dlq`.
    DeadLetters,
    /// `/throttles`.
    Throttles,
}

const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Topics, "/topics", "Topics"),
    (Nav::Groups, "/groups", "Consumer groups"),
    (Nav::Messages, "/messages", "Messages"),
    (Nav::DeadLetters, "/dlq", "Dead letters"),
    (Nav::Throttles, "/throttles", "Throttles"),
];

/// One page: a static part (forms, which a refresh must not wipe) and a
/// live part (the data, refreshed in place).
pub struct Page {
    /// The `<title>` and heading.
    pub title: String,
    /// The highlighted navigation entry.
    pub nav: Nav,
    /// What a previous action reported (`?done=`).
    pub notice: Option<String>,
    /// Forms and filters.
    pub controls: Markup,
    /// The data.
    pub live: Markup,
}

/// Renders `page` whole, or its live part alone when the live refresh asks.
pub fn render(state: &AppState, headers: &HeaderMap, page: Page) -> Response {
    if headers.contains_key(LIVE_HEADER) {
        return Html(page.live.into_string()).into_response();
    }
    let refresh_ms = state.refresh().as_millis();
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (page.title) " · ringmq" }
                    link rel="stylesheet" href="/static/style.css";
                    script src="/static/live.js" defer {}
                }
                body data-refresh-ms=(refresh_ms) {
                    header.top {
                        a.brand href="/" { "ringmq" }
                        nav {
                            @for (nav, href, label) in NAV {
                                a href=(href) class=[(nav == page.nav).then_some("active")] { (label) }
                            }
                        }
                        span.refreshed #refreshed title="live data, refreshed in place" { "live" }
                    }
                    main {
                        h1 { (page.title) }
                        @if let Some(notice) = &page.notice {
                            p.notice #notice { (notice) }
                        }
                        (page.controls)
                        div #live data-refreshes="0" { (page.live) }
                    }
                }
            }
        }
        .into_string(),
    )
    .into_response()
}

/// A page saying what went wrong, with the peer's remark.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "error · ringmq" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header.top { a.brand href="/" { "ringmq" } }
                main {
                    h1 { "Failed" }
                    p.error #error { (message) }
                    p { a href="javascript:history.back()" { "back" } " · " a href="/" { "overview" } }
                }
            }
        }
    };
    (status, Html(body.into_string())).into_response()
}

/// An action's failure, shown with the broker's remark.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The cluster refused or did not answer.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The form cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The test message could not be sent.
    #[error("send failed: {0}")]
    Send(String),
}

impl IntoResponse for ActionError {
    fn into_response(self) -> Response {
        let status = match &self {
            ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
            ActionError::Admin(AdminError::NotFound(_)) => StatusCode::NOT_FOUND,
            ActionError::Admin(AdminError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ActionError::Admin(_) | ActionError::Send(_) => StatusCode::BAD_GATEWAY,
        };
        error_page(status, &self.to_string())
    }
}

/// After a successful action: back to `to` with `done` shown as a notice.
pub fn done(to: &str, done: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}done={}", encode(done))).into_response()
}

/// Percent-encodes a path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A failure inside a live part (the page still renders).
pub fn failure(err: &dyn std::fmt::Display) -> Markup {
    html! { p.error { (err.to_string()) } }
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (`-` for 0).
pub fn time(ms: i64) -> String {
    if ms <= 0 {
        return "-".to_owned();
    }
    let secs = ms / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD[T ]HH:MM[:SS]` (UTC) as ms since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, clock) = text.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm) = (c.next()??, c.next()??);
    let ss = c.next().unwrap_or(Some(0))?;
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&day)
        && (0..24).contains(&hh)
        && (0..60).contains(&mm)
        && (0..60).contains(&ss);
    if !valid {
        return None;
    }
    let days = days_from_civil(y, m, day);
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

/// (year, month, day) as days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A chart's SVG, trusted: it is made by [`crate::chart`], not by a peer
/// (labels it draws are escaped by plotters).
pub fn svg(svg: String) -> Markup {
    html! { div.chart { (PreEscaped(svg)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(time(0), "-");
        assert_eq!(time(86_400_000), "1970-01-02 00:00:00");
        assert_eq!(time(1_709_210_096_000), "2024-02-29 12:34:56");
    }

    #[test]
    fn times_parse_back() {
        assert_eq!(parse_time("2024-02-29T12:34:56"), Some(1_709_210_096_000));
        assert_eq!(parse_time("2024-02-29 12:34"), Some(1_709_210_040_000));
        assert_eq!(parse_time("1970-01-02T00:00"), Some(86_400_000));
        for bad in [
            "",
            "2024-13-01T00:00",
            "2024-02-29",
            "x-y-zTa:b",
            "2024-02-29T24:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_keeps_unreserved_bytes_only() {
        assert_eq!(encode("%DLQ%g 1/é"), "%25DLQ%25g%201%2F%C3%A9");
    }
}
