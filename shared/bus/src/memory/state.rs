//! The bus's shared state behind one lock: topics, subscription queues, dead letters.
//!
//! One lock for everything keeps fan-out and dead-lettering atomic; it is never held
//! across an await, and every operation on it is a few map lookups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::consumer::MemoryAcknowledger;
use super::queue::{DeadLetter, Queue, Settlement, StoredMessage};
use crate::{BusError, Delivery, OutgoingMessage};

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) nack_delay: Duration,
}

#[derive(Default)]
pub(super) struct State {
    /// Topic name -> names of the subscriptions attached to it.
    pub(super) topics: HashMap<String, Vec<String>>,
    pub(super) subscriptions: HashMap<String, Slot>,
    /// Everything forwarded to each dead-letter topic, for tests and diagnostics.
    pub(super) dead_letters: HashMap<String, Vec<OutgoingMessage>>,
    pub(super) next_message: u64,
    pub(super) closed: bool,
}

pub(super) struct Slot {
    pub(super) queue: Queue,
    /// Wakes consumers waiting on this subscription when something changes.
    pub(super) wakeup: Arc<Notify>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and every change leaves the state whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A ready delivery (`Ok(Some)`), or the moment to look again (`Err`, None = only on a
    /// wake-up); `Ok(None)` once the bus is closed or the subscription is unknown.
    pub(super) fn poll(
        self: &Arc<Self>,
        subscription: &str,
        now: Instant,
    ) -> Result<Option<Delivery>, Option<Instant>> {
        let mut state = self.lock();
        if state.closed {
            return Ok(None);
        }
        state.expire(subscription, now);
        let Some(slot) = state.subscriptions.get_mut(subscription) else {
            return Ok(None);
        };
        let Some(leased) = slot.queue.lease(now) else {
            return Err(slot.queue.next_change());
        };
        let renewal = MemoryAcknowledger::renew(
            self,
            subscription,
            leased.lease,
            slot.queue.renewal_interval(),
        );
        let acknowledger = MemoryAcknowledger {
            shared: Arc::clone(self),
            subscription: subscription.to_owned(),
            lease: leased.lease,
            id: leased.message.id.clone(),
            renewal,
        };
        let message = &leased.message.message;
        Ok(Some(Delivery::new(
            leased.message.id.clone(),
            message.data.clone(),
            message.attributes.clone(),
            leased.attempt,
            Box::new(acknowledger),
        )))
    }

    /// Renews a held lease; false once it is gone or at its limit.
    pub(super) fn extend(&self, subscription: &str, lease: u64, now: Instant) -> bool {
        let mut state = self.lock();
        state
            .subscriptions
            .get_mut(subscription)
            .is_some_and(|slot| slot.queue.extend(lease, now))
    }

    pub(super) fn settle(
        &self,
        subscription: &str,
        lease: u64,
        id: &str,
        settlement: Settlement,
    ) -> Result<(), BusError> {
        let mut state = self.lock();
        let slot = state.subscriptions.get_mut(subscription);
        let settled = slot.map(|slot| {
            (
                slot.queue.settle(lease, settlement),
                Arc::clone(&slot.wakeup),
            )
        });
        match settled {
            Some((Ok(dead), wakeup)) => {
                state.forward(dead);
                // A nacked message changes when waiting consumers should look again.
                wakeup.notify_waiters();
                Ok(())
            }
            Some((Err(_), _)) | None => Err(BusError::Settle {
                id: id.to_owned(),
                reason: "the lease expired or the delivery was already settled".to_owned(),
            }),
        }
    }
}

impl State {
    pub(super) fn expire(&mut self, subscription: &str, now: Instant) {
        let dead = self
            .subscriptions
            .get_mut(subscription)
            .map(|slot| slot.queue.expire(now));
        for letter in dead.unwrap_or_default() {
            self.forward(Some(letter));
        }
    }

    pub(super) fn forward(&mut self, dead: Option<DeadLetter>) {
        let Some(DeadLetter { topic, message }) = dead else {
            return;
        };
        self.dead_letters
            .entry(topic.clone())
            .or_default()
            .push(message.clone());
        self.route(&topic, message);
    }

    /// Copies `message` into every subscription of `topic`; false if the topic is unknown.
    pub(super) fn route(&mut self, topic: &str, message: OutgoingMessage) -> bool {
        let Some(names) = self.topics.get(topic) else {
            return false;
        };
        self.next_message += 1;
        let stored = StoredMessage {
            id: format!("m{}", self.next_message),
            message: Arc::new(message),
        };
        for name in names {
            if let Some(slot) = self.subscriptions.get_mut(name) {
                slot.queue.push(stored.clone());
                slot.wakeup.notify_waiters();
            }
        }
        true
    }

    pub(super) fn ensure_topic(&mut self, topic: &str) {
        self.topics.entry(topic.to_owned()).or_default();
    }
}
