//! `--log-format json` makes a real broker write its log lines as JSON
//! objects (one per line, with level and fields), while `RUST_LOG` still
//! filters them.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::Cluster;

#[test]
fn a_broker_started_with_log_format_json_writes_json_lines() {
    let cluster = Cluster::start_with(1, |o| {
        o.extra_args = vec!["--log-format".into(), "json".into()];
    })
    .expect("cluster starts");
    let log = std::fs::read_to_string(cluster.brokers[0].process.dir().join("stderr.log")).unwrap();
    // The harness marks each start with a `=====` banner line of its own.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("====="))
        .collect();
    assert!(!lines.is_empty(), "the broker logged at start");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"].is_object(), "{line}");
    }
}
