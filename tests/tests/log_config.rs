//! `log_level` / `log_format` in a config file: a broker whose `--config`
//! file says `log_format = "json"` logs JSON lines, `--log-format text`
//! on its command line wins over the file, and a broker's or nameserver's
//! file with a format that is neither text nor json is refused at start
//! with a message naming the key (so both read it), as is standalone's
//! `--set log_format=…` (standalone has no config file).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::Command;

use ringmq_tests::binary::ringmq_bin;
use ringmq_tests::{Cluster, unique_name};

fn config_file(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("ringmq-logcfg-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn log_lines(cluster: &Cluster) -> Vec<String> {
    let log = std::fs::read_to_string(cluster.brokers[0].process.dir().join("stderr.log")).unwrap();
    log.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("====="))
        .map(str::to_owned)
        .collect()
}

fn broker_with(args: Vec<String>) -> Cluster {
    Cluster::start_with(1, |o| o.extra_args = args.clone()).expect("cluster starts")
}

#[test]
fn a_config_file_sets_the_log_format_and_the_flag_wins() {
    let file = config_file("log_format = \"json\"\nlog_level = \"info\"\n");
    let path = file.display().to_string();

    let cluster = broker_with(vec!["--config".into(), path.clone()]);
    let lines = log_lines(&cluster);
    assert!(!lines.is_empty(), "the broker logged at start");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
    }
    drop(cluster);

    let cluster = broker_with(vec![
        "--config".into(),
        path,
        "--log-format".into(),
        "text".into(),
    ]);
    let lines = log_lines(&cluster);
    assert!(!lines.is_empty(), "the broker logged at start");
    for line in &lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_err(),
            "--log-format text wins over the file: {line}"
        );
    }
}

#[test]
fn a_bad_log_format_in_a_config_file_is_refused_by_broker_and_nameserver() {
    let file = config_file("log_format = \"yaml\"\n");
    for command in ["broker", "nameserver"] {
        let out = Command::new(ringmq_bin().unwrap())
            .env_remove("RINGMQ_LOG_FORMAT")
            .args([command, "--config"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{command} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("log_format \"yaml\" (config file or --set) is neither text nor json"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn standalone_takes_log_format_from_set() {
    let data = std::env::temp_dir().join(unique_name("ringmq-logcfg-sa-"));
    let out = Command::new(ringmq_bin().unwrap())
        .env_remove("RINGMQ_LOG_FORMAT")
        .args(["standalone", "--set", "log_format=yaml", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("log_format \"yaml\" (config file or --set) is neither text nor json"),
        "{stderr}"
    );
}
