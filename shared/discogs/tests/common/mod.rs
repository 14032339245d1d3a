//! Helpers shared by the marketplace page tests.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use cratedigger_discogs::market::{ListingsPage, MarketPage, PageContext, read_market_page};
use cratedigger_domain::{Currency, Money};
use http::{HeaderMap, StatusCode};

/// A real page from `../shared/datasets/discogs-fixtures`.
pub fn fixture(relative: &str) -> String {
    let path = cratedigger_testkit::dataset(&format!("discogs-fixtures/{relative}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A page written for these tests (tests/pages, see its README).
pub fn built_page(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pages")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn read_ok(body: &str, context: &PageContext) -> MarketPage {
    read_market_page(StatusCode::OK, &HeaderMap::new(), body, context)
}

pub fn listings(body: &str, context: &PageContext) -> ListingsPage {
    match read_ok(body, context) {
        MarketPage::Listings(page) => page,
        other => panic!("expected listings, got {other:?}"),
    }
}

pub fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::new(code).unwrap())
}

pub const H2_2021_SELL_LIST: &str =
    "KirianCaumes__Discogs-Marketplace-API-NodeJS/test__html__index@2021-05-14_eca00e8.html";
pub const H3_2023_SELL_RELEASE: &str =
    "olivermeyer__argus/argus__objects__discogs__release_listings_test.html";
pub const H5_2026_SELL_RELEASE: &str =
    "michaelhball__discogs_alert/tests__data__marketplace_listing_real.html";
pub const H6_2026_ONE_ROW: &str = "ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__1-should-transform-single-listing-from-real-html.html";
pub const H7_2026_EMPTY: &str = "ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__3-should-handle-empty-table-body.html";
pub const H8_SYNTHETIC: &str = "michaelhball__discogs_alert/tests__data__marketplace_listing.html";

/// Every real marketplace page in the fixtures, with its listing count.
pub const REAL_PAGES: [(&str, usize); 6] = [
    (H2_2021_SELL_LIST, 25),
    (H3_2023_SELL_RELEASE, 2),
    (H5_2026_SELL_RELEASE, 2),
    (H6_2026_ONE_ROW, 1),
    (H7_2026_EMPTY, 0),
    (H8_SYNTHETIC, 5),
];
