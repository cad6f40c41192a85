//! Round trips and rejections of the commit-log message record codec
//! (`ringmq_net::record`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use proptest::prelude::*;
use ringmq_net::record::*;

fn sample_record() -> MessageRecord {
    MessageRecord {
        queue_id: 1,
        flag: 7,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: 0,
        born_timestamp: 1_795_476_086_702,
        born_host: "127.0.0.1:51290".parse().unwrap(),
        store_timestamp: 0,
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"hello ringmq"),
        topic: "RingProduce1".to_owned(),
        properties: "TAGS\u{1}TagA\u{2}KEYS\u{1}k1".to_owned(),
    }
}

fn arb_host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

prop_compose! {
    fn arb_record()(
        queue_id in any::<i32>(),
        flag in any::<i32>(),
        queue_offset in any::<i64>(),
        physical_offset in any::<i64>(),
        sys_flag in any::<i32>(),
        born_timestamp in any::<i64>(),
        born_host in arb_host(),
        store_timestamp in any::<i64>(),
        store_host in arb_host(),
        reconsume_times in any::<i32>(),
        prepared_transaction_offset in any::<i64>(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        topic in "[a-zA-Z0-9_%-]{0,127}",
        properties in "[a-zA-Z0-9\u{1}\u{2}é漢]{0,300}",
    ) -> MessageRecord {
        MessageRecord {
            queue_id, flag, queue_offset, physical_offset, sys_flag, born_timestamp,
            born_host, store_timestamp, store_host, reconsume_times,
            prepared_transaction_offset, body: Bytes::from(body), topic, properties,
        }
    }
}

proptest! {
    #[test]
    fn encoded_record_decodes_to_the_same_record(record in arb_record()) {
        let bytes = record.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), record.encoded_len());
        let (decoded, consumed) = MessageRecord::decode(&bytes).unwrap();
        prop_assert_eq!(consumed, bytes.len());
        let mut expected = record.clone();
        expected.sys_flag = sys_flag_for_hosts(record.sys_flag, record.born_host, record.store_host);
        prop_assert_eq!(decoded, expected);
        prop_assert_eq!(scan_record(&bytes), RecordScan::Valid { len: bytes.len() });
    }

    #[test]
    fn view_accessors_match_the_encoded_record(record in arb_record()) {
        let bytes = record.to_vec().unwrap();
        let view = RecordView::parse(&bytes).unwrap();
        prop_assert_eq!(view.total_size(), bytes.len());
        prop_assert_eq!(view.queue_id(), record.queue_id);
        prop_assert_eq!(view.queue_offset(), record.queue_offset);
        prop_assert_eq!(view.physical_offset(), record.physical_offset);
        prop_assert_eq!(view.store_timestamp(), record.store_timestamp);
        prop_assert_eq!(view.born_host(), record.born_host);
        prop_assert_eq!(view.store_host(), record.store_host);
        prop_assert_eq!(view.topic(), record.topic.as_str());
        prop_assert_eq!(view.properties_raw(), record.properties.as_str());
        prop_assert_eq!(view.body(), &record.body[..]);
        prop_assert_eq!(view.body_crc(), body_crc(&record.body));
        prop_assert_eq!(view.as_bytes(), &bytes[..]);
    }

    #[test]
    fn patching_stored_fields_changes_only_those_fields(
        record in arb_record(), q in any::<i64>(), p in any::<i64>(), t in any::<i64>(),
    ) {
        let mut bytes = record.to_vec().unwrap();
        patch_stored_fields(&mut bytes, q, p, t).unwrap();
        let (decoded, _) = MessageRecord::decode(&bytes).unwrap();
        let mut expected = record.clone();
        expected.sys_flag = sys_flag_for_hosts(record.sys_flag, record.born_host, record.store_host);
        expected.queue_offset = q;
        expected.physical_offset = p;
        expected.store_timestamp = t;
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = MessageRecord::decode(&bytes);
        let _ = scan_record(&bytes);
        for item in records(&bytes).take(1024) {
            let _ = item;
        }
        let mut copy = bytes.clone();
        let _ = patch_stored_fields(&mut copy, 1, 2, 3);
    }

    #[test]
    fn a_valid_header_with_random_rest_never_panics(
        record in arb_record(), rest in proptest::collection::vec(any::<u8>(), 0..256), cut in any::<usize>(),
    ) {
        let mut bytes = record.to_vec().unwrap();
        let cut = 8 + cut % (bytes.len() - 8);
        bytes.truncate(cut);
        bytes.extend_from_slice(&rest);
        let _ = MessageRecord::decode(&bytes);
        let _ = scan_record(&bytes);
    }

    #[test]
    fn every_truncation_is_incomplete_or_rejected(record in arb_record(), cut in any::<usize>()) {
        let bytes = record.to_vec().unwrap();
        let cut = cut % bytes.len();
        prop_assert_eq!(scan_record(&bytes[..cut]), RecordScan::Incomplete);
        prop_assert!(MessageRecord::decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn ipv4_record_is_91_bytes_plus_variable_parts() {
    let record = sample_record();
    let bytes = record.to_vec().unwrap();
    assert_eq!(bytes.len(), 91 + 12 + 12 + record.properties.len());
    assert_eq!(&bytes[4..8], &MESSAGE_MAGIC_V1.to_be_bytes());
}

#[test]
fn ipv6_hosts_add_twelve_bytes_each_and_set_sysflag_bits() {
    let mut record = sample_record();
    record.born_host = "[::1]:1234".parse().unwrap();
    let one = record.to_vec().unwrap();
    record.store_host = "[fe80::1]:10911".parse().unwrap();
    let two = record.to_vec().unwrap();
    let base = sample_record().to_vec().unwrap();
    assert_eq!(one.len(), base.len() + 12);
    assert_eq!(two.len(), base.len() + 24);
    let view = RecordView::parse(&two).unwrap();
    assert_eq!(
        view.sys_flag() & (BORNHOST_V6_FLAG | STOREHOST_V6_FLAG),
        0x30
    );
    assert_eq!(store_timestamp_pos(view.sys_flag()), 48 + 20);
}

#[test]
fn encode_clears_stale_ipv6_bits_for_ipv4_hosts() {
    let mut record = sample_record();
    record.sys_flag = BORNHOST_V6_FLAG | STOREHOST_V6_FLAG | COMPRESSED_FLAG;
    let (decoded, _) = MessageRecord::decode(&record.to_vec().unwrap()).unwrap();
    assert_eq!(decoded.sys_flag, COMPRESSED_FLAG);
}

#[test]
fn wrong_magic_is_rejected() {
    let mut bytes = sample_record().to_vec().unwrap();
    bytes[4..8].copy_from_slice(&MESSAGE_MAGIC_V2.to_be_bytes());
    assert_eq!(
        MessageRecord::decode(&bytes),
        Err(RecordError::BadMagic {
            found: MESSAGE_MAGIC_V2 as u32
        })
    );
    assert!(matches!(
        scan_record(&bytes),
        RecordScan::Corrupt(RecordError::BadMagic { .. })
    ));
}

#[test]
fn flipped_body_byte_is_a_crc_mismatch() {
    let mut bytes = sample_record().to_vec().unwrap();
    bytes[88] ^= 0x40;
    assert!(matches!(
        MessageRecord::decode(&bytes),
        Err(RecordError::CrcMismatch { .. })
    ));
    assert!(matches!(
        scan_record(&bytes),
        RecordScan::Corrupt(RecordError::CrcMismatch { .. })
    ));
    // The view parses (structure is intact); only the CRC check fails.
    assert!(RecordView::parse(&bytes).unwrap().verify_crc().is_err());
}

#[test]
fn oversized_and_undersized_total_sizes_are_rejected() {
    let mut bytes = sample_record().to_vec().unwrap();
    for bad in [-1i32, 0, 90, (RECORD_MAX_BYTES + 1) as i32, i32::MAX] {
        bytes[0..4].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(
            MessageRecord::decode(&bytes),
            Err(RecordError::BadTotalSize { total_size: bad }),
            "total size {bad}"
        );
    }
}

#[test]
fn total_size_disagreeing_with_fields_is_rejected() {
    let mut bytes = sample_record().to_vec().unwrap();
    let len = bytes.len() as i32;
    bytes.push(0);
    bytes[0..4].copy_from_slice(&(len + 1).to_be_bytes());
    assert!(matches!(
        MessageRecord::decode(&bytes),
        Err(RecordError::LengthMismatch { .. })
    ));
    bytes[0..4].copy_from_slice(&(len - 1).to_be_bytes());
    assert!(matches!(
        MessageRecord::decode(&bytes),
        Err(RecordError::Truncated { .. })
    ));
}

#[test]
fn negative_and_huge_lengths_are_typed_errors() {
    let base = sample_record().to_vec().unwrap();
    let mut body_len = base.clone();
    body_len[84..88].copy_from_slice(&(-5i32).to_be_bytes());
    assert_eq!(
        MessageRecord::decode(&body_len),
        Err(RecordError::BadBodyLength { len: -5 })
    );
    body_len[84..88].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        MessageRecord::decode(&body_len),
        Err(RecordError::BadBodyLength { .. })
    ));
    let mut topic_len = base.clone();
    topic_len[88 + 12] = 0x80;
    assert_eq!(
        MessageRecord::decode(&topic_len),
        Err(RecordError::BadTopicLength { len: -128 })
    );
    let mut port = base;
    port[52..56].copy_from_slice(&70_000i32.to_be_bytes());
    assert_eq!(
        MessageRecord::decode(&port),
        Err(RecordError::BadPort {
            field: "BORNHOST",
            port: 70_000
        })
    );
}

