//! A `ringmq nameserver` with ACL on (`RINGMQ_NAMESRV_ACL_ENABLE`,
//! `plain_acl.yml`) and a `ringmq broker` signing its registrations
//! (`nameserver_access_key`): unsigned or wrongly signed REGISTER_BROKER,
//! UNREGISTER_BROKER, PUT_KV_CONFIG, WIPE_WRITE_PERM_OF_BROKER and
//! DELETE_TOPIC_IN_NAMESRV are refused NO_PERMISSION (16) with a remark
//! naming what was missing and never a secret; the signed broker registers,
//! and its routes stay intact through every refusal.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use ringmq_net::acl::signature;
use ringmq_net::code::{request, response};
use ringmq_tests::raw::{RawConnection, RemotingFrame};
use ringmq_tests::{Broker, BrokerOptions, Nameserver, unique_name};

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const BROKER_SECRET: &str = "broker-secret-1";
const ADMIN_SECRET: &str = "admin-secret-1";

const ACL: &str = "
accounts:
  - accessKey: broker01
    secretKey: broker-secret-1
    admin: false
  - accessKey: admin001
    secretKey: admin-secret-1
    admin: true
";

/// Signs as Java's `AclClientRPCHook`: sorted extField values, then the body.
fn sign(frame: &mut RemotingFrame, access: &str, secret: &str) {
    frame.ext_fields.insert("AccessKey".into(), access.into());
    frame.ext_fields.remove("Signature");
    let mut content: Vec<u8> = frame.ext_fields.values().flat_map(|v| v.bytes()).collect();
    content.extend_from_slice(&frame.body);
    frame
        .ext_fields
        .insert("Signature".into(), signature(&content, secret));
}

fn call(addr: &str, frame: RemotingFrame) -> RemotingFrame {
    RawConnection::connect(addr)
        .unwrap()
        .call(frame, CALL_TIMEOUT)
        .unwrap()
}

fn route_perm(ns: &Nameserver, topic: &str) -> Option<i64> {
    let route = ns.route(topic).ok()?;
    let body: serde_json::Value = serde_json::from_slice(&route.body).ok()?;
    body["queueDatas"][0]["perm"].as_i64()
}

