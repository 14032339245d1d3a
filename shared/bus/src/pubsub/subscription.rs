//! A streaming pull as a [`Subscription`].
//!
//! The Google client renews the lease of every message the application still holds, up
//! to the subscription's `max_lease`, which is the port's lease promise. A delivery dropped
//! unsettled is nacked by the client at once; one whose process died comes back after the
//! ack deadline. On shutdown the streaming pull ends first ([`Subscription::stop`]), and
//! the deliveries still held are settled after it, so a nack reaches another subscriber.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::MessageStream;
use google_cloud_pubsub::subscriber::handler::Handler;

use super::errors::classify;
use crate::names::dead_letter_attributes;
use crate::{Acknowledger, BusError, Delivery, Subscription};

pub(super) struct PubSubSubscription {
    pub stream: MessageStream,
    /// The subscription's name as the caller knows it (without the adapter's prefix).
    pub name: String,
    /// The adapter's name prefix, removed again from dead-letter source attributes.
    pub name_prefix: String,
}

#[async_trait]
impl Subscription for PubSubSubscription {
    async fn next(&mut self) -> Result<Option<Delivery>, BusError> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Err(error)) => Err(match classify(&error, &self.name, "pulling from") {
                BusError::TopicNotFound(_) => {
                    BusError::Unavailable(format!("subscription {} does not exist", self.name))
                }
                other => other,
            }),
            Some(Ok((message, handler))) => Ok(Some(self.deliver(message, handler))),
        }
    }

    /// Signals the client's shutdown, which (waiting for processing) keeps leasing and
    /// settling the deliveries already handed out, and ends the streaming pull at once, so
    /// Pub/Sub redelivers what is nacked from now on to other subscribers.
    async fn stop(&mut self) {
        // What the client received but never handed out is taken now and nacked once the
        // pull has ended (nacked before, Pub/Sub could send it straight back here).
        let mut unhanded = Vec::new();
        while let Some(Some(Ok((_, handler)))) = poll_once(self.stream.next()).await {
            unhanded.push(handler);
        }
        // `shutdown` signals on its first poll, then waits for the flush: only signal here.
        poll_once(self.stream.shutdown_token().shutdown()).await;
        // Seeing the signal, the stream drops the streaming pull and yields nothing more.
        let _ = self.stream.next().await;
        for handler in unhanded {
            handler.nack();
        }
    }

    /// The client sends acks and nacks from a background task; its shutdown flushes
    /// them (and nacks what was prefetched but never handed out), so a process that exits
    /// right after loses nothing.
    async fn close(mut self: Box<Self>) {
        self.stop().await;
        let flushed =
            tokio::time::timeout(CLOSE_TIME_LIMIT, self.stream.shutdown_token().shutdown()).await;
        if flushed.is_err() {
            tracing::warn!(subscription = %self.name, "pub/sub did not confirm pending acks before the time limit");
        }
    }
}

/// Polls `future` once: its output if it is ready now, else None (and it is dropped).
async fn poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        output = future => Some(output),
        () = std::future::ready(()) => None,
    }
}

/// How long closing waits for pending acks and nacks to reach Pub/Sub.
const CLOSE_TIME_LIMIT: Duration = Duration::from_secs(10);

impl PubSubSubscription {
    fn deliver(&self, message: Message, handler: Handler) -> Delivery {
        // Without a dead-letter policy Pub/Sub does not count attempts; the first is 1.
        let attempt = handler
            .delivery_attempt()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1)
            .max(1);
        let mut attributes: BTreeMap<String, String> = message.attributes.into_iter().collect();
        self.unprefix_dead_letter_source(&mut attributes);
        let acknowledger = PubSubAcknowledger { handler };
        Delivery::new(
            message.message_id,
            message.data,
            attributes,
            attempt,
            Box::new(acknowledger),
        )
    }

    /// Pub/Sub names the source subscription as it is known to the server (maybe as a
    /// full resource path); callers should see the name they gave.
    fn unprefix_dead_letter_source(&self, attributes: &mut BTreeMap<String, String>) {
        if let Some(source) = attributes.get_mut(dead_letter_attributes::SOURCE_SUBSCRIPTION) {
            let id = source.rsplit('/').next().unwrap_or(source);
            let id = id.strip_prefix(self.name_prefix.as_str()).unwrap_or(id);
            *source = id.to_owned();
        }
    }
}

/// Settles through the client's handler (dropping it unsettled makes the client nack).
struct PubSubAcknowledger {
    handler: Handler,
}

#[async_trait]
impl Acknowledger for PubSubAcknowledger {
    async fn ack(self: Box<Self>) -> Result<(), BusError> {
        self.handler.ack();
        Ok(())
    }

    async fn nack(self: Box<Self>) -> Result<(), BusError> {
        self.handler.nack();
        Ok(())
    }
}
