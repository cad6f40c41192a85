//! ringmq's web dashboard, served from the one `ringmq` binary (`ringmq
//! dashboard`, and `ringmq standalone` on 127.0.0.1:8080).
//!
//! Every page is built from `ringmq_client::admin::Admin` calls only, the
//! same API `ringmq admin` uses; there is no second way to the cluster. The
//! server is axum (hyper underneath), pages are maud templates, charts are
//! SVG drawn by `plotters` from bounded in-memory history
//! ([`history`]), and the stylesheet and script are embedded in the binary.
//! Each page's data part refreshes in place (the script fetches the page
//! again with an `X-Live` header and swaps the part in); destructive
//! actions ask for confirmation; a failed action shows the broker's remark.
//!
//! Addresses: `/`, `/topics`, `/topics/{topic}`, `/groups`,
//! `/groups/{group}`, `/messages?topic=…&key=…` (or `id=`, or `queue=` and
//! `offset=`, or `begin=`/`end=`), `/messages/{id}`, `/dlq/{group}`,
//! `/throttles`.

pub mod auth;
pub mod chart;
pub mod history;
mod pages;
pub mod server;
pub mod state;

pub use auth::BasicCredentials;
pub use server::{DashboardConfig, DashboardThread, LISTEN_DEFAULT, ServeError, router, serve};
