//! One subscription's messages and the at-least-once rules, as plain state over an
//! explicit `now`: what is ready, what is out on lease until when, what waits out a nack
//! backoff, and what has failed `max_delivery_attempts` times and must be dead-lettered.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::names::dead_letter_attributes;
use crate::{OutgoingMessage, SubscriptionSpec};

/// A published message as every subscription of its topic shares it.
#[derive(Clone, Debug)]
pub(super) struct StoredMessage {
    pub id: String,
    pub message: Arc<OutgoingMessage>,
}

/// A message handed to a consumer under lease `lease`.
pub(super) struct Leased {
    pub lease: u64,
    pub message: StoredMessage,
    pub attempt: u32,
}

/// A message this subscription gave up on, addressed to its dead-letter topic.
pub(super) struct DeadLetter {
    pub topic: String,
    pub message: OutgoingMessage,
}

/// How a consumer settled its lease.
pub(super) enum Settlement {
    Ack,
    Nack { now: Instant, backoff: Duration },
}

/// The lease was unknown: already settled, or expired and put back.
#[derive(Debug)]
pub(super) struct LeaseGone;

struct Pending {
    message: StoredMessage,
    /// Deliveries so far; the next delivery is attempt `deliveries + 1`.
    deliveries: u32,
}

struct Lease {
    pending: Pending,
    deadline: Instant,
    /// When the consumer took it: renewals stop at `started + max_lease`.
    started: Instant,
}

pub(super) struct Queue {
    spec: SubscriptionSpec,
    ready: VecDeque<Pending>,
    leased: HashMap<u64, Lease>,
    /// Nacked messages and when they may be delivered again.
    backing_off: Vec<(Instant, Pending)>,
    next_lease: u64,
}

impl Queue {
    pub fn new(spec: SubscriptionSpec) -> Self {
        Self {
            spec,
            ready: VecDeque::new(),
            leased: HashMap::new(),
            backing_off: Vec::new(),
            next_lease: 0,
        }
    }

    pub fn push(&mut self, message: StoredMessage) {
        self.ready.push_back(Pending {
            message,
            deliveries: 0,
        });
    }

    /// Messages not acked yet: ready, out on lease, or backing off.
    pub fn unsettled(&self) -> usize {
        self.ready.len() + self.leased.len() + self.backing_off.len()
    }

