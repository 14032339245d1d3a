//! The one conformance suite every [`EventBus`] adapter must pass.
//!
//! Each behaviour is a `pub async fn(Case)` that panics on a broken contract; an adapter's
//! test file calls each one (see `tests/conformance.rs`). Waiting is driven by the case's
//! [`Pace`]: on tokio's paused clock the memory bus runs every wait instantly, while a real
//! server gets real seconds. Names come from the case, so tests sharing a server never meet.

// Test code: a failed expectation is meant to panic with a readable message.
#![allow(clippy::unwrap_used, clippy::panic)]

mod admin;
mod delivery;
mod redelivery;

use std::sync::Arc;
use std::time::Duration;

use crate::{Delivery, EventBus, Subscription, SubscriptionSpec};

pub use admin::{
    ensure_is_idempotent, invalid_names_are_rejected, publishing_to_a_missing_topic_is_reported,
};
pub use delivery::{
    competing_consumers_share_a_subscription, concurrent_publishers_lose_nothing,
    fan_out_gives_each_subscription_a_copy, late_subscription_misses_earlier_messages,
    round_trip_keeps_data_and_attributes, the_largest_message_arrives_whole,
};
pub use redelivery::{
    a_lease_ends_at_max_lease,
    a_stopped_subscriber_settles_what_it_holds_and_its_nacks_go_elsewhere,
    leases_last_while_held_and_end_when_let_go, nack_redelivers_with_the_next_attempt,
    used_up_attempts_go_to_the_dead_letter_topic,
};

/// How long the suite waits, per adapter.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The subscriptions' ack deadline (Pub/Sub accepts 10 s at least).
    pub ack_deadline: Duration,
    /// How long an expected delivery may take to arrive (beyond any ack deadline).
    pub patience: Duration,
    /// How long nothing must arrive to conclude that nothing will.
    pub quiet: Duration,
}

impl Pace {
    /// For an adapter on tokio's paused clock: generous, since waiting costs nothing.
    pub const PAUSED_CLOCK: Pace = Pace {
        ack_deadline: Duration::from_secs(10),
        patience: Duration::from_secs(60),
        quiet: Duration::from_secs(30),
    };

    /// For a real server: the shortest deadline Pub/Sub allows, and a short quiet period.
    pub const REAL_SERVER: Pace = Pace {
        ack_deadline: Duration::from_secs(10),
        patience: Duration::from_secs(30),
        quiet: Duration::from_secs(2),
    };
}

/// One run of one behaviour against one adapter.
pub struct Case {
    pub bus: Arc<dyn EventBus>,
    /// A name unique to this run; every topic and subscription name starts with it.
    pub base: String,
    pub pace: Pace,
}

impl Case {
    pub fn new(bus: Arc<dyn EventBus>, base: impl Into<String>, pace: Pace) -> Self {
        Self {
            bus,
            base: base.into(),
            pace,
        }
    }

    fn name(&self, what: &str) -> String {
        format!("{}.{what}", self.base)
    }

    /// A subscription with the case's deadline and a dead-letter topic.
    fn spec(&self, subscription: &str, topic: &str) -> SubscriptionSpec {
        let mut spec = SubscriptionSpec::new(subscription, topic);
        spec.ack_deadline = self.pace.ack_deadline;
        spec
    }

    async fn open(&self, spec: &SubscriptionSpec) -> Box<dyn Subscription> {
        match self.bus.subscribe(spec).await {
            Ok(subscription) => subscription,
            Err(error) => panic!("subscribing to {}: {error}", spec.name),
        }
    }

    async fn publish(&self, topic: &str, data: impl Into<bytes::Bytes>) {
        let message = crate::OutgoingMessage::new(data);
        if let Err(error) = self.bus.publish(topic, message).await {
            panic!("publishing to {topic}: {error}");
        }
    }
}

/// The next delivery, or a panic naming `what` was awaited.
async fn receive(subscription: &mut dyn Subscription, within: Duration, what: &str) -> Delivery {
    match tokio::time::timeout(within, subscription.next()).await {
        Ok(Ok(Some(delivery))) => delivery,
        Ok(Ok(None)) => panic!("subscription closed while waiting for {what}"),
        Ok(Err(error)) => panic!("error while waiting for {what}: {error}"),
        Err(_) => panic!("nothing arrived within {within:?} while waiting for {what}"),
    }
}

/// Asserts that nothing arrives for `quiet`.
async fn expect_nothing(subscription: &mut dyn Subscription, quiet: Duration, why: &str) {
    if let Ok(result) = tokio::time::timeout(quiet, subscription.next()).await {
        match result {
            Ok(Some(delivery)) => {
                panic!("{why}, but got {delivery:?} with data {:?}", delivery.data)
            }
            Ok(None) => {}
            Err(error) => panic!("{why}, but the subscription failed: {error}"),
        }
    }
}

async fn ack(delivery: Delivery) {
    let id = delivery.id.clone();
    if let Err(error) = delivery.ack().await {
        panic!("acking {id} in time: {error}");
    }
}

fn text(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.data).into_owned()
}
