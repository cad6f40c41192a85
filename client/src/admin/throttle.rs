//! Producer throttling on every master broker: set, list and clear the
//! per-topic and per (topic, producer group) message-rate limits ringmq
//! brokers enforce (ringmq-private request codes RINGMQ_THROTTLE_*; a
//! RocketMQ broker refuses them with REQUEST_CODE_NOT_SUPPORTED, which
//! comes back as [`AdminError::Refused`]).

use ringmq_net::body::throttle::{
    ThrottleClearBody, ThrottleClearedBody, ThrottleListBody, ThrottleRuleData,
};
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use serde::Serialize;

use super::{Admin, AdminError, decode};

/// One limit: `rate` messages per second into `topic`, from
/// `producer_group` or (when `None`) from every producer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThrottleRule {
    /// The topic limited.
    pub topic: String,
    /// The producer group limited; `None` = the whole topic.
    pub producer_group: Option<String>,
    /// Messages per second.
    pub rate: u32,
}

/// A rule as one broker holds it, with the sends it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerThrottle {
    /// The broker's name.
    pub broker: String,
    /// The rule.
    pub rule: ThrottleRule,
    /// Sends the broker refused under this rule since it started.
    pub rejected: u64,
}

fn json_request(code: i32, what: &str, body: &impl Serialize) -> Result<RemotingCommand, AdminError> {
    let bytes = ringmq_net::body::encode_json(body)
        .map_err(|err| AdminError::Invalid(format!("cannot encode the {what}: {err}")))?;
    Ok(RemotingCommand::request(code).with_body(bytes))
}

impl Admin {
    /// Adds or replaces `rule` on every master broker.
    pub async fn throttle_set(&self, rule: &ThrottleRule) -> Result<(), AdminError> {
        let data = ThrottleRuleData {
            topic: rule.topic.clone(),
            producer_group: rule.producer_group.clone(),
            rate: rule.rate,
        };
        data.validate()
            .map_err(|err| AdminError::Invalid(err.to_string()))?;
        for broker in self.masters(None).await? {
            let req = json_request(request::RINGMQ_THROTTLE_SET, "throttle rule", &data)?;
            self.call(&broker.addr, "throttle set", req).await?;
        }
        Ok(())
    }

    /// Every rule of every master broker, by broker then topic then group.
    pub async fn throttle_list(&self) -> Result<Vec<BrokerThrottle>, AdminError> {
        let mut out = Vec::new();
        for broker in self.masters(None).await? {
            let req = RemotingCommand::request(request::RINGMQ_THROTTLE_LIST);
            let reply = self.call(&broker.addr, "throttle list", req).await?;
            let body: ThrottleListBody = decode("throttle list", &broker.addr, &reply)?;
            out.extend(body.throttles.into_iter().map(|entry| BrokerThrottle {
                broker: broker.name.clone(),
                rule: ThrottleRule {
                    topic: entry.topic,
                    producer_group: entry.producer_group,
                    rate: entry.rate,
                },
                rejected: entry.rejected,
            }));
        }
        Ok(out)
    }

    /// Removes the rules of `topic` and/or `producer_group` (`None` = any)
    /// on every master broker; returns how many rules were removed in all.
    pub async fn throttle_clear(
        &self,
        topic: Option<&str>,
        producer_group: Option<&str>,
    ) -> Result<usize, AdminError> {
        let filter = ThrottleClearBody {
            topic: topic.map(str::to_owned),
            producer_group: producer_group.map(str::to_owned),
        };
        filter
            .validate()
            .map_err(|err| AdminError::Invalid(err.to_string()))?;
        let mut removed = 0usize;
        for broker in self.masters(None).await? {
            let req = json_request(request::RINGMQ_THROTTLE_CLEAR, "throttle filter", &filter)?;
            let reply = self.call(&broker.addr, "throttle clear", req).await?;
            let body: ThrottleClearedBody = decode("throttle clear", &broker.addr, &reply)?;
            removed = removed.saturating_add(usize::try_from(body.removed).unwrap_or(usize::MAX));
        }
        Ok(removed)
    }
}
