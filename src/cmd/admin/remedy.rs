//! `ringmq admin dlq …` and `ringmq admin backlog …`: the backlog remedies
//! of `ringmq_client::admin::remedy` (dead letters back to their topic, a
//! backlog moved to a temporary topic), as reports.

use ringmq_client::admin::Admin;
use ringmq_client::admin::remedy::{MoveOptions, Resend};

use super::render::{Report, Table};

/// Body characters shown per dead letter in a table.
const BODY_PREVIEW_CHARS: usize = 40;

#[derive(clap::Subcommand, Debug)]
pub enum DlqVerb {
    /// The group's dead letters, oldest first.
    List {
        group: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Sends dead letters back to their original topic (idempotent: a
    /// re-run sends nothing already resent).
    Resend {
        group: String,
        /// Only this one (message id, offset message id or ORIGIN_MESSAGE_ID).
        #[arg(long, group = "which", required = true)]
        id: Option<String>,
        /// Every one not resent yet.
        #[arg(long, group = "which", required = true)]
        all: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum BacklogVerb {
    /// Copies a group's unconsumed backlog on a topic to a temporary topic,
    /// then moves the group's offsets past it (re-runnable).
    Move {
        #[arg(long)]
        group: String,
        #[arg(long)]
        topic: String,
        /// The temporary topic (created if missing).
        #[arg(long)]
        to: String,
        /// Queues per broker when the temporary topic is created (default:
        /// the topic's).
        #[arg(long)]
        queues: Option<i32>,
        /// Stop after copying this many, offsets unmoved (tests an interruption).
        #[arg(long, hide = true)]
        max_copy: Option<u64>,
    },
}

pub async fn dlq(admin: &Admin, verb: DlqVerb) -> anyhow::Result<Report> {
    match verb {
        DlqVerb::List { group, limit } => {
            let letters = admin.dlq_list(&group, limit).await?;
            let mut table = Table::new(&[
                "BROKER", "QUEUE", "OFFSET", "MSG ID", "TOPIC", "TAGS", "KEYS", "TIMES", "RESENT",
                "BODY",
            ]);
            for d in &letters {
                table.row(vec![
                    d.broker.clone(),
                    d.queue_id.to_string(),
                    d.offset.to_string(),
                    d.msg_id.clone(),
                    d.original_topic.clone(),
                    d.tags.clone().unwrap_or_default(),
                    d.keys.clone().unwrap_or_default(),
                    d.reconsume_times.to_string(),
                    d.resent.to_string(),
                    String::from_utf8_lossy(&d.body)
                        .chars()
                        .take(BODY_PREVIEW_CHARS)
                        .collect(),
                ]);
            }
            table.footer(format!("{} dead letter(s)", letters.len()));
            let views: Vec<serde_json::Value> = letters
                .iter()
                .map(|d| {
                    let mut v = serde_json::to_value(d).unwrap_or_default();
                    v["body"] = String::from_utf8_lossy(&d.body).into_owned().into();
                    v
                })
                .collect();
            Ok(Report {
                json: serde_json::json!({"group": group, "dead_letters": views}),
                table,
            })
        }
        DlqVerb::Resend { group, id, all } => {
            let which = match (id, all) {
                (Some(id), false) => Resend::Id(id),
                (None, true) => Resend::All,
                _ => anyhow::bail!("give exactly one of --id, --all"),
            };
            let report = admin.dlq_resend(&group, &which).await?;
            let mut table = Table::new(&["RESENT", "ALREADY RESENT", "FAILED"]);
            table.row(vec![
                report.resent.to_string(),
                report.skipped_already_resent.to_string(),
                report.failed.len().to_string(),
            ]);
            for f in &report.failed {
                table.footer(format!("failed: {f}"));
            }
            Ok(Report::new(&report, table))
        }
    }
}

pub async fn backlog(admin: &Admin, verb: BacklogVerb) -> anyhow::Result<Report> {
    let BacklogVerb::Move {
        group,
        topic,
        to,
        queues,
        max_copy,
    } = verb;
    let report = admin
        .backlog_move_with(&MoveOptions {
            group,
            topic,
            to,
            temp_queues: queues,
            max_copy,
        })
        .await?;
    let mut table = Table::new(&[
        "BROKER",
        "QUEUE",
        "TEMP QUEUE",
        "FROM",
        "TO",
        "COPIED",
        "ALREADY COPIED",
    ]);
    for q in &report.queues {
        table.row(vec![
            q.broker.clone(),
            q.queue_id.to_string(),
            q.temp_queue_id.to_string(),
            q.from.to_string(),
            q.to.to_string(),
            q.copied.to_string(),
            q.already_copied.to_string(),
        ]);
    }
    table.footer(format!(
        "copied {}, already copied {}, {}",
        report.copied,
        report.already_copied,
        if report.complete {
            format!("offsets moved ({})", report.applied_by)
        } else {
            "incomplete: offsets not moved, run again".to_owned()
        }
    ));
    Ok(Report::new(&report, table))
}
