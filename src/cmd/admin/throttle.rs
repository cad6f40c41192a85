//! `ringmq admin throttle set|list|clear`: producer rate limits on every
//! master broker (see `ringmq_client::admin::throttle`).

use ringmq_client::admin::{Admin, ThrottleRule};
use serde_json::json;

use super::render::{Report, Table};

#[derive(clap::Subcommand, Debug)]
pub enum ThrottleVerb {
    /// Limits sends into a topic (or from one producer group into it).
    Set {
        #[arg(long)]
        topic: String,
        /// Only this producer group (default: every producer).
        #[arg(long)]
        producer_group: Option<String>,
        /// Messages per second; more are refused with SYSTEM_BUSY.
        #[arg(long)]
        rate: u32,
    },
    /// Every rule of every master, with the sends it refused.
    List,
    /// Removes rules (no flag: every rule).
    Clear {
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        producer_group: Option<String>,
    },
}

pub async fn run(admin: &Admin, verb: ThrottleVerb) -> anyhow::Result<Report> {
    match verb {
        ThrottleVerb::Set {
            topic,
            producer_group,
            rate,
        } => {
            let rule = ThrottleRule {
                topic,
                producer_group,
                rate,
            };
            admin.throttle_set(&rule).await?;
            let mut table = Table::new(&["TOPIC", "PRODUCER GROUP", "RATE"]);
            table.row(vec![
                rule.topic.clone(),
                rule.producer_group.clone().unwrap_or_else(|| "*".into()),
                rule.rate.to_string(),
            ]);
            table.footer("set on every master".into());
            Ok(Report::new(&json!({ "set": rule }), table))
        }
        ThrottleVerb::List => {
            let rules = admin.throttle_list().await?;
            let mut table = Table::new(&["BROKER", "TOPIC", "PRODUCER GROUP", "RATE", "REJECTED"]);
            for t in &rules {
                table.row(vec![
                    t.broker.clone(),
                    t.rule.topic.clone(),
                    t.rule.producer_group.clone().unwrap_or_else(|| "*".into()),
                    t.rule.rate.to_string(),
                    t.rejected.to_string(),
                ]);
            }
            Ok(Report::new(&json!({ "throttles": rules }), table))
        }
        ThrottleVerb::Clear {
            topic,
            producer_group,
        } => {
            let removed = admin
                .throttle_clear(topic.as_deref(), producer_group.as_deref())
                .await?;
            let mut table = Table::new(&["REMOVED"]);
            table.row(vec![removed.to_string()]);
            Ok(Report::new(&json!({ "removed": removed }), table))
        }
    }
}
