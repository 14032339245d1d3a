//! What the optimiser is given: the candidate releases with their scores, the marketplace
//! listings for them and the sellers behind those listings. These mirror what the catalog
//! stores; the carts service fills them from its rows.

use chrono::NaiveDate;
use cratedigger_domain::{
    Country, ListingId, MasterId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};
use serde::{Deserialize, Serialize};

/// Everything one optimisation looks at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub candidates: Vec<Candidate>,
    pub listings: Vec<Listing>,
    pub sellers: Vec<Seller>,
}

/// A release the buyer would like, with how much they would like it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub release: ReleaseId,
    /// Needed only for "any pressing": releases of one master count as one record.
    pub master: Option<MasterId>,
    /// Higher is better; finite, from 0 to [`MAX_SCORE`](crate::MAX_SCORE).
    pub score: f64,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Wantlist,
    Recommendation,
}

/// One copy of a release for sale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    pub release: ReleaseId,
    pub seller: SellerName,
    /// The price as the seller asks it, in the seller's currency.
    pub price: Money,
    /// The price in the buyer's currency, when it differs from the asking currency.
    pub converted: Option<ConvertedPrice>,
    pub media: MediaCondition,
    /// None when the listing does not say.
    pub sleeve: Option<SleeveCondition>,
    /// False once the listing is sold or withdrawn.
    pub available: bool,
}

/// A price converted into the buyer's currency, with the rate used so a cart can show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvertedPrice {
    pub price: Money,
    /// Buyer's currency units per unit of the asking currency.
    pub rate: f64,
    pub rate_date: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seller {
    pub name: SellerName,
    /// None for a seller nobody has rated yet.
    pub rating: Option<SellerRating>,
    pub ships_from: Option<Country>,
    /// None when the seller's shipping to the buyer is not known; see
    /// [`UnknownShipping`](crate::UnknownShipping).
    pub shipping: Option<ShippingPolicy>,
    /// The smallest item subtotal the seller accepts, in the buyer's currency.
    pub min_order_total: Option<Money>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerRating {
    /// Positive feedback in percent, 0 to 100.
    pub percent: f64,
    pub count: u32,
}

/// Shipping to the buyer, in the buyer's currency: `first_item` for the first record of an
/// order and `additional_item` for each further one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingPolicy {
    pub first_item: Money,
    pub additional_item: Money,
}

impl ShippingPolicy {
    pub fn new(first_item: Money, additional_item: Money) -> Self {
        Self {
            first_item,
            additional_item,
        }
    }
}
