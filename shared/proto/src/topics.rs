//! Which topic each event travels on: `cratedigger.<event in kebab case>.v1`.

use crate::events;

/// A message that is published as an event on its own topic.
pub trait Event: prost::Message + Default + Clone + Send + Sync + 'static {
    /// The message name, sent as the `event` attribute.
    const NAME: &'static str;
    /// The event's name in kebab case (`chunk-done`): subscriptions are `<service>.<slug>`.
    const SLUG: &'static str;
    /// The Pub/Sub topic the event is published on.
    const TOPIC: &'static str;
    /// The job the event belongs to, if any.
    fn job(&self) -> Option<&events::Job>;
}

macro_rules! event {
    ($message:ident, $kebab:literal, job) => {
        impl Event for events::$message {
            const NAME: &'static str = stringify!($message);
            const SLUG: &'static str = $kebab;
            const TOPIC: &'static str = concat!("cratedigger.", $kebab, ".v1");
            fn job(&self) -> Option<&events::Job> {
                self.job.as_ref()
            }
        }
    };
    ($message:ident, $kebab:literal) => {
        impl Event for events::$message {
            const NAME: &'static str = stringify!($message);
            const SLUG: &'static str = $kebab;
            const TOPIC: &'static str = concat!("cratedigger.", $kebab, ".v1");
            fn job(&self) -> Option<&events::Job> {
                None
            }
        }
    };
}

event!(JobRequested, "job-requested", job);
event!(ChunksPlanned, "chunks-planned", job);
event!(ChunkRequested, "chunk-requested", job);
event!(MarketChunkRequested, "market-chunk-requested", job);
event!(ChunkDone, "chunk-done", job);
event!(StageCompleted, "stage-completed", job);
event!(ProfileSynced, "profile-synced", job);
event!(StageProgress, "stage-progress", job);
event!(JobCompleted, "job-completed", job);
event!(JobFailed, "job-failed", job);
event!(JobCancelled, "job-cancelled", job);
event!(ModelTrained, "model-trained");
event!(ListingsUploaded, "listings-uploaded");

/// Every topic of the mesh (provisioning and the deployment consistency checks use it).
pub const ALL_TOPICS: &[&str] = &[
    <events::JobRequested as Event>::TOPIC,
    <events::ChunksPlanned as Event>::TOPIC,
    <events::ChunkRequested as Event>::TOPIC,
    <events::MarketChunkRequested as Event>::TOPIC,
    <events::ChunkDone as Event>::TOPIC,
    <events::StageCompleted as Event>::TOPIC,
    <events::ProfileSynced as Event>::TOPIC,
    <events::StageProgress as Event>::TOPIC,
    <events::JobCompleted as Event>::TOPIC,
    <events::JobFailed as Event>::TOPIC,
    <events::JobCancelled as Event>::TOPIC,
    <events::ModelTrained as Event>::TOPIC,
    <events::ListingsUploaded as Event>::TOPIC,
];

/// The topic of an event type.
pub fn topic_of<E: Event>() -> &'static str {
    E::TOPIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_naming_rule() {
        assert_eq!(
            topic_of::<events::JobRequested>(),
            "cratedigger.job-requested.v1"
        );
        assert_eq!(
            topic_of::<events::MarketChunkRequested>(),
            "cratedigger.market-chunk-requested.v1"
        );
        let mut unique = ALL_TOPICS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ALL_TOPICS.len());
    }
}
