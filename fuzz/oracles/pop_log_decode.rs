// The oracle of the `pop_log_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/pop_log_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/pop_log_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use ringmq_broker::pop::log::{LogRecord, RECORD_MAX, replay};

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    check_bytes(data);
    if !data.is_empty() && data.len() <= RECORD_MAX {
        let mut framed = Vec::with_capacity(8 + data.len());
        framed.extend_from_slice(&(data.len() as u32).to_be_bytes());
        framed.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
        framed.extend_from_slice(data);
        check_bytes(&framed);
    }
}

fn check_bytes(bytes: &[u8]) {
    let (records, valid) = replay(bytes);
    assert!(valid <= bytes.len());
    let mut at = 0;
    for record in &records {
        let encoded = match record.encode() {
            Ok(encoded) => encoded,
            Err(err) => panic!("a decoded record must encode: {err}"),
        };
        // Unknown checkpoint flag bits are ignored on decode (forward
        // compatible) and not written back, so the bytes may differ; the
        // value and the length may not.
        assert_eq!(
            LogRecord::decode(&encoded),
            Some((record.clone(), encoded.len()))
        );
        assert_eq!(
            Some(encoded.len()),
            LogRecord::decode(&bytes[at..]).map(|(_, len)| len)
        );
        at += encoded.len();
    }
    assert_eq!(at, valid);
    assert_eq!(replay(&bytes[..valid]), (records, valid));
}
