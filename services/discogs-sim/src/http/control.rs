//! `/_sim/…`: the control API for tests and benchmarks. It is outside the Discogs routes:
//! no budget, no faults, not counted in the stats.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use cratedigger_domain::{ListingId, Money, ReleaseId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::message;
use super::{AppState, lock};
use crate::faults::FaultRule;
use crate::simulation::{MutationError, NewUser};
use crate::world::catalog::WORLD_NOW;
use crate::world::market::ShippingPolicy;
use crate::world::users::UserLists;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/world", get(world_summary))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{username}/wants", post(add_want))
        .route("/users/{username}/wants/{release_id}", delete(remove_want))
        .route("/users/{username}/privacy", put(set_privacy))
        .route("/releases", get(list_releases))
        .route("/sellers/{name}", get(seller))
        .route("/listings/{id}/price", put(set_price))
        .route("/listings/{id}", delete(sell_listing))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
}

impl IntoResponse for MutationError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::UnknownUser(_)
            | Self::UnknownRelease(_)
            | Self::UnknownListing(_)
            | Self::NotWanted(_) => StatusCode::NOT_FOUND,
            Self::AlreadyWanted(_) | Self::UserExists(_) => StatusCode::CONFLICT,
            Self::InvalidUsername(_) | Self::InvalidPrice => StatusCode::BAD_REQUEST,
        };
        message(status, self.to_string())
    }
}

fn user_summary(user: &UserLists) -> Value {
    json!({
        "username": user.username,
        "cluster": user.cluster,
        "num_wantlist": user.wants.len(),
        "num_collection": user.collection.len(),
        "wantlist_private": user.wantlist_private,
        "collection_private": user.collection_private,
    })
}

async fn world_summary(State(app): State<AppState>) -> Json<Value> {
    let world = &app.sim.world;
    Json(json!({
        "seed": world.seed,
        "users": app.sim.user_count(),
        "releases": world.catalog.releases.len(),
        "masters": world.catalog.masters.len(),
        "sellers": world.market.sellers.len(),
        "listings": world.market.listings.len(),
        "clusters": world.catalog.by_cluster.len(),
    }))
}

#[derive(Deserialize)]
struct UserListing {
    page: Option<usize>,
    per_page: Option<usize>,
    limit: Option<usize>,
    #[serde(default)]
    details: bool,
}

/// `?limit=N` (the first N) or `?page=&per_page=` (default 100, at most 10,000);
/// `details=true` adds each user's cluster and list sizes (drawing every user listed).
async fn list_users(
    State(app): State<AppState>,
    Query(listing): Query<UserListing>,
) -> Json<Value> {
    let total = app.sim.user_count();
    let per_page = listing
        .limit
        .or(listing.per_page)
        .unwrap_or(100)
        .clamp(1, 10_000);
    let page = if listing.limit.is_some() {
        1
    } else {
        listing.page.unwrap_or(1).max(1)
    };
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    let users: Vec<Value> = (start..end)
        .filter_map(|position| app.sim.username_at(position))
        .map(
            |name| match app.sim.collector(&name).filter(|_| listing.details) {
                Some(user) => user_summary(&user),
                None => json!({ "username": name }),
            },
        )
        .collect();
    Json(json!({ "total": total, "page": page, "per_page": per_page, "users": users }))
}

#[derive(Deserialize)]
struct CreateUser {
    username: Option<String>,
    #[serde(default)]
    wants: usize,
    #[serde(default)]
    collection: usize,
    cluster: Option<u16>,
}

