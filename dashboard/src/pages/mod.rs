//! The pages, one module each, every one built from `Admin` calls only.

pub mod groups;
pub mod layout;
pub mod messages;
pub mod overview;
pub mod topics;

use std::collections::BTreeSet;

use axum::Router;
use maud::{Markup, html};

use crate::state::AppState;

/// Routes of the pages built on the throttle and dead-letter APIs.
pub fn extra_routes(routes: Router<AppState>) -> Router<AppState> {
    routes
}

/// Controls of a group's page built on the dead-letter API.
pub fn extra_group_controls(_group: &str, _topics: &BTreeSet<String>) -> Markup {
    html! {}
}
