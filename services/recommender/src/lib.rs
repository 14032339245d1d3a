//! The recommender.
//!
//! Consumes ProfileSynced (recommendations jobs): reads the user's interactions from the
//! Catalog, recalculates their factors against the model in use, stores their top
//! releases (nothing they own or want, nor another pressing of it, each with the releases
//! of theirs that explain it) in the ResultsStore under their username, and publishes
//! JobCompleted. Writing the same document twice changes nothing, so redelivery is safe.
//!
//! A job that arrives before any model exists (`up` still warming up, a fresh deployment)
//! waits for the first one: it is parked in the key-value store, its stage says so, and it
//! is answered once a model is loaded (or failed by the tracker at the stage's deadline).
//!
//! Consumes ModelTrained, and checks the Catalog on a schedule: loads the newest model
//! from the blob store beside the one in use and swaps it in (every replica does this on
//! its own, so each has the newest model without a fan-out subscription), then answers
//! the jobs that were waiting for one.
//!
//! Serves gRPC `cratedigger.recommender.v1.Recommender` (Recommend, SimilarItems) with the
//! standard gRPC health service.

mod grpc;
mod recommend;
mod slot;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cratedigger_blobs::BlobLocation;
use cratedigger_bus::EventBus;
use cratedigger_catalog::Catalog;
use cratedigger_domain::{JobKind, JobSpec, RecommendationSet, ReleaseId, Stage, Username};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Shutdown, Task, Worker, WorkerSettings, job,
    subscription,
};
use cratedigger_kv::KeyValue;
use cratedigger_proto::convert::{job_of, job_to_pb, stage_to_pb};
use cratedigger_proto::events;
use cratedigger_results::{Collection, ResultsStore};
use serde::Deserialize;

pub use grpc::{RecommenderGrpc, serve_grpc};
pub use recommend::Weights;
pub use slot::{LoadedModel, ModelSlot};

pub const SERVICE: &str = "recommender";

/// The jobs waiting for the first model: a set of their specs as JSON.
const WAITING: &str = "recommender:waiting-for-model";
/// What their stage says meanwhile.
pub const WAITING_MESSAGE: &str = "waiting for the first recommendation model to be trained";

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RecommenderSettings {
    /// Recommendations kept when a job does not say.
    pub default_limit: u32,
    /// The most a job or a call may ask for.
    pub max_limit: u32,
    pub want_weight: f32,
    pub have_weight: f32,
    /// How often to look for a newer model.
    pub refresh_seconds: u64,
}

impl Default for RecommenderSettings {
    fn default() -> Self {
        Self {
            default_limit: 20,
            max_limit: 500,
            want_weight: 1.0,
            have_weight: 1.0,
            refresh_seconds: 60,
        }
    }
}

/// Why a recommendation could not be made; mapped once to a gRPC status and a job error.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no recommendation model has been trained yet")]
    NoModel,
    #[error("release {0} is not in the model")]
    UnknownRelease(u64),
    #[error("{0:#}")]
    Unavailable(anyhow::Error),
}

pub struct Recommender {
    catalog: Arc<dyn Catalog>,
    results: Arc<dyn ResultsStore>,
    kv: Arc<dyn KeyValue>,
    blobs: BlobLocation,
    publisher: Publisher,
    slot: ModelSlot,
    settings: RecommenderSettings,
}

