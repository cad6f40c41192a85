//! A broker with ACL on (`acl_enable`, RocketMQ's `plain_acl.yml`), driven
//! by exact frames signed as Java's `AclClientRPCHook` signs them, by the
//! ringmq client with credentials and by the independent client with its
//! own ACL hook: every refusal path answers NO_PERMISSION with a remark that
//! names what is missing, the file is reloaded when it changes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use ringmq_net::acl::signature;
use ringmq_tests::raw::{RawConnection, RemotingFrame, SendRequest, code, send_message_frame};
use ringmq_tests::{Cluster, unique_name};

/// NO_PERMISSION.
const NO_PERMISSION: i32 = 16;
/// Timeout of one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the broker to pick up an edited ACL file.
const RELOAD_WAIT_MAX: Duration = Duration::from_secs(30);

const ACL: &str = "
accounts:
  - accessKey: writer01
    secretKey: writer-secret
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - Open=PUB|SUB
  - accessKey: admin001
    secretKey: admin-secret
    admin: true
";

/// Signs a raw frame: values of the sorted extFields (AccessKey included,
/// Signature excluded) then the body, HmacSHA1, Base64.
fn sign(frame: &mut RemotingFrame, access: &str, secret: &str) {
    frame.ext_fields.insert("AccessKey".into(), access.into());
    frame.ext_fields.remove("Signature");
    let mut content: Vec<u8> = frame.ext_fields.values().flat_map(|v| v.bytes()).collect();
    content.extend_from_slice(&frame.body);
    frame
        .ext_fields
        .insert("Signature".into(), signature(&content, secret));
}

fn acl_cluster(dir: &Path) -> Cluster {
    let path = dir.join("plain_acl.yml");
    std::fs::write(&path, ACL).unwrap();
    Cluster::start_with(1, |options| {
        for set in [
            "acl_enable=true".to_string(),
            format!("acl_file={}", path.display()),
        ] {
            options.extra_args.push("--set".into());
            options.extra_args.push(set);
        }
    })
    .expect("cluster starts")
}

fn send_frame(topic: &str) -> RemotingFrame {
    send_message_frame(&SendRequest {
        group: "acl_pg",
        topic,
        queue_id: 0,
        body: b"acl",
        tag: None,
        properties: &[],
    })
}

fn create_topic_frame(topic: &str) -> RemotingFrame {
    RemotingFrame::request(
        code::UPDATE_AND_CREATE_TOPIC,
        &[
            ("topic", topic.to_string()),
            ("defaultTopic", "TBW102".to_string()),
            ("readQueueNums", "2".to_string()),
            ("writeQueueNums", "2".to_string()),
            ("perm", "6".to_string()),
            ("topicFilterType", "SINGLE_TAG".to_string()),
            ("topicSysFlag", "0".to_string()),
            ("order", "false".to_string()),
        ],
    )
}

fn refused(answer: &RemotingFrame, needle: &str) {
    assert_eq!(answer.code, NO_PERMISSION, "{}", answer.describe());
    let remark = answer.remark.clone().unwrap_or_default();
    assert!(
        remark.contains(needle),
        "remark {remark:?} names {needle:?}"
    );
    assert!(!remark.contains("secret"), "no secret in {remark:?}");
}

#[test]
fn every_refusal_path_answers_no_permission_and_signed_requests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = acl_cluster(dir.path());
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).unwrap();

    let answer = conn.call(send_frame("Open"), CALL_TIMEOUT).unwrap();
    refused(&answer, "accessKey");

    let mut unknown = send_frame("Open");
    sign(&mut unknown, "nobody99", "whatever");
    refused(&conn.call(unknown, CALL_TIMEOUT).unwrap(), "nobody99");

    let mut forged = send_frame("Open");
    sign(&mut forged, "writer01", "not-the-secret");
    refused(&conn.call(forged, CALL_TIMEOUT).unwrap(), "signature");

    let mut tampered = send_frame("Open");
    sign(&mut tampered, "writer01", "writer-secret");
    tampered.body = b"changed after signing".to_vec();
    refused(&conn.call(tampered, CALL_TIMEOUT).unwrap(), "signature");

    let mut denied = send_frame("Closed");
    sign(&mut denied, "writer01", "writer-secret");
    refused(
        &conn.call(denied, CALL_TIMEOUT).unwrap(),
        "PUB permission for Closed",
    );

    let mut not_admin = create_topic_frame("Open");
    sign(&mut not_admin, "writer01", "writer-secret");
    refused(&conn.call(not_admin, CALL_TIMEOUT).unwrap(), "admin");

    let mut admin = create_topic_frame("Open");
    sign(&mut admin, "admin001", "admin-secret");
    let answer = conn.call(admin, CALL_TIMEOUT).unwrap();
    assert_eq!(answer.code, code::SUCCESS, "{}", answer.describe());

    let mut allowed = send_frame("Open");
    sign(&mut allowed, "writer01", "writer-secret");
    let answer = conn.call(allowed, CALL_TIMEOUT).unwrap();
    assert_eq!(answer.code, code::SUCCESS, "{}", answer.describe());
}

