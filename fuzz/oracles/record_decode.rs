// The oracle of the `record_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/record_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/record_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use ringmq_net::batch::{decode_batch, encode_batch};
use ringmq_net::message_id::{decode_offset_msg_id, decode_uniq_id};
use ringmq_net::properties::Properties;
use ringmq_net::record::{
    MessageRecord, RecordScan, patch_stored_fields, records, scan_record, sys_flag_for_hosts,
};

/// Upper bound on records walked in one input (each is at least 91 bytes).
const RECORDS_PER_INPUT_MAX: usize = 4096;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    fuzz_record(data);
    fuzz_batch(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let props = Properties::parse(text);
        assert_eq!(Properties::parse(&props.encode()), props);
        let _ = decode_offset_msg_id(text);
        let _ = decode_uniq_id(text);
    }
}

fn fuzz_record(data: &[u8]) {
    let scan = scan_record(data);
    match MessageRecord::decode(data) {
        Ok((record, len)) => {
            assert_eq!(scan, RecordScan::Valid { len });
            // A record only re-encodes byte for byte when its IPv6 bits agree
            // with its hosts, which decoding guarantees.
            assert_eq!(
                record.sys_flag,
                sys_flag_for_hosts(record.sys_flag, record.born_host, record.store_host)
            );
            assert_eq!(record.to_vec().ok().as_deref(), data.get(..len));
        }
        Err(_) => assert!(!matches!(scan, RecordScan::Valid { .. })),
    }
    for item in records(data).take(RECORDS_PER_INPUT_MAX) {
        let _ = item.map(|view| view.verify_crc());
    }
    let mut copy = data.to_vec();
    let _ = patch_stored_fields(&mut copy, 1, 2, 3);
}

fn fuzz_batch(data: &[u8]) {
    if let Ok(entries) = decode_batch(data) {
        let mut out = Vec::new();
        assert!(encode_batch(&entries, &mut out).is_ok());
        // MAGICCODE and BODYCRC are ignored on decode and written as zero.
        assert_eq!(out.len(), data.len());
    }
}
