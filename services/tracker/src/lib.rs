//! The tracker.
//!
//! Consumes every event that moves a job (JobRequested, ChunksPlanned, ChunkDone,
//! ProfileSynced, StageProgress, JobCompleted, JobFailed) and records it on the status
//! board, of which it is the only writer. When the last chunk of a stage is done it
//! publishes StageCompleted, once: chunk completion is set membership, so redelivered and
//! reordered events count once, and the completion is claimed before it is announced.
//!
//! It also ends the jobs that would otherwise never end: the [`Reaper`] fails a job whose
//! current stage is past its deadline, and [`DeadLetters`] applies once more, later, the
//! events its own subscriptions gave up on (failing the job of one it cannot read).

mod dead_letters;
mod reaper;
mod settings;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cratedigger_bus::EventBus;
use cratedigger_domain::{JobError, JobSpec, Stage, StageState};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, subscription,
};
use cratedigger_kv::KeyValue;
use cratedigger_proto::convert::{job_of, stage_from_pb, timestamp_from_pb};
use cratedigger_proto::{Event, events};
use cratedigger_status::{Completion, StageCompletion, StatusBoard};

pub use dead_letters::{DeadLetters, EVENT_UNREADABLE};
pub use reaper::{Reaper, STAGE_DEADLINE};
pub use settings::{StageDeadlines, TrackerSettings};

pub const SERVICE: &str = "tracker";

pub struct Tracker {
    board: StatusBoard,
    publisher: Publisher,
}

impl Tracker {
    pub fn new(kv: Arc<dyn KeyValue>, bus: Arc<dyn EventBus>) -> Arc<Self> {
        Arc::new(Self {
            board: StatusBoard::new(kv),
            publisher: Publisher::new(bus),
        })
    }

    pub fn board(&self) -> &StatusBoard {
        &self.board
    }

    pub fn workers(self: &Arc<Self>, settings: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let bus = self.publisher.bus().clone();
        fn worker<E: Event>(
            tracker: &Arc<Tracker>,
            bus: &Arc<dyn EventBus>,
            settings: &WorkerSettings,
        ) -> Box<dyn Runnable>
        where
            On<E>: EventHandler<Event = E>,
        {
            Box::new(Worker::new(
                Arc::new(On::<E>::new(tracker.clone())),
                bus.clone(),
                subscription::<E>(SERVICE),
                settings.clone(),
            ))
        }
        fn dead_letters<E: Event>(
            tracker: &Arc<Tracker>,
            bus: &Arc<dyn EventBus>,
        ) -> Box<dyn Runnable>
        where
            On<E>: EventHandler<Event = E>,
        {
            Box::new(DeadLetters::<E>::new(tracker.clone(), bus.clone()))
        }
        vec![
            worker::<events::JobRequested>(self, &bus, settings),
            worker::<events::ChunksPlanned>(self, &bus, settings),
            worker::<events::ChunkDone>(self, &bus, settings),
            worker::<events::ProfileSynced>(self, &bus, settings),
            worker::<events::StageProgress>(self, &bus, settings),
            worker::<events::JobCompleted>(self, &bus, settings),
            worker::<events::JobFailed>(self, &bus, settings),
            worker::<events::JobCancelled>(self, &bus, settings),
            dead_letters::<events::JobRequested>(self, &bus),
            dead_letters::<events::ChunksPlanned>(self, &bus),
            dead_letters::<events::ChunkDone>(self, &bus),
            dead_letters::<events::ProfileSynced>(self, &bus),
            dead_letters::<events::StageProgress>(self, &bus),
            dead_letters::<events::JobCompleted>(self, &bus),
            dead_letters::<events::JobFailed>(self, &bus),
            dead_letters::<events::JobCancelled>(self, &bus),
        ]
    }

    /// The reaper of jobs past a stage's deadline (see [`Reaper`]), as a task.
    pub fn reaper(&self, settings: &TrackerSettings) -> Box<dyn Runnable> {
        Reaper::new(self.board.clone(), self.publisher.clone(), settings.clone()).task()
    }

    /// Announces a completion this caller claimed. One claimed by another delivery and
    /// not yet announced leaves this event to be retried: acknowledged now, it would be
    /// lost if the claimer died before publishing.
    async fn complete(
        &self,
        job: &events::Job,
        spec: &JobSpec,
        stage: Stage,
        completion: Completion,
    ) -> Result<(), HandleError> {
        match completion {
            Completion::Claimed(done) => self.announce(job, spec, stage, done).await,
            Completion::Pending => Err(HandleError::retry(anyhow::anyhow!(
                "the completion of stage {stage} is claimed by another delivery and not yet announced"
            ))),
            Completion::Incomplete | Completion::Announced => Ok(()),
        }
    }

    /// Publishes StageCompleted for a completion this caller claimed, then confirms the
    /// claim (or releases it, so a retry can announce).
    async fn announce(
        &self,
        job: &events::Job,
        spec: &JobSpec,
        stage: Stage,
        completion: StageCompletion,
    ) -> Result<(), HandleError> {
        let event = events::StageCompleted {
            job: Some(job.clone()),
            stage: cratedigger_proto::convert::stage_to_pb(stage) as i32,
            total: completion.total,
            failed: completion.failed,
        };
        tracing::info!(stage = %stage, total = completion.total, failed = completion.failed, "stage complete");
        if let Err(e) = self.publisher.publish(&event).await {
            let _ = self.board.completion_not_announced(&spec.id, stage).await;
            return Err(HandleError::retry(e));
        }
        self.board
            .completion_announced(&spec.id, stage)
            .await
            .map_err(HandleError::retry)
    }
}

