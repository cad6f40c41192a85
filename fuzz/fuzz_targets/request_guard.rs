//! Fuzzes the checks every request passes before a processor: a decoded
//! frame's names (`validate::request_names`), its ACL resources (including
//! a HEART_BEAT body), the heartbeat validator and the validators of names
//! carried in bodies (LOCK/UNLOCK_BATCH_MQ, subscription-group configs)
//! must judge any input without panicking.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringmq_net::body::heartbeat::HeartbeatData;
use ringmq_net::body::{LockBatchRequestBody, SubscriptionGroupConfig};
use ringmq_net::frame::FrameDecoder;

fuzz_target!(|data: &[u8]| {
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
});
