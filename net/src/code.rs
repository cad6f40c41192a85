//! The numbers of the remoting protocol: request codes, response codes,
//! language codes, `MQVersion` ordinals and the `flag` bits.
//!
//! Request and response codes are plain `i32` constants (not enums) because
//! the wire carries any number and a server must answer unknown request codes
//! with [`response::REQUEST_CODE_NOT_SUPPORTED`] rather than fail to decode.
//! [`request::name`] and [`response::name`] give the Java constant name for
//! logs.
//!
//! Sources: RocketMQ 4.9.x `RequestCode.java`, `ResponseCode.java`,
//! `LanguageCode.java`, `MQVersion.java` (spec §1.2, §1.6, §2.1, §3).

/// `flag` bit 0 (`RPC_TYPE`): set on responses.
pub const FLAG_RESPONSE: i32 = 1;
/// `flag` bit 1 (`RPC_ONEWAY`): set on one-way requests (never answered).
pub const FLAG_ONEWAY: i32 = 2;

/// Defines `pub const NAME: i32 = value;` for every entry plus a
/// `name(code)` lookup that returns the constant's name.
macro_rules! code_table {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        $($(#[$doc])* pub const $name: i32 = $value;)*

        /// The Java constant name of `code`, if it is one we know.
        pub fn name(code: i32) -> Option<&'static str> {
            match code {
                $($value => Some(stringify!($name)),)*
                _ => None,
            }
        }

        /// Every known code, in table order (for tests and tooling).
        pub const ALL: &[i32] = &[$($value,)*];
    };
}

