//! Jobs that would otherwise never end: a stage past its deadline fails the job, and an
//! event the tracker gave up on while the board was down is applied once the board is
//! back (or fails its job when it cannot be read).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use cratedigger_bus::names::dead_letter_attributes::SOURCE_SUBSCRIPTION;
use cratedigger_bus::{
    EventBus, MemoryBus, OutgoingMessage, SubscriptionSpec, dead_letter_topic_name,
};
use cratedigger_domain::{JobId, JobKind, JobSpec, JobState, Stage, StageState, Username};
use cratedigger_kit::{Publisher, Shutdown, WorkerSettings, run_all};
use cratedigger_kv::{KeyValue, KvError, MemoryKeyValue};
use cratedigger_proto::Event;
use cratedigger_proto::convert::{job_to_pb, stage_to_pb};
use cratedigger_proto::events::{ChunkDone, JobFailed, StageCompleted};
use cratedigger_status::StatusBoard;
use cratedigger_tracker::{
    EVENT_UNREADABLE, Reaper, STAGE_DEADLINE, StageDeadlines, Tracker, TrackerSettings,
};
use prost::Message;

fn spec(kind: JobKind) -> JobSpec {
    JobSpec {
        id: JobId::generate(),
        kind,
        username: Username::parse("digger0001").unwrap(),
        criteria: None,
        limit: 10,
        wantlist_share: 1.0,
        seed: 1,
        requested_at: Utc::now().to_rfc3339(),
    }
}

#[tokio::test]
async fn a_stage_past_its_deadline_fails_the_job_once_with_the_stage_and_why() {
    let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
    let board = StatusBoard::new(kv);
    let settings = TrackerSettings {
        deadlines: StageDeadlines {
            profile_seconds: 60,
            ..StageDeadlines::default()
        },
        ..TrackerSettings::default()
    };
    let bus = Arc::new(MemoryBus::new());
    let failures = SubscriptionSpec::new("test.job-failed", JobFailed::TOPIC);
    bus.ensure_subscription(&failures).await.unwrap();
    let reaper = Reaper::new(board.clone(), Publisher::new(bus.clone()), settings);
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let (stuck, moving) = (JobId::generate(), JobId::generate());
    for job in [&stuck, &moving] {
        board
            .job_requested(job, JobKind::Recommendations, "digger0001", t0, t0)
            .await
            .unwrap();
    }
    let seconds = |s: i64| t0 + chrono::Duration::seconds(s);
    board
        .stage_finished(&moving, Stage::Profile, StageState::Succeeded, seconds(50))
        .await
        .unwrap();
    assert_eq!(reaper.reap(seconds(59)).await.unwrap(), 0);
    assert_eq!(reaper.reap(seconds(61)).await.unwrap(), 1);
    let status = board.read(&stuck, seconds(62)).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Failed);
    let error = status.error.unwrap();
    assert_eq!(
        (error.code.as_str(), error.stage, error.retryable),
        (STAGE_DEADLINE, Some(Stage::Profile), true)
    );
    assert_eq!(
        error.message,
        "the profile stage did not finish within 1 minute; try again later"
    );
    // The other job's recommend stage is current since 50 s, within its 30 minutes.
    let moving_status = board.read(&moving, seconds(62)).await.unwrap().unwrap();
    assert_eq!(moving_status.state, JobState::Running);
    // The failure is published too, for the services that hold something for the job.
    let published = bus.try_next(&failures.name).expect("JobFailed published");
    let failed = JobFailed::decode(published.data.clone()).unwrap();
    let job = failed.job.unwrap();
    assert_eq!(
        (job.id.as_str(), job.username.as_str(), failed.code.as_str()),
        (stuck.as_str(), "digger0001", STAGE_DEADLINE)
    );
    assert_eq!(failed.stage, stage_to_pb(Stage::Profile) as i32);
    published.ack().await.unwrap();
    // Reaped once: the failed job left the index.
    assert_eq!(reaper.reap(seconds(120)).await.unwrap(), 0);
    assert!(bus.try_next(&failures.name).is_none());
}

