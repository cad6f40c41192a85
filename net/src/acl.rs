//! RocketMQ 4.x ACL 1.0 ("plain ACL") as data: the request signature of
//! Java's `AclClientRPCHook`, the `plain_acl.yml` file, and the decision of
//! `PlainAccessValidator` for one request. No I/O: the broker and the
//! nameserver read the file and call [`AclConfig::check`]; clients call
//! [`sign`].
//!
//! Signature (request extFields `AccessKey`, `Signature`, optional
//! `SecurityToken`):
//!
//! ```text
//! content   = concat(values of extFields sorted by key, without Signature)
//!             ++ body bytes                          (AccessKey is a field)
//! Signature = Base64(HmacSHA1(key = secretKey UTF-8, content))
//! ```
//!
//! `plain_acl.yml`:
//!
//! ```text
//! globalWhiteRemoteAddresses: [ "10.10.103.*", "192.168.0.*" ]
//! accounts:
//!   - accessKey: RocketMQ            # at least 6 characters
//!     secretKey: 12345678            # at least 6 characters
//!     whiteRemoteAddress: 192.168.1.*
//!     admin: false
//!     defaultTopicPerm: DENY         # DENY | PUB | SUB | PUB|SUB
//!     defaultGroupPerm: SUB
//!     topicPerms: [ "topicA=DENY", "topicB=PUB|SUB" ]
//!     groupPerms: [ "groupA=DENY", "groupB=SUB" ]
//! ```
//!
//! Check order, as `PlainAccessValidator.validate`: the global white list
//! (a match allows everything), the account (`AccessKey` known), the
//! account's white address (a match allows everything), the signature,
//! admin-only request codes, then the permission on each resource the
//! request touches (groups as their `%RETRY%` topic; a resource without its
//! own entry takes the default topic or group permission).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::body::heartbeat::HeartbeatData;
use crate::code::request;
use crate::command::RemotingCommand;
use crate::topic::{is_retry_topic, retry_topic};

/// extField carrying the account (`SessionCredentials.ACCESS_KEY`).
pub const ACCESS_KEY: &str = "AccessKey";
/// extField carrying the signature (`SessionCredentials.SIGNATURE`).
pub const SIGNATURE: &str = "Signature";
/// extField carrying the optional token (`SessionCredentials.SECURITY_TOKEN`).
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// extField left out of the signed content (`MixAll.UNIQUE_MSG_QUERY_FLAG`).
pub const UNIQUE_MSG_QUERY_FLAG: &str = "_UNIQUE_KEY_QUERY";
/// Shortest access and secret key (Java's `AclUtils` check).
pub const KEY_CHARS_MIN: usize = 6;
/// Largest `plain_acl.yml` read.
pub const ACL_FILE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Permission bits (`Permission`).
pub const PERM_DENY: u8 = 1;
pub const PERM_ANY: u8 = 1 << 1;
pub const PERM_PUB: u8 = 1 << 2;
pub const PERM_SUB: u8 = 1 << 3;

/// Request codes only an admin account may send: Java's `Permission.ADMIN_CODE`
/// plus offset reset and the nameserver's mutating admin requests.
pub const ADMIN_REQUEST_CODES: &[i32] = &[
    request::UPDATE_AND_CREATE_TOPIC,
    request::UPDATE_BROKER_CONFIG,
    request::DELETE_TOPIC_IN_BROKER,
    request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    request::DELETE_SUBSCRIPTIONGROUP,
    request::INVOKE_BROKER_TO_RESET_OFFSET,
    request::DELETE_TOPIC_IN_NAMESRV,
    request::PUT_KV_CONFIG,
    request::DELETE_KV_CONFIG,
    request::WIPE_WRITE_PERM_OF_BROKER,
    request::ADD_WRITE_PERM_OF_BROKER,
];

/// The signature of `content` with `secret_key` (Java `AclUtils.calSignature`).
pub fn signature(content: &[u8], secret_key: &str) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch is never taken.
        Err(_) => return String::new(),
    };
    mac.update(content);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The signed content of a request: its extField values sorted by key
