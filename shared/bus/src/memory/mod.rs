//! [`MemoryBus`]: the EventBus inside one process, with Pub/Sub's delivery rules.
//!
//! A topic copies each message into every subscription attached to it at publish time;
//! consumers of one subscription compete for its messages. Leases, ack deadlines, nack
//! backoff and dead letters follow tokio's clock, so tests under `tokio::time::pause()`
//! run instantly. Time-driven changes (an expired lease coming back, a dead letter going
//! out) happen when a subscription is read or inspected, which a consumer loop does all
//! the time.

mod consumer;
mod queue;
mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use self::consumer::MemorySubscription;
use self::queue::Queue;
use self::state::{Shared, Slot, State};
use crate::names::validate_name;
use crate::{BusError, Delivery, EventBus, OutgoingMessage, Subscription, SubscriptionSpec};

/// How long a nacked message waits before it is delivered again.
pub const DEFAULT_NACK_DELAY: Duration = Duration::from_millis(100);

/// In-process bus. Clones share the same topics and subscriptions, so a test can keep one
/// to inspect while the services hold theirs as `Arc<dyn EventBus>`.
#[derive(Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::with_nack_delay(DEFAULT_NACK_DELAY)
    }

    pub fn with_nack_delay(nack_delay: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                nack_delay,
            }),
        }
    }

    /// Messages of `subscription` not acked yet (ready, leased or backing off).
    pub fn pending(&self, subscription: &str) -> usize {
        let mut state = self.shared.lock();
        state.expire(subscription, Instant::now());
        state
            .subscriptions
            .get(subscription)
            .map_or(0, |slot| slot.queue.unsettled())
    }

    /// The next delivery of `subscription` if one is ready now, without waiting: lets a
    /// test drain the bus one message at a time. None also when the subscription is unknown.
    pub fn try_next(&self, subscription: &str) -> Option<Delivery> {
        self.shared
            .poll(subscription, Instant::now())
            .ok()
            .flatten()
    }

    /// Messages forwarded to the dead-letter topic `topic` so far.
    pub fn dead_letters(&self, topic: &str) -> Vec<OutgoingMessage> {
        self.shared
            .lock()
            .dead_letters
            .get(topic)
            .cloned()
            .unwrap_or_default()
    }

    /// Ends every open subscription: waiting and later `next` calls return `Ok(None)`.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        for slot in state.subscriptions.values() {
            slot.wakeup.notify_waiters();
        }
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        validate_name(topic)?;
        self.shared.lock().ensure_topic(topic);
        Ok(())
    }

    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError> {
        for name in [
            Some(&spec.name),
            Some(&spec.topic),
            spec.dead_letter_topic.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            validate_name(name)?;
        }
        let mut state = self.shared.lock();
        state.ensure_topic(&spec.topic);
        if let Some(dead_letter_topic) = &spec.dead_letter_topic {
            state.ensure_topic(dead_letter_topic);
        }
        if !state.subscriptions.contains_key(&spec.name) {
            let slot = Slot {
                queue: Queue::new(spec.clone()),
                wakeup: Arc::new(Notify::new()),
            };
            state.subscriptions.insert(spec.name.clone(), slot);
            state
                .topics
                .entry(spec.topic.clone())
                .or_default()
                .push(spec.name.clone());
        }
        Ok(())
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        validate_name(topic)?;
        if self.shared.lock().route(topic, message) {
            Ok(())
        } else {
            Err(BusError::TopicNotFound(topic.to_owned()))
        }
    }

    async fn subscribe(&self, spec: &SubscriptionSpec) -> Result<Box<dyn Subscription>, BusError> {
        self.ensure_subscription(spec).await?;
        let state = self.shared.lock();
        // An existing subscription keeps its own spec, so follow the topic it really has.
        let wakeup = state
            .subscriptions
            .get(&spec.name)
            .map(|slot| Arc::clone(&slot.wakeup));
        let wakeup = wakeup
            .ok_or_else(|| BusError::Unavailable(format!("subscription {} vanished", spec.name)))?;
        Ok(Box::new(MemorySubscription {
            shared: Arc::clone(&self.shared),
            name: spec.name.clone(),
            wakeup,
            stopped: false,
        }))
    }
}

#[cfg(test)]
mod tests;
