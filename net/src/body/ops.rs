//! Bodies of operator calls added for `ringmq admin`:
//! [`QueryConsumeTimeSpanBody`] (303, QUERY_CONSUME_TIME_SPAN), as Java's
//! `C/protocol/body/QueryConsumeTimeSpanBody.java` and `QueueTimeSpan.java`.

use serde::{Deserialize, Serialize};

use super::MessageQueue;

/// `QueueTimeSpan`: one queue's stored and consumed time range.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueTimeSpan {
    /// `consumeTimeStamp`: store time of the last consumed message, ms.
    pub consume_time_stamp: i64,
    /// `delayTime`: `maxTimeStamp - consumeTimeStamp` when behind, else 0.
    pub delay_time: i64,
    /// `maxTimeStamp`: store time of the newest message, ms.
    pub max_time_stamp: i64,
    /// `messageQueue`.
    pub message_queue: MessageQueue,
    /// `minTimeStamp`: store time of the oldest message, ms.
    pub min_time_stamp: i64,
}

/// `QueryConsumeTimeSpanBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryConsumeTimeSpanBody {
    /// `consumeTimeSpanSet`.
    pub consume_time_span_set: Vec<QueueTimeSpan>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn time_span_round_trips(topic in "[a-zA-Z0-9_]{1,20}", q in 0i32..64, min in 0i64..i64::MAX / 2) {
            let body = QueryConsumeTimeSpanBody {
                consume_time_span_set: vec![QueueTimeSpan {
                    consume_time_stamp: min,
                    delay_time: 0,
                    max_time_stamp: min,
                    message_queue: MessageQueue {
                        topic,
                        broker_name: "b".into(),
                        queue_id: q,
                    },
                    min_time_stamp: min,
                }],
            };
            let json = crate::body::encode_json(&body).unwrap();
            let back: QueryConsumeTimeSpanBody = crate::body::decode_json(&json).unwrap();
            prop_assert_eq!(back, body);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(
            crate::body::decode_json::<QueryConsumeTimeSpanBody>(b"{\"consumeTimeSpanSet\":7")
                .is_err()
        );
        assert!(crate::body::decode_json::<QueryConsumeTimeSpanBody>(&[0xff, 0x00, 0x7b]).is_err());
    }
}
