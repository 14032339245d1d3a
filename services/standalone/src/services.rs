//! The roster: what each service runs, built from connected backends and settings. The
//! same code runs one service per process (`serve`) and all of them in one (`up`).

use std::sync::Arc;

use clap::ValueEnum;
use cratedigger_backends::Backends;
use cratedigger_bus::EventBus;
use cratedigger_candidates::Candidates;
use cratedigger_carts_stage::CartsStage;
use cratedigger_gateway::Gateway;
use cratedigger_kit::{Health, Runnable, Shutdown, Task};
use cratedigger_market::Market;
use cratedigger_profile::Profile;
use cratedigger_recommender::{Recommender, serve_grpc};
use cratedigger_scraper::Scraper;
use cratedigger_tracker::Tracker;
use cratedigger_trainer::Trainer;

use crate::settings::AppSettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Service {
    Gateway,
    Profile,
    Scraper,
    Tracker,
    Recommender,
    Trainer,
    Candidates,
    Market,
    Carts,
}

impl Service {
    pub const ALL: [Self; 9] = [
        Self::Gateway,
        Self::Profile,
        Self::Scraper,
        Self::Tracker,
        Self::Recommender,
        Self::Trainer,
        Self::Candidates,
        Self::Market,
        Self::Carts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => cratedigger_gateway::SERVICE,
            Self::Profile => cratedigger_profile::SERVICE,
            Self::Scraper => cratedigger_scraper::SERVICE,
            Self::Tracker => cratedigger_tracker::SERVICE,
            Self::Recommender => cratedigger_recommender::SERVICE,
            Self::Trainer => cratedigger_trainer::SERVICE,
            Self::Candidates => cratedigger_candidates::SERVICE,
            Self::Market => cratedigger_market::SERVICE,
            Self::Carts => cratedigger_carts_stage::SERVICE,
        }
    }
}

/// The long-lived tasks of `service`. The gateway serves `health`'s endpoints on its own
/// port; the caller serves them for the others.
pub fn tasks(
    service: Service,
    backends: &Backends,
    settings: &AppSettings,
    health: &Health,
) -> Vec<Box<dyn Runnable>> {
    tasks_with(service, backends, settings, health, None)
}

/// The tasks of every service, in one process. The gateway then answers similar releases
/// from the recommender service's own model, which ModelTrained keeps current, instead of
/// from a copy of its own refreshed on a timer.
pub fn all_tasks(
    backends: &Backends,
    settings: &AppSettings,
    health: &Health,
) -> Vec<Box<dyn Runnable>> {
    let recommender = recommender(backends, settings);
    Service::ALL
        .into_iter()
        .flat_map(|service| tasks_with(service, backends, settings, health, Some(&recommender)))
        .collect()
}

fn recommender(backends: &Backends, settings: &AppSettings) -> Arc<Recommender> {
    Recommender::new(
        backends.catalog.clone(),
        backends.results.clone(),
        backends.kv.clone(),
        backends.blobs.clone(),
        backends.bus.clone(),
        settings.recommender.clone(),
    )
}

