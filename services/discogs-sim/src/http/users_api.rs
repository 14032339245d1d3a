//! User endpoints: profile, wantlist, collection (folder 0) and seller inventory.

use axum::Extension;
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cratedigger_domain::{Currency, ReleaseId};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use super::json::{discogs_time, listing, message, requested_currency};
use super::paging::Paging;
use super::summary::{BasicInformation, basic_information};
use super::{AppState, Caller, RequestContext, lock};
use crate::simulation::{Account, LiveListing};
use crate::world::currency::usd_cents;
use crate::world::market::Seller;
use crate::world::users::{ListItem, UserLists};

const NO_SUCH_USER: &str = "User does not exist or may have been deleted.";

/// Whether the request is signed with an OAuth access token of `username`: the owner
/// sees their own private lists.
fn is_owner(app: &AppState, context: &RequestContext, username: &str) -> bool {
    match &context.caller {
        Caller::OAuth(token) => lock(&app.oauth).user_of(token) == Some(username),
        _ => false,
    }
}

fn unknown_user() -> Response {
    message(StatusCode::NOT_FOUND, NO_SUCH_USER)
}

/// A private list: anonymous callers are asked to authenticate, others are refused.
fn private_list(context: &RequestContext) -> Response {
    if context.caller.is_authenticated() {
        message(
            StatusCode::FORBIDDEN,
            "You are not allowed to view this resource. Please authenticate as the owner to view this content.",
        )
    } else {
        message(
            StatusCode::UNAUTHORIZED,
            "You must authenticate to access this resource.",
        )
    }
}

/// What a profile shows, for a collector or a seller alike.
struct ProfileFacts<'a> {
    username: String,
    id: u64,
    registered: i64,
    wants: usize,
    collection: usize,
    rated: usize,
    rating_average: f64,
    for_sale: usize,
    seller: Option<&'a Seller>,
}

fn collector_facts(user: &UserLists) -> ProfileFacts<'static> {
    let ratings: Vec<f64> = user
        .collection
        .iter()
        .filter(|i| i.rating > 0)
        .map(|i| f64::from(i.rating))
        .collect();
    let rating_average = if ratings.is_empty() {
        0.0
    } else {
        (ratings.iter().sum::<f64>() / ratings.len() as f64 * 100.0).round() / 100.0
    };
    ProfileFacts {
        username: user.username.clone(),
        id: user.id,
        registered: user.registered,
        wants: user.wants.len(),
        collection: user.collection.len(),
        rated: ratings.len(),
        rating_average,
        for_sale: 0,
        seller: None,
    }
}

pub async fn profile(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let base = &context.base;
    let Some(account) = app.sim.account(&name) else {
        return unknown_user();
    };
    let facts = match &account {
        Account::Collector(user) => collector_facts(user),
        Account::Seller(index, seller) => ProfileFacts {
            username: seller.name.clone(),
            id: seller.id,
            registered: seller.registered,
            wants: 0,
            collection: 0,
            rated: 0,
            rating_average: 0.0,
            for_sale: app.sim.listings_of_seller(*index).len(),
            seller: Some(seller),
        },
    };
    let seller = facts.seller;
    let username = &facts.username;
    let user_url = format!("{base}/users/{username}");
    Json(json!({
        "id": facts.id,
        "username": username,
        "resource_url": user_url,
        "uri": format!("{base}/user/{username}"),
        "name": "",
        "profile": "",
        "home_page": "",
        "location": seller.map_or("", |s| s.country),
        "registered": discogs_time(facts.registered),
        "rank": 0,
        "num_pending": 0,
        "num_for_sale": facts.for_sale,
        "num_lists": 0,
        "releases_contributed": 0,
        "releases_rated": facts.rated,
        "rating_avg": facts.rating_average,
        "num_collection": facts.collection,
        "num_wantlist": facts.wants,
        "wantlist_url": format!("{user_url}/wants"),
        "collection_folders_url": format!("{user_url}/collection/folders"),
        "collection_fields_url": format!("{user_url}/collection/fields"),
        "inventory_url": format!("{user_url}/inventory"),
        "avatar_url": format!("{base}/images/U-{}.jpeg", facts.id),
        "banner_url": "",
        "buyer_rating": 100.0,
        "buyer_rating_stars": 5,
        "buyer_num_ratings": 0,
        "seller_rating": seller.and_then(Seller::rating_percent).unwrap_or(0.0),
        "seller_rating_stars": seller.map_or(0.0, Seller::stars),
        "seller_num_ratings": seller.map_or(0, |s| s.ratings),
        "curr_abbr": seller.map_or(Currency::USD, |s| s.currency),
    }))
    .into_response()
}

/// Orders a list as asked: `sort=added|year|title|artist`, `sort_order=asc|desc`.
/// Lists are stored newest first, the default; other sorts default to ascending.
fn ordered<'a>(
    app: &AppState,
    items: &'a [ListItem],
    query: &[(String, String)],
) -> Vec<&'a ListItem> {
    let value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let catalog = &app.sim.world.catalog;
    let release = |i: &ListItem| &catalog.releases[i.release as usize];
    let mut list: Vec<&ListItem> = items.iter().collect();
    let sorted = match value("sort") {
        Some("year") => {
            list.sort_by_key(|i| release(i).year);
            true
        }
        Some("title") => {
            list.sort_by(|a, b| release(a).title.cmp(&release(b).title));
            true
        }
        Some("artist") => {
            list.sort_by(|a, b| {
                catalog
                    .artist(release(a))
                    .name
                    .cmp(&catalog.artist(release(b)).name)
            });
            true
        }
        _ => false,
    };
    let reverse = if sorted {
        value("sort_order") == Some("desc")
    } else {
        value("sort_order") == Some("asc")
    };
    if reverse {
        list.reverse();
    }
    list
}

