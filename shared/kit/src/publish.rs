//! Publishing typed events: encode, name the event and its job in attributes, publish on
//! the event's topic.

use std::sync::Arc;

use cratedigger_bus::{BusError, EventBus, OutgoingMessage};
use cratedigger_proto::Event;

/// Attribute names every event carries.
pub const ATTR_EVENT: &str = "event";
pub const ATTR_JOB_ID: &str = "job_id";

#[derive(Clone)]
pub struct Publisher {
    bus: Arc<dyn EventBus>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Publisher")
    }
}

impl Publisher {
    pub fn new(bus: Arc<dyn EventBus>) -> Self {
        Self { bus }
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    pub async fn publish<E: Event>(&self, event: &E) -> Result<(), BusError> {
        let mut message =
            OutgoingMessage::new(event.encode_to_vec()).with_attribute(ATTR_EVENT, E::NAME);
        if let Some(job) = event.job() {
            message = message.with_attribute(ATTR_JOB_ID, job.id.clone());
        }
        crate::telemetry::inject_trace_context(&mut message.attributes);
        tracing::debug!(event = E::NAME, topic = E::TOPIC, "publishing");
        self.bus.publish(E::TOPIC, message).await?;
        metrics::counter!("cratedigger_events_published_total", "event" => E::NAME).increment(1);
        Ok(())
    }
}
