//! The worker's at-least-once contract, on the in-process bus with paused time.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cratedigger_bus::{EventBus, MemoryBus, OutgoingMessage, SubscriptionSpec};
use cratedigger_kit::{
    EventHandler, HandleError, Outcome, Publisher, Shutdown, Worker, WorkerSettings,
};
use cratedigger_proto::{Event, events};
use tokio::sync::Mutex;

/// Fails the first `failures` calls (retryably, or for good), then succeeds; counts calls.
struct Flaky {
    failures: u32,
    reject: bool,
    calls: AtomicU32,
    gave_up: Mutex<Vec<String>>,
    /// When set, every call waits this long (for the shutdown test).
    slow: Option<Duration>,
}

impl Flaky {
    fn new(failures: u32, reject: bool) -> Arc<Self> {
        Arc::new(Self {
            failures,
            reject,
            calls: AtomicU32::new(0),
            gave_up: Mutex::new(Vec::new()),
            slow: None,
        })
    }
}

#[async_trait]
impl EventHandler for Flaky {
    type Event = events::JobRequested;

    async fn handle(&self, event: events::JobRequested) -> Result<(), HandleError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(wait) = self.slow {
            tokio::time::sleep(wait).await;
        }
        if n < self.failures {
            let e = anyhow::anyhow!(
                "call {n} for {} failed",
                event.job.map(|j| j.id).unwrap_or_default()
            );
            return Err(if self.reject {
                HandleError::Reject(e)
            } else {
                HandleError::Retry(e)
            });
        }
        Ok(())
    }

    async fn give_up(&self, _event: &events::JobRequested, error: &HandleError) {
        self.gave_up.lock().await.push(error.to_string());
    }
}

fn spec() -> SubscriptionSpec {
    let mut spec = SubscriptionSpec::new("test.job-requested", events::JobRequested::TOPIC);
    spec.max_delivery_attempts = 5;
    spec
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        drain_timeout: Duration::from_secs(2),
        ..WorkerSettings::default()
    }
}

async fn setup(handler: Arc<Flaky>) -> (MemoryBus, Worker<Flaky>) {
    let bus = MemoryBus::new();
    let dyn_bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    let spec = spec();
    dyn_bus.ensure_subscription(&spec).await.unwrap();
    // Observe the dead-letter topic.
    let dead = SubscriptionSpec::new("test.dead", spec.dead_letter_topic.clone().unwrap());
    dyn_bus.ensure_subscription(&dead).await.unwrap();
    let event = events::JobRequested {
        job: Some(events::Job {
            id: "job-1".into(),
            ..Default::default()
        }),
    };
    Publisher::new(dyn_bus.clone())
        .publish(&event)
        .await
        .unwrap();
    (bus, Worker::new(handler, dyn_bus, spec, settings()))
}

async fn next(bus: &MemoryBus, subscription: &str) -> cratedigger_bus::Delivery {
    for _ in 0..10_000 {
        if let Some(d) = bus.try_next(subscription) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing delivered on {subscription}");
}

#[tokio::test(start_paused = true)]
async fn a_handled_event_is_acked_once() {
    let handler = Flaky::new(0, false);
    let (bus, worker) = setup(handler.clone()).await;
    let delivery = next(&bus, "test.job-requested").await;
    assert_eq!(
        delivery.attributes.get("job_id").map(String::as_str),
        Some("job-1")
    );
    assert_eq!(worker.handle_one(delivery).await, Outcome::Acked);
    assert_eq!(bus.pending("test.job-requested"), 0);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_event_is_retried_with_rising_attempts_until_it_succeeds() {
    let handler = Flaky::new(2, false);
    let (bus, worker) = setup(handler.clone()).await;
    let mut attempts = Vec::new();
    loop {
        let delivery = next(&bus, "test.job-requested").await;
        attempts.push(delivery.attempt);
        if worker.handle_one(delivery).await == Outcome::Acked {
            break;
        }
    }
    assert_eq!(attempts, vec![1, 2, 3]);
    assert_eq!(bus.pending("test.job-requested"), 0);
    assert!(handler.gave_up.lock().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_last_failed_attempt_gives_up_and_dead_letters() {
    let handler = Flaky::new(u32::MAX, false);
    let (bus, worker) = setup(handler.clone()).await;
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(
            worker
                .handle_one(next(&bus, "test.job-requested").await)
                .await,
        );
    }
    assert_eq!(
        outcomes,
        [vec![Outcome::Retrying; 4], vec![Outcome::DeadLettered]].concat()
    );
    assert_eq!(handler.gave_up.lock().await.len(), 1);
    let dead = next(&bus, "test.dead").await;
    assert_eq!(
        dead.attributes.get("job_id").map(String::as_str),
        Some("job-1")
    );
    assert_eq!(bus.pending("test.job-requested"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_event_is_dead_lettered_at_once_with_its_reason() {
    let handler = Flaky::new(1, true);
    let (bus, worker) = setup(handler.clone()).await;
    assert_eq!(
        worker
            .handle_one(next(&bus, "test.job-requested").await)
            .await,
        Outcome::DeadLettered
    );
    let dead = next(&bus, "test.dead").await;
    assert!(dead.attributes["dead_letter_reason"].contains("call 0 for job-1 failed"));
    assert_eq!(handler.gave_up.lock().await.len(), 1);
    assert_eq!(bus.pending("test.job-requested"), 0);
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_message_is_dead_lettered() {
    let handler = Flaky::new(0, false);
    let (bus, worker) = setup(handler.clone()).await;
    worker
        .handle_one(next(&bus, "test.job-requested").await)
        .await;
    let dyn_bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    dyn_bus
        .publish(
            events::JobRequested::TOPIC,
            OutgoingMessage::new(vec![0xFF, 0xFF, 0xFF]),
        )
        .await
        .unwrap();
    assert_eq!(
        worker
            .handle_one(next(&bus, "test.job-requested").await)
            .await,
        Outcome::DeadLettered
    );
    assert!(next(&bus, "test.dead").await.attributes["dead_letter_reason"].contains("undecodable"));
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
}

/// SIGTERM while a handler is still working: the worker stops, the unfinished delivery is
/// nacked, and a second worker (another replica) receives it: nothing is lost.
#[tokio::test(start_paused = true)]
async fn shutdown_nacks_unfinished_work_and_another_worker_gets_it() {
    let slow = Arc::new(Flaky {
        failures: 0,
        reject: false,
        calls: AtomicU32::new(0),
        gave_up: Mutex::new(Vec::new()),
        slow: Some(Duration::from_secs(3600)),
    });
    let (bus, worker) = setup(slow.clone()).await;
    let shutdown = Shutdown::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));
    while slow.calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.trigger();
    running.await.unwrap().unwrap();
    assert_eq!(
        bus.pending("test.job-requested"),
        1,
        "the message must still be pending"
    );

    let quick = Flaky::new(0, false);
    let dyn_bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    let replica = Worker::new(quick.clone(), dyn_bus, spec(), settings());
    let delivery = next(&bus, "test.job-requested").await;
    assert_eq!(delivery.attempt, 2);
    assert_eq!(replica.handle_one(delivery).await, Outcome::Acked);
    assert_eq!(bus.pending("test.job-requested"), 0);
}
