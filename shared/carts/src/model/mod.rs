//! The searchable form of an instance: every usable offer priced in the buyer's currency,
//! with integer scores, grouped by seller and by "one of these at most" group.

mod eligibility;
mod rejection;
pub(crate) mod value;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use cratedigger_domain::{CartCriteria, Currency, ListingId, MasterId, ReleaseId, SellerName};

pub(crate) use eligibility::SellerTerms;
pub use rejection::{Rejection, Rejections};

use crate::knapsack::Deadline;
use crate::{CartError, InputError, Instance, Options, UnknownShipping};
use value::{MAX_BUDGET_MINOR, MAX_SCORE, scaled_score};

/// A seller's cheapest eligible copy of a release: the only copy carts consider.
#[derive(Clone, Debug)]
pub(crate) struct Offer {
    /// Index into `Instance::listings`.
    pub listing: usize,
    pub listing_id: ListingId,
    pub release: ReleaseId,
    pub seller: usize,
    /// At most one offer per group goes into a cart: a group is a release, or a master
    /// when the buyer takes any pressing.
    pub group: usize,
    /// In the buyer's currency.
    pub price: i64,
    pub score: i64,
}

/// An instance checked against the criteria and options, ready to be searched. Build it
/// once with [`Market::prepare`] and ask it for as many carts as needed.
pub struct Market<'a> {
    pub(crate) instance: &'a Instance,
    pub(crate) criteria: CartCriteria,
    pub(crate) options: Options,
    pub(crate) budget: i64,
    pub(crate) currency: Currency,
    pub(crate) min_items: usize,
    /// Sellers with at least one offer, by name.
    pub(crate) sellers: Vec<SellerTerms>,
    /// Sorted by seller, then group, then release.
    pub(crate) offers: Vec<Offer>,
    pub(crate) seller_offers: Vec<Range<usize>>,
    pub(crate) group_count: usize,
    pub(crate) rejections: Rejections,
    /// Release -> index into `Instance::candidates`.
    candidate_index: HashMap<ReleaseId, usize>,
    pub(crate) eligible_listings: usize,
    /// When the searches must stop ([`Options::time_budget_ms`] from preparation).
    pub(crate) deadline: Deadline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum GroupKey {
    Master(MasterId),
    Release(ReleaseId),
}