async fn create_user(State(app): State<AppState>, Json(body): Json<CreateUser>) -> Response {
    let request = NewUser {
        username: body.username,
        wants: body.wants,
        collection: body.collection,
        cluster: body.cluster,
    };
    match app.sim.create_user(request) {
        Ok(user) => (StatusCode::CREATED, Json(user_summary(&user))).into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct AddWant {
    release_id: u64,
    /// Unix seconds; defaults to now (never earlier than the world's own "now"), so the
    /// newest `date_added` of the wantlist moves forward.
    date_added: Option<i64>,
}

async fn add_want(
    State(app): State<AppState>,
    Path(username): Path<String>,
    Json(body): Json<AddWant>,
) -> Response {
    let now = body
        .date_added
        .unwrap_or_else(|| chrono::Utc::now().timestamp().max(WORLD_NOW));
    match app.sim.add_want(&username, ReleaseId(body.release_id), now) {
        Ok(user) => (StatusCode::CREATED, Json(user_summary(&user))).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn remove_want(
    State(app): State<AppState>,
    Path((username, release)): Path<(String, u64)>,
) -> Response {
    match app.sim.remove_want(&username, ReleaseId(release)) {
        Ok(user) => Json(user_summary(&user)).into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct Privacy {
    wantlist_private: Option<bool>,
    collection_private: Option<bool>,
}

async fn set_privacy(
    State(app): State<AppState>,
    Path(username): Path<String>,
    Json(body): Json<Privacy>,
) -> Response {
    match app
        .sim
        .set_privacy(&username, body.wantlist_private, body.collection_private)
    {
        Ok(user) => Json(user_summary(&user)).into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct ReleaseListing {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Releases, most popular first across clusters (rank 0 of every cluster, then rank 1…),
/// with what is for sale: benchmarks use it to pick releases with many or no listings.
async fn list_releases(
    State(app): State<AppState>,
    Query(listing): Query<ReleaseListing>,
) -> Json<Value> {
    let catalog = &app.sim.world.catalog;
    let mut order: Vec<u32> = (0..catalog.releases.len() as u32).collect();
    order.sort_by_key(|i| {
        (
            catalog.releases[*i as usize].rank,
            catalog.releases[*i as usize].id,
        )
    });
    let per_page = listing.per_page.unwrap_or(100).clamp(1, 10_000);
    let page = listing.page.unwrap_or(1).max(1);
    let start = (page - 1).saturating_mul(per_page).min(order.len());
    let end = (start + per_page).min(order.len());
    let releases: Vec<Value> = order[start..end]
        .iter()
        .map(|index| {
            let release = &catalog.releases[*index as usize];
            json!({
                "id": release.id,
                "master_id": catalog.master_of(release).map_or(0, |m| m.id.0),
                "cluster": release.cluster,
                "rank": release.rank,
                "num_for_sale": app.sim.listings_of_release(*index).len(),
            })
        })
        .collect();
    Json(json!({ "total": order.len(), "page": page, "per_page": per_page, "releases": releases }))
}

/// The seller's true terms, which the listing pages only hint at (first-item shipping).
async fn seller(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    let Some((index, seller)) = app.sim.world.market.seller_by_name(&name) else {
        return message(StatusCode::NOT_FOUND, format!("no seller named {name}"));
    };
    let money = |minor: i64| Money::new(minor, seller.currency).to_string();
    let shipping = match seller.shipping {
        ShippingPolicy::PerItem { first, additional } => {
            json!({ "kind": "per_item", "first_item": money(first), "each_additional": money(additional) })
        }
        ShippingPolicy::NoExtra => json!({ "kind": "no_extra" }),
        ShippingPolicy::Unknown => json!({ "kind": "unknown" }),
    };
    Json(json!({
        "username": seller.name,
        "id": seller.id,
        "ships_from": seller.country,
        "currency": seller.currency,
        "rating": seller.rating_percent(),
        "ratings": seller.ratings,
        "shipping": shipping,
        "minimum_order": seller.minimum_order.map(money),
        "ships_to_viewer": seller.ships_to_viewer,
        "listings": app.sim.listings_of_seller(index).len(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct NewPrice {
    /// A plain decimal in the seller's currency: `"12.50"`.
    price: String,
}

async fn set_price(
    State(app): State<AppState>,
    Path(id): Path<u64>,
    Json(body): Json<NewPrice>,
) -> Response {
    let Some(live) = app.sim.live_listing_by_id(ListingId(id)) else {
        return MutationError::UnknownListing(ListingId(id)).into_response();
    };
    let currency = live.seller.currency;
    let Ok(price) = Money::from_decimal_str(&body.price, currency) else {
        return MutationError::InvalidPrice.into_response();
    };
    match app.sim.set_price(ListingId(id), price.minor) {
        Ok(()) => Json(json!({ "id": id, "price": price.to_string() })).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn sell_listing(State(app): State<AppState>, Path(id): Path<u64>) -> Response {
    match app.sim.mark_sold(ListingId(id)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct StatsQuery {
    #[serde(default)]
    paths: bool,
}

async fn stats(State(app): State<AppState>, Query(query): Query<StatsQuery>) -> Response {
    Json(app.stats.report(query.paths)).into_response()
}

async fn reset_stats(State(app): State<AppState>) -> StatusCode {
    app.stats.reset();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(app): State<AppState>) -> Response {
    Json(json!({ "faults": lock(&app.faults).rules() })).into_response()
}

async fn add_fault(State(app): State<AppState>, Json(rule): Json<FaultRule>) -> Response {
    match lock(&app.faults).add(rule) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(invalid) => message(StatusCode::BAD_REQUEST, invalid.to_string()),
    }
}

async fn clear_faults(State(app): State<AppState>) -> StatusCode {
    lock(&app.faults).clear();
    StatusCode::NO_CONTENT
}