#[test]
fn an_edited_acl_file_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = acl_cluster(dir.path());
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).unwrap();
    let mut admin = create_topic_frame("Open");
    sign(&mut admin, "admin001", "admin-secret");
    assert_eq!(conn.call(admin, CALL_TIMEOUT).unwrap().code, code::SUCCESS);
    std::fs::write(
        dir.path().join("plain_acl.yml"),
        ACL.replace("Open=PUB|SUB", "Open=DENY"),
    )
    .unwrap();
    let deadline = Instant::now() + RELOAD_WAIT_MAX;
    loop {
        let mut frame = send_frame("Open");
        sign(&mut frame, "writer01", "writer-secret");
        let answer = conn.call(frame, CALL_TIMEOUT).unwrap();
        if answer.code == NO_PERMISSION {
            break;
        }
        assert!(Instant::now() < deadline, "the edit was never picked up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_ringmq_client_with_credentials_produces_and_without_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = acl_cluster(dir.path());
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).unwrap();
    let mut admin = create_topic_frame("Open");
    sign(&mut admin, "admin001", "admin-secret");
    assert_eq!(conn.call(admin, CALL_TIMEOUT).unwrap().code, code::SUCCESS);
    cluster
        .nameserver
        .wait_route("Open", &[cluster.brokers[0].name()])
        .unwrap();
    let namesrv = cluster.namesrv_addr();
    let runtime = common::test_runtime();
    runtime.block_on(async {
        let producer = ringmq_client::producer::Producer::builder("acl_client_pg")
            .namesrv(&namesrv)
            .with_credentials("writer01", "writer-secret")
            .build()
            .unwrap();
        producer
            .send(ringmq_client::Message::new("Open", "signed"))
            .await
            .expect("a signed send is accepted");
        producer.shutdown().await;
        let unsigned = ringmq_client::producer::Producer::builder("acl_client_pg2")
            .namesrv(&namesrv)
            .retries(0)
            .build()
            .unwrap();
        let err = unsigned
            .send(ringmq_client::Message::new("Open", "unsigned"))
            .await
            .expect_err("an unsigned send is refused");
        assert!(
            err.to_string().contains("16") || err.to_string().contains("accessKey"),
            "{err}"
        );
        unsigned.shutdown().await;
    });
}

#[test]
fn the_independent_client_with_its_acl_hook_produces() {
    use rocketmq_auth::AclClientRpcHook;
    use rocketmq_auth::SignatureAlgorithm;
    use rocketmq_client_rust::DefaultMQProducer;

    let dir = tempfile::tempdir().unwrap();
    let cluster = acl_cluster(dir.path());
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).unwrap();
    let mut admin = create_topic_frame("Open");
    sign(&mut admin, "admin001", "admin-secret");
    assert_eq!(conn.call(admin, CALL_TIMEOUT).unwrap().code, code::SUCCESS);
    cluster
        .nameserver
        .wait_route("Open", &[cluster.brokers[0].name()])
        .unwrap();
    let namesrv = cluster.namesrv_addr();
    let runtime = common::test_runtime();
    runtime.block_on(async {
        let hook = AclClientRpcHook::new(
            "writer01",
            "writer-secret",
            None::<String>,
            SignatureAlgorithm::default(),
        )
        .unwrap()
        .into_rpc_hook();
        let mut producer = DefaultMQProducer::builder(common::client_runtime("acl-producer"))
            .producer_group(unique_name("acl_ic_pg"))
            .name_server_addr(namesrv.clone())
            .rpc_hook(hook)
            .build();
        producer.start().await.expect("producer starts");
        producer
            .send_with_timeout(
                common::message("Open", 1, "single"),
                common::SEND_TIMEOUT_MS,
            )
            .await
            .unwrap_or_else(|e| panic!("signed send: {}", common::error_chain(&e)))
            .expect("a send result");
        producer.shutdown().await;
    });
}