impl Recommender {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        results: Arc<dyn ResultsStore>,
        kv: Arc<dyn KeyValue>,
        blobs: BlobLocation,
        bus: Arc<dyn EventBus>,
        settings: RecommenderSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            results,
            kv,
            blobs,
            publisher: Publisher::new(bus),
            slot: ModelSlot::default(),
            settings,
        })
    }

    pub fn slot(&self) -> &ModelSlot {
        &self.slot
    }

    /// Loads the newest model if it changed.
    pub async fn refresh(&self) -> anyhow::Result<bool> {
        self.slot.refresh(self.catalog.as_ref(), &self.blobs).await
    }

    /// The workers and the model refresh schedule (the gRPC server is separate: see
    /// [`serve_grpc`]).
    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let bus = self.publisher.bus().clone();
        let this = self.clone();
        let every = Duration::from_secs(self.settings.refresh_seconds.max(1));
        vec![
            Box::new(Worker::new(
                Arc::new(OnProfileSynced(self.clone())),
                bus.clone(),
                subscription::<events::ProfileSynced>(SERVICE),
                worker.clone(),
            )),
            Box::new(Worker::new(
                Arc::new(OnModelTrained(self.clone())),
                bus,
                subscription::<events::ModelTrained>(SERVICE),
                worker.clone(),
            )),
            Task::new(
                "recommender.model-refresh",
                move |shutdown: Shutdown| async move {
                    loop {
                        if let Err(e) = this.refresh().await {
                            tracing::warn!(error = format!("{e:#}"), "could not refresh the model");
                        }
                        this.answer_waiting().await;
                        tokio::select! {
                            () = tokio::time::sleep(every) => {}
                            () = shutdown.wait() => return Ok(()),
                        }
                    }
                },
            ),
        ]
    }

    /// Recommendations for a user from their stored interactions.
    pub async fn recommend(
        &self,
        username: &Username,
        job_id: &str,
        limit: u32,
        exclude: &[ReleaseId],
    ) -> Result<RecommendationSet, RecommendError> {
        let limit = if limit == 0 {
            self.settings.default_limit
        } else {
            limit.min(self.settings.max_limit)
        } as usize;
        // A model trained a moment ago may not be loaded yet (its ModelTrained still on the
        // way): look once before saying there is none.
        let loaded = match self.slot.get() {
            Some(loaded) => loaded,
            None => {
                self.refresh().await.map_err(RecommendError::Unavailable)?;
                self.slot.get().ok_or(RecommendError::NoModel)?
            }
        };
        let interactions = self
            .catalog
            .interactions(username)
            .await
            .map_err(|e| RecommendError::Unavailable(e.into()))?;
        let weights = Weights {
            want: self.settings.want_weight,
            have: self.settings.have_weight,
        };
        let (ranking_model, owned, exclude) =
            (loaded.clone(), interactions.clone(), exclude.to_vec());
        let ranked = tokio::task::spawn_blocking(move || {
            recommend::rank(
                &ranking_model.model,
                &owned,
                weights,
                &exclude,
                recommend::candidates_for(limit),
            )
        })
        .await
        .map_err(|e| RecommendError::Unavailable(e.into()))?
        .map_err(RecommendError::Unavailable)?;
        let request = recommend::Request {
            username: username.as_str(),
            job_id,
            limit,
        };
        recommend::assemble(
            ranked,
            self.catalog.as_ref(),
            &interactions,
            &loaded.version,
            &request,
        )
        .await
        .map_err(RecommendError::Unavailable)
    }

    async fn on_profile_synced(&self, event: events::ProfileSynced) -> Result<(), HandleError> {
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        if spec.kind != JobKind::Recommendations {
            return Ok(());
        }
        let job = event.job.clone().unwrap_or_default();
        self.answer(&spec, &job).await
    }

    /// Recommends for the job and completes it; with no model yet, parks it until one is
    /// loaded, and its stage says so.
    async fn answer(&self, spec: &JobSpec, job: &events::Job) -> Result<(), HandleError> {
        let set = match self
            .recommend(&spec.username, spec.id.as_str(), spec.limit, &[])
            .await
        {
            Ok(set) => set,
            Err(RecommendError::NoModel) => return self.wait_for_model(spec, job).await,
            Err(e @ RecommendError::Unavailable(_)) => return Err(HandleError::retry(e)),
            Err(e) => return Err(HandleError::reject(e)),
        };
        let document = serde_json::to_value(&set).map_err(HandleError::reject)?;
        self.results
            .put(Collection::Recommendations, &spec.username.key(), &document)
            .await
            .map_err(HandleError::retry)?;
        let message = match set.releases.len() {
            0 => "nothing to recommend yet: none of this user's records are known to the model"
                .to_owned(),
            n => format!("{n} recommendations"),
        };
        tracing::info!(username = %spec.username, count = set.releases.len(), "recommendations stored");
        let done = job::completed(job, format!("recommendations/{}", spec.username), message);
        self.publisher
            .publish(&done)
            .await
            .map_err(HandleError::retry)
    }

    /// Parks the job until a model is loaded ([`Recommender::answer_waiting`]). Parking
    /// twice keeps one entry: the set holds the spec as the event gave it.
    async fn wait_for_model(&self, spec: &JobSpec, job: &events::Job) -> Result<(), HandleError> {
        let parked = serde_json::to_string(spec).map_err(HandleError::reject)?;
        self.kv
            .set_add(WAITING, &parked)
            .await
            .map_err(HandleError::retry)?;
        tracing::info!(job_id = %spec.id, "no model yet: the job waits for the first one");
        let progress = events::StageProgress {
            job: Some(job.clone()),
            stage: stage_to_pb(Stage::Recommend) as i32,
            done: 0,
            total: 0,
            message: WAITING_MESSAGE.to_owned(),
        };
        self.publisher
            .publish(&progress)
            .await
            .map_err(HandleError::retry)?;
        // A model loaded meanwhile (by another replica's event, or the schedule) must not
        // leave this job behind.
        if self.slot.get().is_some() {
            self.answer_waiting().await;
        }
        Ok(())
    }

    /// Answers the jobs that were waiting for a model, once one is loaded. Each leaves the
    /// set only once answered; one that fails is tried again at the next refresh.
    pub async fn answer_waiting(&self) {
        if self.slot.get().is_none() {
            return;
        }
        let waiting = match self.kv.set_members(WAITING).await {
            Ok(waiting) => waiting,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the jobs waiting for a model");
                return;
            }
        };
        for parked in waiting {
            let Ok(spec) = serde_json::from_str::<JobSpec>(&parked) else {
                tracing::warn!("dropping an unreadable job that waited for a model");
                let _ = self.kv.set_remove(WAITING, &parked).await;
                continue;
            };
            let job = job_to_pb(&spec);
            match Box::pin(self.answer(&spec, &job)).await {
                Ok(()) => {
                    let _ = self.kv.set_remove(WAITING, &parked).await;
                }
                Err(e) => {
                    tracing::warn!(job_id = %spec.id, error = %e, "a job that waited for a model failed to be answered; trying again later");
                }
            }
        }
    }
}

struct OnProfileSynced(Arc<Recommender>);

#[async_trait]
impl EventHandler for OnProfileSynced {
    type Event = events::ProfileSynced;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_profile_synced(event).await
    }

    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        if let Some(job) = &event.job {
            let failed = job::failed(
                job,
                Stage::Recommend,
                "recommend_failed",
                job::gave_up("could not recommend", error),
                true,
            );
            let _ = self.0.publisher.publish(&failed).await;
        }
    }
}

struct OnModelTrained(Arc<Recommender>);

#[async_trait]
impl EventHandler for OnModelTrained {
    type Event = events::ModelTrained;

    async fn handle(&self, _event: Self::Event) -> Result<(), HandleError> {
        self.0.refresh().await.map_err(HandleError::Retry)?;
        self.0.answer_waiting().await;
        Ok(())
    }
}
