//! The recommender.
//!
//! Consumes ProfileSynced (recommendations jobs): reads the user's interactions from the
//! Catalog, recalculates their factors against the model in use, stores their top
//! releases (nothing they own or want, nor another pressing of it, each with the releases
//! of theirs that explain it) in the ResultsStore under their username, and publishes
//! JobCompleted. Writing the same document twice changes nothing, so redelivery is safe.
//!
//! Consumes ModelTrained, and checks the Catalog on a schedule: loads the newest model
//! from the blob store beside the one in use and swaps it in (every replica does this on
//! its own, so each has the newest model without a fan-out subscription).
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
use cratedigger_domain::{JobKind, RecommendationSet, ReleaseId, Stage, Username};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Shutdown, Task, Worker, WorkerSettings, job,
    subscription,
};
use cratedigger_proto::convert::job_of;
use cratedigger_proto::events;
use cratedigger_results::{Collection, ResultsStore};
use serde::Deserialize;

pub use grpc::{RecommenderGrpc, serve_grpc};
pub use recommend::Weights;
pub use slot::{LoadedModel, ModelSlot};

pub const SERVICE: &str = "recommender";

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
    blobs: BlobLocation,
    publisher: Publisher,
    slot: ModelSlot,
    settings: RecommenderSettings,
}

impl Recommender {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        results: Arc<dyn ResultsStore>,
        blobs: BlobLocation,
        bus: Arc<dyn EventBus>,
        settings: RecommenderSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            results,
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
        let set = match self
            .recommend(&spec.username, spec.id.as_str(), spec.limit, &[])
            .await
        {
            Ok(set) => set,
            Err(RecommendError::NoModel) => {
                let failed = job::failed(
                    &job,
                    Stage::Recommend,
                    "no_model",
                    RecommendError::NoModel.to_string(),
                    true,
                );
                return self
                    .publisher
                    .publish(&failed)
                    .await
                    .map_err(HandleError::retry);
            }
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
        let done = job::completed(&job, format!("recommendations/{}", spec.username), message);
        self.publisher
            .publish(&done)
            .await
            .map_err(HandleError::retry)
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
                format!("could not recommend: {error}"),
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
        self.0
            .refresh()
            .await
            .map(|_| ())
            .map_err(HandleError::Retry)
    }
}