#[test]
fn limits_are_checked_on_encode() {
    let mut record = sample_record();
    record.topic = "t".repeat(128);
    assert_eq!(record.to_vec(), Err(RecordError::TopicTooLong { len: 128 }));
    let mut record = sample_record();
    record.properties = "p".repeat(32_768);
    assert_eq!(
        record.to_vec(),
        Err(RecordError::PropertiesTooLong { len: 32_768 })
    );
    let mut record = sample_record();
    record.body = Bytes::from(vec![0u8; BODY_MAX_BYTES + 1]);
    assert_eq!(
        record.to_vec(),
        Err(RecordError::BodyTooLong {
            len: BODY_MAX_BYTES + 1
        })
    );
    let mut out = vec![1, 2, 3];
    assert!(record.encode(&mut out).is_err());
    assert_eq!(out, vec![1, 2, 3], "nothing appended on error");
}

#[test]
fn largest_record_fits_the_limit() {
    let mut record = sample_record();
    record.body = Bytes::from(vec![7u8; BODY_MAX_BYTES]);
    record.topic = "t".repeat(TOPIC_MAX_BYTES);
    record.properties = "p".repeat(PROPERTIES_MAX_BYTES);
    record.born_host = "[::1]:1".parse().unwrap();
    record.store_host = "[::1]:2".parse().unwrap();
    let bytes = record.to_vec().unwrap();
    assert_eq!(bytes.len(), RECORD_MAX_BYTES);
    assert_eq!(
        scan_record(&bytes),
        RecordScan::Valid {
            len: RECORD_MAX_BYTES
        }
    );
}

