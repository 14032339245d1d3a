//! The JSON instance format of the reference MILP solver (`bench/carts/reference_milp.py`
//! in the shared folder), so the same instances can be solved by both and compared.
//!
//! That format has one currency (amounts are floats in major units, read here as EUR with
//! the script's rounding: half to even on cents), a seller rating on each listing, and
//! criteria named `min_condition`, `min_quantity`, `countries`. Its eligibility rules map
//! one to one onto [`CartCriteria`]; what cannot be mapped is refused rather than guessed.

mod answer;

use std::collections::BTreeMap;

use cratedigger_domain::{
    CartCriteria, Country, Currency, ListingId, MediaCondition, Money, ReleaseId, SellerName,
};
use serde::Deserialize;

pub use answer::{CartAnswer, ReferenceAnswer, ScenarioAnswer, SellerAnswer};

use crate::{
    Candidate, Instance, Listing, Options, Origin, PerSellerObjectives, Seller, SellerRating,
    ShippingPolicy,
};

/// The currency reference instances are read in.
pub const CURRENCY: Currency = Currency::EUR;

#[derive(Clone, Debug, Deserialize)]
pub struct ReferenceInstance {
    pub budget: f64,
    pub items: Vec<ReferenceItem>,
    pub listings: Vec<ReferenceListing>,
    pub sellers: Vec<ReferenceSeller>,
    #[serde(default)]
    pub criteria: ReferenceCriteria,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReferenceItem {
    pub release_id: u64,
    pub score: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReferenceListing {
    pub listing_id: u64,
    pub release_id: u64,
    pub seller: String,
    pub price: f64,
    pub condition: Option<ReferenceGrade>,
    pub seller_rating: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReferenceSeller {
    pub name: String,
    #[serde(default)]
    pub shipping_first: f64,
    #[serde(default)]
    pub shipping_additional: f64,
    pub country: Option<String>,
    /// The least item subtotal the seller accepts, in major units. An extension: the
    /// script itself has no minimum orders.
    #[serde(default)]
    pub min_order: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReferenceCriteria {
    pub min_condition: Option<ReferenceGrade>,
    pub min_seller_rating: Option<f64>,
    pub min_quantity: Option<u32>,
    pub max_per_release: Option<u32>,
    pub countries: Option<Vec<String>>,
    pub max_sellers: Option<u32>,
}

/// A grade as the script accepts it: a Discogs name or code, or a number 1 (P) to 8 (M),
/// where 0 or "any" means no minimum.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ReferenceGrade {
    Rank(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error("unknown condition {0:?}")]
    UnknownCondition(String),
    #[error("listing {0} has no condition")]
    MissingCondition(u64),
    #[error("max_per_release {0} is not supported; carts hold at most one listing per release")]
    MaxPerRelease(u32),
    #[error("seller {0} has listings with different ratings")]
    InconsistentRating(String),
    #[error("amount {0} is not a valid price")]
    Amount(f64),
}

/// The script's `cents`: round half to even on the cent.
fn money(amount: f64) -> Result<Money, ReferenceError> {
    let cents = (amount * 100.0).round_ties_even();
    if !cents.is_finite() || cents.abs() > 9.0e15 {
        return Err(ReferenceError::Amount(amount));
    }
    Ok(Money::new(cents as i64, CURRENCY))
}

/// None for "no minimum".
fn grade(grade: &ReferenceGrade) -> Result<Option<MediaCondition>, ReferenceError> {
    match grade {
        ReferenceGrade::Rank(rank) => {
            let rank = *rank as i64;
            if rank <= 0 {
                return Ok(None);
            }
            MediaCondition::ALL
                .iter()
                .find(|g| i64::from(g.rank()) == rank)
                .map(|g| Some(*g))
                .ok_or_else(|| ReferenceError::UnknownCondition(rank.to_string()))
        }
        ReferenceGrade::Text(text) if text.trim().eq_ignore_ascii_case("any") => Ok(None),
        ReferenceGrade::Text(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ReferenceError::UnknownCondition(text.clone())),
    }
}

impl ReferenceInstance {
    /// The instance, the criteria it states (with `carts_per_seller` set to `k`) and
    /// options computing both per-seller objectives.
    pub fn to_problem(&self, k: u32) -> Result<(Instance, CartCriteria, Options), ReferenceError> {
        let criteria = self.criteria(k)?;
        let candidates = self
            .items
            .iter()
            .map(|item| Candidate {
                release: ReleaseId(item.release_id),
                master: None,
                score: item.score,
                origin: Origin::Recommendation,
            })
            .collect();

        let mut ratings: BTreeMap<&str, f64> = BTreeMap::new();
        let mut listings = Vec::with_capacity(self.listings.len());
        for l in &self.listings {
            let condition = l
                .condition
                .as_ref()
                .ok_or(ReferenceError::MissingCondition(l.listing_id))?;
            // A listing graded 0 ("any") is below every minimum, as in the script.
            let media = grade(condition)?.unwrap_or(MediaCondition::Poor);
            let rating = l.seller_rating.unwrap_or(0.0);
            if let Some(previous) = ratings.insert(&l.seller, rating)
                && previous != rating
            {
                return Err(ReferenceError::InconsistentRating(l.seller.clone()));
            }
            listings.push(Listing {
                id: ListingId(l.listing_id),
                release: ReleaseId(l.release_id),
                seller: SellerName::new(l.seller.clone()),
                price: money(l.price)?,
                converted: None,
                media,
                sleeve: None,
                available: true,
            });
        }
        let mut sellers = Vec::with_capacity(self.sellers.len());
        for s in &self.sellers {
            sellers.push(Seller {
                name: SellerName::new(s.name.clone()),
                rating: ratings
                    .get(s.name.as_str())
                    .map(|&percent| SellerRating { percent, count: 1 }),
                ships_from: s.country.as_deref().map(Country::new),
                shipping: Some(ShippingPolicy::new(
                    money(s.shipping_first)?,
                    money(s.shipping_additional)?,
                )),
                min_order_total: s.min_order.filter(|&m| m > 0.0).map(money).transpose()?,
            });
        }
        let options = Options {
            per_seller_objectives: PerSellerObjectives::Both,
            ..Options::default()
        };
        Ok((
            Instance {
                candidates,
                listings,
                sellers,
            },
            criteria,
            options,
        ))
    }

    fn criteria(&self, k: u32) -> Result<CartCriteria, ReferenceError> {
        let c = &self.criteria;
        if let Some(n) = c.max_per_release.filter(|&n| n > 1) {
            return Err(ReferenceError::MaxPerRelease(n));
        }
        let mut criteria = CartCriteria::with_budget(money(self.budget)?);
        criteria.min_media_condition = c.min_condition.as_ref().map(grade).transpose()?.flatten();
        criteria.min_seller_rating = c.min_seller_rating.filter(|&r| r > 0.0);
        // The script's 0 means "no minimum"; an empty cart is never reported here.
        criteria.min_items = c.min_quantity.unwrap_or(0).max(1);
        criteria.ships_from = c
            .countries
            .iter()
            .flatten()
            .map(|name| Country::new(name))
            .collect();
        criteria.max_sellers = c.max_sellers.filter(|&n| n > 0);
        criteria.carts_per_seller = k;
        Ok(criteria)
    }
}
