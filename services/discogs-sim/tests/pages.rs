//! The marketplace pages read like the real 2025/26 ones: the selectors documented in
//! SOURCES.md for real pages extract every field from ours, the same extractor works on
//! the real fixture page, and what the page shows agrees with the API.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::{small_settings, spawn};
use cratedigger_discogs_sim::{CLEARANCE_COOKIE, SimSettings, solve_challenge};
use cratedigger_domain::{Currency, MediaCondition, Money, SleeveCondition};
use cratedigger_testkit::dataset;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

fn select(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("selector {text}: {e:?}"))
}

/// Text of an element's own text nodes (not its children's), trimmed.
fn own_text(element: ElementRef<'_>) -> String {
    element
        .children()
        .filter_map(|n| n.value().as_text().map(|t| t.to_string()))
        .collect::<String>()
        .trim()
        .to_owned()
}

#[derive(Debug, Clone)]
struct Row {
    release_id: Option<u64>,
    listing_id: u64,
    currency: String,
    price_value: String,
    shipping: String,
    media: String,
    sleeve: Option<String>,
    seller: String,
    rating: Option<String>,
    ratings: Option<String>,
    ships_from: String,
    unavailable: bool,
    cart_item: Option<u64>,
}

/// A row reader written to the selectors of SOURCES.md §1.1 (real pages).
fn read_rows(html: &str) -> (Vec<Row>, Option<String>) {
    let document = Html::parse_document(html);
    let rows = document
        .select(&select("table.mpitems > tbody > tr.shortcut_navigable"))
        .map(|row| {
            let first = |css: &str| row.select(&select(css)).next();
            let href = first("td.item_description a.item_description_title")
                .and_then(|a| a.value().attr("href"))
                .unwrap();
            let listing_id = href
                .split("/sell/item/")
                .nth(1)
                .unwrap()
                .split(['?', '/'])
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let price = first("td.item_price span.price").unwrap();
            let media_span = row
                .select(&select("p.item_condition > span"))
                .find(|s| s.value().attr("class").is_none())
                .unwrap();
            let ships_from = row
                .select(&select("td.seller_info li"))
                .find(|li| {
                    li.select(&select("span.mplabel"))
                        .any(|s| s.text().collect::<String>().trim() == "Ships From:")
                })
                .map(own_text)
                .unwrap_or_default();
            Row {
                release_id: row
                    .value()
                    .attr("data-release-id")
                    .map(|v| v.parse().unwrap()),
                listing_id,
                currency: price.value().attr("data-currency").unwrap().to_owned(),
                price_value: price.value().attr("data-pricevalue").unwrap().to_owned(),
                shipping: first("td.item_price span.item_shipping")
                    .map(own_text)
                    .unwrap(),
                media: own_text(media_span)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
                sleeve: first("p.item_condition span.item_sleeve_condition")
                    .map(|s| s.text().collect::<String>().trim().to_owned()),
                seller: first("td.seller_info .seller_block strong > a")
                    .unwrap()
                    .text()
                    .collect(),
                rating: first("td.seller_info li:nth-child(2) > strong")
                    .map(|s| s.text().collect()),
                ratings: first("td.seller_info a.section_link")
                    .map(|a| a.text().collect::<String>().trim().to_owned()),
                ships_from,
                unavailable: row.value().classes().any(|c| c == "unavailable"),
                cart_item: first("a.cart-button")
                    .and_then(|a| a.value().attr("data-item-id"))
                    .map(|v| v.parse().unwrap()),
            }
        })
        .collect();
    let total = document
        .select(&select("strong.pagination_total"))
        .next()
        .map(|t| {
            t.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        });
    (rows, total)
}

#[test]
fn the_row_reader_reads_the_real_2026_page() {
    let path = dataset(
        "discogs-fixtures/michaelhball__discogs_alert/tests__data__marketplace_listing_real.html",
    );
    let html = std::fs::read_to_string(path).unwrap();
    let (rows, total) = read_rows(&html);
    assert_eq!(total.as_deref(), Some("1 – 2 of 2"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].listing_id, 4_112_342_466);
    assert_eq!(
        (rows[0].currency.as_str(), rows[0].price_value.as_str()),
        ("USD", "9000.00")
    );
    assert_eq!(rows[0].shipping, "+no extra shipping");
    assert_eq!(rows[0].media, "Very Good Plus (VG+)");
    assert_eq!(rows[0].rating.as_deref(), Some("84.6%"));
    assert_eq!(rows[0].ratings.as_deref(), Some("28 ratings"));
    assert_eq!(rows[1].shipping, "+€14.00");
    assert_eq!(rows[1].ships_from, "Netherlands");
    assert_eq!(rows[1].cart_item, Some(431_584_673));
}