/// Request codes (`RequestCode.java`, 4.9.x, plus two 5.x-era codes real
/// clients and brokers send: [`request::LITE_PULL_MESSAGE`] and
/// [`request::REGISTER_TOPIC_IN_NAMESRV`]).
pub mod request {
    code_table! {
        SEND_MESSAGE = 10,
        PULL_MESSAGE = 11,
        QUERY_MESSAGE = 12,
        QUERY_BROKER_OFFSET = 13,
        QUERY_CONSUMER_OFFSET = 14,
        UPDATE_CONSUMER_OFFSET = 15,
        UPDATE_AND_CREATE_TOPIC = 17,
        GET_ALL_TOPIC_CONFIG = 21,
        GET_TOPIC_CONFIG_LIST = 22,
        GET_TOPIC_NAME_LIST = 23,
        UPDATE_BROKER_CONFIG = 25,
        GET_BROKER_CONFIG = 26,
        TRIGGER_DELETE_FILES = 27,
        GET_BROKER_RUNTIME_INFO = 28,
        SEARCH_OFFSET_BY_TIMESTAMP = 29,
        GET_MAX_OFFSET = 30,
        GET_MIN_OFFSET = 31,
        GET_EARLIEST_MSG_STORETIME = 32,
        VIEW_MESSAGE_BY_ID = 33,
        HEART_BEAT = 34,
        UNREGISTER_CLIENT = 35,
        CONSUMER_SEND_MSG_BACK = 36,
        END_TRANSACTION = 37,
        GET_CONSUMER_LIST_BY_GROUP = 38,
        /// Broker -> producer.
        CHECK_TRANSACTION_STATE = 39,
        /// Broker -> consumer.
        NOTIFY_CONSUMER_IDS_CHANGED = 40,
        LOCK_BATCH_MQ = 41,
        UNLOCK_BATCH_MQ = 42,
        GET_ALL_CONSUMER_OFFSET = 43,
        GET_ALL_DELAY_OFFSET = 45,
        CHECK_CLIENT_CONFIG = 46,
        UPDATE_AND_CREATE_ACL_CONFIG = 50,
        DELETE_ACL_CONFIG = 51,
        GET_BROKER_CLUSTER_ACL_INFO = 52,
        UPDATE_GLOBAL_WHITE_ADDRS_CONFIG = 53,
        PUT_KV_CONFIG = 100,
        GET_KV_CONFIG = 101,
        DELETE_KV_CONFIG = 102,
        REGISTER_BROKER = 103,
        UNREGISTER_BROKER = 104,
        GET_ROUTEINFO_BY_TOPIC = 105,
        GET_BROKER_CLUSTER_INFO = 106,
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200,
        GET_ALL_SUBSCRIPTIONGROUP_CONFIG = 201,
        GET_TOPIC_STATS_INFO = 202,
        GET_CONSUMER_CONNECTION_LIST = 203,
        GET_PRODUCER_CONNECTION_LIST = 204,
        WIPE_WRITE_PERM_OF_BROKER = 205,
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206,
        DELETE_SUBSCRIPTIONGROUP = 207,
        GET_CONSUME_STATS = 208,
        SUSPEND_CONSUMER = 209,
        RESUME_CONSUMER = 210,
        RESET_CONSUMER_OFFSET_IN_CONSUMER = 211,
        RESET_CONSUMER_OFFSET_IN_BROKER = 212,
        ADJUST_CONSUMER_THREAD_POOL = 213,
        WHO_CONSUME_THE_MESSAGE = 214,
        DELETE_TOPIC_IN_BROKER = 215,
        DELETE_TOPIC_IN_NAMESRV = 216,
        /// Broker -> nameserver (5.x-era brokers, on topic auto-creation).
        REGISTER_TOPIC_IN_NAMESRV = 217,
        GET_KVLIST_BY_NAMESPACE = 219,
        /// Broker -> consumer.
        RESET_CONSUMER_CLIENT_OFFSET = 220,
        /// Broker -> consumer.
        GET_CONSUMER_STATUS_FROM_CLIENT = 221,
        INVOKE_BROKER_TO_RESET_OFFSET = 222,
        INVOKE_BROKER_TO_GET_CONSUMER_STATUS = 223,
        GET_TOPICS_BY_CLUSTER = 224,
        QUERY_TOPIC_CONSUME_BY_WHO = 300,
        REGISTER_FILTER_SERVER = 301,
        REGISTER_MESSAGE_FILTER_CLASS = 302,
        QUERY_CONSUME_TIME_SPAN = 303,
        GET_SYSTEM_TOPIC_LIST_FROM_NS = 304,
        GET_SYSTEM_TOPIC_LIST_FROM_BROKER = 305,
        CLEAN_EXPIRED_CONSUMEQUEUE = 306,
        GET_CONSUMER_RUNNING_INFO = 307,
        QUERY_CORRECTION_OFFSET = 308,
        CONSUME_MESSAGE_DIRECTLY = 309,
        SEND_MESSAGE_V2 = 310,
        GET_UNIT_TOPIC_LIST = 311,
        GET_HAS_UNIT_SUB_TOPIC_LIST = 312,
        GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST = 313,
        CLONE_GROUP_OFFSET = 314,
        VIEW_BROKER_STATS_DATA = 315,
        CLEAN_UNUSED_TOPIC = 316,
        GET_BROKER_CONSUME_STATS = 317,
        UPDATE_NAMESRV_CONFIG = 318,
        GET_NAMESRV_CONFIG = 319,
        SEND_BATCH_MESSAGE = 320,
        QUERY_CONSUME_QUEUE = 321,
        QUERY_DATA_VERSION = 322,
        RESUME_CHECK_HALF_MESSAGE = 323,
        SEND_REPLY_MESSAGE = 324,
        SEND_REPLY_MESSAGE_V2 = 325,
        /// Broker -> client.
        PUSH_REPLY_MESSAGE_TO_CLIENT = 326,
        ADD_WRITE_PERM_OF_BROKER = 327,
        GET_ALL_PRODUCER_INFO = 328,
        DELETE_EXPIRED_COMMITLOG = 329,
        /// The lite pull consumer's pull: same header and response as
        /// [`PULL_MESSAGE`].
        LITE_PULL_MESSAGE = 361,
        /// RocketMQ 5.x POP consumption (`header::pop`). Above the binary
        /// header's i16, so only JSON-serialized commands carry them (as in
        /// Java, whose 5.x clients send JSON).
        POP_MESSAGE = 200050,
        /// Acknowledges one popped message.
        ACK_MESSAGE = 200051,
        /// Reads without taking a message (no checkpoint).
        PEEK_MESSAGE = 200052,
        /// Moves one popped message's invisibility deadline.
        CHANGE_MESSAGE_INVISIBLETIME = 200053,
        /// Long-polls until a pop would find a message.
        NOTIFICATION = 200054,
        /// ringmq-private range 30000..=30099 (no RocketMQ 4.x or 5.x code
        /// is in it: theirs stop at 3010 and resume at 200000 for pop, and
        /// the binary header carries the code as an i16, so the range stays
        /// below 32767). A RocketMQ broker answers these
        /// REQUEST_CODE_NOT_SUPPORTED. Bodies: `body::throttle`.
        /// Adds or replaces a producer throttle rule.
        RINGMQ_THROTTLE_SET = 30000,
        /// Lists the throttle rules with their refusal counts.
        RINGMQ_THROTTLE_LIST = 30001,
        /// Removes the throttle rules matching a filter.
        RINGMQ_THROTTLE_CLEAR = 30002,
    }

    /// Request codes ringmq defines for itself (see [`RINGMQ_THROTTLE_SET`]).
    pub const RINGMQ_PRIVATE: std::ops::RangeInclusive<i32> = 30000..=30099;
}