    /// Moves expired leases and finished backoffs back to ready, or out to the dead-letter
    /// topic when they have used up their attempts. Call before reading the queue.
    pub fn expire(&mut self, now: Instant) -> Vec<DeadLetter> {
        let mut dead = Vec::new();
        let expired: Vec<u64> = self
            .leased
            .iter()
            .filter(|(_, lease)| lease.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        let mut expired: Vec<Lease> = expired
            .into_iter()
            .filter_map(|id| self.leased.remove(&id))
            .collect();
        // Redeliver in the order the leases were due, so older messages come back first.
        expired.sort_by_key(|lease| lease.deadline);
        for lease in expired {
            self.retry_or_give_up(lease.pending, &mut dead);
        }
        let (due, waiting) = std::mem::take(&mut self.backing_off)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.backing_off = waiting;
        let mut due: Vec<(Instant, Pending)> = due;
        due.sort_by_key(|(at, _)| *at);
        self.ready
            .extend(due.into_iter().map(|(_, pending)| pending));
        dead
    }

    /// Hands the oldest ready message out under a lease that ends after the ack deadline.
    pub fn lease(&mut self, now: Instant) -> Option<Leased> {
        let mut pending = self.ready.pop_front()?;
        pending.deliveries += 1;
        let lease = self.next_lease;
        self.next_lease += 1;
        let leased = Leased {
            lease,
            message: pending.message.clone(),
            attempt: pending.deliveries,
        };
        self.leased.insert(
            lease,
            Lease {
                pending,
                deadline: now + self.spec.effective_ack_deadline(),
                started: now,
            },
        );
        Some(leased)
    }

    /// Renews lease `lease` for another ack deadline, as a consumer that still holds it
    /// does; false once the lease is gone or has reached the subscription's `max_lease`.
    pub fn extend(&mut self, lease: u64, now: Instant) -> bool {
        let (deadline, limit) = (
            self.spec.effective_ack_deadline(),
            self.spec.effective_max_lease(),
        );
        match self.leased.get_mut(&lease) {
            Some(held) if now < held.started + limit => {
                held.deadline = (now + deadline)
                    .min(held.started + limit)
                    .max(held.deadline);
                true
            }
            _ => false,
        }
    }

    /// How often a holder renews its lease: well inside the ack deadline.
    pub fn renewal_interval(&self) -> Duration {
        self.spec.effective_ack_deadline() / 3
    }

    /// Settles lease `lease`; a nack of a last attempt yields its dead letter.
    pub fn settle(
        &mut self,
        lease: u64,
        settlement: Settlement,
    ) -> Result<Option<DeadLetter>, LeaseGone> {
        let Lease { pending, .. } = self.leased.remove(&lease).ok_or(LeaseGone)?;
        match settlement {
            Settlement::Ack => Ok(None),
            Settlement::Nack { now, backoff } => {
                if self.attempts_used_up(&pending) {
                    return Ok(self.dead_letter(pending));
                }
                self.backing_off.push((now + backoff, pending));
                Ok(None)
            }
        }
    }

    /// The next moment `expire` would change something, if any.
    pub fn next_change(&self) -> Option<Instant> {
        let deadlines = self.leased.values().map(|lease| lease.deadline);
        let backoffs = self.backing_off.iter().map(|(at, _)| *at);
        deadlines.chain(backoffs).min()
    }

    fn retry_or_give_up(&mut self, pending: Pending, dead: &mut Vec<DeadLetter>) {
        if self.attempts_used_up(&pending) {
            dead.extend(self.dead_letter(pending));
        } else {
            self.ready.push_back(pending);
        }
    }

    fn attempts_used_up(&self, pending: &Pending) -> bool {
        self.spec.dead_letter_topic.is_some()
            && pending.deliveries >= self.spec.effective_max_delivery_attempts()
    }

    fn dead_letter(&self, pending: Pending) -> Option<DeadLetter> {
        let topic = self.spec.dead_letter_topic.clone()?;
        let mut message = OutgoingMessage::clone(&pending.message.message);
        message.attributes.insert(
            dead_letter_attributes::SOURCE_SUBSCRIPTION.to_owned(),
            self.spec.name.clone(),
        );
        message.attributes.insert(
            dead_letter_attributes::DELIVERY_COUNT.to_owned(),
            pending.deliveries.to_string(),
        );
        Some(DeadLetter { topic, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max_attempts: u32) -> Queue {
        let mut spec = SubscriptionSpec::new("sub", "topic");
        spec.ack_deadline = Duration::from_secs(10);
        spec.max_delivery_attempts = max_attempts;
        let mut queue = Queue::new(spec);
        queue.push(StoredMessage {
            id: "m1".into(),
            message: Arc::new(OutgoingMessage::new("x")),
        });
        queue
    }

    fn nack(now: Instant) -> Settlement {
        Settlement::Nack {
            now,
            backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn an_expired_lease_comes_back_with_the_next_attempt() {
        let now = Instant::now();
        let mut queue = queue(5);
        let first = queue.lease(now).map(|l| (l.lease, l.attempt));
        assert_eq!(first.map(|f| f.1), Some(1));
        assert!(queue.lease(now).is_none());
        assert_eq!(queue.next_change(), Some(now + Duration::from_secs(10)));
        assert!(queue.expire(now + Duration::from_secs(9)).is_empty());
        assert!(queue.lease(now).is_none());
        assert!(queue.expire(now + Duration::from_secs(10)).is_empty());
        let again = queue.lease(now + Duration::from_secs(10));
        assert_eq!(again.as_ref().map(|l| l.attempt), Some(2));
        // The first lease is gone: settling it now fails instead of touching the second.
        assert!(first.is_some_and(|(lease, _)| queue.settle(lease, Settlement::Ack).is_err()));
        assert_eq!(queue.unsettled(), 1);
    }

    #[test]
    fn a_nack_waits_out_the_backoff() {
        let now = Instant::now();
        let mut queue = queue(5);
        let lease = queue.lease(now).map(|l| l.lease);
        assert!(lease.is_some_and(|lease| matches!(queue.settle(lease, nack(now)), Ok(None))));
        assert!(queue.lease(now).is_none());
        assert_eq!(queue.next_change(), Some(now + Duration::from_secs(1)));
        queue.expire(now + Duration::from_secs(1));
        assert_eq!(queue.lease(now).map(|l| l.attempt), Some(2));
    }

    /// Nacks the first `failures` attempts, leaving the next one ready.
    fn fail(queue: &mut Queue, failures: u32, now: Instant) {
        for attempt in 1..=failures {
            let leased = queue.lease(now).map(|l| (l.lease, l.attempt));
            assert_eq!(leased.map(|l| l.1), Some(attempt));
            assert!(
                leased.is_some_and(|(lease, _)| matches!(queue.settle(lease, nack(now)), Ok(None)))
            );
            queue.expire(now + Duration::from_secs(1));
        }
    }

    #[test]
    fn the_last_failed_attempt_is_dead_lettered_with_its_source() {
        let now = Instant::now();
        let mut queue = queue(5);
        fail(&mut queue, 4, now);
        let last = queue.lease(now).map(|l| (l.lease, l.attempt));
        assert_eq!(last.map(|l| l.1), Some(5));
        let dead = last.and_then(|(lease, _)| queue.settle(lease, nack(now)).ok().flatten());
        let (topic, attributes) = dead
            .map(|d| (d.topic, d.message.attributes))
            .unwrap_or_default();
        assert_eq!(topic, "topic.dead-letter");
        let attribute = |key| attributes.get(key).map(String::as_str);
        assert_eq!(
            attribute(dead_letter_attributes::SOURCE_SUBSCRIPTION),
            Some("sub")
        );
        assert_eq!(attribute(dead_letter_attributes::DELIVERY_COUNT), Some("5"));
        assert_eq!(queue.unsettled(), 0);
    }

    #[test]
    fn an_expired_last_attempt_is_dead_lettered() {
        let now = Instant::now();
        let mut queue = queue(5);
        fail(&mut queue, 4, now);
        assert!(queue.lease(now).is_some());
        let dead = queue.expire(now + Duration::from_secs(10));
        assert_eq!(dead.len(), 1);
        assert_eq!(queue.unsettled(), 0);
    }

    #[test]
    fn pubsub_limits_apply_here_too() {
        let now = Instant::now();
        let mut queue = queue(1);
        queue.spec.ack_deadline = Duration::from_millis(500);
        fail(&mut queue, 4, now);
        assert!(
            queue.lease(now).is_some(),
            "at least 5 attempts, as on Pub/Sub"
        );
        assert_eq!(
            queue.next_change(),
            Some(now + Duration::from_secs(10)),
            "at least 10 s"
        );
    }

    #[test]
    fn without_a_dead_letter_topic_it_retries_forever() {
        let now = Instant::now();
        let mut queue = queue(5);
        queue.spec.dead_letter_topic = None;
        fail(&mut queue, 20, now);
    }
}