#[tokio::test]
async fn simulated_pages_read_with_the_real_page_reader_and_agree_with_the_api() {
    let sim = spawn(small_settings()).await;
    let top = &sim.releases(1).await[0];
    let release_id = top["id"].as_u64().unwrap();
    let for_sale = top["num_for_sale"].as_u64().unwrap();
    assert!(
        for_sale > 25,
        "the most popular release has several pages ({for_sale})"
    );
    let html = sim.get_text(&format!("/sell/release/{release_id}")).await;
    let (rows, total) = read_rows(&html);
    assert_eq!(rows.len(), 25);
    assert_eq!(total.unwrap(), format!("1 – 25 of {for_sale}"));

    let mut previous_usd = 0.0;
    for row in &rows {
        assert_eq!(row.release_id, Some(release_id));
        let currency = Currency::new(&row.currency).unwrap();
        let price = Money::from_decimal_str(&row.price_value, currency).unwrap();
        assert!(price.is_positive());
        let media: MediaCondition = row.media.parse().unwrap();
        let sleeve = row
            .sleeve
            .as_deref()
            .map(|s| s.parse::<SleeveCondition>().unwrap());
        assert!(row.shipping.starts_with('+'), "{:?}", row.shipping);
        if !row.unavailable {
            assert_eq!(row.cart_item, Some(row.listing_id));
        }

        let api = sim
            .get_json(&format!("/marketplace/listings/{}", row.listing_id))
            .await;
        assert_eq!(api["original_price"]["curr_abbr"], row.currency);
        assert_eq!(
            Money::from_major_f64(api["original_price"]["value"].as_f64().unwrap(), currency)
                .unwrap(),
            price
        );
        assert_eq!(
            api["condition"]
                .as_str()
                .unwrap()
                .parse::<MediaCondition>()
                .unwrap(),
            media
        );
        assert_eq!(
            api["sleeve_condition"]
                .as_str()
                .unwrap()
                .parse::<SleeveCondition>()
                .ok(),
            sleeve
        );
        assert_eq!(api["seller"]["username"], row.seller.as_str());
        assert_eq!(api["ships_from"], row.ships_from.as_str());

        // "Price Lowest" sorts across currencies.
        let usd = api["price"]["value"].as_f64().unwrap();
        let usd = sim
            .get_json(&format!(
                "/marketplace/listings/{}?curr_abbr=USD",
                row.listing_id
            ))
            .await["price"]["value"]
            .as_f64()
            .unwrap_or(usd);
        assert!(usd + 0.011 >= previous_usd, "{usd} after {previous_usd}");
        previous_usd = usd;
    }

    let second = sim
        .get_text(&format!("/sell/release/{release_id}?page=2&limit=25"))
        .await;
    let (second_rows, total) = read_rows(&second);
    assert!(total.unwrap().starts_with("26 – "));
    let first_ids: HashSet<u64> = rows.iter().map(|r| r.listing_id).collect();
    assert!(
        second_rows
            .iter()
            .all(|r| !first_ids.contains(&r.listing_id))
    );
    let (big, _) = read_rows(
        &sim.get_text(&format!("/sell/release/{release_id}?limit=100"))
            .await,
    );
    assert_eq!(big.len() as u64, for_sale.min(100));
}

#[tokio::test]
async fn pages_show_the_variety_of_a_real_marketplace() {
    let sim = spawn(small_settings()).await;
    let releases = sim.releases(120).await;
    let mut currencies = HashSet::new();
    let (mut unavailable, mut new_sellers, mut no_sleeve, mut no_extra, mut unknown_shipping) =
        (0, 0, 0, 0, 0);
    for release in releases
        .iter()
        .filter(|r| r["num_for_sale"].as_u64().unwrap() > 0)
        .take(60)
    {
        let html = sim
            .get_text(&format!("/sell/release/{}?limit=100", release["id"]))
            .await;
        for row in read_rows(&html).0 {
            currencies.insert(row.currency.clone());
            unavailable += usize::from(row.unavailable);
            new_sellers += usize::from(row.rating.is_none() && row.ratings.is_none());
            no_sleeve += usize::from(row.sleeve.is_none());
            no_extra += usize::from(row.shipping == "+no extra shipping");
            unknown_shipping += usize::from(row.shipping == "+");
        }
    }
    for code in ["EUR", "USD", "GBP", "JPY"] {
        assert!(
            currencies.contains(code),
            "{code} missing from {currencies:?}"
        );
    }
    assert!(
        unavailable > 0 && new_sellers > 0 && no_sleeve > 0 && no_extra > 0 && unknown_shipping > 0,
        "unavailable {unavailable}, new sellers {new_sellers}, no sleeve {no_sleeve}, no extra {no_extra}, unknown {unknown_shipping}"
    );
}

