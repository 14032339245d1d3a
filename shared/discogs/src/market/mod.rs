//! Marketplace pages (`/sell/release/{id}`, `/sell/list`, seller pages) read into listings.
//!
//! Pure and synchronous: HTML in, [`MarketPage`] out. [`read_market_page`] is the one entry:
//! it looks at the HTTP status, the headers and the body, and says whether the page is a
//! list of listings (possibly, and only then, an empty one), a bot challenge, a login wall,
//! a missing page, or something it does not recognise. A page is never "zero listings"
//! unless it shows the listings table or its pagination with a total of 0.
//!
//! Every markup variant described in the fixtures' SOURCES.md is read: 2020 French pages
//! without data attributes or seller blocks, 2021 English pages, 2023 pages with
//! `data-pricevalue`, 2025/26 pages with tooltips inside the condition spans.

mod html;
mod money_text;
pub(crate) mod page;
mod row;
mod saved;
mod seller;
mod summary;

use std::time::Duration;

use cratedigger_domain::{
    Country, ListingId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};
use serde::{Deserialize, Serialize};

pub use page::read_market_page;
pub use saved::{SavedFrom, read_saved_page, saved_from, saved_release};

/// What the caller already knows about the page it asked for. Rows that do not carry the
/// release id or the seller (the 2020 markup has no `data-release-id`; a seller's own
/// page may drop the seller column) take them from here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageContext {
    pub release_id: Option<ReleaseId>,
    pub seller: Option<SellerName>,
}

impl PageContext {
    pub fn release(release_id: ReleaseId) -> Self {
        Self {
            release_id: Some(release_id),
            seller: None,
        }
    }
}

/// What a marketplace response turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub enum MarketPage {
    /// The listings table was there. `listings` is empty only when the page itself says
    /// so (pagination `0 – 0 of 0`).
    Listings(ListingsPage),
    /// Bot protection answered instead of the marketplace (Cloudflare "Just a moment...",
    /// `cf-mitigated: challenge`, a block page). Another transport may get through.
    Challenge { evidence: &'static str },
    /// The page asks the visitor to log in.
    LoginWall,
    /// Discogs says the page does not exist (HTTP 404 or its "not found" page).
    NotFound,
    /// HTTP 429 from the web host.
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx from the web host.
    ServerError { status: u16 },
    /// None of the above and no listings table: the markup may have changed.
    Unrecognised { reason: String },
}

/// The listings on one page, with what the page says about the whole result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListingsPage {
    pub listings: Vec<Listing>,
    /// `1 – 25 of 1,234`; absent on pages that print no pagination.
    pub range: Option<PageRange>,
    /// The release's price statistics block (`/sell/release` pages only).
    pub price_stats: Option<PriceStats>,
    /// Rows that looked like listings but could not be read, with the reason; kept so a
    /// markup change shows up in logs instead of as silently missing listings.
    pub skipped: Vec<SkippedRow>,
}

impl ListingsPage {
    /// How many rows the page's own range (`1 – 25 of 68`) promises beyond those it holds,
    /// read or skipped: a body cut short, as a dropped connection leaves it. None when it
    /// holds them all, or prints no range to tell.
    pub fn missing_rows(&self) -> Option<u64> {
        let range = self.range?;
        let promised = range.last.checked_sub(range.first)? + 1;
        let held = (self.listings.len() + self.skipped.len()) as u64;
        (range.total > 0 && held < promised).then(|| promised - held)
    }
}

/// The `first – last of total` line of a result page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRange {
    pub first: u64,
    pub last: u64,
    pub total: u64,
}

/// Lowest, median and highest price the release has sold for, as the page shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceStats {
    pub lowest: Option<Money>,
    pub median: Option<Money>,
    pub highest: Option<Money>,
    /// As printed (`10 Nov 22`, `Never`).
    pub last_sold: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRow {
    /// 0-based position among the page's listing rows.
    pub position: usize,
    pub reason: String,
}

/// One item for sale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    /// From the row (`data-release-id`, 2021 and later) or else from the page context.
    pub release_id: Option<ReleaseId>,
    /// "Artist - Title (Format, …)".
    pub title: String,
    pub price: Money,
    pub shipping: Shipping,
    pub media: Option<MediaCondition>,
    /// Absent when the seller graded only the media (CDs without a sleeve grade).
    pub sleeve: Option<SleeveCondition>,
    pub seller: Option<SellerSummary>,
    pub availability: Availability,
    pub comments: Option<String>,
    /// "Make Offer / Details" rather than just "Details".
    pub offers_allowed: bool,
}

/// What shipping adds to a listing's price, as the buyer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shipping {
    /// `+€14.00`: the first item's shipping to the page's buyer location.
    Amount(Money),
    /// `+no extra shipping` / `+free shipping`.
    NoExtra,
    /// `+shipping` with only a button: it depends on a destination the page did not know.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Availability {
    Available,
    /// "Unavailable in France": the seller does not ship to the buyer's country.
    Unavailable {
        buyer_country: Option<Country>,
    },
}

/// The seller column of a listing row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerSummary {
    pub name: SellerName,
    /// Discogs' numeric user id, from `data-seller-id` when the row has it.
    pub id: Option<u64>,
    /// Positive feedback in percent (`99.0%`); absent for new sellers.
    pub rating_percent: Option<f64>,
    pub ratings: Option<u64>,
    /// The page marks the seller as new (no rating yet).
    pub is_new: bool,
    pub ships_from: Option<Country>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_selector_compiles() {
        super::row::force_selectors();
        super::seller::force_selectors();
        super::summary::force_selectors();
        super::page::force_selectors();
        super::saved::force_selectors();
    }
}