/// Response codes (`ResponseCode.java` extending `RemotingSysResponseCode`).
pub mod response {
    code_table! {
        SUCCESS = 0,
        SYSTEM_ERROR = 1,
        SYSTEM_BUSY = 2,
        REQUEST_CODE_NOT_SUPPORTED = 3,
        TRANSACTION_FAILED = 4,
        FLUSH_DISK_TIMEOUT = 10,
        SLAVE_NOT_AVAILABLE = 11,
        FLUSH_SLAVE_TIMEOUT = 12,
        MESSAGE_ILLEGAL = 13,
        SERVICE_NOT_AVAILABLE = 14,
        VERSION_NOT_SUPPORTED = 15,
        NO_PERMISSION = 16,
        TOPIC_NOT_EXIST = 17,
        TOPIC_EXIST_ALREADY = 18,
        PULL_NOT_FOUND = 19,
        PULL_RETRY_IMMEDIATELY = 20,
        PULL_OFFSET_MOVED = 21,
        QUERY_NOT_FOUND = 22,
        SUBSCRIPTION_PARSE_FAILED = 23,
        SUBSCRIPTION_NOT_EXIST = 24,
        SUBSCRIPTION_NOT_LATEST = 25,
        SUBSCRIPTION_GROUP_NOT_EXIST = 26,
        FILTER_DATA_NOT_EXIST = 27,
        FILTER_DATA_NOT_LATEST = 28,
        INVALID_PARAMETER = 29,
        TRANSACTION_SHOULD_COMMIT = 200,
        TRANSACTION_SHOULD_ROLLBACK = 201,
        TRANSACTION_STATE_UNKNOW = 202,
        TRANSACTION_STATE_GROUP_WRONG = 203,
        NO_BUYER_ID = 204,
        NOT_IN_CURRENT_UNIT = 205,
        CONSUMER_NOT_ONLINE = 206,
        CONSUME_MSG_TIMEOUT = 207,
        NO_MESSAGE = 208,
        UPDATE_AND_CREATE_ACL_CONFIG_FAILED = 209,
        DELETE_ACL_CONFIG_FAILED = 210,
        UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED = 211,
        FLOW_CONTROL = 215,
    }

    /// RocketMQ 5.x `POLLING_FULL`: too many pops/notifications are waiting.
    /// Same number as 4.x's [`UPDATE_AND_CREATE_ACL_CONFIG_FAILED`] (5.x
    /// renumbered), so it stays outside the name table.
    pub const POLLING_FULL: i32 = 209;
    /// RocketMQ 5.x `POLLING_TIMEOUT`: a long-polling pop found nothing in
    /// its poll time (shares 4.x's [`DELETE_ACL_CONFIG_FAILED`] number).
    pub const POLLING_TIMEOUT: i32 = 210;
}

/// Who sent a command (`LanguageCode.java`). On the wire it is a byte in the
/// ROCKETMQ header and the upper-case name (`"JAVA"`) in the JSON header.
/// Unknown numbers and names decode as [`LanguageCode::Other`], never as an
/// error: the field is informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LanguageCode {
    /// `JAVA`, 0. Java's default, so also ours when the field is absent.
    #[default]
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
}

impl LanguageCode {
    /// Every language, in code order (index == code).
    pub const ALL: [LanguageCode; 14] = [
        Self::Java,
        Self::Cpp,
        Self::Dotnet,
        Self::Python,
        Self::Delphi,
        Self::Erlang,
        Self::Ruby,
        Self::Other,
        Self::Http,
        Self::Go,
        Self::Php,
        Self::Oms,
        Self::Rust,
        Self::NodeJs,
    ];

    /// The wire byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The language with this code; unknown codes give [`LanguageCode::Other`].
    pub fn from_code(code: i64) -> Self {
        usize::try_from(code)
            .ok()
            .and_then(|index| Self::ALL.get(index).copied())
            .unwrap_or(Self::Other)
    }

    /// The Java enum name, as written in JSON headers.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Java => "JAVA",
            Self::Cpp => "CPP",
            Self::Dotnet => "DOTNET",
            Self::Python => "PYTHON",
            Self::Delphi => "DELPHI",
            Self::Erlang => "ERLANG",
            Self::Ruby => "RUBY",
            Self::Other => "OTHER",
            Self::Http => "HTTP",
            Self::Go => "GO",
            Self::Php => "PHP",
            Self::Oms => "OMS",
            Self::Rust => "RUST",
            Self::NodeJs => "NODE_JS",
        }
    }

    /// The language with this Java enum name (exact, upper case); unknown
    /// names give [`LanguageCode::Other`].
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|language| language.name() == name)
            .unwrap_or(Self::Other)
    }
}

impl std::fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `MQVersion.Version.V4_9_4`: from here on the nameserver answers route
/// data in standard JSON.
pub const VERSION_4_9_4: i32 = 401;
/// `MQVersion.Version.V4_9_8`, the last 4.x release.
pub const VERSION_4_9_8: i32 = 409;
/// The version ordinal ringmq puts in every command it sends (requests and
/// responses): clients read the broker's version from heartbeat responses.
pub const CURRENT_VERSION: i32 = VERSION_4_9_8;

