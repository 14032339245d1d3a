//! The EventBus port: topics, subscriptions, at-least-once delivery.
//!
//! Services publish protobuf-encoded events to topics (`cratedigger.<event>.v1`) and
//! consume them through named subscriptions. Delivery is at least once on every adapter:
//! a delivery that is not acked within the subscription's ack deadline, or that is nacked,
//! comes back with its `attempt` increased; after `max_delivery_attempts` it goes to the
//! dead-letter topic instead. Handlers must therefore be idempotent, and ack only after
//! their effects are durable.
//!
//! Adapters: [`MemoryBus`] (in-process, for the one-process mode and tests) and
//! [`PubSubBus`] (Google Pub/Sub through the official crate; the emulator in tests). The
//! adapter is chosen once, from settings, by the service's builder. Both accept the same
//! names ([`names`]) and apply the same limits, and both pass the one conformance suite
//! (the `conformance` feature), so a service tested on the memory bus behaves alike on
//! Pub/Sub.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

#[cfg(feature = "conformance")]
pub mod conformance;
mod memory;
pub mod names;
mod pubsub;

pub use memory::{DEFAULT_NACK_DELAY, MemoryBus};

/// The largest message data every adapter carries whole (Pub/Sub takes 10 MB a message,
/// attributes included): what publishers that carry files (uploads) stay under.
pub const MAX_MESSAGE_BYTES: usize = 9_500_000;
pub use names::{dead_letter_topic_name, subscription_name, topic_name};
pub use pubsub::{EMULATOR_HOST_VAR, PubSubBus, PubSubSettings};

/// A message as published.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutgoingMessage {
    pub data: Bytes,
    /// Small string metadata: the event type, W3C trace context (`traceparent`), job id.
    pub attributes: BTreeMap<String, String>,
    /// Messages with the same key are delivered in publish order where the adapter
    /// supports ordering (Pub/Sub with ordering enabled); otherwise ignored.
    pub ordering_key: Option<String>,
}

impl OutgoingMessage {
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
}

/// How a subscription behaves. Creating it is idempotent: an existing subscription with
/// the same name is used as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionSpec {
    /// Subscription name, unique per consuming service and topic.
    pub name: String,
    pub topic: String,
    /// A delivery is leased to its consumer. While the consumer holds it (the
    /// [`Delivery`] is alive) the lease is renewed, up to `max_lease`; once the consumer
    /// lets go of it unsettled (drops it, or dies), it is delivered again within this
    /// time. Every adapter applies Pub/Sub's limits, 10 s to 600 s (see
    /// [`SubscriptionSpec::effective_ack_deadline`]).
    pub ack_deadline: Duration,
    /// The longest a live consumer may hold one delivery before it is delivered again
    /// anyway (a handler stuck for good).
    pub max_lease: Duration,
    /// Deliveries of one message before it goes to the dead-letter topic. Every adapter
    /// applies Pub/Sub's limits, 5 to 100.
    pub max_delivery_attempts: u32,
    /// Where messages go after `max_delivery_attempts`; created if absent. None keeps
    /// redelivering forever.
    pub dead_letter_topic: Option<String>,
}

impl SubscriptionSpec {
    /// A subscription with the defaults every cratedigger worker uses: 30 s ack deadline,
    /// leases held for at most an hour, 10 attempts, dead letters to `<topic>.dead-letter`.
    /// Ten attempts, with the workers' backoff (0.5 s doubling to 20 s), span about a
    /// minute and a half: a server paused or restarting for under a minute, or a storm of
    /// 429s, delays its events instead of dead-lettering them.
    pub fn new(name: impl Into<String>, topic: impl Into<String>) -> Self {
        let topic = topic.into();
        Self {
            name: name.into(),
            dead_letter_topic: Some(names::dead_letter_topic_name(&topic)),
            topic,
            ack_deadline: Duration::from_secs(30),
            max_lease: Duration::from_secs(3600),
            max_delivery_attempts: 10,
        }
    }

    /// The ack deadline as applied: whole seconds within Pub/Sub's 10 s to 600 s.
    pub fn effective_ack_deadline(&self) -> Duration {
        Duration::from_secs(self.ack_deadline.as_secs().clamp(10, 600))
    }

    /// The lease limit as applied: at least one ack deadline.
    pub fn effective_max_lease(&self) -> Duration {
        self.max_lease.max(self.effective_ack_deadline())
    }

    /// The delivery attempts as applied: within Pub/Sub's 5 to 100.
    pub fn effective_max_delivery_attempts(&self) -> u32 {
        self.max_delivery_attempts.clamp(5, 100)
    }
}

/// A received message, to be acked or nacked exactly once. Holding it keeps its lease;
/// dropping it unsettled lets it be delivered again (at the latest after the ack deadline).
pub struct Delivery {
    pub id: String,
    pub data: Bytes,
    pub attributes: BTreeMap<String, String>,
    /// 1 on the first delivery, increasing on each redelivery.
    pub attempt: u32,
    acknowledger: Box<dyn Acknowledger>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("attributes", &self.attributes)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Delivery {
    /// For adapters: wraps a received message with the way to settle it.
    pub fn new(
        id: String,
        data: Bytes,
        attributes: BTreeMap<String, String>,
        attempt: u32,
        acknowledger: Box<dyn Acknowledger>,
    ) -> Self {
        Self {
            id,
            data,
            attributes,
            attempt,
            acknowledger,
        }
    }

    /// The message was handled and its effects are durable: never deliver it again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acknowledger.ack().await
    }

    /// The message was not handled: deliver it again (after the adapter's backoff).
    pub async fn nack(self) -> Result<(), BusError> {
        self.acknowledger.nack().await
    }
}

/// Settles one delivery; implemented by each adapter.
#[async_trait]
pub trait Acknowledger: Send + Sync {
    async fn ack(self: Box<Self>) -> Result<(), BusError>;
    async fn nack(self: Box<Self>) -> Result<(), BusError>;
}

/// An open subscription: a stream of deliveries.
#[async_trait]
pub trait Subscription: Send {
    /// The next delivery. Waits while there is none; `Ok(None)` once the subscription
    /// has been closed.
    async fn next(&mut self) -> Result<Option<Delivery>, BusError>;

    /// Stops taking deliveries: the bus sends this subscriber no more, while those already
    /// handed out can still be acked and nacked. Call it first on shutdown, so that what
    /// is nacked while draining goes to another subscriber at once rather than back to
    /// this one. `next` returns `Ok(None)` afterwards. (The default does nothing: an
    /// adapter without it hands work back at `close`.)
    async fn stop(&mut self) {}

    /// Stops the subscription and waits until every ack and nack already sent has
    /// reached the bus (an adapter may send them in the background): call it before the
    /// process exits, or settled deliveries may come back later. Deliveries received but
    /// never handed out are returned to the bus for redelivery.
    async fn close(self: Box<Self>) {}
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Creates the topic if it does not exist.
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError>;

    /// Creates the subscription (and its topic and dead-letter topic) if it does not exist.
    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError>;

    /// Publishes one message; returns once the bus has accepted it.
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError>;

    /// Opens a subscription (ensuring it first).
    async fn subscribe(&self, spec: &SubscriptionSpec) -> Result<Box<dyn Subscription>, BusError>;
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus could not be reached or refused for now: retry later.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    /// A name the bus does not accept (fix the configuration).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("topic {0} does not exist")]
    TopicNotFound(String),
    /// The delivery could not be settled (its lease expired or the stream closed); the
    /// message will be delivered again.
    #[error("could not settle delivery {id}: {reason}")]
    Settle { id: String, reason: String },
}
