//! `cratedigger train`: one training run with a progress bar.

use cratedigger_backends::Backends;
use cratedigger_trainer::{Trained, Trainer, TrainerSettings};

use crate::crawl::progress;

pub async fn train(
    backends: &Backends,
    settings: &TrainerSettings,
    show: bool,
) -> anyhow::Result<Trained> {
    let trainer = Trainer::new(
        backends.catalog.clone(),
        backends.blobs.clone(),
        backends.bus.clone(),
        settings.clone(),
    );
    let bar = progress(show, settings.als.iterations as u64, "training");
    let reporting = bar.clone();
    let trained = trainer
        .train(move |report| {
            reporting.set_position(report.iteration as u64 + 1);
        })
        .await?;
    bar.finish();
    Ok(trained)
}
