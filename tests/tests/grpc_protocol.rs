//! The gRPC endpoint answers the protocol itself, asked with the tonic
//! client generated from the same protos: routes name this broker's gRPC
//! endpoint and the topic's queues, refusals carry the `Code` a client acts
//! on, the Telemetry stream answers settings with the broker's limits, and
//! RPCs ringmq does not serve answer NOT_IMPLEMENTED at once.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod grpc_common;

use std::time::Duration;

use grpc_common::{GrpcStandalone, runtime};
use ringmq_grpc::pb;
use ringmq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ringmq_tests::unique_name;
use tonic::transport::Channel;

/// Longest any call may take (a hang fails the test instead of blocking it).
const CALL_WAIT: Duration = Duration::from_secs(20);

fn resource(name: &str) -> Option<pb::Resource> {
    Some(pb::Resource {
        resource_namespace: String::new(),
        name: name.to_owned(),
    })
}

fn with_client<T>(message: T, client_id: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_WAIT);
    if let Some(id) = client_id {
        request
            .metadata_mut()
            .insert("x-mq-client-id", id.parse().unwrap());
    }
    request
}

async fn connect(server: &GrpcStandalone) -> MessagingServiceClient<Channel> {
    MessagingServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .unwrap()
}

fn code(status: Option<&pb::Status>) -> pb::Code {
    pb::Code::try_from(status.unwrap().code).unwrap()
}

