//! Creating the bench topic with a chosen queue count, as `mqadmin
//! updateTopic` does: ask a nameserver for the cluster (GET_BROKER_CLUSTER_INFO,
//! 106), send UPDATE_AND_CREATE_TOPIC (17) to every master, then wait until
//! the nameserver's route shows the new queue count.

use std::time::Duration;

use anyhow::{Context, bail};
use ringmq_client::instance::{ClientConfig, ClientInstance};
use ringmq_net::body::route::PERM_READ_WRITE;
use ringmq_net::body::{ClusterInfo, decode_json};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::CreateTopicRequestHeader;

/// Template topic named in the request (ignored by brokers).
pub const AUTO_CREATE_TEMPLATE: &str = ringmq_net::topic::AUTO_CREATE_TOPIC;

/// How long the new route may take to reach the nameserver.
pub const ROUTE_WAIT: Duration = Duration::from_secs(30);

/// Poll interval while waiting for the route.
pub const ROUTE_POLL: Duration = Duration::from_millis(200);

/// How many times the cluster info is asked for while brokers register.
pub const CLUSTER_ATTEMPTS: u32 = 50;

/// Creates (or resizes) `topic` with `queues` read and write queues on
/// every master broker; returns the brokers' addresses.
pub async fn create_topic(namesrv: &str, topic: &str, queues: u32) -> anyhow::Result<Vec<String>> {
    let config = crate::cmd::credentials::client_config(ClientConfig::default());
    let instance = ClientInstance::start(config.with_namesrv(namesrv));
    let outcome = create_with(&instance, topic, queues).await;
    instance.shutdown().await;
    outcome
}

async fn create_with(
    instance: &ClientInstance,
    topic: &str,
    queues: u32,
) -> anyhow::Result<Vec<String>> {
    let masters = masters(instance).await?;
    let nums = i32::try_from(queues).context("queue count too large")?;
    for addr in &masters {
        let header = CreateTopicRequestHeader {
            topic: topic.to_string(),
            default_topic: AUTO_CREATE_TEMPLATE.to_string(),
            read_queue_nums: nums,
            write_queue_nums: nums,
            perm: PERM_READ_WRITE,
            topic_filter_type: "SINGLE_TAG".to_string(),
            topic_sys_flag: None,
            order: false,
            attributes: None,
        };
        let reply = instance
            .invoke(
                addr,
                RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC).with_header(&header),
            )
            .await
            .with_context(|| format!("UPDATE_AND_CREATE_TOPIC to {addr} failed"))?;
        if reply.code != response::SUCCESS {
            bail!(
                "broker {addr} refused to create {topic}: code {}: {}",
                reply.code,
                reply.remark.unwrap_or_default()
            );
        }
    }
    wait_route(instance, topic, queues, masters.len()).await?;
    Ok(masters)
}

/// The master addresses the nameservers know (retried while brokers
/// register).
async fn masters(instance: &ClientInstance) -> anyhow::Result<Vec<String>> {
    let namesrv = instance
        .config()
        .namesrv_addrs
        .first()
        .cloned()
        .context("no nameserver address given")?;
    for _ in 0..CLUSTER_ATTEMPTS {
        let reply = instance
            .invoke(
                &namesrv,
                RemotingCommand::request(request::GET_BROKER_CLUSTER_INFO),
            )
            .await
            .context("GET_BROKER_CLUSTER_INFO failed")?;
        if reply.code != response::SUCCESS {
            bail!(
                "nameserver refused GET_BROKER_CLUSTER_INFO: code {}: {}",
                reply.code,
                reply.remark.unwrap_or_default()
            );
        }
        let info: ClusterInfo =
            decode_json(&reply.body).context("unreadable cluster info from the nameserver")?;
        let masters: Vec<String> = info
            .broker_addr_table
            .values()
            .filter_map(|b| b.master_addr().map(String::from))
            .collect();
        if !masters.is_empty() {
            return Ok(masters);
        }
        tokio::time::sleep(ROUTE_POLL).await;
    }
    bail!("the nameserver knows no master broker")
}

/// Waits until `brokers` brokers serve `topic` with `queues` queues each.
async fn wait_route(
    instance: &ClientInstance,
    topic: &str,
    queues: u32,
    brokers: usize,
) -> anyhow::Result<()> {
    let nums = i32::try_from(queues).unwrap_or(i32::MAX);
    let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(route) = instance.update_route(topic).await {
            let ready = route
                .queue_datas
                .iter()
                .filter(|q| q.write_queue_nums == nums && q.read_queue_nums == nums)
                .count();
            if ready >= brokers {
                return Ok(());
            }
        }
        tokio::time::sleep(ROUTE_POLL).await;
    }
    bail!("the route of {topic} did not show {queues} queues within {ROUTE_WAIT:?}")
}
