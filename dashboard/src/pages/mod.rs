//! The pages, one module each, every one built from `Admin` calls only.

pub mod dlq;
pub mod groups;
pub mod layout;
pub mod messages;
pub mod overview;
pub mod throttles;
pub mod topics;

use axum::Router;
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::state::AppState;

/// Routes of the pages built on the throttle and dead-letter APIs.
pub fn extra_routes(routes: Router<AppState>) -> Router<AppState> {
    routes
        .route("/dlq", get(dlq::index))
        .route("/dlq/{group}", get(dlq::group))
        .route("/dlq/{group}/resend", post(dlq::resend))
        .route("/groups/{group}/move", post(groups::backlog_move))
        .route("/throttles", get(throttles::page).post(throttles::set))
        .route("/throttles/clear", post(throttles::clear))
}

/// Controls of a group's page built on the dead-letter API.
pub fn extra_group_controls(group: &str, topics: &[String]) -> Markup {
    html! {
        details.form {
            summary { "Move the backlog to a temporary topic" }
            form #backlog-move method="post" action={"/groups/" (layout::encode(group)) "/move"}
                data-confirm={"Copy the unconsumed messages of " (group) " to the temporary topic and move the group past them?"} {
                label { "topic "
                    select name="topic" required {
                        @for t in topics { option value=(t) { (t) } }
                    }
                }
                label { "to topic " input type="text" name="to" required placeholder="e.g. Orders_BACKLOG"; }
                button.danger type="submit" { "move backlog" }
            }
            a href={"/dlq/" (layout::encode(group))} { "dead letters of " (group) }
        }
    }
}