fn requested_at(job: &events::Job) -> DateTime<Utc> {
    job.requested_at
        .as_ref()
        .and_then(timestamp_from_pb)
        .unwrap_or_else(Utc::now)
}

/// The tracker's handler for event `E`.
pub struct On<E> {
    tracker: Arc<Tracker>,
    _event: std::marker::PhantomData<fn(E)>,
}

impl<E> On<E> {
    pub fn new(tracker: Arc<Tracker>) -> Self {
        Self {
            tracker,
            _event: std::marker::PhantomData,
        }
    }
}

fn spec_of(job: Option<&events::Job>) -> Result<(events::Job, JobSpec), HandleError> {
    let spec = job_of(job).map_err(HandleError::reject)?;
    Ok((job.cloned().unwrap_or_default(), spec))
}

#[async_trait]
impl EventHandler for On<events::JobRequested> {
    type Event = events::JobRequested;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (job, spec) = spec_of(event.job.as_ref())?;
        self.tracker
            .board
            .job_requested(
                &spec.id,
                spec.kind,
                spec.username.as_str(),
                requested_at(&job),
                Utc::now(),
            )
            .await
            .map_err(HandleError::retry)
    }
}

#[async_trait]
impl EventHandler for On<events::ChunksPlanned> {
    type Event = events::ChunksPlanned;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (job, spec) = spec_of(event.job.as_ref())?;
        let stage = stage_from_pb(event.stage).map_err(HandleError::reject)?;
        let board = &self.tracker.board;
        let now = Utc::now();
        board
            .earlier_stages_finished(&spec.id, spec.kind, stage, now)
            .await
            .map_err(HandleError::retry)?;
        let completion = board
            .chunks_planned(&spec.id, stage, event.total, now)
            .await
            .map_err(HandleError::retry)?;
        self.tracker.complete(&job, &spec, stage, completion).await
    }
}

#[async_trait]
impl EventHandler for On<events::ChunkDone> {
    type Event = events::ChunkDone;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (job, spec) = spec_of(event.job.as_ref())?;
        let stage = stage_from_pb(event.stage).map_err(HandleError::reject)?;
        let board = &self.tracker.board;
        let completion = board
            .chunk_done(&spec.id, stage, event.chunk, event.failed, Utc::now())
            .await
            .map_err(HandleError::retry)?;
        self.tracker.complete(&job, &spec, stage, completion).await
    }
}

#[async_trait]
impl EventHandler for On<events::ProfileSynced> {
    type Event = events::ProfileSynced;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (_, spec) = spec_of(event.job.as_ref())?;
        let board = &self.tracker.board;
        let now = Utc::now();
        if !event.scraped {
            let message = Some("the stored profile is current: nothing to fetch");
            board
                .stage_progress(&spec.id, Stage::Profile, 0, 0, message, now)
                .await
                .map_err(HandleError::retry)?;
        }
        board
            .stage_finished(&spec.id, Stage::Profile, StageState::Succeeded, now)
            .await
            .map_err(HandleError::retry)?;
        if let Some(&next) = spec.kind.stages().get(1) {
            board
                .stage_started(&spec.id, next, now)
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for On<events::StageProgress> {
    type Event = events::StageProgress;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (_, spec) = spec_of(event.job.as_ref())?;
        let stage = stage_from_pb(event.stage).map_err(HandleError::reject)?;
        let message = Some(event.message.as_str()).filter(|m| !m.is_empty());
        let (board, now) = (&self.tracker.board, Utc::now());
        board
            .earlier_stages_finished(&spec.id, spec.kind, stage, now)
            .await
            .map_err(HandleError::retry)?;
        board
            .stage_progress(&spec.id, stage, event.done, event.total, message, now)
            .await
            .map_err(HandleError::retry)
    }
}

#[async_trait]
impl EventHandler for On<events::JobCompleted> {
    type Event = events::JobCompleted;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (_, spec) = spec_of(event.job.as_ref())?;
        let message = Some(event.message.as_str()).filter(|m| !m.is_empty());
        self.tracker
            .board
            .job_succeeded(&spec.id, spec.kind, &event.result, message, Utc::now())
            .await
            .map_err(HandleError::retry)
    }
}

#[async_trait]
impl EventHandler for On<events::JobFailed> {
    type Event = events::JobFailed;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (_, spec) = spec_of(event.job.as_ref())?;
        let error = JobError {
            code: event.code,
            message: event.message,
            retryable: event.retryable,
            stage: stage_from_pb(event.stage).ok(),
        };
        self.tracker
            .board
            .job_failed(&spec.id, &error, Utc::now())
            .await
            .map_err(HandleError::retry)
    }
}

#[async_trait]
impl EventHandler for On<events::JobCancelled> {
    type Event = events::JobCancelled;
    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let (_, spec) = spec_of(event.job.as_ref())?;
        self.tracker
            .board
            .job_cancelled(&spec.id, Utc::now())
            .await
            .map_err(HandleError::retry)
    }
}
