//! The optimiser's instance from catalog rows: every price in the buyer's currency, with
//! the asking price and the rate kept beside it.

use std::collections::{BTreeMap, BTreeSet};

use cratedigger_carts::{
    Candidate, ConvertedPrice, Instance, Listing, Options, Origin, PerSellerObjectives, Seller,
    SellerRating, ShippingPolicy, UnknownShipping,
};
use cratedigger_catalog::{self as catalog, Converted, FxTable};
use cratedigger_domain::{CandidateOrigin, CandidateSet, Currency, FxNote, Money};

use crate::CartsSettings;

/// What building the instance had to assume or leave out, for the buyer to know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pricing {
    /// The rates used, one per currency converted from.
    pub fx: Vec<FxNote>,
    /// A built-in indicative rate was used.
    pub built_in_rates: bool,
    /// Sellers whose price for each further item is an estimate from their first-item price.
    pub estimated_additional: u32,
    /// Sellers whose shipping to the buyer is not known.
    pub unknown_shipping: u32,
    /// Listings in a currency with no rate.
    pub no_rate: BTreeSet<Currency>,
    /// Listings without a media grade.
    pub ungraded: u32,
}

/// `amount` in `to`, noting the rate used (or the missing one).
fn convert(
    fx: &FxTable,
    amount: Money,
    to: Currency,
    pricing: &mut Pricing,
    notes: &mut BTreeMap<Currency, FxNote>,
) -> Option<Converted> {
    let Some(c) = fx.convert(amount, to) else {
        pricing.no_rate.insert(amount.currency);
        return None;
    };
    if amount.currency != to {
        pricing.built_in_rates |= c.built_in;
        notes.entry(amount.currency).or_insert_with(|| FxNote {
            currency: amount.currency.as_str().to_owned(),
            // Units of the listing's currency per unit of the buyer's.
            rate: 1.0 / c.rate,
            date: c.date.to_string(),
        });
    }
    Some(c)
}

/// The instance for a job's candidates from the stored listings and sellers.
pub fn build(
    candidates: &CandidateSet,
    listings: &[catalog::Listing],
    sellers: &[catalog::Seller],
    fx: &FxTable,
    currency: Currency,
    settings: &CartsSettings,
) -> (Instance, Options, Pricing) {
    let mut pricing = Pricing::default();
    let mut notes = BTreeMap::new();
    let candidates_out = candidates
        .releases
        .iter()
        .map(|c| Candidate {
            release: c.release_id,
            master: c.master_id,
            score: c.score,
            origin: match c.origin {
                CandidateOrigin::Wantlist => Origin::Wantlist,
                CandidateOrigin::Recommendation => Origin::Recommendation,
            },
        })
        .collect();
    let mut listings_out = Vec::with_capacity(listings.len());
    for l in listings {
        let Some(media) = l.media else {
            pricing.ungraded += 1;
            continue;
        };
        let converted_price = if l.price.currency == currency {
            None
        } else {
            convert(fx, l.price, currency, &mut pricing, &mut notes).map(|c| ConvertedPrice {
                price: c.amount,
                rate: c.rate,
                rate_date: c.date,
            })
        };
        listings_out.push(Listing {
            id: l.id,
            release: l.release_id,
            seller: l.seller.clone(),
            price: l.price,
            converted: converted_price,
            media,
            sleeve: l.sleeve,
            available: l.available,
        });
    }
    let share = settings.additional_item_share.clamp(0.0, 1.0);
    let mut sellers_out = Vec::with_capacity(sellers.len());
    for s in sellers {
        let first = s
            .shipping_first
            .and_then(|m| convert(fx, m, currency, &mut pricing, &mut notes).map(|c| c.amount));
        let shipping = match first {
            None => {
                pricing.unknown_shipping += 1;
                None
            }
            Some(first) => {
                let additional = match s.shipping_additional.and_then(|m| {
                    convert(fx, m, currency, &mut pricing, &mut notes).map(|c| c.amount)
                }) {
                    Some(additional) => additional,
                    None => {
                        if first.minor > 0 {
                            pricing.estimated_additional += 1;
                        }
                        Money::new((first.minor as f64 * share).round() as i64, currency)
                    }
                };
                Some(ShippingPolicy::new(first, additional))
            }
        };
        sellers_out.push(Seller {
            name: s.name.clone(),
            rating: s.rating.map(|percent| SellerRating {
                percent: f64::from(percent),
                count: s.ratings_count.unwrap_or(0),
            }),
            ships_from: s.ships_from.clone(),
            shipping,
            min_order_total: s
                .min_order_total
                .and_then(|m| convert(fx, m, currency, &mut pricing, &mut notes).map(|c| c.amount)),
        });
    }
    pricing.fx = notes.into_values().collect();
    let unknown_shipping = match settings.assume_shipping {
        Some(first) if first.is_finite() && first >= 0.0 => {
            let first = (first * currency.minor_per_major() as f64).round() as i64;
            let additional = (first as f64 * share).round() as i64;
            UnknownShipping::Assume(ShippingPolicy::new(
                Money::new(first, currency),
                Money::new(additional, currency),
            ))
        }
        _ => UnknownShipping::Exclude,
    };
    let options = Options {
        unknown_shipping,
        per_seller_objectives: PerSellerObjectives::Both,
        seller_sets_limit: settings.seller_sets_limit,
        time_budget_ms: (settings.time_budget_ms > 0).then_some(settings.time_budget_ms),
    };
    (
        Instance {
            candidates: candidates_out,
            listings: listings_out,
            sellers: sellers_out,
        },
        options,
        pricing,
    )
}
