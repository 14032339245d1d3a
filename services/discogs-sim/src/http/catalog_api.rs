//! Database and marketplace endpoints: releases, masters and their versions, release
//! marketplace statistics and single listings.

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cratedigger_domain::{Currency, ListingId, MasterId, Money, ReleaseId};
use serde_json::{Value, json};

use super::json::{
    artists, discogs_time, formats, labels, listing, message, not_found, price, requested_currency,
};
use super::paging::Paging;
use super::summary::image_url;
use super::{AppState, RequestContext};
use crate::world::catalog::{Master, Release};
use crate::world::currency::{convert, major_float, usd_cents};

/// The cheapest live listing of a release, in `currency`, and how many are for sale.
fn market_summary(
    app: &AppState,
    release_index: u32,
    currency: Currency,
) -> (usize, Option<Money>) {
    let listings = app.sim.listings_of_release(release_index);
    let lowest = listings
        .iter()
        .min_by_key(|l| usd_cents(l.price))
        .map(|l| convert(l.price, currency));
    (listings.len(), lowest)
}

fn tracklist(release: &Release) -> Value {
    let sides = ["A", "B"];
    let per_side = usize::from(release.tracks).div_ceil(2).max(1);
    let tracks: Vec<Value> = (0..usize::from(release.tracks))
        .map(|t| {
            json!({
                "position": format!("{}{}", sides[(t / per_side).min(1)], t % per_side + 1),
                "type_": "track",
                "title": format!("{} {}", release.title.split_whitespace().next().unwrap_or("Track"), t + 1),
                "duration": format!("{}:{:02}", 2 + (t * 7 + usize::from(release.tracks)) % 5, (t * 17) % 60),
            })
        })
        .collect();
    Value::Array(tracks)
}

pub async fn release(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let catalog = &app.sim.world.catalog;
    let Some((index, release)) = id
        .parse()
        .ok()
        .and_then(|id| catalog.release_by_id(ReleaseId(id)))
    else {
        return message(StatusCode::NOT_FOUND, "Release not found.");
    };
    let base = &context.base;
    let currency = requested_currency(&query).unwrap_or(Currency::USD);
    let (for_sale, lowest) = market_summary(&app, index, currency);
    let artist = catalog.artist(release);
    let mut body = json!({
        "id": release.id,
        "status": "Accepted",
        "year": release.year,
        "resource_url": format!("{base}/releases/{}", release.id),
        "uri": format!("{base}/release/{}", release.id),
        "artists": artists(catalog, release, base),
        "artists_sort": artist.name,
        "labels": labels(catalog, release, base),
        "series": [],
        "companies": [],
        "formats": formats(release),
        "data_quality": "Correct",
        "community": {
            "have": release.have,
            "want": release.want,
            "rating": { "count": release.rating_count, "average": release.rating_average },
            "submitter": { "username": "digger0001", "resource_url": format!("{base}/users/digger0001") },
            "contributors": [],
            "data_quality": "Correct",
            "status": "Accepted",
        },
        "format_quantity": release.format.quantity().parse::<u32>().unwrap_or(1),
        "date_added": discogs_time(release.date_added),
        "date_changed": discogs_time(release.date_added),
        "num_for_sale": for_sale,
        "lowest_price": lowest.map(major_float),
        "title": release.title,
        "country": release.country,
        "released": release.year.to_string(),
        "released_formatted": release.year.to_string(),
        "notes": "",
        "identifiers": [],
        "videos": [],
        "genres": [release.genre],
        "styles": release.styles,
        "tracklist": tracklist(release),
        "extraartists": [],
        "images": [],
        "thumb": image_url(base, release, 150),
        "estimated_weight": if release.format.name() == "Vinyl" { 230 } else { 85 },
        "blocked_from_sale": false,
    });
    // Discogs leaves the master fields out for releases that have no master.
    if let (Some(master), Some(fields)) = (catalog.master_of(release), body.as_object_mut()) {
        fields.insert("master_id".into(), json!(master.id));
        fields.insert(
            "master_url".into(),
            json!(format!("{base}/masters/{}", master.id)),
        );
    }
    Json(body).into_response()
}