/// A store that can be taken down and brought back.
struct Flaky {
    inner: MemoryKeyValue,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), KvError> {
        if self.down.load(Ordering::SeqCst) {
            Err(KvError::Unavailable("down for the test".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl KeyValue for Flaky {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        self.check()?;
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        self.check()?;
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        self.check()?;
        self.inner.expire(key, ttl).await
    }
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        self.check()?;
        self.inner.ttl(key).await
    }
    async fn set_add(&self, key: &str, member: &str) -> Result<bool, KvError> {
        self.check()?;
        self.inner.set_add(key, member).await
    }
    async fn set_len(&self, key: &str) -> Result<u64, KvError> {
        self.check()?;
        self.inner.set_len(key).await
    }
    async fn set_members(&self, key: &str) -> Result<Vec<String>, KvError> {
        self.check()?;
        self.inner.set_members(key).await
    }
    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, KvError> {
        self.check()?;
        self.inner.set_remove(key, member).await
    }
    async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> Result<(), KvError> {
        self.check()?;
        self.inner.hash_set(key, fields).await
    }
    async fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>, KvError> {
        self.check()?;
        self.inner.hash_get_all(key).await
    }
    async fn hash_set_max(&self, key: &str, field: &str, value: i64) -> Result<i64, KvError> {
        self.check()?;
        self.inner.hash_set_max(key, field, value).await
    }
    async fn hash_set_if_absent(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, KvError> {
        self.check()?;
        self.inner.hash_set_if_absent(key, field, value).await
    }
}

/// The last chunk's event arrives while the board is down: the tracker's worker gives up
/// after its attempts and the bus moves the event to the dead letters. Before, nothing
/// read them and the job waited at 0 of 1 for ever. Now the tracker applies the dead
/// letter once the board is back: the stage completes, announced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_given_up_on_while_the_board_was_down_is_applied_once_it_is_back() {
    let kv = Arc::new(Flaky {
        inner: MemoryKeyValue::new(),
        down: AtomicBool::new(false),
    });
    let bus = Arc::new(MemoryBus::with_nack_delay(Duration::from_millis(10)));
    let tracker = Tracker::new(kv.clone(), bus.clone());
    let completed = SubscriptionSpec::new("test.stage-completed", StageCompleted::TOPIC);
    let mut announcements = bus.subscribe(&completed).await.unwrap();
    let settings = WorkerSettings {
        retry_base: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        ..WorkerSettings::default()
    };
    let tasks = tracker.workers(&settings);
    for task in &tasks {
        if let Some(spec) = task.subscription() {
            bus.ensure_subscription(&spec).await.unwrap();
        }
    }
    let shutdown = Shutdown::new();
    let running = tokio::spawn(run_all(tasks, shutdown.clone()));

    let spec = spec(JobKind::Sync);
    let board = tracker.board();
    let now = Utc::now();
    board
        .job_requested(&spec.id, spec.kind, "digger0001", now, now)
        .await
        .unwrap();
    board
        .chunks_planned(&spec.id, Stage::Profile, 1, now)
        .await
        .unwrap();
    kv.down.store(true, Ordering::SeqCst);
    let publisher = Publisher::new(bus.clone());
    publisher
        .publish(&ChunkDone {
            job: Some(job_to_pb(&spec)),
            stage: stage_to_pb(Stage::Profile) as i32,
            chunk: 0,
            items: 3,
            failed: false,
            error: String::new(),
        })
        .await
        .unwrap();
    // Long enough for five attempts and the move to the dead letters.
    tokio::time::sleep(Duration::from_secs(2)).await;
    kv.down.store(false, Ordering::SeqCst);

    let announced = tokio::time::timeout(Duration::from_secs(30), announcements.next())
        .await
        .expect("the stage was announced")
        .unwrap()
        .unwrap();
    let event = StageCompleted::decode(announced.data.clone()).unwrap();
    assert_eq!((event.total, event.failed), (1, 0));
    announced.ack().await.unwrap();
    let status = board.read(&spec.id, Utc::now()).await.unwrap().unwrap();
    let profile = &status.stages[0];
    assert_eq!((profile.done, profile.total), (1, Some(1)));

    // A dead letter the tracker cannot read fails the job it names; one another service
    // gave up on (its own give-up has spoken for the job) is left alone.
    let other = spec_with_board(board, JobKind::Sync).await;
    let junk = |source: &str, job: &JobId| {
        let mut message = OutgoingMessage::new(b"not an event".to_vec());
        message.attributes.insert("job_id".into(), job.to_string());
        message
            .attributes
            .insert(SOURCE_SUBSCRIPTION.into(), source.to_owned());
        message
    };
    let dead_letters = dead_letter_topic_name(ChunkDone::TOPIC);
    bus.publish(&dead_letters, junk("scraper.chunk-done", &other))
        .await
        .unwrap();
    bus.publish(&dead_letters, junk("tracker.chunk-done", &spec.id))
        .await
        .unwrap();
    let failed = wait_final(board, &spec.id).await;
    assert_eq!(failed.error.unwrap().code, EVENT_UNREADABLE);
    let untouched = board.read(&other, Utc::now()).await.unwrap().unwrap();
    assert_eq!(untouched.state, JobState::Running);

    shutdown.trigger();
    running.await.unwrap().unwrap();
}

async fn spec_with_board(board: &StatusBoard, kind: JobKind) -> JobId {
    let job = JobId::generate();
    let now = Utc::now();
    board
        .job_requested(&job, kind, "digger0002", now, now)
        .await
        .unwrap();
    job
}

async fn wait_final(board: &StatusBoard, job: &JobId) -> cratedigger_status::JobStatus {
    for _ in 0..300 {
        let status = board.read(job, Utc::now()).await.unwrap().unwrap();
        if status.state.is_final() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job} never ended");
}
