//! Golden tests against the 54 frames captured from a real RocketMQ client
//! and broker (`fixtures/wire`, described in `fixtures/README.md`): every frame
//! decodes to the values the README lists, and re-encoding it gives a frame
//! our decoder reads back as an equal command. Bodies are only measured here.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use ringmq_net::code::{LanguageCode, request};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;

/// The `version` ordinal the capturing client (`rocketmq-client-rust`) sends.
const CLIENT_VERSION: i32 = 474;

/// What the README says an extFields value is.
enum Expect {
    /// Exactly this string.
    Eq(&'static str),
    /// A property string (0x01 between name and value, 0x02 between pairs)
    /// of this many characters holding exactly these names.
    Props {
        chars: usize,
        names: &'static [&'static str],
    },
    /// This many comma-separated message ids.
    Ids(usize),
}

use Expect::{Eq, Ids, Props};

/// One row of the README's index table.
struct Fixture {
    file: &'static str,
    bytes: usize,
    code: i32,
    /// Sent by the client (so language RUST, version 474).
    client: bool,
    opaque: i32,
    flag: i32,
    body: usize,
    fields: &'static [(&'static str, Expect)],
    /// The README's remark (a prefix: long remarks are cut there).
    remark: Option<&'static str>,
}

mod common;

fn read_frame(file: &str) -> Bytes {
    Bytes::from(common::wire_fixture(file))
}

fn check_field(fixture: &Fixture, command: &RemotingCommand, key: &str, expect: &Expect) {
    let file = fixture.file;
    let value = command
        .ext_fields
        .get(key)
        .unwrap_or_else(|| panic!("{file}: extField {key} missing"));
    match expect {
        Eq(expected) => assert_eq!(value, expected, "{file}: extField {key}"),
        Props { chars, names } => {
            assert_eq!(value.chars().count(), *chars, "{file}: {key} length");
            let found: BTreeSet<&str> = value
                .split('\u{2}')
                .filter(|pair| !pair.is_empty()) // this client ends with 0x02
                .map(|pair| pair.split('\u{1}').next().unwrap())
                .collect();
            let expected: BTreeSet<&str> = names.iter().copied().collect();
            assert_eq!(found, expected, "{file}: {key} property names");
        }
        Ids(count) => assert_eq!(value.split(',').count(), *count, "{file}: {key} ids"),
    }
}

