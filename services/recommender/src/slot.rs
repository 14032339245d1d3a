//! The model in use, swapped without stopping: readers take a snapshot (an `Arc`) and
//! keep it for the whole request; a refresh loads the newest version beside it and swaps.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use cratedigger_als::{Model, ModelFiles};
use cratedigger_blobs::BlobLocation;
use cratedigger_catalog::Catalog;
use object_store::path::Path;

pub struct LoadedModel {
    pub version: String,
    pub model: Model,
}

#[derive(Default)]
pub struct ModelSlot {
    current: ArcSwapOption<LoadedModel>,
}

impl ModelSlot {
    pub fn get(&self) -> Option<Arc<LoadedModel>> {
        self.current.load_full()
    }

    pub fn put(&self, loaded: LoadedModel) {
        tracing::info!(version = %loaded.version, items = loaded.model.items(), "model in use");
        self.current.store(Some(Arc::new(loaded)));
    }

    /// Loads the newest recorded model if it is not the one in use. Returns whether the
    /// model changed.
    pub async fn refresh(
        &self,
        catalog: &dyn Catalog,
        blobs: &BlobLocation,
    ) -> anyhow::Result<bool> {
        let Some(latest) = catalog.latest_model_version().await? else {
            return Ok(false);
        };
        if self.get().is_some_and(|m| m.version == latest.version) {
            return Ok(false);
        }
        let prefix = Path::from(format!("{}/{}", blobs.prefix, latest.location));
        let files = cratedigger_blobs::get_files(blobs.store.as_ref(), &prefix).await?;
        let model = tokio::task::spawn_blocking(move || {
            ModelFiles::decode(|name| files.get(name).map(|b| b.to_vec()))
        })
        .await??;
        self.put(LoadedModel {
            version: latest.version,
            model,
        });
        Ok(true)
    }
}
