//! The trainer.
//!
//! Reads every stored interaction from the Catalog (streamed, so millions of rows are
//! never all in memory twice), fits implicit ALS on them, writes the model's files to the
//! blob store under `models/<version>/` (the manifest last), records the version in the
//! Catalog, and publishes ModelTrained so recommenders load it. Runs on demand
//! (`cratedigger train`, a Kubernetes CronJob) or on a schedule inside the service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use cratedigger_als::{
    AlsParams, Interactions, InteractionsBuilder, IterationReport, ModelFiles, fit_with_callback,
};
use cratedigger_blobs::BlobLocation;
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, InteractionKind, ModelVersion};
use cratedigger_kit::{Publisher, Runnable, Shutdown, Task};
use cratedigger_proto::convert::timestamp_to_pb;
use cratedigger_proto::events;
use futures::TryStreamExt;
use object_store::path::Path;
use serde::Deserialize;

pub const SERVICE: &str = "trainer";

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TrainerSettings {
    pub als: AlsParams,
    /// Raw weight of a wantlist item and of a collection item.
    pub want_weight: f32,
    pub have_weight: f32,
    /// Retrain this often inside the service; 0 trains only on demand.
    pub interval_seconds: u64,
}

impl Default for TrainerSettings {
    fn default() -> Self {
        Self {
            als: AlsParams::default(),
            want_weight: 1.0,
            have_weight: 1.0,
            interval_seconds: 0,
        }
    }
}

/// What a training run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    pub version: String,
    pub location: String,
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    pub fit_seconds: f64,
}

/// The interaction matrix with the names of its rows and columns.
pub struct Corpus {
    pub matrix: Interactions,
    pub usernames: Vec<String>,
    pub release_ids: Vec<u64>,
}

pub struct Trainer {
    catalog: Arc<dyn Catalog>,
    blobs: BlobLocation,
    publisher: Publisher,
    settings: TrainerSettings,
}

impl Trainer {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        blobs: BlobLocation,
        bus: Arc<dyn EventBus>,
        settings: TrainerSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            blobs,
            publisher: Publisher::new(bus),
            settings,
        })
    }

    /// Reads every interaction into a matrix: users in the order the Catalog streams them,
    /// releases in order of first appearance.
    pub async fn corpus(&self) -> anyhow::Result<Corpus> {
        let mut usernames: Vec<String> = Vec::new();
        let mut release_index: HashMap<u64, u32> = HashMap::new();
        let mut release_ids: Vec<u64> = Vec::new();
        let mut triplets: Vec<(u32, u32, f32)> = Vec::new();
        let mut stream = self.catalog.all_interactions();
        while let Some((username, interaction)) = stream.try_next().await? {
            if usernames.last().map(String::as_str) != Some(username.as_str()) {
                usernames.push(username.to_string());
            }
            let user = (usernames.len() - 1) as u32;
            let next = release_ids.len() as u32;
            let item = *release_index
                .entry(interaction.release_id.0)
                .or_insert_with(|| {
                    release_ids.push(interaction.release_id.0);
                    next
                });
            let weight = match interaction.kind {
                InteractionKind::Want => self.settings.want_weight,
                InteractionKind::Have => self.settings.have_weight,
            } * interaction.weight;
            triplets.push((user, item, weight));
        }
        let mut builder = InteractionsBuilder::new(usernames.len(), release_ids.len())?
            .with_capacity(triplets.len());
        for (user, item, weight) in triplets {
            builder.push(u64::from(user), u64::from(item), weight)?;
        }
        Ok(Corpus {
            matrix: builder.build(),
            usernames,
            release_ids,
        })
    }

    /// Trains a model on everything stored, stores and records it, and announces it.
    pub async fn train(
        &self,
        progress: impl FnMut(&IterationReport) + Send + 'static,
    ) -> anyhow::Result<Trained> {
        let corpus = self.corpus().await?;
        if corpus.matrix.nnz() == 0 {
            anyhow::bail!("there are no interactions to train on: sync some profiles first");
        }
        let (users, items, nnz) = (
            corpus.matrix.users(),
            corpus.matrix.items(),
            corpus.matrix.nnz(),
        );
        tracing::info!(users, items, interactions = nnz, "training");
        let trained_at = Utc::now();
        let version = trained_at.format("%Y%m%dT%H%M%S%3fZ").to_string();
        let params = self.settings.als.clone();
        let stamp = (
            version.clone(),
            trained_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        let (model, files) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let model = fit_with_callback(&corpus.matrix, &params, progress)?
                .with_ids(corpus.release_ids, corpus.usernames)?
                .with_version(stamp.0, stamp.1);
            let files = ModelFiles::encode(&model)?;
            Ok((model, files))
        })
        .await??;
        let location = format!("models/{version}");
        let prefix = Path::from(format!("{}/{location}", self.blobs.prefix));
        cratedigger_blobs::put_files(self.blobs.store.as_ref(), &prefix, files).await?;
        let info = model.info();
        let record = ModelVersion {
            version: version.clone(),
            trained_at,
            users: users as u64,
            items: items as u64,
            params: serde_json::to_value(model.params())?,
            metrics: serde_json::json!({ "loss": info.loss, "fit_seconds": info.fit_seconds, "interactions": nnz }),
            location: location.clone(),
        };
        self.catalog.record_model_version(&record).await?;
        let announced = events::ModelTrained {
            version: version.clone(),
            location: location.clone(),
            trained_at: timestamp_to_pb(&trained_at.to_rfc3339()),
            users: users as u64,
            items: items as u64,
        };
        self.publisher.publish(&announced).await?;
        tracing::info!(%version, fit_seconds = info.fit_seconds, "model trained and recorded");
        Ok(Trained {
            version,
            location,
            users,
            items,
            interactions: nnz,
            fit_seconds: info.fit_seconds,
        })
    }

    /// Retraining on a schedule, when `interval_seconds` is set.
    pub fn workers(self: &Arc<Self>) -> Vec<Box<dyn Runnable>> {
        if self.settings.interval_seconds == 0 {
            return Vec::new();
        }
        let this = self.clone();
        let every = Duration::from_secs(self.settings.interval_seconds);
        vec![Task::new(
            "trainer.schedule",
            move |shutdown: Shutdown| async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        () = shutdown.wait() => return Ok(()),
                    }
                    if let Err(e) = this.train(|_| {}).await {
                        tracing::warn!(error = format!("{e:#}"), "scheduled training failed");
                    }
                }
            },
        )]
    }
}
