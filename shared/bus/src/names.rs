//! Names every service agrees on, and the one rule for what a name may look like.
//!
//! Topics carry one event each and a version, so a breaking change to an event is a new
//! topic: `cratedigger.chunk-done.v1`. A subscription is owned by the consuming service:
//! `tracker.chunk-done`. Both adapters accept exactly the names Pub/Sub accepts, so a name
//! that works in the one-process mode also works in production.

use crate::BusError;

/// The topic of an event, e.g. `topic_name("chunk-done")` is `cratedigger.chunk-done.v1`.
pub fn topic_name(event: &str) -> String {
    format!("cratedigger.{event}.v1")
}

/// The subscription through which `service` consumes `event`, e.g. `tracker.chunk-done`.
pub fn subscription_name(service: &str, event: &str) -> String {
    format!("{service}.{event}")
}

/// Where messages of `topic` go once a subscription gives up on them.
pub fn dead_letter_topic_name(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// Attributes a dead-lettered message carries, named as Pub/Sub names them.
pub mod dead_letter_attributes {
    /// The subscription that gave up on the message (without any adapter name prefix).
    pub const SOURCE_SUBSCRIPTION: &str = "CloudPubSubDeadLetterSourceSubscription";
    /// How many times it had been delivered there.
    pub const DELIVERY_COUNT: &str = "CloudPubSubDeadLetterSourceDeliveryCount";
}

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 255;

/// Checks `name` against the Pub/Sub resource-name rules: 3 to 255 characters, starting
/// with a letter, made of letters, digits and `-._~+%`, and not starting with `goog`.
pub fn validate_name(name: &str) -> Result<(), BusError> {
    let invalid = |reason: &str| BusError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if !(MIN_LEN..=MAX_LEN).contains(&name.len()) {
        return Err(invalid("a name has 3 to 255 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid("a name starts with a letter"));
    }
    if name.to_ascii_lowercase().starts_with("goog") {
        return Err(invalid("a name must not start with goog"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~+%".contains(c);
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        return Err(invalid(&format!("character {bad:?} is not allowed")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        assert_eq!(topic_name("chunk-done"), "cratedigger.chunk-done.v1");
        assert_eq!(
            subscription_name("tracker", "chunk-done"),
            "tracker.chunk-done"
        );
        assert_eq!(
            dead_letter_topic_name("cratedigger.chunk-done.v1"),
            "cratedigger.chunk-done.v1.dead-letter"
        );
    }

    #[test]
    fn the_conventional_names_are_valid() {
        for name in [
            topic_name("chunk-done"),
            subscription_name("tracker", "chunk-done"),
            dead_letter_topic_name(&topic_name("job-requested")),
            "bus_123_0_456.cratedigger.x.v1".to_owned(),
        ] {
            assert!(validate_name(&name).is_ok(), "{name}");
        }
    }

    #[test]
    fn pubsub_rules_reject_bad_names() {
        let too_long = "a".repeat(256);
        for name in [
            "ab",
            too_long.as_str(),
            "1topic",
            "google-topic",
            "has space",
            "slash/no",
            "é-topic",
        ] {
            match validate_name(name) {
                Err(BusError::InvalidName { name: reported, .. }) => assert_eq!(reported, name),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }
}