/// (without `Signature` and `_UNIQUE_KEY_QUERY`), then its body.
pub fn signed_content(req: &RemotingCommand) -> Vec<u8> {
    let sorted: BTreeMap<&str, &str> = req
        .ext_fields
        .iter()
        .filter(|(key, _)| key.as_str() != SIGNATURE && key.as_str() != UNIQUE_MSG_QUERY_FLAG)
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let mut content: Vec<u8> = sorted.values().flat_map(|v| v.bytes()).collect();
    content.extend_from_slice(&req.body);
    content
}

/// Credentials a client signs its requests with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

/// Signs `req` as Java's `AclClientRPCHook.doBeforeRequest`: adds
/// `AccessKey` (and `SecurityToken`), then `Signature` over the content.
pub fn sign(req: &mut RemotingCommand, credentials: &Credentials) {
    req.ext_fields
        .insert(ACCESS_KEY.to_owned(), credentials.access_key.clone());
    if let Some(token) = &credentials.security_token {
        req.ext_fields
            .insert(SECURITY_TOKEN.to_owned(), token.clone());
    }
    let signed = signature(&signed_content(req), &credentials.secret_key);
    req.ext_fields.insert(SIGNATURE.to_owned(), signed);
}

/// Parses a permission word (`Permission.parsePermFromString`); anything
/// unknown is DENY.
pub fn parse_perm(text: &str) -> u8 {
    match text.trim() {
        "PUB" => PERM_PUB,
        "SUB" => PERM_SUB,
        "PUB|SUB" | "SUB|PUB" => PERM_PUB | PERM_SUB,
        _ => PERM_DENY,
    }
}

/// Whether `owned` grants `needed` (`Permission.checkPermission`).
pub fn grants(needed: u8, owned: u8) -> bool {
    if owned & PERM_DENY != 0 {
        return false;
    }
    if needed & PERM_ANY != 0 {
        return owned & (PERM_PUB | PERM_SUB) != 0;
    }
    needed & owned != 0
}

fn perm_name(perm: u8) -> &'static str {
    match perm {
        PERM_PUB => "PUB",
        PERM_SUB => "SUB",
        _ => "PUB|SUB",
    }
}

/// Why a `plain_acl.yml` was refused.
#[derive(Debug, thiserror::Error)]
pub enum AclConfigError {
    #[error("the ACL file is not valid YAML for plain_acl.yml: {0}")]
    Yaml(String),
    #[error("the ACL file is {0} bytes, over {ACL_FILE_BYTES_MAX}")]
    TooLarge(usize),
    #[error("account {index}: the accessKey must have at least {KEY_CHARS_MIN} characters")]
    AccessKey { index: usize },
    #[error("account {access_key}: the secretKey must have at least {KEY_CHARS_MIN} characters")]
    SecretKey { access_key: String },
    #[error("account {access_key} appears twice")]
    Duplicate { access_key: String },
    #[error("account {access_key}: {entry:?} is not resource=PERM")]
    PermEntry { access_key: String, entry: String },
    #[error("the white address {0:?} is not an IPv4 pattern (a.b.c.d, *, a-b, {{a,b}}) or an IP")]
    Address(String),
}

/// A YAML scalar read as text (snakeyaml turns `12345678` into a string).
#[derive(Debug, Clone, Default)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(de)?;
        Ok(Text(match value {
            serde_yaml::Value::String(text) => text,
            serde_yaml::Value::Number(number) => number.to_string(),
            serde_yaml::Value::Bool(flag) => flag.to_string(),
            _ => String::new(),
        }))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FileLayout {
    global_white_remote_addresses: Option<Vec<Text>>,
    accounts: Option<Vec<AccountLayout>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AccountLayout {
    access_key: Option<Text>,
    secret_key: Option<Text>,
    white_remote_address: Option<Text>,
    admin: Option<bool>,
    default_topic_perm: Option<Text>,
    default_group_perm: Option<Text>,
    topic_perms: Option<Vec<Text>>,
    group_perms: Option<Vec<Text>>,
}

/// An IP address pattern (`RemoteAddressStrategyFactory`): `*` for all,
/// IPv4 with `*`, `a-b` ranges per part or `{a,b}` in the last part, or one
/// exact address. Blank matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    Nothing,
    Everything,
    Exact(IpAddr),
    V4([(u8, u8); 3], Vec<(u8, u8)>),
}

