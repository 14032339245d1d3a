//! The event worker: one subscription, one idempotent handler, at-least-once semantics.
//!
//! A delivery is acked only after the handler returned `Ok` (its effects are durable).
//! `HandleError::Retry` nacks it after a backoff; on its last allowed attempt the handler's
//! `give_up` runs first (to fail the job with a reason) and the bus moves it to the dead
//! letters. `HandleError::Reject` (and an undecodable message) goes to the dead-letter
//! topic at once. On shutdown the worker stops pulling, lets in-flight handlers finish
//! for the drain timeout, then nacks what is left so another replica gets it.
//!
//! Tests drive [`Worker::handle_one`] directly instead of running the loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cratedigger_bus::{BusError, Delivery, EventBus, OutgoingMessage, SubscriptionSpec};
use cratedigger_proto::Event;
use prost::Message;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Shutdown;
use crate::publish::{ATTR_EVENT, ATTR_JOB_ID};

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Might succeed later (a server unavailable, a rate limit): retried with backoff.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Can never succeed (malformed input): dead-lettered now.
    #[error("{0:#}")]
    Reject(anyhow::Error),
}

impl HandleError {
    pub fn retry(e: impl Into<anyhow::Error>) -> Self {
        Self::Retry(e.into())
    }
    pub fn reject(e: impl Into<anyhow::Error>) -> Self {
        Self::Reject(e.into())
    }
}

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    type Event: Event;

    /// Handles one event; must be idempotent (the same event may come twice, or after a
    /// crash half-way through).
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError>;

    /// The event will not be tried again (rejected, or out of attempts): report it, e.g.
    /// publish JobFailed with a readable reason. Best effort.
    async fn give_up(&self, _event: &Self::Event, _error: &HandleError) {}
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Deliveries handled at the same time.
    pub concurrency: usize,
    /// On shutdown, how long in-flight handlers may run before they are nacked.
    pub drain_timeout: Duration,
    /// Backoff before a retry nack: `base * 2^(attempt-1)`, at most `max`, with jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            drain_timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(20),
        }
    }
}

/// The subscription through which `service` consumes event `E`: `<service>.<event>`,
/// with the workers' defaults (dead letters to `<topic>.dead-letter`).
pub fn subscription<E: Event>(service: &str) -> SubscriptionSpec {
    SubscriptionSpec::new(
        cratedigger_bus::subscription_name(service, E::SLUG),
        E::TOPIC,
    )
}

/// What happened to one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handled and acked.
    Acked,
    /// Nacked for a retry.
    Retrying,
    /// Sent to the dead letters (now, or by the bus after this last nack).
    DeadLettered,
    /// Nacked unfinished because the worker was shutting down.
    Abandoned,
}

pub struct Worker<H: EventHandler> {
    handler: Arc<H>,
    bus: Arc<dyn EventBus>,
    spec: SubscriptionSpec,
    settings: WorkerSettings,
}