#[test]
fn unsigned_or_badly_signed_changes_are_refused_and_routes_stay() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("plain_acl.yml");
    std::fs::write(&acl, ACL).unwrap();
    let ns = Nameserver::start_with_env(vec![
        ("RINGMQ_NAMESRV_ACL_ENABLE".into(), "true".into()),
        ("RINGMQ_NAMESRV_ACL_FILE".into(), acl.display().to_string()),
    ])
    .unwrap();
    let cluster_name = unique_name("aclc");
    let mut options = BrokerOptions::new(&format!("{cluster_name}-b0"), &cluster_name);
    for set in [
        "nameserver_access_key=broker01".to_string(),
        format!("nameserver_secret_key={BROKER_SECRET}"),
    ] {
        options.extra_args.push("--set".into());
        options.extra_args.push(set);
    }
    // Broker::start waits until the nameserver lists it: the signed
    // registration was accepted.
    let broker = Broker::start(&[ns.addr()], options).unwrap();
    let topic = unique_name("AclRouted");
    broker.create_topic(&topic, 2).unwrap();
    ns.wait_route(&topic, &[broker.name()]).unwrap();

    let register = || {
        let mut frame = RemotingFrame::request(
            request::REGISTER_BROKER,
            &[
                ("brokerName", "intruder".into()),
                ("brokerAddr", "127.0.0.1:1".into()),
                ("clusterName", cluster_name.clone()),
                ("haServerAddr", "127.0.0.1:2".into()),
                ("brokerId", "0".into()),
                ("compressed", "false".into()),
                ("bodyCrc32", "0".into()),
            ],
        );
        frame.body =
            br#"{"topicConfigSerializeWrapper":{"topicConfigTable":{}},"filterServerList":[]}"#
                .to_vec();
        frame
    };
    let unregister = RemotingFrame::request(
        request::UNREGISTER_BROKER,
        &[
            ("brokerName", broker.name().to_string()),
            ("brokerAddr", broker.addr()),
            ("clusterName", cluster_name.clone()),
            ("brokerId", "0".into()),
        ],
    );
    let put_kv = RemotingFrame::request(
        request::PUT_KV_CONFIG,
        &[
            ("namespace", "ORDER_TOPIC_CONFIG".into()),
            ("key", topic.clone()),
            ("value", "intruder:8".into()),
        ],
    );
    let wipe = RemotingFrame::request(
        request::WIPE_WRITE_PERM_OF_BROKER,
        &[("brokerName", broker.name().to_string())],
    );
    let delete = RemotingFrame::request(
        request::DELETE_TOPIC_IN_NAMESRV,
        &[("topic", topic.clone())],
    );
    let cases: Vec<(&str, RemotingFrame)> = vec![
        ("REGISTER_BROKER", register()),
        ("UNREGISTER_BROKER", unregister.clone()),
        ("PUT_KV_CONFIG", put_kv.clone()),
        ("WIPE_WRITE_PERM_OF_BROKER", wipe.clone()),
        ("DELETE_TOPIC_IN_NAMESRV", delete.clone()),
    ];
    let mut refusals = 0;
    for (name, frame) in cases {
        let unsigned = call(&ns.addr(), frame.clone());
        assert_eq!(
            unsigned.code,
            response::NO_PERMISSION,
            "{name} unsigned: {}",
            unsigned.describe()
        );
        let remark = unsigned.remark.clone().unwrap_or_default();
        assert!(remark.contains("AccessKey"), "{name}: {remark}");

        let mut forged = frame.clone();
        sign(&mut forged, "broker01", "not-the-secret");
        let forged = call(&ns.addr(), forged);
        assert_eq!(
            forged.code,
            response::NO_PERMISSION,
            "{name} forged: {}",
            forged.describe()
        );
        let remark = forged.remark.clone().unwrap_or_default();
        assert!(
            remark.contains("signature") && remark.contains("broker01"),
            "{name}: {remark}"
        );
        for secret in [BROKER_SECRET, ADMIN_SECRET, "not-the-secret"] {
            assert!(!remark.contains(secret), "{name} echoes a secret: {remark}");
        }

        let mut unknown = frame;
        sign(&mut unknown, "nobody99", "whatever");
        let unknown = call(&ns.addr(), unknown);
        assert_eq!(
            unknown.code,
            response::NO_PERMISSION,
            "{name}: {}",
            unknown.describe()
        );
        assert!(unknown.remark.unwrap_or_default().contains("nobody99"));
        refusals += 3;
    }
    // The admin-only ones need an admin, even correctly signed.
    for (name, frame) in [
        ("WIPE_WRITE_PERM_OF_BROKER", wipe.clone()),
        ("DELETE_TOPIC_IN_NAMESRV", delete),
    ] {
        let mut signed = frame;
        sign(&mut signed, "broker01", BROKER_SECRET);
        let answer = call(&ns.addr(), signed);
        assert_eq!(
            answer.code,
            response::NO_PERMISSION,
            "{name}: {}",
            answer.describe()
        );
        assert!(
            answer.remark.unwrap_or_default().contains("admin"),
            "{name}"
        );
        refusals += 1;
    }
    // Nothing changed: the broker is listed, its route writable, no intruder.
    let info = ns.cluster_info().unwrap();
    assert!(
        info.contains(&broker.addr()) && !info.contains("intruder"),
        "{info}"
    );
    assert_eq!(route_perm(&ns, &topic), Some(6));
    // An admin may wipe the write permission.
    let mut admin_wipe = wipe;
    sign(&mut admin_wipe, "admin001", ADMIN_SECRET);
    assert_eq!(call(&ns.addr(), admin_wipe).code, response::SUCCESS);
    assert_eq!(route_perm(&ns, &topic), Some(4));
    println!("[nameserver-acl] {refusals} refusals, signed broker registered, routes intact");
}
