//! The settings of every service, in one file or `APP_*` variables:
//! `[bus] kind = "pubsub"` or `APP_BUS__KIND=pubsub`, `[gateway] port = 8080` or
//! `APP_GATEWAY__PORT=8080`.

use cratedigger_backends::BackendSettings;
use cratedigger_candidates::CandidatesSettings;
use cratedigger_carts_stage::CartsSettings;
use cratedigger_gateway::GatewaySettings;
use cratedigger_kit::WorkerSettings;
use cratedigger_kit::telemetry::LogFormat;
use cratedigger_market::MarketSettings;
use cratedigger_profile::ProfileSettings;
use cratedigger_recommender::RecommenderSettings;
use cratedigger_tracker::TrackerSettings;
use cratedigger_trainer::TrainerSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    #[serde(flatten)]
    pub backends: BackendSettings,
    pub gateway: GatewaySettings,
    pub profile: ProfileSettings,
    pub scraper: ScraperSettings,
    pub recommender: RecommenderSettings,
    pub trainer: TrainerSettings,
    pub candidates: CandidatesSettings,
    pub market: MarketSettings,
    pub carts: CartsSettings,
    /// Stage deadlines and the reaper (`tracker.deadlines.market_seconds`, ...).
    pub tracker: TrackerSettings,
    /// The marketplace listing cache, which the candidates and market stages share.
    pub listings: ListingCache,
    pub workers: WorkerTuning,
    pub telemetry: TelemetrySettings,
    /// Where a service without its own HTTP port serves /healthz, /readyz and /metrics.
    pub health: Listen,
    /// Where the recommender serves gRPC.
    pub grpc: Listen,
    /// How long start-up waits for servers (Redis, PostgreSQL, Pub/Sub, MongoDB).
    pub wait_for_backends_seconds: u64,
}

impl AppSettings {
    /// The candidates stage's settings, with the shared listing cache lifetime.
    pub fn candidates(&self) -> CandidatesSettings {
        CandidatesSettings {
            listing_ttl_seconds: self.listings.ttl_seconds,
            ..self.candidates.clone()
        }
    }

    /// The market stage's settings, with the shared listing cache lifetime.
    pub fn market(&self) -> MarketSettings {
        MarketSettings {
            listing_ttl_seconds: self.listings.ttl_seconds,
            ..self.market.clone()
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ListingCache {
    /// How long a release's fetched listings count as current: a carts job within this
    /// time reads them from the catalog instead of fetching its marketplace pages again.
    pub ttl_seconds: u64,
}

impl Default for ListingCache {
    fn default() -> Self {
        Self {
            ttl_seconds: 24 * 3600,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ScraperSettings {
    pub concurrency: usize,
}

impl Default for ScraperSettings {
    fn default() -> Self {
        Self { concurrency: 4 }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WorkerTuning {
    pub concurrency: usize,
    /// On SIGTERM, how long in-flight messages may finish before they are nacked.
    pub drain_seconds: u64,
}

impl Default for WorkerTuning {
    fn default() -> Self {
        Self {
            concurrency: 4,
            drain_seconds: 10,
        }
    }
}

impl WorkerTuning {
    pub fn worker_settings(&self) -> WorkerSettings {
        WorkerSettings {
            concurrency: self.concurrency,
            drain_timeout: std::time::Duration::from_secs(self.drain_seconds),
            ..WorkerSettings::default()
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    pub format: LogFormat,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Listen {
    pub host: String,
    pub port: u16,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
        }
    }
}

impl Listen {
    pub async fn bind(&self) -> anyhow::Result<tokio::net::TcpListener> {
        let address = format!("{}:{}", self.host, self.port);
        tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| anyhow::anyhow!("binding {address}: {e}"))
    }
}
