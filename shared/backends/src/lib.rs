//! The one place where adapters are chosen.
//!
//! Every backend is picked by an explicit `kind` in the settings (`APP_KV__KIND=redis`,
//! `[catalog] kind = "postgres"`); nothing else in the code knows which one runs. The
//! defaults are the embedded ones (in-process bus and key-value store, SQLite files, a
//! local blob directory), so one process runs with no servers at all. Connecting waits
//! for each server with backoff, logging what it waits for, up to a deadline.

mod settings;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cratedigger_blobs::BlobLocation;
use cratedigger_bus::{EventBus, MemoryBus, PubSubBus, PubSubSettings};
use cratedigger_catalog::{Catalog, PostgresCatalog, PostgresCatalogSettings, SqliteCatalog};
use cratedigger_discogs::api::{Auth, ClientConfig};
use cratedigger_discogs::{
    DiscogsClient, MemoryRateLimiter, RateLimitPolicy, RedisRateLimiter, Secret, SharedRateLimiter,
};
use cratedigger_kv::{KeyValue, MemoryKeyValue, RedisKeyValue};
use cratedigger_results::{EmbeddedResultsStore, MongoResultsStore, MongoSettings, ResultsStore};

pub use settings::{
    BackendSettings, BusSettings, CatalogSettings, DiscogsSettings, KvSettings, LimiterKind,
    ResultsSettings,
};

/// Every port, connected.
#[derive(Clone)]
pub struct Backends {
    pub bus: Arc<dyn EventBus>,
    pub kv: Arc<dyn KeyValue>,
    pub catalog: Arc<dyn Catalog>,
    pub results: Arc<dyn ResultsStore>,
    pub blobs: BlobLocation,
    pub discogs: DiscogsClient,
    /// The in-process bus, when that is the bus in use (tests drain it step by step).
    pub memory_bus: Option<MemoryBus>,
}

impl Backends {
    /// Connects every backend the settings name, waiting for servers up to `wait`.
    pub async fn connect(settings: &BackendSettings, wait: Duration) -> anyhow::Result<Self> {
        let deadline = Instant::now() + wait;
        let (bus, memory_bus) = match &settings.bus {
            BusSettings::Memory => {
                let bus = MemoryBus::new();
                (Arc::new(bus.clone()) as Arc<dyn EventBus>, Some(bus))
            }
            BusSettings::Pubsub {
                project,
                emulator_host,
                prefix,
            } => {
                let mut pubsub = PubSubSettings::new(project).with_name_prefix(prefix.clone());
                pubsub = match emulator_host {
                    Some(host) => pubsub.with_emulator_host(host.clone()),
                    None => pubsub.with_emulator_host_from_env(),
                };
                let bus =
                    retrying("pub/sub", deadline, || PubSubBus::connect(pubsub.clone())).await?;
                (Arc::new(bus) as Arc<dyn EventBus>, None)
            }
        };
        let kv: Arc<dyn KeyValue> = match &settings.kv {
            KvSettings::Memory => Arc::new(MemoryKeyValue::new()),
            KvSettings::Redis { url, prefix } => Arc::new(
                retrying("redis", deadline, || {
                    RedisKeyValue::connect(url, prefix.clone(), Duration::from_secs(5))
                })
                .await?,
            ),
        };
        let catalog = connect_catalog(&settings.catalog, deadline).await?;
        let results: Arc<dyn ResultsStore> = match &settings.results {
            ResultsSettings::Embedded { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                Arc::new(
                    EmbeddedResultsStore::open(path)
                        .await
                        .with_context(|| format!("opening the results store {}", path.display()))?,
                )
            }
            ResultsSettings::Mongodb { uri, database } => {
                let mongo = MongoSettings::new(uri.clone(), database.clone());
                Arc::new(
                    retrying("mongodb", deadline, || MongoResultsStore::connect(&mongo)).await?,
                )
            }
        };
        let blobs = cratedigger_blobs::open(&settings.blobs.location)
            .with_context(|| format!("opening the blob store {}", settings.blobs.location))?;
        let discogs = discogs_client(&settings.discogs, &settings.kv, deadline).await?;
        Ok(Self {
            bus,
            kv,
            catalog,
            results,
            blobs,
            discogs,
            memory_bus,
        })
    }