#[tokio::test]
async fn empty_and_unknown_releases() {
    let sim = spawn(small_settings()).await;
    let releases = sim.releases(2_000).await;
    let unsold = releases.iter().find(|r| r["num_for_sale"] == 0).unwrap();
    let html = sim
        .get_text(&format!("/sell/release/{}", unsold["id"]))
        .await;
    let (rows, total) = read_rows(&html);
    assert!(rows.is_empty());
    assert_eq!(total.as_deref(), Some("0 – 0 of 0"));
    assert!(
        html.contains("table_block mpitems"),
        "an empty page still has its table (H7 shape)"
    );
    let missing = sim.get("/sell/release/1").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn sold_and_repriced_listings_show_on_the_page() {
    let sim = spawn(small_settings()).await;
    let top = &sim.releases(1).await[0];
    let page = format!("/sell/release/{}?limit=250", top["id"]);
    let (rows, _) = read_rows(&sim.get_text(&page).await);
    let cheapest = rows[0].clone();
    let response = sim
        .put_json(
            &format!("/_sim/listings/{}/price", cheapest.listing_id),
            serde_json::json!({"price": "9999.00"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (after, _) = read_rows(&sim.get_text(&page).await);
    let moved = after
        .iter()
        .find(|r| r.listing_id == cheapest.listing_id)
        .unwrap();
    assert_eq!(
        moved.price_value,
        if cheapest.currency == "JPY" {
            "9999".to_owned()
        } else {
            "9999.00".to_owned()
        }
    );
    assert_ne!(after[0].listing_id, cheapest.listing_id);

    assert_eq!(
        sim.delete(&format!("/_sim/listings/{}", cheapest.listing_id))
            .await
            .status(),
        204
    );
    let (sold, _) = read_rows(&sim.get_text(&page).await);
    assert_eq!(sold.len(), rows.len() - 1);
    assert!(sold.iter().all(|r| r.listing_id != cheapest.listing_id));
    assert_eq!(
        sim.get(&format!("/marketplace/listings/{}", cheapest.listing_id))
            .await
            .status(),
        404
    );
    let stats: Value = sim
        .get_json(&format!("/marketplace/stats/{}", top["id"]))
        .await;
    assert_eq!(
        stats["num_for_sale"].as_u64().unwrap(),
        top["num_for_sale"].as_u64().unwrap() - 1
    );
}

#[tokio::test]
async fn the_managed_challenge_stops_plain_clients_on_web_pages_and_lets_a_solved_clearance_through()
 {
    let sim = spawn(SimSettings {
        web_challenge: true,
        ..small_settings()
    })
    .await;
    let releases = sim.releases(2_000).await;
    let release = releases
        .iter()
        .find(|r| r["num_for_sale"].as_u64() > Some(0))
        .unwrap()["id"]
        .clone();
    let page_path = format!("/sell/release/{release}");

    let challenged = sim.get(&page_path).await;
    assert_eq!(challenged.status(), 403);
    assert_eq!(challenged.headers()["cf-mitigated"], "challenge");
    let interstitial = challenged.text().await.unwrap();
    assert!(interstitial.contains("<title>Just a moment...</title>"));
    assert!(
        !interstitial.contains("mpitems"),
        "no listings behind the challenge"
    );

    // The API host is not challenged.
    let api = sim.get(&format!("/marketplace/stats/{release}")).await;
    assert_eq!(api.status(), 200);

    // What the page's script does: solve the nonce, keep the answer in the cookie.
    let start = interstitial.find("var n='").unwrap() + 7;
    let nonce = &interstitial[start..start + 24];
    let clearance = format!("{CLEARANCE_COOKIE}={nonce}.{:x}", solve_challenge(nonce));
    let passed = sim
        .client
        .get(sim.url(&page_path))
        .header("cookie", &clearance)
        .send()
        .await
        .unwrap();
    assert_eq!(passed.status(), 200);
    assert!(passed.text().await.unwrap().contains("mpitems"));

    let wrong = format!(
        "{CLEARANCE_COOKIE}={nonce}.{:x}",
        solve_challenge(nonce).wrapping_add(1)
    );
    let refused = sim
        .client
        .get(sim.url(&page_path))
        .header("cookie", wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["challenged"], 2);
}