impl<'a> Market<'a> {
    pub fn prepare(
        instance: &'a Instance,
        criteria: &CartCriteria,
        options: &Options,
    ) -> Result<Self, CartError> {
        let deadline =
            Deadline::after(options.time_budget_ms.map(std::time::Duration::from_millis));
        criteria.validate()?;
        let budget = criteria.budget.minor;
        if budget > MAX_BUDGET_MINOR {
            return Err(InputError::BudgetTooLarge {
                minor: budget,
                max: MAX_BUDGET_MINOR,
            }
            .into());
        }
        let currency = criteria.budget.currency;
        validate_options(options, currency)?;

        let mut candidates: HashMap<ReleaseId, (i64, GroupKey)> = HashMap::new();
        let mut candidate_index = HashMap::new();
        for (index, candidate) in instance.candidates.iter().enumerate() {
            candidate_index.insert(candidate.release, index);
            let score = candidate.score;
            if !(score.is_finite() && (0.0..=MAX_SCORE).contains(&score)) {
                let release = candidate.release;
                return Err(InputError::BadScore {
                    release,
                    score,
                    max: MAX_SCORE,
                }
                .into());
            }
            let group = match candidate.master {
                Some(master) if criteria.any_pressing => GroupKey::Master(master),
                _ => GroupKey::Release(candidate.release),
            };
            if candidates
                .insert(candidate.release, (scaled_score(score), group))
                .is_some()
            {
                return Err(InputError::DuplicateCandidate(candidate.release).into());
            }
        }
        let releases: HashSet<ReleaseId> = candidates.keys().copied().collect();

        let mut rejections = Rejections::new();
        let eligible = eligibility::filter(
            instance,
            criteria,
            options.unknown_shipping,
            &releases,
            &mut rejections,
        )?;
        let eligible_listings = eligible.listings.len();

        // The cheapest copy per (seller, release), ties to the lower listing id.
        let mut listings = eligible.listings;
        listings.sort_by_key(|l| {
            let listing = &instance.listings[l.listing];
            (l.seller, listing.release, l.price, listing.id)
        });
        let mut kept = Vec::with_capacity(listings.len());
        for l in listings {
            let release = instance.listings[l.listing].release;
            let same_as_last = kept
                .last()
                .is_some_and(|last: &eligibility::EligibleListing| {
                    last.seller == l.seller && instance.listings[last.listing].release == release
                });
            if same_as_last {
                rejection::count(&mut rejections, Rejection::CheaperCopyAtSeller);
            } else {
                kept.push(l);
            }
        }

        let group_index: BTreeMap<GroupKey, usize> = {
            let used: BTreeMap<GroupKey, ()> = kept
                .iter()
                .filter_map(|l| candidates.get(&instance.listings[l.listing].release))
                .map(|(_, group)| (*group, ()))
                .collect();
            used.into_keys()
                .enumerate()
                .map(|(i, key)| (key, i))
                .collect()
        };

        // Keep only sellers with an offer, renumbered in name order.
        let mut has_offer = vec![false; eligible.sellers.len()];
        for l in &kept {
            has_offer[l.seller] = true;
        }
        let mut renumber = vec![usize::MAX; eligible.sellers.len()];
        let mut sellers = Vec::new();
        for (old, terms) in eligible.sellers.into_iter().enumerate() {
            if has_offer[old] {
                renumber[old] = sellers.len();
                sellers.push(terms);
            }
        }

        let mut offers: Vec<Offer> = kept
            .iter()
            .filter_map(|l| {
                let listing = &instance.listings[l.listing];
                let (score, key) = candidates.get(&listing.release)?;
                Some(Offer {
                    listing: l.listing,
                    listing_id: listing.id,
                    release: listing.release,
                    seller: renumber[l.seller],
                    group: *group_index.get(key)?,
                    price: l.price,
                    score: *score,
                })
            })
            .collect();
        offers.sort_by_key(|o| (o.seller, o.group, o.release));
        let mut seller_offers = vec![0..0; sellers.len()];
        let mut start = 0;
        while start < offers.len() {
            let seller = offers[start].seller;
            let end = start
                + offers[start..]
                    .iter()
                    .take_while(|o| o.seller == seller)
                    .count();
            seller_offers[seller] = start..end;
            start = end;
        }

        Ok(Self {
            instance,
            criteria: criteria.clone(),
            options: options.clone(),
            budget,
            currency,
            min_items: criteria.min_items as usize,
            sellers,
            offers,
            seller_offers,
            group_count: group_index.len(),
            rejections,
            candidate_index,
            eligible_listings,
            deadline,
        })
    }

    pub(crate) fn shallow_copy(&self) -> Self {
        Self {
            instance: self.instance,
            criteria: self.criteria.clone(),
            options: self.options.clone(),
            budget: self.budget,
            currency: self.currency,
            min_items: self.min_items,
            sellers: self.sellers.clone(),
            offers: self.offers.clone(),
            seller_offers: self.seller_offers.clone(),
            group_count: self.group_count,
            rejections: self.rejections.clone(),
            candidate_index: self.candidate_index.clone(),
            eligible_listings: self.eligible_listings,
            deadline: self.deadline.clone(),
        }
    }

    /// Listings left out, per reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    /// Listings that met every criterion (before keeping only each seller's cheapest copy).
    pub fn eligible_listings(&self) -> usize {
        self.eligible_listings
    }

    /// Sellers with at least one usable offer, by name.
    pub fn sellers(&self) -> impl Iterator<Item = &SellerName> {
        self.sellers.iter().map(|s| &s.name)
    }

    pub(crate) fn candidate(&self, release: ReleaseId) -> Option<&crate::Candidate> {
        self.candidate_index
            .get(&release)
            .map(|&i| &self.instance.candidates[i])
    }

    pub(crate) fn seller_index(&self, name: &SellerName) -> Option<usize> {
        self.sellers.binary_search_by(|s| s.name.cmp(name)).ok()
    }

    /// An offer's cost per item: its price plus its seller's additional-item shipping.
    pub(crate) fn unit_cost(&self, offer: &Offer) -> i64 {
        offer.price + self.sellers[offer.seller].additional
    }
}

fn validate_options(options: &Options, currency: Currency) -> Result<(), CartError> {
    if let UnknownShipping::Assume(policy) = options.unknown_shipping {
        if policy.first_item.currency != currency || policy.additional_item.currency != currency {
            return Err(CartError::Options(format!(
                "assumed shipping must be in the budget's currency {currency}"
            )));
        }
        if !eligibility::policy_is_priceable(&policy) {
            return Err(CartError::Options(
                "assumed shipping must not be negative nor charge more per additional item than for the first"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}
