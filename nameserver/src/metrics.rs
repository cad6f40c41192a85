//! The nameserver's Prometheus metrics: requests by code, and the size of
//! the route table (clusters, broker names, live broker addresses, topics)
//! read when a scrape comes. Rendered as text by [`NameserverMetrics::render`];
//! the binary serves it at `/metrics` (`ringmq nameserver --metrics-address`,
//! or with the broker's figures on `ringmq standalone`'s endpoint).
//!
//! Label values are bounded: a request code outside RocketMQ's table is
//! counted as `other`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::route::RouteTable;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// Every metric of one nameserver.
#[derive(Debug)]
pub struct NameserverMetrics {
    registry: Registry,
    requests: Family<CodeLabels, Counter>,
    clusters: Gauge,
    brokers: Gauge,
    topics: Gauge,
}

impl Default for NameserverMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ringmq_nameserver");
        let requests = Family::<CodeLabels, Counter>::default();
        let (clusters, brokers, topics) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "requests",
            "Requests served, by request code",
            requests.clone(),
        );
        registry.register(
            "clusters",
            "Clusters with a registered broker",
            clusters.clone(),
        );
        registry.register("brokers", "Broker names registered", brokers.clone());
        registry.register("topics", "Topics with a route", topics.clone());
        NameserverMetrics {
            registry,
            requests,
            clusters,
            brokers,
            topics,
        }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl NameserverMetrics {
    /// One request of `code` arrived.
    pub fn request(&self, code: i32) {
        let code = if ringmq_net::code::request::ALL.contains(&code) {
            code.to_string()
        } else {
            "other".to_owned()
        };
        self.requests.get_or_create(&CodeLabels { code }).inc();
    }

    /// The text exposition, with the table gauges read from `routes`.
    pub fn render(&self, routes: &RouteTable) -> String {
        self.clusters.set(count(routes.clusters().len()));
        self.brokers.set(count(routes.broker_groups().len()));
        self.topics.set(count(routes.topic_names().len()));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_share_one_label() {
        let m = NameserverMetrics::default();
        m.request(105);
        m.request(105);
        m.request(99_999);
        m.request(-7);
        let text = m.render(&RouteTable::new());
        assert!(
            text.contains("ringmq_nameserver_requests_total{code=\"105\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("ringmq_nameserver_requests_total{code=\"other\"} 2"),
            "{text}"
        );
        assert!(text.contains("ringmq_nameserver_topics 0"), "{text}");
    }
}
