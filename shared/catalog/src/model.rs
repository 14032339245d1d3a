//! The rows of the catalog, in domain types.

use chrono::{DateTime, NaiveDate, Utc};
use cratedigger_domain::{
    Country, Currency, ListingId, MasterId, MediaCondition, Money, ReleaseId, SellerName,
    SleeveCondition, Username,
};
use serde::{Deserialize, Serialize};

/// A Discogs user as last synced: what the profile stage compares with Discogs to decide
/// whether a sync is needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub username: Username,
    pub discogs_id: Option<u64>,
    pub wantlist_count: u32,
    pub collection_count: u32,
    /// The newest `date_added` seen in the wantlist / collection.
    pub newest_want_added: Option<DateTime<Utc>>,
    pub newest_have_added: Option<DateTime<Utc>>,
    /// When the last complete sync finished; None while the user was never synced.
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// In the wantlist.
    Want,
    /// In the collection.
    Have,
}

impl InteractionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Want => "want",
            Self::Have => "have",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub release_id: ReleaseId,
    pub kind: InteractionKind,
    pub added_at: Option<DateTime<Utc>>,
    /// The raw weight ALS starts from (1.0 for a plain want or have).
    pub weight: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: ReleaseId,
    pub master_id: Option<MasterId>,
    pub title: String,
    pub artists: Vec<String>,
    pub year: Option<u16>,
    pub formats: Vec<String>,
    pub genres: Vec<String>,
    pub styles: Vec<String>,
    pub thumb: Option<String>,
    /// Marketplace statistics when known (from the stats API or stored listings).
    pub lowest_price: Option<Money>,
    pub median_price: Option<Money>,
    pub num_for_sale: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seller {
    pub name: SellerName,
    /// Percent positive, None for a new seller.
    pub rating: Option<f32>,
    pub ratings_count: Option<u32>,
    pub ships_from: Option<Country>,
    /// Shipping for the first item and for each additional one, when known.
    pub shipping_first: Option<Money>,
    pub shipping_additional: Option<Money>,
    pub min_order_total: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    pub release_id: ReleaseId,
    pub seller: SellerName,
    pub price: Money,
    /// The shipping shown with the listing (first item, to the buyer); None = unknown.
    pub shipping: Option<Money>,
    pub media: Option<MediaCondition>,
    pub sleeve: Option<SleeveCondition>,
    pub comments: Option<String>,
    /// False when the page marked it unavailable in the buyer's country.
    pub available: bool,
    /// Set by the catalog: first and last time a scrape saw it, and when it disappeared.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub gone_at: Option<DateTime<Utc>>,
}

/// What [`crate::Catalog::record_listings`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingChanges {
    pub inserted: u32,
    pub price_changed: u32,
    pub gone: u32,
    pub unchanged: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    pub price: Money,
    pub seen_at: DateTime<Utc>,
}

/// Units of `currency` per one unit of the base currency (EUR), on `date`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FxRate {
    pub currency: Currency,
    pub per_base: f64,
    pub date: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub version: String,
    pub trained_at: DateTime<Utc>,
    pub users: u64,
    pub items: u64,
    pub params: serde_json::Value,
    pub metrics: serde_json::Value,
    /// Where the model files are (a blob-store prefix).
    pub location: String,
}
