//! JSON shapes shared by several endpoints, field for field as Discogs sends them:
//! `basic_information` (wantlist and collection items), marketplace listings, and the
//! `{"message": …}` error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Timelike};
use cratedigger_domain::{Currency, Money};
use serde_json::{Value, json};

use super::summary::{artist_entry, format_entry, image_url, label_entry};
use crate::simulation::LiveListing;
use crate::world::catalog::{Catalog, Release};
use crate::world::currency::{convert, discogs_currency_id, display_price, major_float};
use crate::world::market::{Seller, ShippingPolicy};

/// Discogs writes times in US Pacific time: `2020-09-17T08:08:30-07:00`. The simulator
/// keeps daylight time all year; only the shape matters.
pub fn discogs_time(unix_seconds: i64) -> String {
    const PACIFIC_DAYLIGHT: i64 = 7 * 3600;
    DateTime::from_timestamp(unix_seconds - PACIFIC_DAYLIGHT, 0)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}-07:00",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

/// An error in Discogs' shape: `{"message": "..."}`.
pub fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "message": text.into() }))).into_response()
}

pub fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "The requested resource was not found.",
    )
}

pub fn formats(release: &Release) -> Value {
    json!([format_entry(release)])
}

pub fn artists(catalog: &Catalog, release: &Release, base: &str) -> Value {
    json!([artist_entry(catalog, release, base)])
}

pub fn labels(catalog: &Catalog, release: &Release, base: &str) -> Value {
    json!([label_entry(catalog, release, base)])
}

/// `{"value": 18.07, "currency": "USD"}`.
pub fn price(amount: Money) -> Value {
    json!({ "value": major_float(amount), "currency": amount.currency })
}

/// `{"curr_abbr": "EUR", "curr_id": 3, "formatted": "€20.00", "value": 20.0}`.
fn original_price(amount: Money) -> Value {
    json!({
        "curr_abbr": amount.currency,
        "curr_id": discogs_currency_id(amount.currency),
        "formatted": display_price(amount),
        "value": major_float(amount),
    })
}

/// The seller's shipping terms as they would write them in their profile.
pub fn shipping_terms(seller: &Seller) -> String {
    match seller.shipping {
        ShippingPolicy::PerItem { first, additional } => format!(
            "First item {}, each additional item {}.",
            display_price(seller.money(first)),
            display_price(seller.money(additional))
        ),
        ShippingPolicy::NoExtra => "Shipping is included in the price.".to_owned(),
        ShippingPolicy::Unknown => "Ask for a shipping quote.".to_owned(),
    }
}

/// A marketplace listing as `/marketplace/listings/{id}` and inventories show it. Prices
/// are converted when the caller asked for `curr_abbr`; `original_*` keep the seller's.
pub fn listing(
    catalog: &Catalog,
    live: &LiveListing<'_>,
    base: &str,
    currency: Option<Currency>,
) -> Value {
    let LiveListing {
        listing,
        seller,
        price: asking,
        ..
    } = *live;
    let release = &catalog.releases[listing.release as usize];
    let artist = catalog.artist(release);
    let shown = |amount: Money| currency.map_or(amount, |c| convert(amount, c));
    let (shipping, original_shipping) = match seller.shipping {
        ShippingPolicy::PerItem { first, .. } => (
            price(shown(seller.money(first))),
            original_price(seller.money(first)),
        ),
        ShippingPolicy::NoExtra => (
            price(shown(seller.money(0))),
            original_price(seller.money(0)),
        ),
        ShippingPolicy::Unknown => (json!({}), json!({})),
    };
    let format = release.format_summary();
    json!({
        "id": listing.id,
        "resource_url": format!("{base}/marketplace/listings/{}", listing.id),
        "uri": format!("{base}/sell/item/{}", listing.id),
        "status": "For Sale",
        "condition": listing.media.discogs_name(),
        "sleeve_condition": listing.sleeve.map_or("", |s| s.discogs_name()),
        "comments": listing.comment.unwrap_or(""),
        "ships_from": seller.country,
        "posted": discogs_time(listing.posted),
        "allow_offers": listing.allow_offers,
        "offer_submitted": false,
        "audio": false,
        "price": price(shown(asking)),
        "original_price": original_price(asking),
        "shipping_price": shipping,
        "original_shipping_price": original_shipping,
        "seller": {
            "id": seller.id,
            "username": seller.name,
            "avatar_url": format!("{base}/images/U-{}.jpeg", seller.id),
            "stats": {
                "rating": format!("{:.1}", seller.rating_percent().unwrap_or(0.0)),
                "stars": seller.stars(),
                "total": seller.ratings,
            },
            "min_order_total": seller.minimum_order.map_or(0.0, |m| major_float(seller.money(m))),
            "html_url": format!("{base}/user/{}", seller.name),
            "uid": seller.id,
            "url": format!("{base}/users/{}", seller.name),
            "payment": "PayPal Commerce",
            "shipping": shipping_terms(seller),
            "resource_url": format!("{base}/users/{}", seller.name),
        },
        "release": {
            "thumbnail": image_url(base, release, 150),
            "description": format!("{} - {} ({format})", artist.name, release.title),
            "images": [],
            "artist": artist.name,
            "format": format,
            "resource_url": format!("{base}/releases/{}", release.id),
            "title": release.title,
            "year": release.year,
            "id": release.id,
            "label": catalog.label(release).name,
            "catalog_number": release.catno,
            "stats": { "community": { "in_wantlist": release.want, "in_collection": release.have } },
        },
        "in_cart": false,
    })
}

/// `curr_abbr` from the query, when it names a currency.
pub fn requested_currency(query: &[(String, String)]) -> Option<Currency> {
    query
        .iter()
        .find(|(k, _)| k == "curr_abbr")
        .and_then(|(_, v)| Currency::new(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_pacific_with_offset() {
        assert_eq!(discogs_time(1_600_355_310), "2020-09-17T08:08:30-07:00");
    }
}