fn find_master<'a>(app: &'a AppState, id: &str) -> Option<&'a Master> {
    id.parse()
        .ok()
        .and_then(|id| app.sim.world.catalog.master_by_id(MasterId(id)))
}

pub async fn master(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(master) = find_master(&app, &id) else {
        return not_found();
    };
    let catalog = &app.sim.world.catalog;
    let base = &context.base;
    let main = &catalog.releases[master.versions[0] as usize];
    let newest = master
        .versions
        .iter()
        .map(|v| &catalog.releases[*v as usize])
        .max_by_key(|r| (r.year, r.id))
        .unwrap_or(main);
    let (mut for_sale, mut lowest) = (0, None::<Money>);
    for version in &master.versions {
        let (count, cheapest) = market_summary(&app, *version, Currency::USD);
        for_sale += count;
        lowest = match (lowest, cheapest) {
            (Some(a), Some(b)) => Some(if b.minor < a.minor { b } else { a }),
            (a, b) => a.or(b),
        };
    }
    Json(json!({
        "id": master.id,
        "title": master.title,
        "year": master.year,
        "main_release": main.id,
        "main_release_url": format!("{base}/releases/{}", main.id),
        "most_recent_release": newest.id,
        "most_recent_release_url": format!("{base}/releases/{}", newest.id),
        "versions_url": format!("{base}/masters/{}/versions", master.id),
        "resource_url": format!("{base}/masters/{}", master.id),
        "uri": format!("{base}/master/{}", master.id),
        "artists": artists(catalog, main, base),
        "genres": [main.genre],
        "styles": main.styles,
        "num_for_sale": for_sale,
        "lowest_price": lowest.map(major_float),
        "tracklist": tracklist(main),
        "images": [],
        "videos": [],
        "notes": "",
        "data_quality": "Correct",
    }))
    .into_response()
}

pub async fn master_versions(
    State(app): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(master) = find_master(&app, &id) else {
        return not_found();
    };
    let catalog = &app.sim.world.catalog;
    let base = &context.base;
    let mut versions: Vec<&Release> = master
        .versions
        .iter()
        .map(|v| &catalog.releases[*v as usize])
        .collect();
    versions.sort_by_key(|r| (r.year, r.id));
    let paging = Paging::from_query(&query, app.settings.pagination);
    let range = match paging.window(versions.len()) {
        Ok(range) => range,
        Err(out_of_range) => return message(StatusCode::NOT_FOUND, out_of_range.message()),
    };
    let page: Vec<Value> = versions[range]
        .iter()
        .map(|release| {
            json!({
                "id": release.id,
                "label": catalog.label(release).name,
                "country": release.country,
                "title": release.title,
                "major_formats": [release.format.name()],
                "format": release.format_summary(),
                "catno": release.catno,
                "released": release.year.to_string(),
                "status": "Accepted",
                "resource_url": format!("{base}/releases/{}", release.id),
                "thumb": image_url(base, release, 150),
                "stats": { "community": { "in_wantlist": release.want, "in_collection": release.have } },
            })
        })
        .collect();
    Json(json!({
        "pagination": paging.to_json(versions.len(), base, uri.path(), &query),
        "filters": { "applied": {}, "available": {} },
        "filter_facets": [],
        "versions": page,
    }))
    .into_response()
}

pub async fn marketplace_stats(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let catalog = &app.sim.world.catalog;
    let Some((index, _)) = id
        .parse()
        .ok()
        .and_then(|id| catalog.release_by_id(ReleaseId(id)))
    else {
        return message(StatusCode::NOT_FOUND, "Release not found.");
    };
    let currency = requested_currency(&query).unwrap_or(Currency::USD);
    let (for_sale, lowest) = market_summary(&app, index, currency);
    Json(json!({
        "num_for_sale": for_sale,
        "lowest_price": lowest.map(price),
        "blocked_from_sale": false,
    }))
    .into_response()
}

pub async fn marketplace_listing(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Some(live) = id
        .parse()
        .ok()
        .and_then(|id| app.sim.live_listing_by_id(ListingId(id)))
    else {
        return not_found();
    };
    let currency = requested_currency(&query);
    Json(listing(
        &app.sim.world.catalog,
        &live,
        &context.base,
        currency,
    ))
    .into_response()
}
