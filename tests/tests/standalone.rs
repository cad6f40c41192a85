//! `ringmq standalone` as a newcomer starts it: the first start takes little
//! disk (modest preallocated segments, not RocketMQ's 1 GiB ones), the banner
//! says where the data goes and how much disk it takes, and `--set` reaches
//! the running broker (here: flush mode, read back through
//! GET_BROKER_RUNTIME_INFO).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use ringmq_tests::binary::ringmq_bin;
use ringmq_tests::process::free_port;
use ringmq_tests::raw::SendRequest;
use ringmq_tests::{RawConnection, RemotingFrame, ServerProcess};

/// GET_BROKER_RUNTIME_INFO.
const GET_BROKER_RUNTIME_INFO: i32 = 28;
/// Timeout of one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// What the first start of a two-shard standalone may occupy on disk.
const FIRST_START_DISK_MAX: u64 = 512 * 1024 * 1024;
/// The segment size standalone picks for two shards.
const TWO_SHARD_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes allocated on disk under `dir` (blocks, not apparent sizes).
fn allocated_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            allocated_bytes(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

#[test]
fn a_first_standalone_start_is_light_and_takes_broker_settings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker_port = free_port().unwrap();
    let args = [
        "standalone",
        "--data-dir",
        data.to_str().unwrap(),
        "--namesrv-port",
        &free_port().unwrap().to_string(),
        "--broker-port",
        &broker_port.to_string(),
        "--shards",
        "2",
        "--set",
        "flush_mode=sync",
        // Tests run in parallel: no dashboard on the shared default port.
        "--no-dashboard",
    ]
    .map(String::from)
    .to_vec();
    let mut process = ServerProcess::start(
        "standalone",
        ringmq_bin().unwrap(),
        args,
        Vec::new(),
        broker_port,
        dir,
    )
    .unwrap();

    let mut conn = RawConnection::connect(&process.addr()).unwrap();
    let info = conn
        .call(
            RemotingFrame::request(GET_BROKER_RUNTIME_INFO, &[]),
            CALL_TIMEOUT,
        )
        .unwrap();
    let table: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(table["table"]["flushMode"], "SYNC_FLUSH", "{table}");
    let send = SendRequest {
        group: "standalone_pg",
        topic: "FirstStart",
        queue_id: 0,
        body: b"hello",
        tag: None,
        properties: &[],
    };
    conn.send_message(&send, CALL_TIMEOUT).unwrap();
    process.terminate().unwrap();

    let mut segments = 0;
    for shard in 0..2 {
        let commitlog = data.join(format!("broker/shard-{shard}/commitlog"));
        for entry in std::fs::read_dir(&commitlog).unwrap() {
            let len = entry.unwrap().metadata().unwrap().len();
            assert_eq!(len, TWO_SHARD_SEGMENT_BYTES, "a segment in {commitlog:?}");
            segments += 1;
        }
    }
    assert!(segments >= 2, "every shard has its active segment");
    let used = allocated_bytes(&data);
    assert!(
        used <= FIRST_START_DISK_MAX,
        "first start took {} MiB",
        used >> 20
    );

    let banner = std::fs::read_to_string(process.dir().join("stdout.log")).unwrap();
    for expected in [
        format!("data:       {}", data.display()),
        "segments:   64 MiB commit-log segments, 2 preallocated per shard x 2 shard(s) = 256 MiB up front".to_owned(),
        "retention:".to_owned(),
        "flush:      sync".to_owned(),
    ] {
        assert!(banner.contains(&expected), "{expected:?} missing from:\n{banner}");
    }
}