fn check_fixture(fixture: &Fixture, frame: &Bytes) {
    let file = fixture.file;
    assert_eq!(frame.len(), fixture.bytes, "{file}: size");
    let command =
        RemotingCommand::decode_frame(frame.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(command.code, fixture.code, "{file}: code");
    assert_eq!(command.opaque, fixture.opaque, "{file}: opaque");
    assert_eq!(command.flag, fixture.flag, "{file}: flag");
    assert_eq!(command.body.len(), fixture.body, "{file}: body length");
    if fixture.client {
        assert_eq!(command.language, LanguageCode::Rust, "{file}: language");
        assert_eq!(command.version, CLIENT_VERSION, "{file}: version");
    }
    for (key, expect) in fixture.fields {
        check_field(fixture, &command, key, expect);
    }
    match fixture.remark {
        Some(prefix) => {
            let remark = command.remark.as_deref().unwrap_or_default();
            assert!(remark.starts_with(prefix), "{file}: remark {remark:?}");
        }
        // Requests carry no remark text (END_TRANSACTION sends an empty one).
        None if fixture.flag & 1 == 0 => {
            assert_eq!(
                command.remark.as_deref().unwrap_or_default(),
                "",
                "{file}: remark"
            );
        }
        None => {}
    }
    if command.code == request::HEART_BEAT && !command.is_response() {
        assert!(command.ext_fields.is_empty(), "{file}: heartbeat extFields");
    }
}

/// Encodes `command` and reads it back through the stream decoder.
fn re_encode(command: &RemotingCommand) -> RemotingCommand {
    let mut buf = BytesMut::new();
    command.encode(&mut buf).unwrap();
    let decoded = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    decoded
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(common::wire_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".bin"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.file.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert_eq!(listed.len(), 54);
}

#[test]
fn every_fixture_decodes_to_the_readme_values() {
    for fixture in FIXTURES {
        check_fixture(fixture, &read_frame(fixture.file));
    }
}

#[test]
fn every_fixture_survives_re_encoding() {
    for fixture in FIXTURES {
        let frame = read_frame(fixture.file);
        let command = RemotingCommand::decode_frame(frame).unwrap();
        assert_eq!(re_encode(&command), command, "{}", fixture.file);
    }
}

#[test]
fn all_fixtures_decode_from_one_stream_split_anywhere() {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for fixture in FIXTURES {
        let frame = read_frame(fixture.file);
        expected.push(RemotingCommand::decode_frame(frame.clone()).unwrap());
        stream.extend_from_slice(&frame);
    }
    // A chunk size that is coprime to most frame sizes splits frames everywhere.
    const CHUNK_BYTES: usize = 977;
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();
    for chunk in stream.chunks(CHUNK_BYTES) {
        buf.extend_from_slice(chunk);
        while let Some(command) = decoder.decode(&mut buf).unwrap() {
            decoded.push(command);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(decoded, expected);
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "peerstart-01-req-code103.bin",
        bytes: 3552,
        code: 103,
        client: false,
        opaque: 0,
        flag: 0,
        body: 3205,
        fields: &[
            ("brokerAddr", Eq("127.0.0.1:10911")),
            ("brokerId", Eq("0")),
            ("brokerName", Eq("peer-broker-a")),
            ("clusterName", Eq("DefaultCluster")),
            ("compressed", Eq("false")),
            ("enableActingMaster", Eq("false")),
            ("haServerAddr", Eq("127.0.0.1:10912")),
        ],
        remark: None,
    },
    Fixture {
        file: "peerstart-02-resp-code0.bin",
        bytes: 165,
        code: 0,
        client: false,
        opaque: 0,
        flag: 1,
        body: 0,
        fields: &[("haServerAddr", Eq("")), ("masterAddr", Eq(""))],
        remark: None,
    },
    Fixture {
        file: "produce-01-req-code105.bin",
        bytes: 156,
        code: 105,
        client: true,
        opaque: 0,
        flag: 0,
        body: 0,
        fields: &[("topic", Eq("RingProduce1"))],
        remark: None,
    },
    Fixture {
        file: "produce-02-resp-code17.bin",
        bytes: 273,
        code: 17,
        client: false,
        opaque: 0,
        flag: 1,
        body: 0,
        fields: &[],
        remark: Some("No topic route info in name server for the topic: "),
    },
    Fixture {
        file: "produce-03-req-code105.bin",
        bytes: 156,
        code: 105,
        client: true,
        opaque: 6,
        flag: 0,
        body: 0,
        fields: &[("topic", Eq("RingProduce1"))],
        remark: None,
    },
    Fixture {
        file: "produce-04-resp-code0.bin",
        bytes: 473,
        code: 0,
        client: false,
        opaque: 6,
        flag: 1,
        body: 339,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "produce-05-req-code34.bin",
        bytes: 341,
        code: 34,
        client: true,
        opaque: 3,
        flag: 0,
        body: 208,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "produce-06-resp-code0.bin",
        bytes: 188,
        code: 0,
        client: false,
        opaque: 3,
        flag: 1,
        body: 0,
        fields: &[
            ("IS_SUB_CHANGE", Eq("true")),
            ("IS_SUPPORT_HEART_BEAT_V2", Eq("true")),
        ],
        remark: None,
    },
    Fixture {
        file: "produce-07-req-code10.bin",
        bytes: 925,
        code: 10,
        client: true,
        opaque: 2,
        flag: 0,
        body: 256,
        fields: &[
            ("batch", Eq("false")),
            ("bname", Eq("peer-broker-a")),
            ("bornTimestamp", Eq("1795476086702")),
            ("defaultTopic", Eq("TBW102")),
            ("defaultTopicQueueNums", Eq("4")),
            ("flag", Eq("0")),
            ("producerGroup", Eq("ringmq_pg_r24aaa20ab6dfa3")),
            ("queueId", Eq("3")),
            ("reconsumeTimes", Eq("0")),
            ("sysFlag", Eq("0")),
            ("topic", Eq("RingProduce1")),
            ("unitMode", Eq("false")),
            (
                "properties",
                Props {
                    chars: 171,
                    names: &[
                        "ringmq.warmup",
                        "WAIT",
                        "KEYS",
                        "ringmq.seq",
                        "UNIQ_KEY",
                        "ringmq.run",
                        "TAGS",
                        "ringmq.size",
                    ],
                },
            ),
        ],
        remark: None,
    },
    Fixture {
        file: "produce-08-resp-code0.bin",
        bytes: 304,
        code: 0,
        client: false,
        opaque: 2,
        flag: 1,
        body: 0,
        fields: &[
            ("MSG_REGION", Eq("DefaultRegion")),
            ("TRACE_ON", Eq("true")),
            ("queueId", Eq("3")),
            ("queueOffset", Eq("0")),
            ("transactionId", Eq("C000020224ABAC4C820C764EF7AE0000")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "produce-09-req-code35.bin",
        bytes: 221,
        code: 35,
        client: true,
        opaque: 1032,
        flag: 0,
        body: 0,
        fields: &[
            ("clientID", Eq("192.0.2.2@r24aaa20ab6dfa3-p0")),
            ("producerGroup", Eq("ringmq_pg_r24aaa20ab6dfa3")),
        ],
        remark: None,
    },
    Fixture {
        file: "produce-10-resp-code0.bin",
        bytes: 137,
        code: 0,
        client: false,
        opaque: 1032,
        flag: 1,
        body: 0,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "consume-01-req-code34.bin",
        bytes: 773,
        code: 34,
        client: true,
        opaque: 2,
        flag: 0,
        body: 640,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "consume-02-resp-code0.bin",
        bytes: 188,
        code: 0,
        client: false,
        opaque: 2,
        flag: 1,
        body: 0,
        fields: &[
            ("IS_SUB_CHANGE", Eq("true")),
            ("IS_SUPPORT_HEART_BEAT_V2", Eq("true")),
        ],
        remark: None,
    },
    Fixture {
        file: "consume-03-req-code38.bin",
        bytes: 179,
        code: 38,
        client: true,
        opaque: 5,
        flag: 0,
        body: 0,
        fields: &[("consumerGroup", Eq("ringmq_cg_RingProduce1_91567"))],
        remark: None,
    },
    Fixture {
        file: "consume-04-resp-code0.bin",
        bytes: 184,
        code: 0,
        client: false,
        opaque: 5,
        flag: 1,
        body: 50,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "consume-05-req-code14.bin",
        bytes: 263,
        code: 14,
        client: true,
        opaque: 7,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("consumerGroup", Eq("ringmq_cg_RingProduce1_91567")),
            ("queueId", Eq("0")),
            ("topic", Eq("%RETRY%ringmq_cg_RingProduce1_91567")),
        ],
        remark: None,
    },
    Fixture {
        file: "consume-06-resp-code22.bin",
        bytes: 194,
        code: 22,
        client: false,
        opaque: 7,
        flag: 1,
        body: 0,
        fields: &[],
        remark: Some("Not found, V3_0_6_SNAPSHOT maybe this group consum"),
    },
    Fixture {
        file: "consume-07-req-code14.bin",
        bytes: 241,
        code: 14,
        client: true,
        opaque: 10,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("consumerGroup", Eq("ringmq_cg_RingProduce1_91567")),
            ("queueId", Eq("1")),
            ("topic", Eq("RingProduce1")),
        ],
        remark: None,
    },
    Fixture {
        file: "consume-08-resp-code0.bin",
        bytes: 145,
        code: 0,
        client: false,
        opaque: 10,
        flag: 1,
        body: 0,
        fields: &[("offset", Eq("0"))],
        remark: None,
    },
    Fixture {
        file: "consume-09-req-code11.bin",
        bytes: 434,
        code: 11,
        client: true,
        opaque: 16,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitOffset", Eq("0")),
            ("consumerGroup", Eq("ringmq_cg_RingProduce1_91567")),
            ("expressionType", Eq("TAG")),
            ("maxMsgBytes", Eq("262144")),
            ("maxMsgNums", Eq("32")),
            ("queueId", Eq("1")),
            ("queueOffset", Eq("0")),
            ("subVersion", Eq("1795476092583")),
            ("subscription", Eq("")),
            ("suspendTimeoutMillis", Eq("15000")),
            ("sysFlag", Eq("2")),
            ("topic", Eq("RingProduce1")),
        ],
        remark: None,
    },
    Fixture {
        file: "consume-10-resp-code0.bin",
        bytes: 18585,
        code: 0,
        client: false,
        opaque: 16,
        flag: 1,
        body: 18322,
        fields: &[
            ("suggestWhichBrokerId", Eq("0")),
            ("nextBeginOffset", Eq("32")),
            ("minOffset", Eq("0")),
            ("maxOffset", Eq("253")),
            ("topicSysFlag", Eq("0")),
            ("groupSysFlag", Eq("0")),
        ],
        remark: Some("Some(Found)"),
    },
    Fixture {
        file: "consume-11-req-code15.bin",
        bytes: 262,
        code: 15,
        client: true,
        opaque: 90,
        flag: 2,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitOffset", Eq("253")),
            ("consumerGroup", Eq("ringmq_cg_RingProduce1_91567")),
            ("queueId", Eq("1")),
            ("topic", Eq("RingProduce1")),
        ],
        remark: None,
    },
    Fixture {
        file: "consume-12-req-code217.bin",
        bytes: 383,
        code: 217,
        client: false,
        opaque: 1033,
        flag: 0,
        body: 201,
        fields: &[("topic", Eq("%RETRY%ringmq_cg_RingProduce1_91567"))],
        remark: None,
    },
    Fixture {
        file: "consume-13-resp-code0.bin",
        bytes: 137,
        code: 0,
        client: false,
        opaque: 1033,
        flag: 1,
        body: 0,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "broadcast-01-req-code34.bin",
        bytes: 624,
        code: 34,
        client: true,
        opaque: 108,
        flag: 0,
        body: 489,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "broadcast-02-resp-code0.bin",
        bytes: 190,
        code: 0,
        client: false,
        opaque: 108,
        flag: 1,
        body: 0,
        fields: &[
            ("IS_SUB_CHANGE", Eq("true")),
            ("IS_SUPPORT_HEART_BEAT_V2", Eq("true")),
        ],
        remark: None,
    },
    Fixture {
        file: "pull-01-req-code361.bin",
        bytes: 429,
        code: 361,
        client: true,
        opaque: 9,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitOffset", Eq("0")),
            ("consumerGroup", Eq("ringmq_lp_RingProduce1_197652")),
            ("expressionType", Eq("TAG")),
            ("maxMsgBytes", Eq("2147483647")),
            ("maxMsgNums", Eq("32")),
            ("queueId", Eq("1")),
            ("queueOffset", Eq("0")),
            ("subVersion", Eq("0")),
            ("subscription", Eq("*")),
            ("suspendTimeoutMillis", Eq("20000")),
            ("sysFlag", Eq("22")),
            ("topic", Eq("RingProduce1")),
        ],
        remark: None,
    },
    Fixture {
        file: "pull-02-resp-code0.bin",
        bytes: 18584,
        code: 0,
        client: false,
        opaque: 9,
        flag: 1,
        body: 18322,
        fields: &[
            ("suggestWhichBrokerId", Eq("0")),
            ("nextBeginOffset", Eq("32")),
            ("minOffset", Eq("0")),
            ("maxOffset", Eq("253")),
            ("topicSysFlag", Eq("0")),
            ("groupSysFlag", Eq("0")),
        ],
        remark: Some("Some(Found)"),
    },
    Fixture {
        file: "pull-03-req-code361.bin",
        bytes: 432,
        code: 361,
        client: true,
        opaque: 38,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitOffset", Eq("0")),
            ("consumerGroup", Eq("ringmq_lp_RingProduce1_197652")),
            ("expressionType", Eq("TAG")),
            ("maxMsgBytes", Eq("2147483647")),
            ("maxMsgNums", Eq("32")),
            ("queueId", Eq("1")),
            ("queueOffset", Eq("253")),
            ("subVersion", Eq("0")),
            ("subscription", Eq("*")),
            ("suspendTimeoutMillis", Eq("20000")),
            ("sysFlag", Eq("22")),
            ("topic", Eq("RingProduce1")),
        ],
        remark: None,
    },
    Fixture {
        file: "pull-04-resp-code19.bin",
        bytes: 277,
        code: 19,
        client: false,
        opaque: 38,
        flag: 1,
        body: 0,
        fields: &[
            ("suggestWhichBrokerId", Eq("0")),
            ("nextBeginOffset", Eq("253")),
            ("minOffset", Eq("0")),
            ("maxOffset", Eq("253")),
            ("topicSysFlag", Eq("0")),
            ("groupSysFlag", Eq("0")),
        ],
        remark: Some("Some(OffsetOverflowOne)"),
    },
    Fixture {
        file: "producev2-01-req-code310.bin",
        bytes: 838,
        code: 310,
        client: true,
        opaque: 2,
        flag: 0,
        body: 256,
        fields: &[
            ("a", Eq("ringmq_pg_r34e8a20ac7e3ff")),
            ("b", Eq("RingProduceV2")),
            ("bname", Eq("peer-broker-a")),
            ("c", Eq("TBW102")),
            ("d", Eq("4")),
            ("e", Eq("3")),
            ("f", Eq("0")),
            ("g", Eq("1795477201926")),
            ("h", Eq("0")),
            ("j", Eq("0")),
            ("k", Eq("false")),
            ("m", Eq("false")),
            ("n", Eq("peer-broker-a")),
            (
                "i",
                Props {
                    chars: 169,
                    names: &[
                        "ringmq.run",
                        "ringmq.seq",
                        "UNIQ_KEY",
                        "ringmq.warmup",
                        "TAGS",
                        "KEYS",
                        "ringmq.size",
                        "WAIT",
                    ],
                },
            ),
        ],
        remark: None,
    },
    Fixture {
        file: "producev2-02-resp-code0.bin",
        bytes: 304,
        code: 0,
        client: false,
        opaque: 2,
        flag: 1,
        body: 0,
        fields: &[
            ("MSG_REGION", Eq("DefaultRegion")),
            ("TRACE_ON", Eq("true")),
            ("queueId", Eq("3")),
            ("queueOffset", Eq("0")),
            ("transactionId", Eq("C000020234E9AC4C820C765FFC060000")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "batch-01-req-code320.bin",
        bytes: 6411,
        code: 320,
        client: true,
        opaque: 2,
        flag: 0,
        body: 6010,
        fields: &[
            ("a", Eq("ringmq_pg_r258aa20ab8eeb9")),
            ("b", Eq("RingBatch1")),
            ("bname", Eq("peer-broker-a")),
            ("c", Eq("TBW102")),
            ("d", Eq("4")),
            ("e", Eq("0")),
            ("f", Eq("0")),
            ("g", Eq("1795476221630")),
            ("h", Eq("0")),
            ("j", Eq("0")),
            ("k", Eq("false")),
            ("m", Eq("true")),
            ("n", Eq("peer-broker-a")),
            (
                "i",
                Props {
                    chars: 52,
                    names: &["UNIQ_KEY", "WAIT"],
                },
            ),
        ],
        remark: None,
    },
    Fixture {
        file: "batch-02-resp-code0.bin",
        bytes: 931,
        code: 0,
        client: false,
        opaque: 2,
        flag: 1,
        body: 0,
        fields: &[
            ("MSG_REGION", Eq("DefaultRegion")),
            ("TRACE_ON", Eq("true")),
            ("queueId", Eq("0")),
            ("queueOffset", Eq("0")),
            ("transactionId", Eq("C0000202258BAC4C820C765106BD0014")),
            ("msgId", Ids(20)),
        ],
        remark: None,
    },
    Fixture {
        file: "ordered-01-req-code34.bin",
        bytes: 772,
        code: 34,
        client: true,
        opaque: 509,
        flag: 0,
        body: 637,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "ordered-02-resp-code0.bin",
        bytes: 190,
        code: 0,
        client: false,
        opaque: 509,
        flag: 1,
        body: 0,
        fields: &[
            ("IS_SUB_CHANGE", Eq("true")),
            ("IS_SUPPORT_HEART_BEAT_V2", Eq("true")),
        ],
        remark: None,
    },
    Fixture {
        file: "ordered-03-req-code41.bin",
        bytes: 321,
        code: 41,
        client: true,
        opaque: 514,
        flag: 0,
        body: 186,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "ordered-04-resp-code0.bin",
        bytes: 217,
        code: 0,
        client: false,
        opaque: 514,
        flag: 1,
        body: 81,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "ordered-05-req-code42.bin",
        bytes: 601,
        code: 42,
        client: true,
        opaque: 553,
        flag: 0,
        body: 466,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "ordered-06-resp-code0.bin",
        bytes: 136,
        code: 0,
        client: false,
        opaque: 553,
        flag: 1,
        body: 0,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "retry-01-req-code36.bin",
        bytes: 352,
        code: 36,
        client: true,
        opaque: 34,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("delayLevel", Eq("0")),
            ("group", Eq("ringmq_rc_RingRetry1_490827")),
            ("maxReconsumeTimes", Eq("2")),
            ("offset", Eq("251127405")),
            ("originMsgId", Eq("7F00000100002A9F000000000EF7E66D")),
            ("originTopic", Eq("RingRetry1")),
            ("unitMode", Eq("false")),
        ],
        remark: None,
    },
    Fixture {
        file: "retry-02-resp-code0.bin",
        bytes: 135,
        code: 0,
        client: false,
        opaque: 34,
        flag: 1,
        body: 0,
        fields: &[],
        remark: None,
    },
    Fixture {
        file: "retry-03-req-code30.bin",
        bytes: 235,
        code: 30,
        client: true,
        opaque: 100,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("committed", Eq("false")),
            ("queueId", Eq("0")),
            ("topic", Eq("%DLQ%ringmq_rc_RingRetry1_490827")),
        ],
        remark: None,
    },
    Fixture {
        file: "retry-04-resp-code0.bin",
        bytes: 146,
        code: 0,
        client: false,
        opaque: 100,
        flag: 1,
        body: 0,
        fields: &[("offset", Eq("2"))],
        remark: None,
    },
    Fixture {
        file: "retry-05-req-code11.bin",
        bytes: 431,
        code: 11,
        client: true,
        opaque: 30,
        flag: 0,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitOffset", Eq("0")),
            ("consumerGroup", Eq("ringmq_rc_RingRetry1_490827")),
            ("expressionType", Eq("TAG")),
            ("maxMsgBytes", Eq("262144")),
            ("maxMsgNums", Eq("32")),
            ("queueId", Eq("2")),
            ("queueOffset", Eq("1")),
            ("subVersion", Eq("1795476491881")),
            ("subscription", Eq("")),
            ("suspendTimeoutMillis", Eq("15000")),
            ("sysFlag", Eq("2")),
            ("topic", Eq("RingRetry1")),
        ],
        remark: None,
    },
    Fixture {
        file: "retry-06-resp-code19.bin",
        bytes: 273,
        code: 19,
        client: false,
        opaque: 30,
        flag: 1,
        body: 0,
        fields: &[
            ("suggestWhichBrokerId", Eq("0")),
            ("nextBeginOffset", Eq("1")),
            ("minOffset", Eq("0")),
            ("maxOffset", Eq("1")),
            ("topicSysFlag", Eq("0")),
            ("groupSysFlag", Eq("0")),
        ],
        remark: Some("Some(OffsetOverflowOne)"),
    },
    Fixture {
        file: "delay-01-req-code10.bin",
        bytes: 756,
        code: 10,
        client: true,
        opaque: 27,
        flag: 0,
        body: 64,
        fields: &[
            ("batch", Eq("false")),
            ("bname", Eq("peer-broker-a")),
            ("bornTimestamp", Eq("1795476306639")),
            ("defaultTopic", Eq("TBW102")),
            ("defaultTopicQueueNums", Eq("4")),
            ("flag", Eq("0")),
            ("producerGroup", Eq("ringmq_pg_r25f9a20aba32d8")),
            ("queueId", Eq("1")),
            ("reconsumeTimes", Eq("0")),
            ("sysFlag", Eq("0")),
            ("topic", Eq("RingDelay1")),
            ("unitMode", Eq("false")),
            (
                "properties",
                Props {
                    chars: 185,
                    names: &[
                        "ringmq.seq",
                        "DELAY",
                        "KEYS",
                        "ringmq.sent_ms",
                        "WAIT",
                        "UNIQ_KEY",
                        "ringmq.run",
                        "TAGS",
                        "ringmq.size",
                    ],
                },
            ),
        ],
        remark: None,
    },
    Fixture {
        file: "delay-02-resp-code0.bin",
        bytes: 305,
        code: 0,
        client: false,
        opaque: 27,
        flag: 1,
        body: 0,
        fields: &[
            ("MSG_REGION", Eq("DefaultRegion")),
            ("TRACE_ON", Eq("true")),
            ("queueId", Eq("1")),
            ("queueOffset", Eq("0")),
            ("transactionId", Eq("C000020225F8AC4C820C765252CF0001")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "txn-01-req-code10.bin",
        bytes: 795,
        code: 10,
        client: true,
        opaque: 2,
        flag: 0,
        body: 64,
        fields: &[
            ("batch", Eq("false")),
            ("bname", Eq("peer-broker-a")),
            ("bornTimestamp", Eq("1795476569541")),
            ("defaultTopic", Eq("TBW102")),
            ("defaultTopicQueueNums", Eq("4")),
            ("flag", Eq("0")),
            ("producerGroup", Eq("ringmq_txpg_r2b03a20abe3dbf")),
            ("queueId", Eq("3")),
            ("reconsumeTimes", Eq("0")),
            ("sysFlag", Eq("4")),
            ("topic", Eq("RingTxn1")),
            ("unitMode", Eq("false")),
            (
                "properties",
                Props {
                    chars: 215,
                    names: &[
                        "UNIQ_KEY",
                        "ringmq.seq",
                        "TRAN_MSG",
                        "ringmq.size",
                        "ringmq.txn",
                        "KEYS",
                        "ringmq.run",
                        "PGROUP",
                        "WAIT",
                        "TAGS",
                    ],
                },
            ),
        ],
        remark: None,
    },
    Fixture {
        file: "txn-02-resp-code0.bin",
        bytes: 304,
        code: 0,
        client: false,
        opaque: 2,
        flag: 1,
        body: 0,
        fields: &[
            ("MSG_REGION", Eq("DefaultRegion")),
            ("TRACE_ON", Eq("true")),
            ("queueId", Eq("3")),
            ("queueOffset", Eq("0")),
            ("transactionId", Eq("C00002022B02AC4C820C765655C50000")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "txn-03-req-code37.bin",
        bytes: 424,
        code: 37,
        client: true,
        opaque: 5,
        flag: 2,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitLogOffset", Eq("251141009")),
            ("commitOrRollback", Eq("8")),
            ("fromTransactionCheck", Eq("false")),
            ("producerGroup", Eq("ringmq_txpg_r2b03a20abe3dbf")),
            ("topic", Eq("RingTxn1")),
            ("tranStateTableOffset", Eq("0")),
            ("transactionId", Eq("C00002022B02AC4C820C765655C50000")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "txn-04-req-code37.bin",
        bytes: 425,
        code: 37,
        client: true,
        opaque: 7,
        flag: 2,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitLogOffset", Eq("251142024")),
            ("commitOrRollback", Eq("12")),
            ("fromTransactionCheck", Eq("false")),
            ("producerGroup", Eq("ringmq_txpg_r2b03a20abe3dbf")),
            ("topic", Eq("RingTxn1")),
            ("tranStateTableOffset", Eq("1")),
            ("transactionId", Eq("C00002022B02AC4C820C765655D00001")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
    Fixture {
        file: "txn-05-req-code37.bin",
        bytes: 424,
        code: 37,
        client: true,
        opaque: 9,
        flag: 2,
        body: 0,
        fields: &[
            ("bname", Eq("peer-broker-a")),
            ("commitLogOffset", Eq("251142564")),
            ("commitOrRollback", Eq("0")),
            ("fromTransactionCheck", Eq("false")),
            ("producerGroup", Eq("ringmq_txpg_r2b03a20abe3dbf")),
            ("topic", Eq("RingTxn1")),
            ("tranStateTableOffset", Eq("2")),
            ("transactionId", Eq("C00002022B02AC4C820C765655D10002")),
            ("msgId", Ids(1)),
        ],
        remark: None,
    },
];