impl AddressPattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Self, AclConfigError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::Nothing);
        }
        if matches!(text, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            return Ok(Self::Everything);
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::Exact(ip));
        }
        let bad = || AclConfigError::Address(text.to_owned());
        let parts: Vec<&str> = text.split('.').collect();
        let [a, b, c, last] = parts.as_slice() else {
            return Err(bad());
        };
        let head = [
            range(a).ok_or_else(bad)?,
            range(b).ok_or_else(bad)?,
            range(c).ok_or_else(bad)?,
        ];
        let tail = match last.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            Some(list) => list
                .split(',')
                .map(|n| n.trim().parse::<u8>().map(|n| (n, n)).map_err(|_| bad()))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![range(last).ok_or_else(bad)?],
        };
        Ok(Self::V4(head, tail))
    }

    /// Whether `ip` matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::Nothing, _) => false,
            (Self::Everything, _) => true,
            (Self::Exact(exact), ip) => *exact == ip,
            (Self::V4(head, tail), IpAddr::V4(v4)) => {
                let [a, b, c, d] = v4.octets();
                let inside = |(lo, hi): (u8, u8), n: u8| lo <= n && n <= hi;
                head.iter().zip([a, b, c]).all(|(r, n)| inside(*r, n))
                    && tail.iter().any(|r| inside(*r, d))
            }
            (Self::V4(..), IpAddr::V6(_)) => false,
        }
    }
}

fn range(part: &str) -> Option<(u8, u8)> {
    if part == "*" {
        return Some((0, 255));
    }
    match part.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (lo.parse().ok()?, hi.parse().ok()?);
            (lo <= hi).then_some((lo, hi))
        }
        None => part.parse().ok().map(|n| (n, n)),
    }
}

/// One account of the file.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    secret_key: String,
    white: AddressPattern,
    pub admin: bool,
    default_topic_perm: u8,
    default_group_perm: u8,
    /// Resource (topic, or `%RETRY%<group>`) -> permission.
    perms: HashMap<String, u8>,
}

/// A parsed `plain_acl.yml`.
#[derive(Debug, Clone, Default)]
pub struct AclConfig {
    global_white: Vec<AddressPattern>,
    accounts: HashMap<String, Account>,
}

/// Why a request was refused; the message names what is missing, never a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclDenied {
    #[error("no accessKey is configured: sign the request (AccessKey, Signature)")]
    NoAccessKey,
    #[error("no acl config for accessKey {0}")]
    UnknownAccount(String),
    #[error("check signature failed for accessKey={0}")]
    Signature(String),
    #[error("request code {code} needs admin permission, but accessKey={access_key} is not admin")]
    NeedAdmin { code: i32, access_key: String },
    #[error("accessKey={access_key} has no {perm} permission for {resource}")]
    NoPermission {
        access_key: String,
        resource: String,
        perm: &'static str,
    },
    #[error("the heartbeat body cannot be read for the permission check")]
    Body,
}

impl AclConfig {
    /// Parses the text of a `plain_acl.yml`.
    pub fn parse(text: &str) -> Result<Self, AclConfigError> {
        if text.len() > ACL_FILE_BYTES_MAX {
            return Err(AclConfigError::TooLarge(text.len()));
        }
        let layout: FileLayout = if text.trim().is_empty() {
            FileLayout::default()
        } else {
            serde_yaml::from_str(text).map_err(|err| AclConfigError::Yaml(err.to_string()))?
        };
        let global_white = layout
            .global_white_remote_addresses
            .unwrap_or_default()
            .iter()
            .map(|text| AddressPattern::parse(&text.0))
            .collect::<Result<_, _>>()?;
        let mut accounts = HashMap::new();
        for (index, raw) in layout.accounts.unwrap_or_default().into_iter().enumerate() {
            let account = account(index, raw)?;
            if accounts.contains_key(&account.access_key) {
                return Err(AclConfigError::Duplicate {
                    access_key: account.access_key,
                });
            }
            accounts.insert(account.access_key.clone(), account);
        }
        Ok(Self {
            global_white,
            accounts,
        })
    }

    /// The account of `access_key`.
    pub fn account(&self, access_key: &str) -> Option<&Account> {
        self.accounts.get(access_key)
    }

