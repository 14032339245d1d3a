//! The HTTP face: Discogs' API routes and marketplace pages behind the guard (faults,
//! credentials, budget), and the `/_sim` control API beside them.

mod caller;
mod catalog_api;
mod control;
mod guard;
pub mod json;
pub mod oauth;
pub mod paging;
mod summary;
mod users_api;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};

pub use caller::{AuthError, Caller, INVALID_CREDENTIAL_MESSAGE};

use crate::faults::FaultBoard;
use crate::limiter::MovingWindow;
use crate::pages::challenge::ManagedChallenge;
use crate::pages::{protection, sell_release};
use crate::settings::SimSettings;
use crate::simulation::Simulation;
use crate::stats::RequestStats;

/// Everything a request may touch.
#[derive(Debug)]
pub struct Shared {
    pub settings: SimSettings,
    pub sim: Simulation,
    /// The API budget, per token or per anonymous address.
    pub api_budget: Mutex<MovingWindow>,
    /// The separate budget of the www pages when [`crate::settings::SellPageBudget::PerClient`].
    pub page_budget: Mutex<MovingWindow>,
    pub faults: Mutex<FaultBoard>,
    pub stats: RequestStats,
    /// OAuth tokens handed out.
    pub oauth: Mutex<oauth::OAuthBook>,
    /// In front of the web pages when [`SimSettings::web_challenge`] is on.
    pub challenge: Option<ManagedChallenge>,
}

pub type AppState = Arc<Shared>;

/// Set by the guard for the handlers behind it.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub caller: Caller,
    /// `http://host:port` as the client addressed us: links in responses point back here.
    pub base: String,
}

/// A poisoned lock only means another request panicked mid-update of counters or rules;
/// the data is still usable, so carry on rather than fail every later request.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn router(state: AppState) -> Router {
    let discogs = Router::new()
        .route("/users/{username}", get(users_api::profile))
        .route("/users/{username}/wants", get(users_api::wants))
        .route(
            "/users/{username}/collection/folders/{folder}/releases",
            get(users_api::collection),
        )
        .route("/users/{username}/inventory", get(users_api::inventory))
        .route("/releases/{id}", get(catalog_api::release))
        .route("/masters/{id}", get(catalog_api::master))
        .route("/masters/{id}/versions", get(catalog_api::master_versions))
        .route(
            "/marketplace/stats/{id}",
            get(catalog_api::marketplace_stats),
        )
        .route(
            "/marketplace/listings/{id}",
            get(catalog_api::marketplace_listing),
        )
        .route("/sell/release/{id}", get(sell_release::page))
        .route("/login", get(protection::login_page))
        .route("/oauth/request_token", get(oauth::request_token))
        .route(
            "/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize),
        )
        .route("/oauth/access_token", post(oauth::access_token))
        .route("/oauth/identity", get(oauth::identity))
        .fallback(unknown_route)
        .layer(from_fn_with_state(Arc::clone(&state), guard::guard));
    Router::new()
        .nest("/_sim", control::router())
        .merge(discogs)
        .with_state(state)
}

async fn unknown_route() -> Response {
    json::not_found()
}