#[test]
fn blank_marker_is_end_of_file() {
    let blank = encode_blank(4096);
    assert_eq!(&blank[4..], &[0xCB, 0xD4, 0x31, 0x94]);
    assert_eq!(scan_record(&blank), RecordScan::EndOfFile { len: 4096 });
    assert!(matches!(
        scan_record(&encode_blank(3)),
        RecordScan::Corrupt(_)
    ));
}

#[test]
fn zeroed_preallocated_space_and_short_tails_are_incomplete() {
    assert_eq!(scan_record(&[0u8; 64]), RecordScan::Incomplete);
    assert_eq!(scan_record(&[]), RecordScan::Incomplete);
    assert_eq!(scan_record(&[0xDA, 0xA3]), RecordScan::Incomplete);
}

#[test]
fn records_iterator_splits_back_to_back_records_and_stops_at_garbage() {
    let mut body = Vec::new();
    for offset in 0..5 {
        let mut record = sample_record();
        record.queue_offset = offset;
        record.encode(&mut body).unwrap();
    }
    let offsets: Vec<i64> = records(&body).map(|r| r.unwrap().queue_offset()).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
    body.extend_from_slice(&[1, 2, 3]);
    let items: Vec<_> = records(&body).collect();
    assert_eq!(items.len(), 6);
    assert!(items[5].is_err());
}

#[test]
fn transaction_and_compression_types_read_back_from_sysflag() {
    for t in [
        TransactionType::NotType,
        TransactionType::Prepared,
        TransactionType::Commit,
        TransactionType::Rollback,
    ] {
        assert_eq!(TransactionType::from_sys_flag(t.apply(0x7F3)), t);
    }
    assert!(TransactionType::Commit.is_consumable());
    assert!(!TransactionType::Prepared.is_consumable());
    assert_eq!(CompressionType::from_sys_flag(0), Ok(None));
    assert_eq!(
        CompressionType::from_sys_flag(COMPRESSED_FLAG),
        Ok(Some(CompressionType::Zlib))
    );
    for c in [
        CompressionType::Zlib,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ] {
        assert_eq!(CompressionType::from_sys_flag(c.apply(0)), Ok(Some(c)));
    }
    assert_eq!(
        CompressionType::from_sys_flag(COMPRESSED_FLAG | 0x400),
        Err(4)
    );
}
