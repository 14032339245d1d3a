//! The gateway: the JSON API and the web page a person uses.
//!
//! Consumes HTTP requests, the status board and the results (KeyValue and ResultsStore,
//! written by the tracker and the result stages), the recommender's gRPC SimilarItems,
//! and Discogs' OAuth 1.0a for signing in. Produces JobRequested and JobCancelled events,
//! ListingsUploaded (marketplace pages a buyer saved, see [`uploads`]),
//! the status record (JSON, and Server-Sent Events), the OpenAPI document at
//! `/api/openapi.json`, and the web page (HTML, CSS and JS built into the binary). Owns
//! sessions, job owners, de-duplication keys and the stored requests in the KeyValue store.
//!
//! Every request passes, in order: the per-client rate limit, CORS, the body size limit,
//! and, for the job API, the API-key and session check ([`access`]). Every error has
//! the one shape of [`error`].

pub mod access;
mod error;
pub mod jobs;
pub mod oauth;
pub mod openapi;
mod ratelimit;
mod results;
mod server;
mod settings;
pub mod similar;
pub mod uploads;
mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use cratedigger_bus::EventBus;
use cratedigger_discogs::DiscogsClient;
use cratedigger_discogs::api::ConsumerCredentials;
use cratedigger_kit::{Health, Publisher, Shutdown};
use cratedigger_kv::KeyValue;
use cratedigger_results::ResultsStore;
use cratedigger_status::{StatusBoard, UploadRecords};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

pub use access::{ApiKeys, Caller, Sessions};
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use jobs::{CreateJob, CreatedJob, StatusRecord};
pub use oauth::DiscogsSignIn;
pub use settings::{GatewaySettings, RateLimitSettings};
pub use similar::{RecommenderSimilarReleases, SimilarError, SimilarReleases, SimilarReleasesSet};

pub const SERVICE: &str = "gateway";

