//! Which listings may be in a cart, and at what price in the buyer's currency.

use std::collections::{HashMap, HashSet};

use cratedigger_domain::{CartCriteria, Currency, Money, ReleaseId, SellerName};

use super::rejection::{Rejection, Rejections, count};
use crate::{CartError, InputError, Instance, Listing, Seller, ShippingPolicy, UnknownShipping};

/// A seller's terms in the buyer's currency, once its shipping is known or assumed.
#[derive(Clone, Debug)]
pub(crate) struct SellerTerms {
    pub name: SellerName,
    pub first: i64,
    pub additional: i64,
    /// 0 when the seller has no minimum.
    pub min_order: i64,
    pub shipping_assumed: bool,
}

impl SellerTerms {
    /// The part of the shipping charged once per order: `shipping(n) = fixed + additional x n`
    /// for n >= 1. Never negative (policies with additional > first are rejected).
    pub fn fixed_charge(&self) -> i64 {
        self.first - self.additional
    }

    pub fn shipping(&self, items: usize) -> i64 {
        if items == 0 {
            0
        } else {
            self.first + self.additional * (items as i64 - 1)
        }
    }
}

/// A listing that passed every criterion, priced in the buyer's currency.
pub(crate) struct EligibleListing {
    pub listing: usize,
    pub seller: usize,
    pub price: i64,
}

/// The sellers whose terms are usable (index order = name order) and the listings that
/// passed, before the cheapest-copy rule.
pub(crate) struct Eligible {
    pub sellers: Vec<SellerTerms>,
    pub listings: Vec<EligibleListing>,
}

pub(crate) fn filter(
    instance: &Instance,
    criteria: &CartCriteria,
    unknown_shipping: UnknownShipping,
    candidates: &HashSet<ReleaseId>,
    rejections: &mut Rejections,
) -> Result<Eligible, CartError> {
    let currency = criteria.budget.currency;
    let mut by_name: HashMap<&SellerName, &Seller> = HashMap::new();
    for seller in &instance.sellers {
        if by_name.insert(&seller.name, seller).is_some() {
            return Err(InputError::DuplicateSeller(seller.name.clone()).into());
        }
    }
    let mut names: Vec<&SellerName> = by_name.keys().copied().collect();
    names.sort();
    // Each seller is judged once; listings then inherit the verdict.
    let mut verdicts: HashMap<&SellerName, Result<usize, Rejection>> = HashMap::new();
    let mut sellers = Vec::new();
    for name in names {
        let seller = by_name[name];
        let verdict = seller_terms(seller, criteria, unknown_shipping, currency).map(|terms| {
            sellers.push(terms);
            sellers.len() - 1
        });
        verdicts.insert(name, verdict);
    }

    let mut seen = HashSet::new();
    let mut listings = Vec::new();
    for (index, listing) in instance.listings.iter().enumerate() {
        if !seen.insert(listing.id) {
            return Err(InputError::DuplicateListing(listing.id).into());
        }
        match judge_listing(listing, criteria, candidates, &verdicts, &sellers) {
            Ok((seller, price)) => listings.push(EligibleListing {
                listing: index,
                seller,
                price,
            }),
            Err(reason) => count(rejections, reason),
        }
    }
    Ok(Eligible { sellers, listings })
}

fn judge_listing(
    listing: &Listing,
    criteria: &CartCriteria,
    candidates: &HashSet<ReleaseId>,
    verdicts: &HashMap<&SellerName, Result<usize, Rejection>>,
    sellers: &[SellerTerms],
) -> Result<(usize, i64), Rejection> {
    if !candidates.contains(&listing.release) {
        return Err(Rejection::NotACandidate);
    }
    let verdict = verdicts
        .get(&listing.seller)
        .ok_or(Rejection::UnknownSeller)?;
    if !listing.available {
        return Err(Rejection::Unavailable);
    }
    let price = price_in(listing, criteria.budget.currency)?;
    if price <= 0 {
        return Err(Rejection::NonPositivePrice);
    }
    if criteria
        .min_media_condition
        .is_some_and(|min| listing.media < min)
    {
        return Err(Rejection::MediaCondition);
    }
    if let Some(min) = criteria.min_sleeve_condition
        && !listing.sleeve.is_some_and(|sleeve| sleeve.meets(min))
    {
        return Err(Rejection::SleeveCondition);
    }
    let seller = (*verdict)?;
    if criteria.max_item_price.is_some_and(|max| price > max.minor) {
        return Err(Rejection::ItemPrice);
    }
    if price.saturating_add(sellers[seller].first) > criteria.budget.minor {
        return Err(Rejection::OverBudget);
    }
    Ok((seller, price))
}

fn price_in(listing: &Listing, currency: Currency) -> Result<i64, Rejection> {
    if listing.price.currency == currency {
        return Ok(listing.price.minor);
    }
    match &listing.converted {
        Some(converted) if converted.price.currency == currency => Ok(converted.price.minor),
        _ => Err(Rejection::NoPriceInBudgetCurrency),
    }
}

/// The seller's usable terms, or why none of its listings can be used.
fn seller_terms(
    seller: &Seller,
    criteria: &CartCriteria,
    unknown_shipping: UnknownShipping,
    currency: Currency,
) -> Result<SellerTerms, Rejection> {
    let (policy, shipping_assumed) = match (seller.shipping, unknown_shipping) {
        (Some(policy), _) => (policy, false),
        (None, UnknownShipping::Assume(policy)) => (policy, true),
        (None, UnknownShipping::Exclude) => return Err(Rejection::UnknownShipping),
    };
    let in_currency = |money: Money| money.currency == currency;
    if !in_currency(policy.first_item)
        || !in_currency(policy.additional_item)
        || seller.min_order_total.is_some_and(|min| !in_currency(min))
    {
        return Err(Rejection::SellerCurrency);
    }
    if !policy_is_priceable(&policy) {
        return Err(Rejection::ShippingPolicy);
    }
    if let Some(min) = criteria.min_seller_rating
        && !seller.rating.is_some_and(|rating| rating.percent >= min)
    {
        return Err(Rejection::SellerRating);
    }
    if !criteria.allows_country(seller.ships_from.as_ref()) {
        return Err(Rejection::ShipsFrom);
    }
    Ok(SellerTerms {
        name: seller.name.clone(),
        first: policy.first_item.minor,
        additional: policy.additional_item.minor,
        min_order: seller.min_order_total.map_or(0, |min| min.minor.max(0)),
        shipping_assumed,
    })
}

/// Shipping the model can price: nothing negative, and no additional item dearer than the
/// first (the per-order part `first - additional` must not be a discount).
pub(crate) fn policy_is_priceable(policy: &ShippingPolicy) -> bool {
    let first = policy.first_item.minor;
    let additional = policy.additional_item.minor;
    additional >= 0 && first >= additional
}