    /// Decides one request from `remote` (see the module doc for the order).
    pub fn check(&self, req: &RemotingCommand, remote: IpAddr) -> Result<(), AclDenied> {
        if self.global_white.iter().any(|p| p.matches(remote)) {
            return Ok(());
        }
        let access_key = req
            .ext_fields
            .get(ACCESS_KEY)
            .ok_or(AclDenied::NoAccessKey)?;
        let account = self
            .accounts
            .get(access_key.as_str())
            .ok_or_else(|| AclDenied::UnknownAccount(access_key.clone()))?;
        if account.white.matches(remote) {
            return Ok(());
        }
        self.check_signature(req, account)?;
        if ADMIN_REQUEST_CODES.contains(&req.code) && !account.admin {
            return Err(AclDenied::NeedAdmin {
                code: req.code,
                access_key: account.access_key.clone(),
            });
        }
        for (resource, needed) in resources(req)? {
            account.check_perm(&resource, needed)?;
        }
        Ok(())
    }

    /// Only the account and its signature (the nameserver's check).
    pub fn check_signed(&self, req: &RemotingCommand, remote: IpAddr) -> Result<(), AclDenied> {
        if self.global_white.iter().any(|p| p.matches(remote)) {
            return Ok(());
        }
        let access_key = req
            .ext_fields
            .get(ACCESS_KEY)
            .ok_or(AclDenied::NoAccessKey)?;
        let account = self
            .accounts
            .get(access_key.as_str())
            .ok_or_else(|| AclDenied::UnknownAccount(access_key.clone()))?;
        if account.white.matches(remote) {
            return Ok(());
        }
        self.check_signature(req, account)
    }

    fn check_signature(&self, req: &RemotingCommand, account: &Account) -> Result<(), AclDenied> {
        let expected = signature(&signed_content(req), &account.secret_key);
        let given = req.ext_fields.get(SIGNATURE).map(String::as_str);
        if given != Some(expected.as_str()) {
            return Err(AclDenied::Signature(account.access_key.clone()));
        }
        Ok(())
    }
}

impl Account {
    fn check_perm(&self, resource: &str, needed: u8) -> Result<(), AclDenied> {
        if self.admin && self.perms.is_empty() {
            return Ok(());
        }
        let owned = match self.perms.get(resource) {
            Some(perm) => *perm,
            None if is_retry_topic(resource) => self.default_group_perm,
            None => self.default_topic_perm,
        };
        if grants(needed, owned) {
            return Ok(());
        }
        Err(AclDenied::NoPermission {
            access_key: self.access_key.clone(),
            resource: resource.to_owned(),
            perm: perm_name(needed),
        })
    }
}

fn account(index: usize, raw: AccountLayout) -> Result<Account, AclConfigError> {
    let access_key = raw.access_key.unwrap_or_default().0;
    if access_key.chars().count() < KEY_CHARS_MIN {
        return Err(AclConfigError::AccessKey { index });
    }
    let secret_key = raw.secret_key.unwrap_or_default().0;
    if secret_key.chars().count() < KEY_CHARS_MIN {
        return Err(AclConfigError::SecretKey { access_key });
    }
    let white = AddressPattern::parse(&raw.white_remote_address.unwrap_or_default().0)?;
    let mut perms = HashMap::new();
    for (entries, is_group) in [(raw.topic_perms, false), (raw.group_perms, true)] {
        for entry in entries.unwrap_or_default() {
            let Some((name, perm)) = entry.0.split_once('=') else {
                return Err(AclConfigError::PermEntry {
                    access_key,
                    entry: entry.0,
                });
            };
            let resource = if is_group {
                retry_topic(name.trim())
            } else {
                name.trim().to_owned()
            };
            perms.insert(resource, parse_perm(perm));
        }
    }
    let default_perm = |perm: Option<Text>| perm.map_or(PERM_DENY, |p| parse_perm(&p.0));
    Ok(Account {
        access_key,
        secret_key,
        white,
        admin: raw.admin.unwrap_or(false),
        default_topic_perm: default_perm(raw.default_topic_perm),
        default_group_perm: default_perm(raw.default_group_perm),
        perms,
    })
}

