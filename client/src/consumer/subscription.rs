//! Tag subscriptions: parsing `"TagA || TagB"` / `"*"` into the tag set and
//! Java hash codes the broker filters on, and the client-side re-filter
//! (the broker filters by hash only, so collisions are removed here).

use std::collections::BTreeSet;

use crate::producer::selector::java_string_hash;

/// Matches every tag.
pub const SUBSCRIBE_ALL: &str = "*";
/// Most tags in one expression, to bound heartbeat size.
pub const TAGS_PER_EXPRESSION_MAX: usize = 1_024;

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The topic is not a valid topic name.
    #[error(transparent)]
    Topic(#[from] crate::message::ValidationError),
    /// The expression lists more tags than allowed.
    #[error("the tag expression has more than {TAGS_PER_EXPRESSION_MAX} tags")]
    TooManyTags,
    /// A tag holds a character the broker treats as a separator.
    #[error("the tag {0:?} contains an illegal character")]
    IllegalTag(String),
}

/// One topic subscription, as sent in heartbeats (`SubscriptionData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscribed topic.
    pub topic: String,
    /// The expression as the user gave it (`*` when empty).
    pub expression: String,
    /// The tags, empty for `*`.
    pub tags: BTreeSet<String>,
    /// Java `String.hashCode` of every tag.
    pub codes: BTreeSet<i32>,
    /// Version of the subscription: ms timestamp at creation.
    pub version: i64,
}

impl Subscription {
    /// Parses `expression` for `topic` (`"*"`, `""`, or `"A || B"`).
    pub fn parse(topic: &str, expression: &str, version: i64) -> Result<Self, SubscribeError> {
        crate::message::validate_topic(topic)?;
        let trimmed = expression.trim();
        let mut tags = BTreeSet::new();
        if !trimmed.is_empty() && trimmed != SUBSCRIBE_ALL {
            for tag in trimmed.split("||").map(str::trim).filter(|t| !t.is_empty()) {
                if tag.contains(['\u{1}', '\u{2}']) {
                    return Err(SubscribeError::IllegalTag(tag.to_string()));
                }
                tags.insert(tag.to_string());
                if tags.len() > TAGS_PER_EXPRESSION_MAX {
                    return Err(SubscribeError::TooManyTags);
                }
            }
        }
        let expression = if tags.is_empty() {
            SUBSCRIBE_ALL
        } else {
            trimmed
        };
        let codes = tags.iter().map(|t| java_string_hash(t)).collect();
        Ok(Self {
            topic: topic.to_string(),
            expression: expression.to_string(),
            tags,
            codes,
            version,
        })
    }

    /// Whether a message with `tag` passes the client-side filter.
    pub fn matches(&self, tag: Option<&str>) -> bool {
        self.tags.is_empty() || tag.is_some_and(|t| self.tags.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_empty_subscribe_to_everything() {
        for expr in ["*", "", "  "] {
            let s = Subscription::parse("T", expr, 1).unwrap();
            assert_eq!(s.expression, "*");
            assert!(s.tags.is_empty());
            assert!(s.matches(None));
            assert!(s.matches(Some("x")));
        }
    }

    #[test]
    fn or_expression_yields_tags_and_java_codes() {
        let s = Subscription::parse("T", "TagA || TagB ||", 1).unwrap();
        assert_eq!(
            s.tags.iter().cloned().collect::<Vec<_>>(),
            vec!["TagA", "TagB"]
        );
        assert!(s.codes.contains(&2_598_919));
        assert!(s.matches(Some("TagB")));
        assert!(!s.matches(Some("TagC")));
        assert!(!s.matches(None));
    }

    #[test]
    fn bad_topics_are_refused() {
        assert!(Subscription::parse("bad topic", "*", 1).is_err());
    }
}
