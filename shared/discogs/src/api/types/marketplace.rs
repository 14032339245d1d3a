//! Marketplace statistics and listings as the API returns them.

use chrono::{DateTime, FixedOffset};
use cratedigger_domain::{
    Country, ListingId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};
use serde::{Deserialize, Deserializer};

use super::{number_or_text, optional_price};

/// `GET /marketplace/stats/{release_id}`. Public and not behind the web host's bot
/// protection: the way to confirm that nothing is for sale.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MarketplaceStats {
    #[serde(default)]
    pub num_for_sale: Option<u64>,
    /// `null` when nothing is for sale.
    #[serde(default, deserialize_with = "optional_price")]
    pub lowest_price: Option<Money>,
    #[serde(default)]
    pub blocked_from_sale: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum ListingStatus {
    #[serde(rename = "For Sale")]
    ForSale,
    Draft,
    Expired,
    Sold,
    Deleted,
    #[serde(other)]
    Other,
}

/// `GET /marketplace/listings/{id}` and the items of `GET /users/{u}/inventory`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ApiListing {
    pub id: ListingId,
    pub status: ListingStatus,
    /// The media grade; `None` if Discogs sent a grade this client does not know.
    #[serde(default, rename = "condition", deserialize_with = "lenient_media")]
    pub media: Option<MediaCondition>,
    #[serde(
        default,
        rename = "sleeve_condition",
        deserialize_with = "lenient_sleeve"
    )]
    pub sleeve: Option<SleeveCondition>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub ships_from: Option<Country>,
    #[serde(default)]
    pub posted: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub allow_offers: bool,
    #[serde(default, deserialize_with = "optional_price")]
    pub price: Option<Money>,
    /// `{}` when the seller set no shipping for the buyer's location.
    #[serde(default, deserialize_with = "optional_price")]
    pub shipping_price: Option<Money>,
    pub seller: ApiSeller,
    pub release: ApiListingRelease,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "RawSeller")]
pub struct ApiSeller {
    pub id: u64,
    pub name: SellerName,
    /// Positive feedback in percent; the API sends it as a string (`"100.0"`).
    pub rating_percent: Option<f64>,
    pub ratings: Option<u64>,
}

#[derive(Deserialize)]
struct RawSeller {
    id: u64,
    username: String,
    #[serde(default)]
    stats: Option<RawSellerStats>,
}

#[derive(Deserialize)]
struct RawSellerStats {
    #[serde(default, deserialize_with = "number_or_text")]
    rating: Option<f64>,
    #[serde(default)]
    total: Option<u64>,
}

impl From<RawSeller> for ApiSeller {
    fn from(raw: RawSeller) -> Self {
        let (rating_percent, ratings) = raw.stats.map_or((None, None), |s| (s.rating, s.total));
        Self {
            id: raw.id,
            name: SellerName::new(raw.username),
            rating_percent,
            ratings,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiListingRelease {
    #[serde(rename = "id")]
    pub release_id: ReleaseId,
    /// `Artist - Title (Format)`.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub year: Option<u16>,
}

fn lenient_media<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MediaCondition>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|text| text.parse().ok()))
}

fn lenient_sleeve<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SleeveCondition>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|text| text.parse().ok()))
}
