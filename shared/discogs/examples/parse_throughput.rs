//! Marketplace page parser throughput on the real fixture pages.
//!
//! `cargo run --release -p cratedigger-discogs --example parse_throughput [seconds]`
//! prints one JSON line: pages per second for each page, and over the three full-size
//! real pages (H2, H3, H5) read in turn, which is what a scraper sees; the two trimmed
//! pages are tiny and would flatter an average.

use std::time::{Duration, Instant};

use cratedigger_discogs::market::{MarketPage, PageContext, read_market_page};
use http::{HeaderMap, StatusCode};

const PAGES: [&str; 5] = [
    "KirianCaumes__Discogs-Marketplace-API-NodeJS/test__html__index@2021-05-14_eca00e8.html",
    "olivermeyer__argus/argus__objects__discogs__release_listings_test.html",
    "michaelhball__discogs_alert/tests__data__marketplace_listing_real.html",
    "ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__1-should-transform-single-listing-from-real-html.html",
    "ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__3-should-handle-empty-table-body.html",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds / PAGES.len() as f64);
    let headers = HeaderMap::new();
    let context = PageContext::default();
    let mut per_page = Vec::new();
    let (mut total_pages, mut total_time, mut total_bytes) = (0_u64, Duration::ZERO, 0_u64);
    for name in PAGES {
        let body = std::fs::read_to_string(cratedigger_testkit::dataset(&format!(
            "discogs-fixtures/{name}"
        )))?;
        let start = Instant::now();
        let mut parsed = 0_u64;
        let mut listings = 0;
        while start.elapsed() < budget {
            match read_market_page(StatusCode::OK, &headers, &body, &context) {
                MarketPage::Listings(page) => listings = page.listings.len(),
                other => return Err(format!("{name} did not read as listings: {other:?}").into()),
            }
            parsed += 1;
        }
        let elapsed = start.elapsed();
        total_pages += parsed;
        total_time += elapsed;
        total_bytes += parsed * body.len() as u64;
        per_page.push(serde_json::json!({
            "page": name.split('/').next().unwrap_or(name),
            "bytes": body.len(),
            "listings": listings,
            "pages_per_s": (parsed as f64 / elapsed.as_secs_f64()).round(),
        }));
    }
    let full_pages: Vec<String> = PAGES[..3]
        .iter()
        .map(|name| {
            std::fs::read_to_string(cratedigger_testkit::dataset(&format!(
                "discogs-fixtures/{name}"
            )))
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    let mut rounds = 0_u64;
    while start.elapsed() < budget * 2 {
        for body in &full_pages {
            read_market_page(StatusCode::OK, &headers, body, &context);
        }
        rounds += 1;
    }
    let full_rate = (rounds * 3) as f64 / start.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "full_pages_per_s": full_rate.round(),
        "ms_per_full_page": (1000.0 / full_rate * 100.0).round() / 100.0,
        "all_pages_per_s": (total_pages as f64 / total_time.as_secs_f64()).round(),
        "mb_per_s": (total_bytes as f64 / total_time.as_secs_f64() / 1e6 * 10.0).round() / 10.0,
        "per_page": per_page,
    });
    println!("{line}");
    Ok(())
}
