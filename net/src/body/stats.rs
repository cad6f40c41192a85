//! Bodies of the broker statistics calls: [`BrokerStatsData`] (315,
//! VIEW_BROKER_STATS_DATA) and [`ConsumeStatsList`] (317,
//! GET_BROKER_CONSUME_STATS), field for field as Java 4.9's
//! `BrokerStatsData`, `BrokerStatsItem` and `ConsumeStatsList`:
//!
//! ```text
//! {"statsDay":{"avgpt":0.0,"sum":12,"tps":0.01},"statsHour":{..},"statsMinute":{..}}
//! {"brokerAddr":"1.2.3.4:10911","consumeStatsList":[{"<group>":[ConsumeStats..]}],"totalDiff":5}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConsumeStats;

/// `BrokerStatsItem`: one window of one statistic.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsItem {
    /// `sum`: the amount counted inside the window.
    pub sum: i64,
    /// `tps`: `sum` per second of the window.
    pub tps: f64,
    /// `avgpt`: `sum` per counted request.
    pub avgpt: f64,
}

/// `BrokerStatsData`: the last minute, hour and day of one statistic.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsData {
    /// `statsMinute`.
    pub stats_minute: BrokerStatsItem,
    /// `statsHour`.
    pub stats_hour: BrokerStatsItem,
    /// `statsDay`.
    pub stats_day: BrokerStatsItem,
}

/// `ConsumeStatsList`: every subscription group's [`ConsumeStats`] per topic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStatsList {
    /// `brokerAddr`.
    pub broker_addr: String,
    /// `totalDiff`: sum of every listed queue's `brokerOffset - consumerOffset`.
    pub total_diff: i64,
    /// `consumeStatsList`: one single-entry map per group.
    pub consume_stats_list: Vec<BTreeMap<String, Vec<ConsumeStats>>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::body::{MessageQueue, OffsetWrapper, decode_json, encode_json};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stats_data_round_trips(sum in 0i64..i64::MAX / 2, tps in 0u32..1_000_000, avgpt in 0u32..1000) {
            let item = BrokerStatsItem { sum, tps: f64::from(tps) / 8.0, avgpt: f64::from(avgpt) / 4.0 };
            let body = BrokerStatsData { stats_minute: item, stats_hour: item, stats_day: item };
            let back: BrokerStatsData = decode_json(&encode_json(&body).unwrap()).unwrap();
            prop_assert_eq!(back, body);
        }

        #[test]
        fn consume_stats_list_round_trips(group in "[a-zA-Z0-9_]{1,20}", topic in "[a-zA-Z0-9_]{1,20}", q in 0i32..64, diff in 0i64..1_000_000) {
            let mut stats = ConsumeStats::default();
            stats.offset_table.insert(
                MessageQueue { topic, broker_name: "b".into(), queue_id: q },
                OffsetWrapper { broker_offset: diff, consumer_offset: 0, last_timestamp: 0 },
            );
            let body = ConsumeStatsList {
                broker_addr: "127.0.0.1:10911".into(),
                total_diff: diff,
                consume_stats_list: vec![BTreeMap::from([(group, vec![stats])])],
            };
            let back: ConsumeStatsList = decode_json(&encode_json(&body).unwrap()).unwrap();
            prop_assert_eq!(back, body);
        }
    }

    #[test]
    fn field_names_are_java_s() {
        let json = String::from_utf8(encode_json(&BrokerStatsData::default()).unwrap()).unwrap();
        assert!(
            json.contains("\"statsMinute\":{\"avgpt\":0.0,\"sum\":0,\"tps\":0.0}"),
            "{json}"
        );
        let json = String::from_utf8(encode_json(&ConsumeStatsList::default()).unwrap()).unwrap();
        assert!(
            json.contains("\"brokerAddr\"") && json.contains("\"totalDiff\""),
            "{json}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_json::<BrokerStatsData>(b"{\"statsMinute\":7").is_err());
        assert!(decode_json::<BrokerStatsData>(&[0xff, 0x00, 0x7b]).is_err());
        assert!(decode_json::<ConsumeStatsList>(b"{\"consumeStatsList\":{}}").is_err());
        assert!(decode_json::<ConsumeStatsList>(&[0x7b, 0xc3]).is_err());
    }
}