/// The resources a request touches and the permission each needs
/// (`PlainAccessValidator.parse`).
pub fn resources(req: &RemotingCommand) -> Result<Vec<(String, u8)>, AclDenied> {
    let field = |key: &str| req.ext_fields.get(key).cloned().unwrap_or_default();
    let send = |topic: String, group: String| {
        if is_retry_topic(&topic) {
            (retry_topic(&group), PERM_SUB)
        } else {
            (topic, PERM_PUB)
        }
    };
    Ok(match req.code {
        request::SEND_MESSAGE => vec![send(field("topic"), field("producerGroup"))],
        request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
            vec![send(field("b"), field("a"))]
        }
        request::CONSUMER_SEND_MSG_BACK => vec![
            (field("originTopic"), PERM_PUB),
            (retry_topic(&field("group")), PERM_SUB),
        ],
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => vec![
            (field("topic"), PERM_SUB),
            (retry_topic(&field("consumerGroup")), PERM_SUB),
        ],
        request::QUERY_MESSAGE => vec![(field("topic"), PERM_SUB)],
        request::HEART_BEAT => heartbeat_resources(&req.body)?,
        request::UNREGISTER_CLIENT | request::GET_CONSUMER_LIST_BY_GROUP => {
            match req.ext_fields.get("consumerGroup") {
                Some(group) => vec![(retry_topic(group), PERM_SUB)],
                None => Vec::new(),
            }
        }
        request::UPDATE_CONSUMER_OFFSET | request::QUERY_CONSUMER_OFFSET => vec![
            (retry_topic(&field("consumerGroup")), PERM_SUB),
            (field("topic"), PERM_SUB),
        ],
        _ => Vec::new(),
    })
}

