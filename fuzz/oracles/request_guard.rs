// The oracle of the `request_guard` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/request_guard.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/request_guard/` (`include!`, hence no inner attributes or
// inner doc comments here).

use bytes::BytesMut;
use ringmq_net::body::heartbeat::HeartbeatData;
use ringmq_net::body::{LockBatchRequestBody, SubscriptionGroupConfig};
use ringmq_net::frame::FrameDecoder;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    if let Ok(Some(req)) = FrameDecoder::new(64 * 1024).decode(&mut BytesMut::from(data)) {
        let _ = ringmq_net::validate::request_names(&req);
        let _ = ringmq_net::acl::resources(&req);
        let _ = ringmq_net::acl::signed_content(&req);
    }
    if let Ok(heartbeat) = ringmq_net::body::decode_json::<HeartbeatData>(data) {
        let _ = ringmq_net::validate::heartbeat(&heartbeat);
    }
    if let Ok(lock) = ringmq_net::body::decode_json::<LockBatchRequestBody>(data) {
        let _ = ringmq_net::validate::queue_batch(
            &lock.consumer_group,
            &lock.client_id,
            lock.mq_set.iter(),
        );
    }
    if let Ok(group) = ringmq_net::body::decode_json::<SubscriptionGroupConfig>(data) {
        let _ = ringmq_net::validate::subscription_group(&group.group_name);
    }
}