impl<H: EventHandler> Worker<H> {
    pub fn new(
        handler: Arc<H>,
        bus: Arc<dyn EventBus>,
        spec: SubscriptionSpec,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            handler,
            bus,
            spec,
            settings,
        }
    }

    pub fn spec(&self) -> &SubscriptionSpec {
        &self.spec
    }

    /// Handles one delivery and settles it.
    pub async fn handle_one(&self, delivery: Delivery) -> Outcome {
        self.process(delivery, &CancellationToken::new()).await
    }

    async fn process(&self, delivery: Delivery, abandon: &CancellationToken) -> Outcome {
        let job_id = delivery
            .attributes
            .get(ATTR_JOB_ID)
            .cloned()
            .unwrap_or_default();
        let span = tracing::info_span!(
            "event",
            event = H::Event::NAME,
            subscription = %self.spec.name,
            job_id = %job_id,
            attempt = delivery.attempt,
        );
        // One trace per job across services: the publisher's span is this one's parent.
        crate::telemetry::continue_trace(&span, &delivery.attributes);
        let started = Instant::now();
        let outcome = self
            .process_in_span(delivery, abandon)
            .instrument(span)
            .await;
        let outcome_name = match outcome {
            Outcome::Acked => "acked",
            Outcome::Retrying => "retrying",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::Abandoned => "abandoned",
        };
        metrics::counter!("cratedigger_events_handled_total", "subscription" => self.spec.name.clone(), "outcome" => outcome_name)
            .increment(1);
        metrics::histogram!("cratedigger_event_handle_seconds", "subscription" => self.spec.name.clone())
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn process_in_span(&self, delivery: Delivery, abandon: &CancellationToken) -> Outcome {
        let event = match H::Event::decode(delivery.data.clone()) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(error = %e, "undecodable message");
                return self
                    .dead_letter_now(delivery, &format!("undecodable {}: {e}", H::Event::NAME))
                    .await;
            }
        };
        let result = tokio::select! {
            result = self.handler.handle(event.clone()) => result,
            () = abandon.cancelled() => {
                tracing::warn!("shutting down: nacking unfinished delivery");
                settle(delivery.nack().await);
                return Outcome::Abandoned;
            }
        };
        match result {
            Ok(()) => match delivery.ack().await {
                Ok(()) => Outcome::Acked,
                Err(e) => {
                    // The effects are durable; the redelivery will find nothing to do.
                    tracing::warn!(error = %e, "ack failed; the message will be redelivered");
                    Outcome::Retrying
                }
            },
            Err(error @ HandleError::Reject(_)) => {
                tracing::error!(error = %error, "rejected");
                self.handler.give_up(&event, &error).await;
                self.dead_letter_now(delivery, &error.to_string()).await
            }
            Err(error @ HandleError::Retry(_)) => {
                if delivery.attempt >= self.spec.effective_max_delivery_attempts() {
                    tracing::error!(error = %error, "giving up after the last attempt");
                    self.handler.give_up(&event, &error).await;
                    settle(delivery.nack().await);
                    return Outcome::DeadLettered;
                }
                let wait = self.backoff(delivery.attempt);
                tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = abandon.cancelled() => {}
                }
                settle(delivery.nack().await);
                Outcome::Retrying
            }
        }
    }

    /// Publishes the message to the dead-letter topic with the reason, then acks it; if
    /// that publish fails, nacks it so nothing is lost.
    async fn dead_letter_now(&self, delivery: Delivery, reason: &str) -> Outcome {
        let Some(topic) = &self.spec.dead_letter_topic else {
            settle(delivery.nack().await);
            return Outcome::Retrying;
        };
        let mut message = OutgoingMessage::new(delivery.data.clone());
        message.attributes = delivery.attributes.clone();
        message
            .attributes
            .entry(ATTR_EVENT.into())
            .or_insert_with(|| H::Event::NAME.into());
        message.attributes.insert(
            "dead_letter_reason".into(),
            reason.chars().take(1000).collect(),
        );
        message
            .attributes
            .insert("dead_letter_subscription".into(), self.spec.name.clone());
        match self.bus.publish(topic, message).await {
            Ok(()) => {
                settle(delivery.ack().await);
                Outcome::DeadLettered
            }
            Err(e) => {
                tracing::error!(error = %e, "could not dead-letter; nacking instead");
                settle(delivery.nack().await);
                Outcome::Retrying
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .retry_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.settings.retry_max);
        // Up to 25 % jitter so retries of a burst spread out.
        let jitter = rand::rng().random_range(0.75..=1.0);
        capped.mul_f64(jitter)
    }

    /// Pulls and handles deliveries until `shutdown` fires, then drains.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), BusError> {
        let this = Arc::new(self);
        let mut subscription = this.bus.subscribe(&this.spec).await?;
        tracing::info!(subscription = %this.spec.name, topic = %this.spec.topic, "worker started");
        let slots = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let abandon = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut failures = 0_u32;
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
                () = shutdown.wait() => break,
            };
            let next = tokio::select! {
                next = subscription.next() => next,
                () = shutdown.wait() => break,
            };
            match next {
                Ok(Some(delivery)) => {
                    failures = 0;
                    let (this, abandon) = (this.clone(), abandon.clone());
                    tasks.spawn(async move {
                        this.process(delivery, &abandon).await;
                        drop(permit);
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    failures += 1;
                    let wait = this.backoff(failures);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "subscription error");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.wait() => break,
                    }
                }
            }
            while tasks.try_join_next().is_some() {}
        }
        // Take no more deliveries, first: what is nacked from here on goes to another
        // worker at once instead of back to this one. The deliveries in flight can still
        // be acked and nacked.
        subscription.stop().await;
        let drained = tokio::time::timeout(this.settings.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            abandon.cancel();
            // Cancelling reaches the handlers; a task stuck past them (giving up, dead
            // lettering) is aborted after a moment, and its dropped delivery is nacked.
            let settled = tokio::time::timeout(ABANDON_TIMEOUT, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            if settled.is_err() {
                tracing::warn!(subscription = %this.spec.name, left = tasks.len(), "aborting deliveries that did not settle");
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        }
        // Every delivery is settled: wait until the bus has them all.
        subscription.close().await;
        tracing::info!(subscription = %this.spec.name, "worker stopped");
        Ok(())
    }
}

/// How long abandoned deliveries may take to be nacked before their tasks are aborted.
const ABANDON_TIMEOUT: Duration = Duration::from_secs(3);

fn settle(result: Result<(), BusError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not settle delivery; it will be redelivered");
    }
}
