// The oracle of the `commitlog_record_decode` fuzz target: what it feeds and
// checks is documented in `fuzz/fuzz_targets/commitlog_record_decode.rs`.
// Shared by that target (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/commitlog_record_decode/` (`include!`, hence no inner
// attributes or inner doc comments here).

use ringmq_net::record::RecordView;
use ringmq_storage::log_record::{
    Scan, dispatch_facts, head, scan, stamp, store_timestamp, written_record,
};

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    let claimed = RecordView::parse(data).map_or(0, |view| view.physical_offset());
    for position in [0, claimed] {
        for verify_crc in [false, true] {
            if let Scan::Record(record) = scan(data, position, verify_crc) {
                check_record(data, record);
            }
        }
    }
    let _ = head(data);
    let _ = dispatch_facts(data);
    let _ = store_timestamp(data);
    let _ = written_record(data);
    check_stamp(data);
}

fn check_record(data: &[u8], record: &[u8]) {
    assert_eq!(data.get(..record.len()), Some(record));
    let head = head(record).expect("a scanned record has a head");
    let facts = dispatch_facts(record).expect("a scanned record has dispatch facts");
    assert_eq!((head.topic, head.queue_id), (facts.topic, facts.queue_id));
    assert_eq!(head.dispatched, facts.dispatched);
    assert_eq!(store_timestamp(record), Ok(facts.store_timestamp));
}

fn check_stamp(data: &[u8]) {
    if head(data).is_err() {
        return;
    }
    let mut copy = data.to_vec();
    if stamp(&mut copy, 7, 11, 13).is_ok() {
        let facts = dispatch_facts(&copy).expect("a stamped record still parses");
        assert_eq!(
            (
                facts.queue_offset,
                facts.physical_offset,
                facts.store_timestamp
            ),
            (7, 11, 13)
        );
        assert_eq!(store_timestamp(&copy), Ok(13));
    }
}