    /// Applies the catalog's migrations (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.catalog
            .migrate()
            .await
            .context("migrating the catalog")
    }
}

/// The catalog alone (for one-off commands that need nothing else), waiting for its server
/// until `deadline`.
pub async fn connect_catalog(
    settings: &CatalogSettings,
    deadline: Instant,
) -> anyhow::Result<Arc<dyn Catalog>> {
    Ok(match settings {
        CatalogSettings::Sqlite { path } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            Arc::new(
                SqliteCatalog::open(path)
                    .await
                    .with_context(|| format!("opening the catalog {}", path.display()))?,
            )
        }
        CatalogSettings::Postgres {
            url,
            schema,
            max_connections,
        } => {
            let mut pg = PostgresCatalogSettings::new(url.clone());
            pg.schema = schema.clone();
            pg.max_connections = *max_connections;
            Arc::new(
                retrying("postgresql", deadline, || {
                    PostgresCatalog::connect(pg.clone())
                })
                .await?,
            )
        }
    })
}

/// The Discogs client with its rate limiter: in memory, or shared through Redis by every
/// replica using the same identity.
pub async fn discogs_client(
    settings: &DiscogsSettings,
    kv: &KvSettings,
    deadline: Instant,
) -> anyhow::Result<DiscogsClient> {
    let auth = match &settings.token {
        Some(token) if !token.is_empty() => Auth::Token(Secret::new(token.clone())),
        _ => Auth::None,
    };
    let mut policy = match settings.requests_per_minute {
        Some(rate) => RateLimitPolicy::per_minute(rate),
        None if matches!(auth, Auth::None) => RateLimitPolicy::unauthenticated(),
        None => RateLimitPolicy::authenticated(),
    };
    let max_retry_after = std::time::Duration::from_secs(settings.max_retry_after_seconds);
    policy.max_pause = max_retry_after;
    let mut config = ClientConfig::discogs(auth)
        .with_api_base(&settings.api_url)?
        .with_web_base(&settings.web_url)?;
    config.retry.max_retry_after = max_retry_after;
    if let Some(agent) = &settings.user_agent {
        config.user_agent = agent.clone();
    }
    // One budget per host: the API's per identity, the web host's (public marketplace
    // pages, fetched without credentials) apart, so that a 429 from one host holds back
    // only the requests to it.
    let limiter = |key: String| async move {
        let limiter: SharedRateLimiter = match (&settings.limiter, kv) {
            (LimiterKind::Memory, _) => Arc::new(MemoryRateLimiter::new(policy)),
            (LimiterKind::Redis, KvSettings::Redis { url, prefix }) => {
                let key = format!("{prefix}{key}");
                Arc::new(
                    retrying("redis (rate limiter)", deadline, || {
                        RedisRateLimiter::connect(url, key.clone(), policy)
                    })
                    .await?,
                )
            }
            (LimiterKind::Redis, KvSettings::Memory) => {
                anyhow::bail!(
                    "discogs.limiter = \"redis\" needs kv.kind = \"redis\" (the limiter shares its server)"
                )
            }
        };
        Ok(limiter)
    };
    let api = limiter(format!("discogs:ratelimit:{}", settings.identity())).await?;
    let web = limiter("discogs:ratelimit:web".to_owned()).await?;
    Ok(DiscogsClient::new(config, api)?.with_web_limiter(web))
}

/// Calls `connect` until it succeeds or `deadline` passes, backing off and saying what it
/// waits for.
async fn retrying<T, E, F, Fut>(what: &str, deadline: Instant, mut connect: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match connect().await {
            Ok(connected) => return Ok(connected),
            Err(e) if Instant::now() + delay < deadline => {
                tracing::warn!(backend = what, error = %e, retry_in_ms = delay.as_millis() as u64, "waiting for a backend");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("connecting to {what}"))),
        }
    }
}
