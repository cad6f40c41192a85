//! Golden tests: message records, batch bodies and property strings taken
//! from frames captured between a real RocketMQ client and broker
//! (`fixtures/wire`, see `fixtures/README.md`).
//!
//! The frame is split here with the minimal framing (length, header word,
//! JSON header, body) so that these tests depend only on the record codec.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::SocketAddr;

use ringmq_net::batch::decode_batch;
use ringmq_net::message_id::{decode_uniq_id, offset_msg_id};
use ringmq_net::properties::{self, KEYS, Properties, TAGS, UNIQ_KEY, WAIT};
use ringmq_net::record::{MessageRecord, RecordScan, RecordView, records, scan_record};

mod common;

fn fixture(name: &str) -> Vec<u8> {
    common::wire_fixture(name)
}

/// (JSON header, body) of one captured frame.
fn split_frame(frame: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let len = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4);
    let header_word = u32::from_be_bytes(frame[4..8].try_into().unwrap());
    assert_eq!(header_word >> 24, 0, "JSON serialize type");
    let header_len = (header_word & 0x00FF_FFFF) as usize;
    let header = serde_json::from_slice(&frame[8..8 + header_len]).unwrap();
    (header, frame[8 + header_len..].to_vec())
}

fn check_pull_body(name: &str) {
    let (header, body) = split_frame(&fixture(name));
    assert_eq!(header["code"], 0);
    assert_eq!(body.len(), 18322);
    let views: Vec<RecordView<'_>> = records(&body).map(|r| r.unwrap()).collect();
    assert_eq!(views.len(), 32);
    let store_host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    let mut position = 0;
    for (i, view) in views.iter().enumerate() {
        assert_eq!(view.topic(), "RingProduce1");
        assert_eq!(view.queue_id(), 1);
        assert_eq!(view.queue_offset(), i as i64);
        assert_eq!(view.body().len(), 256);
        assert_eq!(view.store_host(), store_host);
        view.verify_crc().unwrap();
        let props = Properties::parse(view.properties_raw());
        assert!(props.tags().is_some(), "record {i} has TAGS");
        assert!(props.get(KEYS).is_some(), "record {i} has KEYS");
        let uniq = props.uniq_key().unwrap();
        assert_eq!(uniq.len(), 32);
        decode_uniq_id(uniq).unwrap();
        assert_eq!(properties::find(view.properties_raw(), TAGS), props.tags());
        // Each record scans as valid and decodes the same way when owned.
        let record_bytes = &body[position..position + view.total_size()];
        assert_eq!(
            scan_record(record_bytes),
            RecordScan::Valid {
                len: view.total_size()
            }
        );
        let (record, consumed) = MessageRecord::decode(record_bytes).unwrap();
        assert_eq!(consumed, view.total_size());
        assert_eq!(record, view.to_record());
        // Re-encoding reproduces the captured bytes exactly.
        assert_eq!(record.to_vec().unwrap(), record_bytes);
        assert_eq!(
            offset_msg_id(view.store_host(), view.physical_offset()).len(),
            32
        );
        position += view.total_size();
    }
    assert_eq!(position, body.len());
}

#[test]
fn pull_response_body_holds_32_valid_records() {
    check_pull_body("consume-10-resp-code0.bin");
}

#[test]
fn lite_pull_response_body_holds_32_valid_records() {
    check_pull_body("pull-02-resp-code0.bin");
}

#[test]
fn batch_request_body_holds_20_messages() {
    let (header, body) = split_frame(&fixture("batch-01-req-code320.bin"));
    assert_eq!(header["code"], 320);
    let entries = decode_batch(&body).unwrap();
    assert_eq!(entries.len(), 20);
    let mut uniq_keys = std::collections::HashSet::new();
    for entry in &entries {
        let props = Properties::parse(&entry.properties);
        uniq_keys.insert(props.uniq_key().unwrap().to_owned());
        assert!(!entry.body.is_empty());
    }
    assert_eq!(uniq_keys.len(), 20, "every message has its own UNIQ_KEY");
    // The batch-level properties (V2 field `i`) carry a trailing separator.
    let batch_props = header["extFields"]["i"].as_str().unwrap();
    assert!(batch_props.ends_with('\u{2}'));
    let parsed = Properties::parse(batch_props);
    assert_eq!(parsed.get(WAIT), Some("true"));
    assert!(parsed.contains_key(UNIQ_KEY));
}

#[test]
fn send_message_properties_parse_with_the_standard_keys() {
    let (header, body) = split_frame(&fixture("produce-07-req-code10.bin"));
    assert_eq!(header["code"], 10);
    assert_eq!(body.len(), 256);
    let raw = header["extFields"]["properties"].as_str().unwrap();
    assert_eq!(raw.len(), 171);
    let props = Properties::parse(raw);
    for key in [
        "ringmq.warmup",
        WAIT,
        KEYS,
        "ringmq.seq",
        UNIQ_KEY,
        "ringmq.run",
        TAGS,
        "ringmq.size",
    ] {
        assert!(props.contains_key(key), "missing {key}");
    }
    assert_eq!(props.len(), 8);
    let uniq = decode_uniq_id(props.uniq_key().unwrap()).unwrap();
    assert_eq!(uniq.ip, "192.0.2.2".parse::<std::net::IpAddr>().unwrap());
}