/// `service`'s tasks; `shared` is the recommender of this process's recommender service,
/// when it runs here.
fn tasks_with(
    service: Service,
    backends: &Backends,
    settings: &AppSettings,
    health: &Health,
    shared: Option<&Arc<Recommender>>,
) -> Vec<Box<dyn Runnable>> {
    let worker = settings.workers.worker_settings();
    match service {
        Service::Gateway => {
            let gateway = Gateway::new(
                backends.kv.clone(),
                backends.bus.clone(),
                backends.results.clone(),
                settings.gateway.clone(),
            )
            .with_discogs(backends.discogs.clone());
            let mut tasks: Vec<Box<dyn Runnable>> = Vec::new();
            // Similar releases come from the recommender: over gRPC when its address is
            // configured; else through the recommender's gRPC service called in this
            // process (`up` picks the recommender's gRPC port at random, so there is no
            // address to give), over the recommender service's model when it runs here
            // too, or else over a copy this process refreshes on a timer.
            let gateway = match &settings.gateway.recommender_url {
                Some(url) => {
                    match cratedigger_gateway::RecommenderSimilarReleases::connect_lazy(url) {
                        Ok(client) => gateway.with_similar(Arc::new(client)),
                        Err(e) => {
                            let message = format!(
                                "gateway.recommender_url {url:?} is not a usable address: {e}"
                            );
                            return vec![Task::new(
                                "gateway.http",
                                move |_: Shutdown| async move { Err(anyhow::anyhow!(message)) },
                            )];
                        }
                    }
                }
                None => {
                    let recommender = match shared {
                        Some(shared) => shared.clone(),
                        None => {
                            let recommender = recommender(backends, settings);
                            tasks.push(model_refresh(
                                recommender.clone(),
                                settings.recommender.refresh_seconds,
                            ));
                            recommender
                        }
                    };
                    let service =
                        cratedigger_proto::recommender::recommender_server::RecommenderServer::new(
                            cratedigger_recommender::RecommenderGrpc(recommender),
                        );
                    gateway.with_similar(Arc::new(
                        cratedigger_gateway::RecommenderSimilarReleases::over(service),
                    ))
                }
            };
            let (listen, health) = (settings.gateway.clone(), health.clone());
            tasks.push(Task::new(
                "gateway.http",
                move |shutdown: Shutdown| async move {
                    let address = format!("{}:{}", listen.host, listen.port);
                    let listener = tokio::net::TcpListener::bind(&address)
                        .await
                        .map_err(|e| anyhow::anyhow!("binding {address}: {e}"))?;
                    gateway.serve(listener, health, shutdown).await
                },
            ));
            tasks
        }
        Service::Profile => Profile::new(
            backends.catalog.clone(),
            backends.kv.clone(),
            backends.discogs.clone(),
            backends.bus.clone(),
            settings.profile.clone(),
        )
        .workers(&worker),
        Service::Scraper => Scraper::new(
            backends.catalog.clone(),
            backends.discogs.clone(),
            backends.bus.clone(),
            settings.scraper.concurrency,
        )
        .workers(&worker),
        Service::Tracker => {
            let tracker = Tracker::new(backends.kv.clone(), backends.bus.clone());
            let mut tasks = tracker.workers(&worker);
            tasks.push(tracker.reaper(&settings.tracker));
            tasks
        }
        Service::Recommender => {
            let recommender = shared
                .cloned()
                .unwrap_or_else(|| recommender(backends, settings));
            let mut tasks = recommender.workers(&worker);
            let grpc = settings.grpc.clone();
            tasks.push(Task::new(
                "recommender.grpc",
                move |shutdown: Shutdown| async move {
                    let listener = grpc.bind().await?;
                    tracing::info!(address = %listener.local_addr()?, "recommender grpc listening");
                    serve_grpc(recommender, listener, shutdown).await
                },
            ));
            tasks
        }
        Service::Trainer => Trainer::new(
            backends.catalog.clone(),
            backends.blobs.clone(),
            backends.bus.clone(),
            settings.trainer.clone(),
        )
        .workers(),
        Service::Candidates => Candidates::new(
            backends.catalog.clone(),
            backends.results.clone(),
            backends.kv.clone(),
            backends.discogs.clone(),
            backends.bus.clone(),
            settings.candidates(),
        )
        .workers(&worker),
        Service::Market => {
            let market = settings.market();
            let sources = cratedigger_market::build_sources(
                &market,
                &backends.discogs,
                &backends.catalog,
                &backends.kv,
            );
            let stats = Some(backends.discogs.clone());
            Market::new(
                backends.catalog.clone(),
                backends.kv.clone(),
                sources,
                stats,
                backends.bus.clone(),
                market,
            )
            .workers(&worker)
        }
        Service::Carts => CartsStage::new(
            backends.catalog.clone(),
            backends.results.clone(),
            backends.kv.clone(),
            backends.bus.clone(),
            settings.carts.clone(),
        )
        .workers(&worker),
    }
}

/// Creates every subscription the tasks consume (and their topics), before anything is
/// published: a bus keeps a topic's messages only for subscriptions that exist.
pub async fn provision(bus: &Arc<dyn EventBus>, tasks: &[Box<dyn Runnable>]) -> anyhow::Result<()> {
    for spec in tasks.iter().filter_map(|t| t.subscription()) {
        bus.ensure_subscription(&spec).await?;
    }
    Ok(())
}

/// Reloads `recommender`'s model every `seconds` (for a copy no ModelTrained reaches).
fn model_refresh(recommender: Arc<Recommender>, seconds: u64) -> Box<dyn Runnable> {
    let every = std::time::Duration::from_secs(seconds.max(1));
    Task::new(
        "gateway.model-refresh",
        move |shutdown: Shutdown| async move {
            loop {
                if let Err(e) = recommender.refresh().await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "could not refresh the model for similar releases"
                    );
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = shutdown.wait() => return Ok(()),
                }
            }
        },
    )
}
