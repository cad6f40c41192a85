//! Registration: the broker registers with every configured nameserver at
//! start (topic table in the body, body CRC in the header), again when a
//! topic is created, and unregisters at graceful shutdown. The nameserver
//! here is a small fake that records what it receives.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use bytes::BytesMut;
use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::CreateTopicRequestHeader;

/// Accepts connections forever; answers every request SUCCESS and reports it.
fn fake_nameserver() -> (String, mpsc::Receiver<RemotingCommand>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut decoder = FrameDecoder::default();
                let mut buf = BytesMut::new();
                let mut chunk = [0u8; 65536];
                loop {
                    while let Ok(Some(command)) = decoder.decode(&mut buf) {
                        let mut out = BytesMut::new();
                        RemotingCommand::response_to(&command, response::SUCCESS, None)
                            .encode(&mut out)
                            .unwrap();
                        let _ = stream.write_all(&out);
                        if tx.send(command).is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn next_with_code(rx: &mpsc::Receiver<RemotingCommand>, code: i32) -> RemotingCommand {
    loop {
        let command = rx
            .recv_timeout(REPLY_WAIT)
            .expect("the nameserver heard from the broker");
        if command.code == code {
            return command;
        }
    }
}

#[test]
fn broker_registers_at_start_on_topic_creation_and_unregisters_at_shutdown() {
    let (ns1, rx1) = fake_nameserver();
    let (ns2, rx2) = fake_nameserver();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), 2);
    config.nameservers = vec![ns1, ns2];
    config.broker_name = "broker-x".into();
    let broker = start_with(config);
    for rx in [&rx1, &rx2] {
        let register = next_with_code(rx, request::REGISTER_BROKER);
        assert_eq!(ext(&register, "brokerName"), "broker-x");
        assert_eq!(
            ext(&register, "brokerAddr"),
            broker.store_host().to_string()
        );
        let crc = (crc32fast::hash(&register.body) & 0x7FFF_FFFF).to_string();
        assert_eq!(ext(&register, "bodyCrc32"), crc);
        let body = String::from_utf8_lossy(&register.body).into_owned();
        assert!(
            body.contains("topicConfigSerializeWrapper") && body.contains("TBW102"),
            "{body}"
        );
    }
    let mut client = Client::connect(broker.local_addr());
    let reply = client.call(
        RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: "Created".into(),
                default_topic: "TBW102".into(),
                read_queue_nums: 8,
                write_queue_nums: 8,
                perm: 6,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_sys_flag: None,
                order: false,
                attributes: None,
            },
        ),
    );
    assert_eq!(reply.code, response::SUCCESS);
    let mut announced = false;
    for _ in 0..10 {
        let register = next_with_code(&rx1, request::REGISTER_BROKER);
        if String::from_utf8_lossy(&register.body).contains("\"Created\"") {
            announced = true;
            break;
        }
    }
    assert!(announced, "the new topic was not registered");
    drop(client);
    broker.shutdown();
    for rx in [&rx1, &rx2] {
        let unregister = next_with_code(rx, request::UNREGISTER_BROKER);
        assert_eq!(ext(&unregister, "brokerName"), "broker-x");
    }
}
