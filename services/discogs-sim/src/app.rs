//! The simulator as a service: `Application::build(settings)` generates the world and
//! binds the listener, `port()` tells where it listens, `run_until_stopped(shutdown)`
//! serves until the shutdown future completes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;

use crate::faults::FaultBoard;
use crate::http::{self, AppState, Shared};
use crate::limiter::MovingWindow;
use crate::pages::challenge::ManagedChallenge;
use crate::settings::SimSettings;
use crate::simulation::Simulation;
use crate::stats::RequestStats;
use crate::world::World;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address is taken or not ours: pick another port or host.
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the bound address")]
    LocalAddress(#[source] std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
}

impl Application {
    /// Generates the world and binds `settings.host:settings.port` (0 = any free port).
    pub async fn build(settings: SimSettings) -> Result<Self, StartError> {
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        Self::with_listener(settings, listener)
    }

    /// Serves on a listener the caller bound (tests bind 127.0.0.1:0).
    pub fn with_listener(settings: SimSettings, listener: TcpListener) -> Result<Self, StartError> {
        let port = listener
            .local_addr()
            .map_err(StartError::LocalAddress)?
            .port();
        let started = Instant::now();
        let world = World::generate(settings.seed, settings.world.clone());
        tracing::info!(
            seed = settings.seed,
            releases = world.catalog.releases.len(),
            listings = world.market.listings.len(),
            users = world.spec.users,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "world generated"
        );
        let state = Arc::new(Shared {
            api_budget: Mutex::new(MovingWindow::new(settings.rate_limit.window)),
            page_budget: Mutex::new(MovingWindow::new(settings.rate_limit.window)),
            faults: Mutex::new(FaultBoard::default()),
            stats: RequestStats::default(),
            oauth: Mutex::new(Default::default()),
            challenge: settings
                .web_challenge
                .then(|| ManagedChallenge::new(settings.seed)),
            sim: Simulation::new(world),
            settings,
        });
        Ok(Self {
            listener,
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for in-process callers that want to look at the world directly.
    pub fn state(&self) -> AppState {
        Arc::clone(&self.state)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A simulator serving on a free loopback port in the background, stopped when dropped:
/// what tests and benchmarks start.
#[derive(Debug)]
pub struct Background {
    base: String,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Background {
    /// Starts one on 127.0.0.1 with `settings` (their host and port are not used).
    pub async fn start(settings: SimSettings) -> Result<Self, StartError> {
        let address = "127.0.0.1:0".to_owned();
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        let app = Application::with_listener(settings, listener)?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            state,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:{port}`: the API host and the web host alike.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