/// Stored requests outlive the de-duplication window by a day, so a job can be cancelled
/// and read as queued for as long as it may run.
const MIN_REQUEST_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub struct Gateway {
    kv: Arc<dyn KeyValue>,
    board: StatusBoard,
    publisher: Publisher,
    results: Arc<dyn ResultsStore>,
    sessions: Sessions,
    owners: access::Owners,
    uploads: UploadRecords,
    keys: Arc<ApiKeys>,
    similar: Option<Arc<dyn SimilarReleases>>,
    oauth: Option<Arc<DiscogsSignIn>>,
    settings: Arc<GatewaySettings>,
    /// Shared by every router built from this gateway.
    limiter: Option<ratelimit::ClientLimiter>,
    /// Fires when the server stops, so open event streams end instead of holding the
    /// graceful shutdown until their jobs finish.
    stopping: Shutdown,
    /// One permit per open event stream (`gateway.max_event_streams`).
    streams: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    pub fn new(
        kv: Arc<dyn KeyValue>,
        bus: Arc<dyn EventBus>,
        results: Arc<dyn ResultsStore>,
        settings: GatewaySettings,
    ) -> Self {
        let lifetime = Duration::from_secs(settings.session_days.max(1) * 24 * 3600);
        Self {
            board: StatusBoard::new(kv.clone()),
            sessions: Sessions::new(kv.clone(), lifetime, settings.secure_cookies),
            owners: access::Owners::new(kv.clone()),
            uploads: UploadRecords::new(kv.clone()),
            keys: Arc::new(ApiKeys::new(&settings.api_keys)),
            kv,
            publisher: Publisher::new(bus),
            results,
            similar: None,
            oauth: None,
            limiter: ratelimit::ClientLimiter::new(&settings.rate_limit),
            streams: Arc::new(tokio::sync::Semaphore::new(settings.max_event_streams)),
            settings: Arc::new(settings),
            stopping: Shutdown::new(),
        }
    }

    /// Where similar releases come from (the recommender).
    pub fn with_similar(mut self, similar: Arc<dyn SimilarReleases>) -> Self {
        self.similar = Some(similar);
        self
    }

    /// Turns "Sign in with Discogs" on when the settings hold consumer credentials.
    pub fn with_discogs(mut self, client: DiscogsClient) -> Self {
        if let (Some(key), Some(secret)) = (
            &self.settings.discogs_consumer_key,
            &self.settings.discogs_consumer_secret,
        ) && !key.is_empty()
            && !secret.is_empty()
        {
            let consumer = ConsumerCredentials {
                key: key.clone(),
                secret: cratedigger_discogs::Secret::new(secret.clone()),
            };
            self.oauth = Some(Arc::new(DiscogsSignIn { client, consumer }));
        }
        self
    }

    fn dedup_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.dedup_seconds)
    }

    fn request_ttl(&self) -> Duration {
        self.dedup_ttl().max(MIN_REQUEST_TTL)
    }

    fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.settings.session_days.max(1) * 24 * 3600)
    }

    /// The API, the sign-in routes, the web page and the health probes (`/metrics` is on
    /// the health port only).
    pub fn router(&self, health: &Health) -> Router {
        let guarded = Router::new()
            .route("/api/v1/jobs", post(jobs::create))
            .route("/api/v1/jobs/{id}", get(jobs::status).delete(jobs::cancel))
            .route("/api/v1/jobs/{id}/events", get(jobs::events::follow))
            .route("/api/v1/jobs/{id}/carts", get(results::carts))
            .route(
                "/api/v1/users/{username}/recommendations",
                get(results::recommendations),
            )
            .route("/api/v1/releases/{id}/similar", get(similar::similar))
            .route(
                "/api/v1/listings/uploads",
                post(uploads::create).layer(DefaultBodyLimit::max(self.settings.max_upload_bytes)),
            )
            .route("/api/v1/listings/uploads/{id}", get(uploads::status))
            .route_layer(from_fn_with_state(self.clone(), access::authenticate));
        let open = Router::new()
            .route("/api/v1/session", get(jobs::session))
            .route(
                "/api/openapi.json",
                get(|| async { axum::Json(openapi::document()) }),
            )
            .route("/auth/discogs/login", get(oauth::login))
            .route("/auth/discogs/callback", get(oauth::callback))
            .route("/auth/logout", post(oauth::logout));
        let mut app = guarded
            .merge(open)
            .merge(web::router())
            .fallback(|| async { ApiError::NotFound("no such route".into()).into_response() })
            .method_not_allowed_fallback(|| async { error::method_not_allowed() })
            .with_state(self.clone())
            .layer(map_response(error::json_errors))
            .layer(DefaultBodyLimit::max(self.settings.max_body_bytes));
        if let Some(cors) = cors_layer(&self.settings.cors_origins) {
            app = app.layer(cors);
        }
        if let Some(limiter) = self.limiter.clone() {
            app = app.layer(from_fn_with_state(limiter, ratelimit::limit));
        }
        app.merge(health.probes())
            // An info span per request: the root of the trace of the job it creates.
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO)),
            )
    }

    /// Serves on `listener` until `shutdown` fires.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        health: Health,
        shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        self.stopping = shutdown.clone();
        let router = self.router(&health);
        if let Some(limiter) = self.limiter.clone() {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(60)) => limiter.forget_idle(),
                        () = stop.wait() => return,
                    }
                }
            });
        }
        health.ready_until(&shutdown);
        tracing::info!(address = %listener.local_addr()?, "gateway listening");
        let header_read_timeout =
            Duration::from_secs(self.settings.header_read_timeout_seconds.max(1));
        server::serve(listener, router, header_read_timeout, shutdown).await;
        Ok(())
    }
}

/// None (same origin only) when no origin is configured.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let listed: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| match HeaderValue::from_str(o) {
                Ok(value) => Some(value),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring a cors origin that is not a header value");
                    None
                }
            })
            .collect();
        AllowOrigin::list(listed)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::HeaderName::from_static("x-api-key"),
            ])
            .max_age(Duration::from_secs(3600)),
    )
}
