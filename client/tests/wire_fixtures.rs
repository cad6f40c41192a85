//! The client's decoders against frames captured from another RocketMQ
//! implementation (`fixtures/wire`, see `fixtures/README.md`): a pull body written by a peer
//! broker must decode into the messages it holds.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;
use ringmq_client::consumer::message_ext::decode_pull_body;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::PullMessageResponseHeader;

mod common;

fn fixture(name: &str) -> RemotingCommand {
    RemotingCommand::decode_frame(Bytes::from(common::wire_fixture(name))).unwrap()
}

#[test]
fn a_captured_pull_body_decodes_into_its_32_messages() {
    let reply = fixture("consume-10-resp-code0.bin");
    let h: PullMessageResponseHeader = reply.decode_header().unwrap();
    let msgs = decode_pull_body(&reply.body, "peer-broker-a", h.min_offset, h.max_offset);
    assert_eq!(msgs.len(), 32);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.topic, "RingProduce1");
        assert_eq!(m.queue_id, 1);
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.msg_id.len(), 32, "UNIQ_KEY is the user-facing id");
        assert_ne!(m.msg_id, m.offset_msg_id);
        assert!(!m.body.is_empty());
    }
    assert_eq!(h.next_begin_offset, 32);
}

#[test]
fn the_lite_pull_capture_decodes_the_same_way() {
    let reply = fixture("pull-02-resp-code0.bin");
    let msgs = decode_pull_body(&reply.body, "peer-broker-a", 0, 253);
    assert_eq!(msgs.len(), 32);
    assert_eq!(msgs[31].queue_offset, 31);
    assert_eq!(msgs[0].property("MAX_OFFSET"), Some("253"));
}