/// Ordinal of `V4_0_0_SNAPSHOT`, the first entry of the regular part of the
/// `MQVersion.Version` enum: from here every `major.minor.patch` release is
/// preceded by its `_SNAPSHOT`, ten patches per minor, ten minors per major.
const VERSION_4_0_0_SNAPSHOT: i32 = 212;
/// Ordinal of `HIGHER_VERSION`, one past `V5_9_9`.
const VERSION_HIGHER: i32 = 612;
/// Enum entries per minor version (10 patches, each with a snapshot).
const VERSION_ENTRIES_PER_MINOR: i32 = 20;

/// The `MQVersion.Version` name of an ordinal, e.g. `409 -> "V4_9_8"`,
/// `474 -> "V5_3_1_SNAPSHOT"`. Known for 4.0.0 and later (and for 0,
/// `V3_0_0_SNAPSHOT`); `None` for other 3.x ordinals and out-of-range values.
pub fn version_name(ordinal: i32) -> Option<String> {
    if ordinal == 0 {
        return Some("V3_0_0_SNAPSHOT".to_owned());
    }
    if ordinal == VERSION_HIGHER {
        return Some("HIGHER_VERSION".to_owned());
    }
    if !(VERSION_4_0_0_SNAPSHOT..VERSION_HIGHER).contains(&ordinal) {
        return None;
    }
    let index = ordinal - VERSION_4_0_0_SNAPSHOT;
    let minors = index / VERSION_ENTRIES_PER_MINOR;
    let within_minor = index % VERSION_ENTRIES_PER_MINOR;
    let major = 4 + minors / 10;
    let minor = minors % 10;
    let patch = within_minor / 2;
    let snapshot = if within_minor % 2 == 0 {
        "_SNAPSHOT"
    } else {
        ""
    };
    Some(format!("V{major}_{minor}_{patch}{snapshot}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_names_match_their_constants() {
        assert_eq!(
            request::name(request::SEND_MESSAGE_V2),
            Some("SEND_MESSAGE_V2")
        );
        assert_eq!(request::name(361), Some("LITE_PULL_MESSAGE"));
        assert_eq!(request::name(217), Some("REGISTER_TOPIC_IN_NAMESRV"));
        assert_eq!(request::name(9999), None);
        assert_eq!(response::name(19), Some("PULL_NOT_FOUND"));
        assert_eq!(response::name(-1), None);
    }

    #[test]
    fn private_codes_sit_in_their_range_and_fit_the_binary_header() {
        let private: Vec<i32> = request::ALL
            .iter()
            .copied()
            .filter(|c| request::RINGMQ_PRIVATE.contains(c))
            .collect();
        assert_eq!(private.len(), 3);
        assert!(i16::try_from(*request::RINGMQ_PRIVATE.end()).is_ok());
        assert_eq!(request::name(30001), Some("RINGMQ_THROTTLE_LIST"));
    }

    #[test]
    fn code_tables_have_no_duplicates() {
        for table in [request::ALL, response::ALL] {
            let mut sorted = table.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), table.len());
        }
    }

    #[test]
    fn language_codes_round_trip_by_number_and_name() {
        for (index, language) in LanguageCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(language.code()), index);
            assert_eq!(
                LanguageCode::from_code(i64::from(language.code())),
                *language
            );
            assert_eq!(LanguageCode::from_name(language.name()), *language);
        }
        assert_eq!(LanguageCode::Rust.code(), 12);
        assert_eq!(LanguageCode::NodeJs.name(), "NODE_JS");
    }

    #[test]
    fn unknown_language_is_other_not_an_error() {
        assert_eq!(LanguageCode::from_code(14), LanguageCode::Other);
        assert_eq!(LanguageCode::from_code(-1), LanguageCode::Other);
        assert_eq!(LanguageCode::from_name("COBOL"), LanguageCode::Other);
    }

    #[test]
    fn version_names_follow_the_mqversion_enum() {
        assert_eq!(version_name(213).as_deref(), Some("V4_0_0"));
        assert_eq!(version_name(313).as_deref(), Some("V4_5_0"));
        assert_eq!(version_name(393).as_deref(), Some("V4_9_0"));
        assert_eq!(version_name(VERSION_4_9_4).as_deref(), Some("V4_9_4"));
        assert_eq!(version_name(CURRENT_VERSION).as_deref(), Some("V4_9_8"));
        assert_eq!(version_name(413).as_deref(), Some("V5_0_0"));
        assert_eq!(version_name(474).as_deref(), Some("V5_3_1_SNAPSHOT"));
        assert_eq!(version_name(0).as_deref(), Some("V3_0_0_SNAPSHOT"));
        assert_eq!(version_name(-5), None);
    }
}
