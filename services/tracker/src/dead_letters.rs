//! Dead letters of the tracker's own subscriptions: events it gave up on, usually while
//! the board could not be written. The other services give up in their own way (a failed
//! chunk, a failed job) before their events land here, so their dead letters are left to
//! the operator's keeper subscription. The tracker's are applied once more, later (the
//! board may be back); one that cannot be read fails its job, and one the board still
//! refuses is kept until it can be written (the reaper ends a job that waits too long).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use cratedigger_bus::names::dead_letter_attributes::SOURCE_SUBSCRIPTION;
use cratedigger_bus::{Delivery, EventBus, SubscriptionSpec, dead_letter_topic_name};
use cratedigger_domain::{JobError, JobId};
use cratedigger_kit::{EventHandler, HandleError, Runnable, Shutdown};
use cratedigger_proto::Event;

use crate::{On, SERVICE, Tracker};

/// The attribute a worker's own dead-lettering names its subscription with.
const WORKER_SOURCE: &str = "dead_letter_subscription";
/// The code of a job failed because one of its events could not be read.
pub const EVENT_UNREADABLE: &str = "event_unreadable";
/// How long a dead letter the board refuses waits before it is offered again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Consumes the dead letters of `E`'s topic that the tracker's own subscription sent.
pub struct DeadLetters<E> {
    tracker: Arc<Tracker>,
    bus: Arc<dyn EventBus>,
    spec: SubscriptionSpec,
    _event: PhantomData<fn(E)>,
}

impl<E: Event> DeadLetters<E>
where
    On<E>: EventHandler<Event = E>,
{
    pub fn new(tracker: Arc<Tracker>, bus: Arc<dyn EventBus>) -> Self {
        let spec = SubscriptionSpec {
            // Nothing is lost by nacking here: a refused dead letter is offered again.
            dead_letter_topic: None,
            ..SubscriptionSpec::new(
                format!("{SERVICE}.dead-letters.{}", E::SLUG),
                dead_letter_topic_name(E::TOPIC),
            )
        };
        Self {
            tracker,
            bus,
            spec,
            _event: PhantomData,
        }
    }

    /// Whether the tracker's own subscription gave up on the message.
    fn is_ours(delivery: &Delivery) -> bool {
        let ours = cratedigger_bus::subscription_name(SERVICE, E::SLUG);
        [WORKER_SOURCE, SOURCE_SUBSCRIPTION]
            .iter()
            .filter_map(|name| delivery.attributes.get(*name))
            .any(|source| *source == ours)
    }

    async fn settle(&self, delivery: Delivery) {
        if !Self::is_ours(&delivery) {
            let _ = delivery.ack().await;
            return;
        }
        let applied = match E::decode(delivery.data.clone()) {
            Ok(event) => On::<E>::new(self.tracker.clone()).handle(event).await,
            Err(e) => Err(HandleError::reject(e)),
        };
        let settled = match applied {
            Ok(()) => {
                tracing::info!(event = E::NAME, "dead letter applied on a later try");
                Ok(())
            }
            Err(HandleError::Reject(reason)) => self.unreadable(&delivery, &reason).await,
            Err(HandleError::Retry(reason)) => Err(reason),
        };
        match settled {
            Ok(()) => {
                let _ = delivery.ack().await;
            }
            Err(reason) => {
                tracing::warn!(event = E::NAME, error = %reason, "dead letter not applied yet; offered again later");
                tokio::time::sleep(RETRY_AFTER).await;
                let _ = delivery.nack().await;
            }
        }
    }

    /// The event cannot be read: its job, if the message names one, is failed, since the
    /// board will never hear what the event said.
    async fn unreadable(&self, delivery: &Delivery, reason: &anyhow::Error) -> anyhow::Result<()> {
        tracing::error!(event = E::NAME, error = %reason, "dead letter unreadable");
        let Some(job) = delivery
            .attributes
            .get(cratedigger_kit::publish::ATTR_JOB_ID)
            .and_then(|id| id.parse::<JobId>().ok())
        else {
            return Ok(());
        };
        let error = JobError {
            code: EVENT_UNREADABLE.to_owned(),
            message: "one of this job's events could not be read, so its progress is unknown; \
                      try again"
                .to_owned(),
            retryable: true,
            stage: None,
        };
        self.tracker
            .board
            .job_failed(&job, &error, Utc::now())
            .await
            .map_err(anyhow::Error::from)
    }
}

#[async_trait]
impl<E: Event> Runnable for DeadLetters<E>
where
    On<E>: EventHandler<Event = E>,
{
    fn name(&self) -> String {
        self.spec.name.clone()
    }

    fn subscription(&self) -> Option<SubscriptionSpec> {
        Some(self.spec.clone())
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut subscription = self.bus.subscribe(&self.spec).await?;
        loop {
            let next = tokio::select! {
                next = subscription.next() => next,
                () = shutdown.wait() => break,
            };
            match next {
                Ok(Some(delivery)) => self.settle(delivery).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(subscription = %self.spec.name, error = %e, "dead letters unavailable; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_AFTER) => {}
                        () = shutdown.wait() => break,
                    }
                }
            }
        }
        subscription.stop().await;
        subscription.close().await;
        Ok(())
    }
}
