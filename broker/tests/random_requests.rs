//! No network input panics the broker: every known request code is sent
//! with random header values and random bodies, and every request is still
//! answered (one way or another) on the same connection, after which a
//! normal send and pull still work.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;

/// Requests sent per code.
const ROUNDS_PER_CODE: usize = 6;

/// Header names the broker reads, so random values reach the processors.
const KEYS: &[&str] = &[
    "topic",
    "queueId",
    "consumerGroup",
    "queueOffset",
    "maxMsgNums",
    "sysFlag",
    "commitOffset",
    "suspendTimeoutMillis",
    "subscription",
    "subVersion",
    "expressionType",
    "maxMsgBytes",
    "producerGroup",
    "defaultTopic",
    "defaultTopicQueueNums",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "batch",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "m",
    "offset",
    "group",
    "delayLevel",
    "timestamp",
    "key",
    "maxNum",
    "beginTimestamp",
    "endTimestamp",
    "clientID",
    "readQueueNums",
    "writeQueueNums",
    "perm",
    "topicFilterType",
    "order",
    "groupName",
    "commitLogOffset",
    "commitOrRollback",
    "tranStateTableOffset",
    "msgId",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn value(&mut self) -> String {
        match self.next() % 8 {
            0 => String::new(),
            1 => "-1".into(),
            2 => (self.next() % 8).to_string(),
            3 => i64::MAX.to_string(),
            4 => "RandomTopic".into(),
            5 => "%RETRY%g".into(),
            6 => "TAGS\u{1}a\u{2}\u{2}\u{1}\u{1}x".into(),
            _ => (0..self.next() % 40)
                .map(|_| char::from(32 + (self.next() % 95) as u8))
                .collect(),
        }
    }

    fn body(&mut self) -> Bytes {
        match self.next() % 4 {
            0 => Bytes::new(),
            1 => Bytes::from_static(
                br#"{"clientID":"c","consumerDataSet":[{"groupName":"g"}],"mqSet":[{}]}"#,
            ),
            2 => Bytes::from_static(b"{not json"),
            _ => (0..self.next() % 300).map(|_| self.next() as u8).collect(),
        }
    }
}

#[test]
fn random_requests_are_all_answered_and_the_broker_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut codes: Vec<i32> = request::ALL.to_vec();
    codes.push(9999);
    for &code in &codes {
        for _ in 0..ROUNDS_PER_CODE {
            let mut command = RemotingCommand::request(code).with_body(rng.body());
            for _ in 0..rng.next() % 12 {
                let key = KEYS[(rng.next() % KEYS.len() as u64) as usize];
                let value = rng.value();
                command.ext_fields.insert(key.to_owned(), value);
            }
            // long polls would only slow the test down
            command.ext_fields.remove("suspendTimeoutMillis");
            let reply = client.call(command);
            assert!(reply.is_response(), "code {code}");
        }
    }
    let reply = client.call(send_v2("StillAlive", 0, b"ok", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);
    let reply = client.call(pull("g", "StillAlive", 0, 0, 32, None, "*"));
    assert_eq!(reply.code, response::SUCCESS);
    broker.shutdown();
}
