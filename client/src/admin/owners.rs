//! Which client holds each queue of a consumer group: Java mqadmin's way
//! (`ConsumerProgressSubCommand`): GET_CONSUMER_CONNECTION_LIST names the
//! group's clients, GET_CONSUMER_RUNNING_INFO (307, forwarded by the broker
//! to each client) returns its `ConsumerRunningInfo`, whose `mqTable` keys
//! are the queues that client holds.

use std::collections::BTreeMap;

use ringmq_net::body::{ConsumerRunningInfo, MessageQueue};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::GetConsumerRunningInfoRequestHeader;

use super::{Admin, AdminError, decode};

impl Admin {
    /// GET_CONSUMER_RUNNING_INFO (307) of one client, through `addr`.
    pub async fn consumer_running_info(
        &self,
        addr: &str,
        group: &str,
        client_id: &str,
    ) -> Result<ConsumerRunningInfo, AdminError> {
        let req = RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO).with_header(
            &GetConsumerRunningInfoRequestHeader {
                consumer_group: group.to_owned(),
                client_id: client_id.to_owned(),
                jstack_enable: false,
            },
        );
        let reply = self.call(addr, "consumer running info", req).await?;
        decode("consumer running info", addr, &reply)
    }

    /// Queue -> client id of every online member of `group` that answers
    /// (a member that does not is left out: its queues show no client).
    pub async fn queue_owners(
        &self,
        group: &str,
    ) -> Result<BTreeMap<MessageQueue, String>, AdminError> {
        let mut owners = BTreeMap::new();
        for broker in self.masters(None).await? {
            let Some(conn) = self.consumer_connections(&broker.addr, group).await? else {
                continue;
            };
            for c in &conn.connection_set {
                let Ok(info) = self
                    .consumer_running_info(&broker.addr, group, &c.client_id)
                    .await
                else {
                    continue;
                };
                for mq in info.mq_table.keys() {
                    owners.insert(mq.clone(), c.client_id.clone());
                }
            }
            if !owners.is_empty() {
                // Every broker reaches the same clients: one is enough.
                break;
            }
        }
        Ok(owners)
    }
}
