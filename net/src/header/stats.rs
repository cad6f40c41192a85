//! Headers of the broker statistics calls: VIEW_BROKER_STATS_DATA (315)
//! and GET_BROKER_CONSUME_STATS (317), as Java 4.9's
//! `ViewBrokerStatsDataRequestHeader` and `GetConsumeStatsInBrokerHeader`.

use crate::command_header;

command_header! {
    /// `ViewBrokerStatsDataRequestHeader` (315). Reply body:
    /// [`crate::body::BrokerStatsData`].
    pub struct ViewBrokerStatsDataRequestHeader {
        /// `statsName`: e.g. `TOPIC_PUT_NUMS`, `GROUP_GET_NUMS`.
        pub stats_name: String = "statsName",
        /// `statsKey`: a topic, `topic@group`, or the cluster name.
        pub stats_key: String = "statsKey",
    }
}

command_header! {
    /// `GetConsumeStatsInBrokerHeader` (317). Reply body:
    /// [`crate::body::ConsumeStatsList`].
    pub struct GetConsumeStatsInBrokerHeader {
        /// `isOrder`: only topics configured as ordered.
        pub is_order: bool = "isOrder" or_default,
        /// `timeoutMillis`: the caller's timeout (informational).
        pub timeout_millis: Option<i64> = "timeoutMillis",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, ExtFields, to_ext_fields};

    #[test]
    fn headers_round_trip_and_name_java_s_fields() {
        let head = ViewBrokerStatsDataRequestHeader {
            stats_name: "GROUP_GET_NUMS".into(),
            stats_key: "T@G".into(),
        };
        let fields = to_ext_fields(&head);
        assert_eq!(
            fields.get("statsName").map(String::as_str),
            Some("GROUP_GET_NUMS")
        );
        assert_eq!(fields.get("statsKey").map(String::as_str), Some("T@G"));
        assert_eq!(
            ViewBrokerStatsDataRequestHeader::read_ext_fields(&fields).unwrap(),
            head
        );

        let mut fields = ExtFields::new();
        fields.insert("isOrder".into(), "true".into());
        let head = GetConsumeStatsInBrokerHeader::read_ext_fields(&fields).unwrap();
        assert!(head.is_order);
        assert_eq!(head.timeout_millis, None);
    }

    #[test]
    fn a_missing_stats_key_is_an_error() {
        let mut fields = ExtFields::new();
        fields.insert("statsName".into(), "TOPIC_PUT_NUMS".into());
        assert!(ViewBrokerStatsDataRequestHeader::read_ext_fields(&fields).is_err());
        let mut fields = ExtFields::new();
        fields.insert("timeoutMillis".into(), "soon".into());
        // Nullable and primitive fields never fail (see the module table).
        let head = GetConsumeStatsInBrokerHeader::read_ext_fields(&fields).unwrap();
        assert_eq!((head.is_order, head.timeout_millis), (false, None));
    }
}