/// A list response: `{"pagination": …, "<key>": [...]}`, the key depending on the list.
struct ListPage<T> {
    pagination: Value,
    key: &'static str,
    items: Vec<T>,
}

impl<T: Serialize> Serialize for ListPage<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("pagination", &self.pagination)?;
        map.serialize_entry(self.key, &self.items)?;
        map.end()
    }
}

#[derive(Serialize)]
struct WantEntry<'a> {
    id: ReleaseId,
    resource_url: String,
    rating: u8,
    date_added: String,
    basic_information: BasicInformation<'a>,
    notes: &'static str,
}

#[derive(Serialize)]
struct CollectionEntry<'a> {
    id: ReleaseId,
    instance_id: u64,
    folder_id: u32,
    rating: u8,
    date_added: String,
    basic_information: BasicInformation<'a>,
}

/// One page of a wantlist or collection.
fn list_page<'a, T: Serialize>(
    app: &'a AppState,
    context: &RequestContext,
    path: &str,
    query: &[(String, String)],
    items: &[ListItem],
    key: &'static str,
    entry: impl Fn(&ListItem, BasicInformation<'a>) -> T,
) -> Response {
    let paging = Paging::from_query(query, app.settings.pagination);
    let range = match paging.window(items.len()) {
        Ok(range) => range,
        Err(out_of_range) => return message(StatusCode::NOT_FOUND, out_of_range.message()),
    };
    let catalog = &app.sim.world.catalog;
    let entries: Vec<T> = ordered(app, items, query)[range]
        .iter()
        .map(|item| {
            let release = &catalog.releases[item.release as usize];
            entry(item, basic_information(catalog, release, &context.base))
        })
        .collect();
    let pagination = paging.to_json(items.len(), &context.base, path, query);
    Json(ListPage {
        pagination,
        key,
        items: entries,
    })
    .into_response()
}

/// `None` for an unknown name; `Some(None)` for a seller, whose lists are empty.
fn collector_lists(app: &AppState, name: &str) -> Option<Option<std::sync::Arc<UserLists>>> {
    match app.sim.account(name)? {
        Account::Collector(user) => Some(Some(user)),
        Account::Seller(..) => Some(None),
    }
}

pub async fn wants(
    State(app): State<AppState>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(user) = collector_lists(&app, &name) else {
        return unknown_user();
    };
    if user
        .as_ref()
        .is_some_and(|u| u.wantlist_private && !is_owner(&app, &context, &u.username))
    {
        return private_list(&context);
    }
    let items = user.as_ref().map_or(&[][..], |u| u.wants.as_slice());
    let base = &context.base;
    let owner = user.as_ref().map_or(name.as_str(), |u| u.username.as_str());
    list_page(
        &app,
        &context,
        uri.path(),
        &query,
        items,
        "wants",
        |item, info| WantEntry {
            id: info.id,
            resource_url: format!("{base}/users/{owner}/wants/{}", info.id),
            rating: item.rating,
            date_added: discogs_time(item.date_added),
            basic_information: info,
            notes: "",
        },
    )
}

pub async fn collection(
    State(app): State<AppState>,
    Path((name, folder)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(user) = collector_lists(&app, &name) else {
        return unknown_user();
    };
    if user
        .as_ref()
        .is_some_and(|u| u.collection_private && !is_owner(&app, &context, &u.username))
    {
        return private_list(&context);
    }
    // Everything sits in "Uncategorized" (1); folder 0 is "All".
    if folder != "0" && folder != "1" {
        return message(StatusCode::NOT_FOUND, "Folder not found.");
    }
    let items = user.as_ref().map_or(&[][..], |u| u.collection.as_slice());
    list_page(
        &app,
        &context,
        uri.path(),
        &query,
        items,
        "releases",
        |item, info| CollectionEntry {
            id: info.id,
            instance_id: item.instance_id,
            folder_id: 1,
            rating: item.rating,
            date_added: discogs_time(item.date_added),
            basic_information: info,
        },
    )
}

pub async fn inventory(
    State(app): State<AppState>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(account) = app.sim.account(&name) else {
        return unknown_user();
    };
    let value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let for_sale = matches!(value("status"), None | Some("For Sale") | Some("All"));
    let mut listings: Vec<LiveListing<'_>> = match account {
        Account::Seller(index, _) if for_sale => app.sim.listings_of_seller(index),
        _ => Vec::new(),
    };
    // Newest first by default; by price, cheapest first.
    let by_price = value("sort") == Some("price");
    if by_price {
        listings.sort_by_key(|l| (usd_cents(l.price), l.listing.id));
    } else {
        listings.sort_by_key(|l| (l.listing.posted, l.listing.id));
    }
    let descending = match value("sort_order") {
        Some("asc") => false,
        Some("desc") => true,
        _ => !by_price,
    };
    if descending {
        listings.reverse();
    }
    let paging = Paging::from_query(&query, app.settings.pagination);
    let range = match paging.window(listings.len()) {
        Ok(range) => range,
        Err(out_of_range) => return message(StatusCode::NOT_FOUND, out_of_range.message()),
    };
    let currency = requested_currency(&query);
    let catalog = &app.sim.world.catalog;
    let page: Vec<Value> = listings[range]
        .iter()
        .map(|live| listing(catalog, live, &context.base, currency))
        .collect();
    Json(json!({
        "pagination": paging.to_json(listings.len(), &context.base, uri.path(), &query),
        "listings": page,
    }))
    .into_response()
}