fn heartbeat_resources(body: &[u8]) -> Result<Vec<(String, u8)>, AclDenied> {
    let data: HeartbeatData = crate::body::decode_json(body).map_err(|_| AclDenied::Body)?;
    let mut out = Vec::new();
    for consumer in &data.consumer_data_set {
        out.push((retry_topic(&consumer.group_name), PERM_SUB));
        for sub in &consumer.subscription_data_set {
            out.push((sub.topic.clone(), PERM_SUB));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FILE: &str = "
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
";

    fn creds(access: &str) -> Credentials {
        Credentials {
            access_key: access.into(),
            secret_key: "12345678".into(),
            security_token: None,
        }
    }

    fn pull(topic: &str, group: &str) -> RemotingCommand {
        let mut req = RemotingCommand::request(request::PULL_MESSAGE);
        req.ext_fields.insert("topic".into(), topic.into());
        req.ext_fields.insert("consumerGroup".into(), group.into());
        req
    }

    fn local() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    /// Computed independently with Python:
    /// `base64.b64encode(hmac.new(b"12345678", b"RocketMQ0T1hello", hashlib.sha1).digest())`
    /// for extFields {AccessKey: RocketMQ, queueId: 0, topic: T1} and body "hello".
    #[test]
    fn the_signature_matches_a_vector_computed_like_java() {
        let mut req = RemotingCommand::request(request::SEND_MESSAGE).with_body(b"hello".to_vec());
        req.ext_fields.insert("topic".into(), "T1".into());
        req.ext_fields.insert("queueId".into(), "0".into());
        sign(&mut req, &creds("RocketMQ"));
        assert_eq!(signed_content(&req), b"RocketMQ0T1hello");
        assert_eq!(
            req.ext_fields.get(SIGNATURE).map(String::as_str),
            Some(SIGNATURE_VECTOR)
        );
    }

    /// See `the_signature_matches_a_vector_computed_like_java`.
    const SIGNATURE_VECTOR: &str = "v+marEb3UAVg7zeWMGkNJGqaIZk=";

    #[test]
    fn a_signed_request_with_permission_passes() {
        let acl = AclConfig::parse(FILE).unwrap();
        let mut req = pull("topicB", "groupB");
        sign(&mut req, &creds("RocketMQ"));
        acl.check(&req, local()).unwrap();
    }

    #[test]
    fn each_refusal_names_what_is_missing() {
        let acl = AclConfig::parse(FILE).unwrap();
        assert_eq!(
            acl.check(&pull("topicB", "groupB"), local()),
            Err(AclDenied::NoAccessKey)
        );
        let mut unknown = pull("topicB", "groupB");
        sign(&mut unknown, &creds("nobody1"));
        assert!(matches!(
            acl.check(&unknown, local()),
            Err(AclDenied::UnknownAccount(_))
        ));
        let mut tampered = pull("topicB", "groupB");
        sign(&mut tampered, &creds("RocketMQ"));
        tampered.ext_fields.insert("topic".into(), "topicC".into());
        assert!(matches!(
            acl.check(&tampered, local()),
            Err(AclDenied::Signature(_))
        ));
        let mut denied = pull("topicA", "groupB");
        sign(&mut denied, &creds("RocketMQ"));
        let err = acl.check(&denied, local()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "accessKey=RocketMQ has no SUB permission for topicA"
        );
        let mut default_denied = pull("other", "groupB");
        sign(&mut default_denied, &creds("RocketMQ"));
        assert!(acl.check(&default_denied, local()).is_err());
        let mut group_denied = pull("topicB", "groupA");
        sign(&mut group_denied, &creds("RocketMQ"));
        assert!(acl.check(&group_denied, local()).is_err());
        let mut admin = RemotingCommand::request(request::DELETE_TOPIC_IN_BROKER);
        admin.ext_fields.insert("topic".into(), "topicB".into());
        sign(&mut admin, &creds("RocketMQ"));
        assert!(matches!(
            acl.check(&admin, local()),
            Err(AclDenied::NeedAdmin { .. })
        ));
        let mut admin2 = admin.clone();
        sign(&mut admin2, &creds("rocketmq2"));
        acl.check(&admin2, local()).unwrap();
        for err in [acl.check(&tampered, local()).unwrap_err(), err] {
            assert!(!err.to_string().contains("12345678"), "{err}");
        }
    }

    #[test]
    fn white_lists_allow_without_a_signature() {
        let acl = AclConfig::parse(FILE).unwrap();
        acl.check(&pull("topicA", "groupA"), IpAddr::from([10, 10, 103, 7]))
            .unwrap();
        let mut req = pull("topicA", "groupA");
        req.ext_fields.insert(ACCESS_KEY.into(), "rocketmq2".into());
        acl.check(&req, IpAddr::from([192, 168, 1, 9])).unwrap();
        assert!(acl.check(&req, IpAddr::from([192, 168, 2, 9])).is_err());
    }

    #[test]
    fn address_patterns_follow_java() {
        let p = AddressPattern::parse("192.168.1-10.{1,5}").unwrap();
        assert!(p.matches(IpAddr::from([192, 168, 3, 5])));
        assert!(!p.matches(IpAddr::from([192, 168, 3, 4])));
        assert!(AddressPattern::parse("*").unwrap().matches(local()));
        assert!(!AddressPattern::parse("").unwrap().matches(local()));
        assert!(AddressPattern::parse("1.2.3").is_err());
        assert!(AddressPattern::parse("1.2.3.300").is_err());
    }

    #[test]
    fn bad_files_are_refused_by_reason() {
        assert!(matches!(
            AclConfig::parse("accounts: [ {accessKey: abc} ]"),
            Err(AclConfigError::AccessKey { .. })
        ));
        assert!(matches!(
            AclConfig::parse("accounts: [ {accessKey: abcdefg, secretKey: x} ]"),
            Err(AclConfigError::SecretKey { .. })
        ));
        assert!(AclConfig::parse("accounts: 7").is_err());
        assert!(AclConfig::parse(":\n- [").is_err());
        AclConfig::parse("").unwrap();
    }

    #[test]
    fn permission_bits_follow_java() {
        assert!(grants(PERM_PUB, PERM_PUB | PERM_SUB));
        assert!(!grants(PERM_PUB, PERM_SUB));
        assert!(!grants(PERM_SUB, PERM_DENY | PERM_SUB));
        assert!(grants(PERM_ANY, PERM_SUB));
        assert_eq!(parse_perm("SUB|PUB"), PERM_PUB | PERM_SUB);
        assert_eq!(parse_perm("bogus"), PERM_DENY);
    }

    proptest! {
        #[test]
        fn any_file_text_parses_or_fails_without_panic(text in any::<String>()) {
            let _ = AclConfig::parse(&text);
        }

        #[test]
        fn signing_then_checking_round_trips(
            topic in "[a-zA-Z0-9_]{1,20}", body in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            let acl = AclConfig::parse(&FILE.replace("defaultTopicPerm: DENY", "defaultTopicPerm: PUB|SUB")).unwrap();
            let mut req = pull(&topic, "groupB").with_body(body);
            sign(&mut req, &creds("RocketMQ"));
            prop_assert_eq!(acl.check(&req, local()), Ok(()));
        }
    }
}
