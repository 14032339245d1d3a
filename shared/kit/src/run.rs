//! Running several long-lived tasks (workers, servers) as one service: they share the
//! shutdown signal, and when one fails the others are told to stop.

use async_trait::async_trait;
use tokio::task::JoinSet;

use crate::{EventHandler, Shutdown, Worker};

#[async_trait]
pub trait Runnable: Send + 'static {
    fn name(&self) -> String;
    /// The subscription it consumes, if it is a worker: created before anything is
    /// published, since a bus keeps a topic's messages only for existing subscriptions.
    fn subscription(&self) -> Option<cratedigger_bus::SubscriptionSpec> {
        None
    }
    /// Runs until `shutdown` fires (then drains) or a fatal error.
    async fn run(self: Box<Self>, shutdown: Shutdown) -> anyhow::Result<()>;
}

#[async_trait]
impl<H: EventHandler> Runnable for Worker<H> {
    fn name(&self) -> String {
        self.spec().name.clone()
    }

    fn subscription(&self) -> Option<cratedigger_bus::SubscriptionSpec> {
        Some(self.spec().clone())
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        Worker::run(*self, shutdown)
            .await
            .map_err(anyhow::Error::from)
    }
}

/// A long-lived task given as a future factory (an HTTP or gRPC server, a schedule).
pub struct Task<F> {
    name: String,
    start: F,
}

impl<F, Fut> Task<F>
where
    F: FnOnce(Shutdown) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    pub fn new(name: impl Into<String>, start: F) -> Box<Self> {
        Box::new(Self {
            name: name.into(),
            start,
        })
    }
}

#[async_trait]
impl<F, Fut> Runnable for Task<F>
where
    F: FnOnce(Shutdown) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn run(self: Box<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        (self.start)(shutdown).await
    }
}

/// Runs every task until `shutdown` fires and all have drained. If one fails, the others
/// are stopped and the first error is returned.
pub async fn run_all(tasks: Vec<Box<dyn Runnable>>, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut set = JoinSet::new();
    for task in tasks {
        let (name, shutdown) = (task.name(), shutdown.clone());
        set.spawn(async move { (name, task.run(shutdown).await) });
    }
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        let failure = match joined {
            Ok((_, Ok(()))) => None,
            Ok((name, Err(e))) => Some(e.context(format!("{name} failed"))),
            Err(e) => Some(anyhow::anyhow!("a task panicked or was cancelled: {e}")),
        };
        if let Some(e) = failure {
            tracing::error!(error = format!("{e:#}"), "stopping the service");
            shutdown.trigger();
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
