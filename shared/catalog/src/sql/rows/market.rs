//! The marketplace: sellers, listings and their price history.

use cratedigger_domain::{
    Country, ListingId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};

use super::{currency, from_i64, last_per_key, money, money_columns, to_i64};
use crate::sql::timestamp::Timestamp;
use crate::{CatalogError, Listing, Seller};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SellerRow {
    pub name: String,
    pub rating: Option<f32>,
    pub ratings_count: Option<i64>,
    pub ships_from: Option<String>,
    pub shipping_first_minor: Option<i64>,
    pub shipping_first_currency: Option<String>,
    pub shipping_additional_minor: Option<i64>,
    pub shipping_additional_currency: Option<String>,
    pub min_order_minor: Option<i64>,
    pub min_order_currency: Option<String>,
}

impl SellerRow {
    /// Rows for one upsert, one per seller name, see [`last_per_key`].
    pub fn batch(sellers: &[Seller]) -> Vec<Self> {
        let rows = sellers.iter().map(Self::from_domain).collect();
        last_per_key(rows, |row: &Self| row.name.clone())
    }

    pub fn from_domain(seller: &Seller) -> Self {
        let (shipping_first_minor, shipping_first_currency) = money_columns(seller.shipping_first);
        let (shipping_additional_minor, shipping_additional_currency) =
            money_columns(seller.shipping_additional);
        let (min_order_minor, min_order_currency) = money_columns(seller.min_order_total);
        Self {
            name: seller.name.as_str().to_owned(),
            rating: seller.rating,
            ratings_count: seller.ratings_count.map(i64::from),
            ships_from: seller.ships_from.as_ref().map(|c| c.as_str().to_owned()),
            shipping_first_minor,
            shipping_first_currency,
            shipping_additional_minor,
            shipping_additional_currency,
            min_order_minor,
            min_order_currency,
        }
    }

    pub fn into_domain(self) -> Result<Seller, CatalogError> {
        Ok(Seller {
            name: SellerName::new(self.name),
            rating: self.rating,
            ratings_count: self
                .ratings_count
                .map(|n| from_i64(n, "ratings count"))
                .transpose()?,
            ships_from: self.ships_from.map(|c| Country::new(&c)),
            shipping_first: money(
                self.shipping_first_minor,
                self.shipping_first_currency,
                "shipping",
            )?,
            shipping_additional: money(
                self.shipping_additional_minor,
                self.shipping_additional_currency,
                "additional shipping",
            )?,
            min_order_total: money(
                self.min_order_minor,
                self.min_order_currency,
                "minimum order",
            )?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ListingRow {
    pub listing_id: i64,
    pub release_id: i64,
    pub seller: String,
    pub price_minor: i64,
    pub price_currency: String,
    pub shipping_minor: Option<i64>,
    pub shipping_currency: Option<String>,
    pub media: Option<String>,
    pub sleeve: Option<String>,
    pub comments: Option<String>,
    pub available: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub gone_at: Option<Timestamp>,
}

impl ListingRow {
    /// The row for a listing seen at `seen_at`; `first_seen` is only used by inserts.
    pub fn from_domain(listing: &Listing, seen_at: Timestamp) -> Result<Self, CatalogError> {
        let (shipping_minor, shipping_currency) = money_columns(listing.shipping);
        Ok(Self {
            listing_id: to_i64(listing.id.0, "listing id")?,
            release_id: to_i64(listing.release_id.0, "release id")?,
            seller: listing.seller.as_str().to_owned(),
            price_minor: listing.price.minor,
            price_currency: listing.price.currency.as_str().to_owned(),
            shipping_minor,
            shipping_currency,
            media: listing.media.map(|m| m.code().to_owned()),
            sleeve: listing.sleeve.map(|s| s.code().to_owned()),
            comments: listing.comments.clone(),
            available: listing.available,
            first_seen: seen_at,
            last_seen: seen_at,
            gone_at: None,
        })
    }

    pub fn into_domain(self) -> Result<Listing, CatalogError> {
        let corrupt =
            |e: cratedigger_domain::UnknownCondition| CatalogError::Corrupt(e.to_string());
        Ok(Listing {
            id: ListingId(from_i64(self.listing_id, "listing id")?),
            release_id: ReleaseId(from_i64(self.release_id, "release id")?),
            seller: SellerName::new(self.seller),
            price: Money::new(self.price_minor, currency(&self.price_currency)?),
            shipping: money(self.shipping_minor, self.shipping_currency, "shipping")?,
            media: self
                .media
                .map(|m| m.parse::<MediaCondition>().map_err(corrupt))
                .transpose()?,
            sleeve: self
                .sleeve
                .map(|s| s.parse::<SleeveCondition>().map_err(corrupt))
                .transpose()?,
            comments: self.comments,
            available: self.available,
            first_seen: Some(self.first_seen.get()),
            last_seen: Some(self.last_seen.get()),
            gone_at: self.gone_at.map(Timestamp::get),
        })
    }
}

/// What `record_listings` needs to know about a stored listing to plan its changes.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KnownListingRow {
    pub listing_id: i64,
    pub release_id: i64,
    pub seller: String,
    pub price_minor: i64,
    pub price_currency: String,
    pub last_seen: Timestamp,
    pub gone_at: Option<Timestamp>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PricePointRow {
    pub price_minor: i64,
    pub price_currency: String,
    pub seen_at: Timestamp,
}

impl PricePointRow {
    pub fn into_domain(self) -> Result<crate::PricePoint, CatalogError> {
        Ok(crate::PricePoint {
            price: Money::new(self.price_minor, currency(&self.price_currency)?),
            seen_at: self.seen_at.get(),
        })
    }
}
