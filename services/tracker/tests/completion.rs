//! The tracker's completion of a stage: announced once however the last chunk's event is
//! delivered, and never lost when a delivery that claimed it dies before announcing.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use cratedigger_bus::{BusError, EventBus, OutgoingMessage, SubscriptionSpec};
use cratedigger_domain::{JobId, JobKind, JobSpec, Stage, Username};
use cratedigger_kit::{EventHandler, HandleError};
use cratedigger_kv::{KeyValue, MemoryKeyValue};
use cratedigger_proto::Event;
use cratedigger_proto::convert::{job_to_pb, stage_to_pb};
use cratedigger_proto::events::{ChunkDone, ChunksPlanned, StageCompleted};
use cratedigger_tracker::{On, Tracker};

/// Keeps the topic of every message published.
#[derive(Default)]
struct Recording {
    topics: Mutex<Vec<String>>,
}

#[async_trait]
impl EventBus for Recording {
    async fn ensure_topic(&self, _: &str) -> Result<(), BusError> {
        Ok(())
    }
    async fn ensure_subscription(&self, _: &SubscriptionSpec) -> Result<(), BusError> {
        Ok(())
    }
    async fn publish(&self, topic: &str, _: OutgoingMessage) -> Result<(), BusError> {
        self.topics.lock().unwrap().push(topic.to_owned());
        Ok(())
    }
    async fn subscribe(
        &self,
        _: &SubscriptionSpec,
    ) -> Result<Box<dyn cratedigger_bus::Subscription>, BusError> {
        Err(BusError::Unavailable(
            "a recording bus has no subscriptions".into(),
        ))
    }
}

impl Recording {
    fn completions(&self) -> usize {
        self.topics
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == StageCompleted::TOPIC)
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn a_completion_claimed_by_a_delivery_that_died_is_announced_by_the_retry() {
    let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
    let bus = Arc::new(Recording::default());
    let tracker = Tracker::new(kv, bus.clone());
    let spec = JobSpec {
        id: JobId::generate(),
        kind: JobKind::Sync,
        username: Username::parse("digger0001").unwrap(),
        criteria: None,
        limit: 10,
        wantlist_share: 1.0,
        seed: 1,
        requested_at: Utc::now().to_rfc3339(),
    };
    let job = Some(job_to_pb(&spec));
    let stage = stage_to_pb(Stage::Profile) as i32;
    On::<ChunksPlanned>::new(tracker.clone())
        .handle(ChunksPlanned {
            job: job.clone(),
            stage,
            total: 1,
        })
        .await
        .unwrap();
    // The first delivery of the last chunk claims the completion, then its process dies
    // before it publishes (here: the claim is taken and nothing else happens).
    let claimed = tracker
        .board()
        .chunk_done(&spec.id, Stage::Profile, 0, false, Utc::now())
        .await
        .unwrap();
    assert!(claimed.claimed().is_some());
    // Its message comes back at once (nacked on shutdown). Handling it must not succeed
    // while the claim stands: acknowledged, it would take the stage's last chance to be
    // announced with it.
    let chunk = || ChunkDone {
        job: job.clone(),
        stage,
        chunk: 0,
        failed: false,
        ..Default::default()
    };
    let on_chunk = On::<ChunkDone>::new(tracker.clone());
    let early = on_chunk.handle(chunk()).await;
    assert!(matches!(early, Err(HandleError::Retry(_))), "{early:?}");
    assert_eq!(bus.completions(), 0);
    // Retried after the claim lapsed, it announces.
    tokio::time::sleep(Duration::from_secs(11)).await;
    on_chunk.handle(chunk()).await.unwrap();
    assert_eq!(bus.completions(), 1);
    // Every later delivery is a no-op.
    on_chunk.handle(chunk()).await.unwrap();
    assert_eq!(bus.completions(), 1);
}