#[test]
fn routes_name_the_grpc_endpoint_and_every_queue_of_the_topic() {
    let server = GrpcStandalone::start(&["default_topic_queue_nums=4"]);
    let topic = unique_name("GrpcRoute");
    runtime().block_on(async {
        let mut client = connect(&server).await;
        let route = client
            .query_route(with_client(
                pb::QueryRouteRequest {
                    topic: resource(&topic),
                    endpoints: None,
                },
                Some("route-client"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(route.status.as_ref()), pb::Code::Ok);
        assert_eq!(route.message_queues.len(), 4);
        let port = server
            .grpc
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<i32>()
            .unwrap();
        for (id, queue) in route.message_queues.iter().enumerate() {
            assert_eq!(queue.id, i32::try_from(id).unwrap());
            assert_eq!(queue.permission(), pb::Permission::ReadWrite);
            let endpoints = queue.broker.as_ref().unwrap().endpoints.as_ref().unwrap();
            assert_eq!(endpoints.addresses[0].port, port);
            assert_eq!(endpoints.addresses[0].host, "127.0.0.1");
            assert_eq!(queue.accept_message_types.len(), 4);
        }
    });
}

#[test]
fn refusals_carry_the_code_a_client_acts_on() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcRefuse");
    runtime().block_on(async {
        let mut client = connect(&server).await;
        let anonymous = client
            .heartbeat(with_client(pb::HeartbeatRequest::default(), None))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(anonymous.status.as_ref()), pb::Code::ClientIdRequired);

        let reserved = pb::Message {
            topic: resource(&topic),
            user_properties: [("UNIQ_KEY".to_owned(), "forged".to_owned())].into(),
            system_properties: Some(pb::SystemProperties {
                message_id: "01".into(),
                ..Default::default()
            }),
            body: b"x".to_vec(),
        };
        let sent = client
            .send_message(with_client(
                pb::SendMessageRequest {
                    messages: vec![reserved],
                },
                Some("refuse-client"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            code(sent.status.as_ref()),
            pb::Code::IllegalMessagePropertyKey
        );

        let ended = client
            .end_transaction(with_client(
                pb::EndTransactionRequest {
                    topic: resource(&topic),
                    message_id: "01".into(),
                    transaction_id: "not-a-transaction".into(),
                    resolution: pb::TransactionResolution::Commit as i32,
                    ..Default::default()
                },
                Some("refuse-client"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(ended.status.as_ref()), pb::Code::InvalidTransactionId);
    });
}

#[test]
fn rpcs_ringmq_does_not_serve_answer_not_implemented_at_once() {
    let server = GrpcStandalone::start(&[]);
    runtime().block_on(async {
        let mut client = connect(&server).await;
        let recalled = client
            .recall_message(with_client(
                pb::RecallMessageRequest::default(),
                Some("unsupported"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(recalled.status.as_ref()), pb::Code::NotImplemented);
        let mut pulled = client
            .pull_message(with_client(
                pb::PullMessageRequest::default(),
                Some("unsupported"),
            ))
            .await
            .unwrap()
            .into_inner();
        let first = pulled.message().await.unwrap().unwrap();
        match first.content {
            Some(pb::pull_message_response::Content::Status(status)) => {
                assert_eq!(code(Some(&status)), pb::Code::NotImplemented);
            }
            other => panic!("expected a status, got {other:?}"),
        }
        assert!(pulled.message().await.unwrap().is_none(), "the stream ends");
    });
}

#[test]
fn telemetry_answers_a_producer_s_settings_with_the_broker_s_limits() {
    let server = GrpcStandalone::start(&["message_bytes_max=1048576"]);
    let topic = unique_name("GrpcSettings");
    runtime().block_on(async {
        let mut client = connect(&server).await;
        let settings = pb::TelemetryCommand {
            status: None,
            command: Some(pb::telemetry_command::Command::Settings(pb::Settings {
                client_type: Some(pb::ClientType::Producer as i32),
                pub_sub: Some(pb::settings::PubSub::Publishing(pb::Publishing {
                    topics: vec![resource(&topic).unwrap()],
                    max_body_size: 0,
                    validate_message_type: false,
                })),
                ..Default::default()
            })),
        };
        let outbound = futures::stream::iter([settings]);
        let mut inbound = client
            .telemetry(with_client(outbound, Some("settings-client")))
            .await
            .unwrap()
            .into_inner();
        let answer = inbound.message().await.unwrap().unwrap();
        assert_eq!(code(answer.status.as_ref()), pb::Code::Ok);
        let Some(pb::telemetry_command::Command::Settings(settings)) = answer.command else {
            panic!("expected settings");
        };
        let Some(pb::settings::PubSub::Publishing(publishing)) = settings.pub_sub else {
            panic!("expected publishing settings");
        };
        assert_eq!(publishing.max_body_size, 1_048_576);
        assert!(settings.backoff_policy.unwrap().max_attempts > 0);
    });
}

#[test]
fn a_typed_topic_routes_its_one_type_and_refuses_sends_of_another() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcTyped");
    let created = ringmq_tests::admin::admin_json(
        &server.namesrv,
        &["topic", "create", &topic, "--message-type", "FIFO"],
    );
    assert_eq!(created["messageType"], "FIFO", "{created}");
    runtime().block_on(async {
        let mut client = connect(&server).await;
        let route = client
            .query_route(with_client(
                pb::QueryRouteRequest {
                    topic: resource(&topic),
                    endpoints: None,
                },
                Some("typed-client"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(route.status.as_ref()), pb::Code::Ok);
        assert!(!route.message_queues.is_empty());
        for queue in &route.message_queues {
            assert_eq!(
                queue.accept_message_types,
                vec![pb::MessageType::Fifo as i32]
            );
        }
        let normal = pb::Message {
            topic: resource(&topic),
            user_properties: Default::default(),
            system_properties: Some(pb::SystemProperties {
                message_id: "01".into(),
                ..Default::default()
            }),
            body: b"x".to_vec(),
        };
        let sent = client
            .send_message(with_client(
                pb::SendMessageRequest {
                    messages: vec![normal],
                },
                Some("typed-client"),
            ))
            .await
            .unwrap()
            .into_inner();
        let status = sent.status.as_ref().unwrap();
        assert_eq!(
            code(Some(status)),
            pb::Code::MessagePropertyConflictWithType,
            "{status:?}"
        );
        assert!(status.message.contains("FIFO"), "{status:?}");
    });
}
