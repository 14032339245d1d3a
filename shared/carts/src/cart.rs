//! What the optimiser answers: carts with every figure a buyer needs, and the plan that
//! gathers the per-seller lists and the scenario carts.

use std::collections::BTreeMap;
use std::fmt;

use cratedigger_domain::{
    ListingId, MasterId, MediaCondition, Money, ReleaseId, SellerName, SleeveCondition,
};
use serde::{Deserialize, Serialize};

use crate::knapsack::Entry;
use crate::model::value::score_as_f64;
use crate::{Market, Origin, Rejections};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cart {
    /// By listing id.
    pub lines: Vec<CartLine>,
    /// One order per seller, by seller name.
    pub orders: Vec<SellerOrder>,
    pub items_total: Money,
    pub shipping_total: Money,
    pub total: Money,
    /// Sum of the lines' scores.
    pub score: f64,
    /// The original cart builder's weight: item count times `score`.
    pub weight: f64,
    pub item_count: u32,
    pub seller_count: u32,
    /// True when some order's shipping is an assumption (see [`crate::UnknownShipping`]).
    pub shipping_assumed: bool,
    /// Criteria at their limit in this cart; see [`Binding`].
    pub bound_by: Vec<Binding>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub listing: ListingId,
    pub release: ReleaseId,
    pub master: Option<MasterId>,
    pub seller: SellerName,
    /// In the buyer's currency.
    pub price: Money,
    /// As the seller asks it, when that is another currency.
    pub asking_price: Option<Money>,
    pub media: MediaCondition,
    pub sleeve: Option<SleeveCondition>,
    pub score: f64,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerOrder {
    pub seller: SellerName,
    pub items: u32,
    pub subtotal: Money,
    pub shipping: Money,
    pub shipping_assumed: bool,
}

/// A criterion at its limit: relaxing it is what could make the cart better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// No eligible listing left out of the cart fits in what remains of the budget, with
    /// the shipping it would add.
    Budget,
    /// The cart holds exactly the minimum number of items (reported when that minimum is
    /// above one).
    MinItems,
    /// The cart uses as many sellers as its scenario allows.
    MaxSellers,
    /// Some seller's minimum order would fail if any one of its items were removed.
    MinOrderTotal,
}

/// Everything one optimisation found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartPlan {
    /// Every seller with a usable offer, by name (a seller may have no cart).
    pub per_seller: Vec<SellerCarts>,
    /// Best carts across sellers for each seller cap, smallest cap first.
    pub scenarios: Vec<Scenario>,
    pub eligible_listings: u32,
    pub rejections: Rejections,
    /// Set when the plan holds no cart at all.
    pub empty: Option<EmptyReason>,
    /// The time budget ([`crate::Options::time_budget_ms`]) stopped a search: the
    /// scenarios' optimality and the sellers' `cut_short` say which answers are the best
    /// found rather than proven.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SellerCarts {
    pub seller: SellerName,
    /// Best first; empty when not asked for or nothing fits.
    pub by_total_score: Vec<Cart>,
    pub by_original_weight: Vec<Cart>,
    /// The time budget stopped this seller's search: these are the best carts it met.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// None: any number of sellers.
    pub max_sellers: Option<u32>,
    pub cart: Option<Cart>,
    /// How far the cart is proven best.
    #[serde(default)]
    pub optimality: Optimality,
}

/// What the search proved about a scenario's cart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "proof")]
pub enum Optimality {
    /// No cart within the criteria scores higher, nor costs less at the same score (or
    /// no cart exists).
    #[default]
    Proven,
    /// No cart scores higher; the search stopped at its limit of seller sets or its time
    /// budget, so one with the same score may cost less.
    ScoreProven,
    /// The search stopped at its limit of seller sets or its time budget: no cart scores
    /// above `score_bound`, and this is the best it found.
    BestFound { score_bound: f64 },
}

/// Why a plan holds no cart. The plan's rejection counts say which criteria removed the
/// listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyReason {
    NoCandidates,
    NoEligibleListings,
    /// Eligible listings exist, but no `min_items` of them fit the budget together.
    TooFewItemsWithinBudget,
    /// As above, once sellers' minimum order totals are respected.
    SellerMinimumsUnmet,
    /// The time budget ran out before any search met a cart; one may exist.
    TimedOut,
}

impl fmt::Display for EmptyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoCandidates => "there are no candidate releases",
            Self::NoEligibleListings => "no listing meets the criteria",
            Self::TooFewItemsWithinBudget => {
                "not enough eligible listings fit the budget together to reach the minimum cart size"
            }
            Self::SellerMinimumsUnmet => {
                "no cart within the budget reaches the minimum cart size and the sellers' minimum orders"
            }
            Self::TimedOut => {
                "the optimiser's time budget ran out before it met a cart that meets the criteria; one may exist"
            }
        })
    }
}

/// Where a cart came from, which decides what "the budget binds" looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Context {
    Seller(usize),
    Scenario { max_sellers: Option<usize> },
}

impl Market<'_> {
    pub(crate) fn cart(&self, entry: &Entry, context: Context) -> Cart {
        let mut offers: Vec<usize> = entry.offers.iter().map(|&o| o as usize).collect();
        offers.sort_by_key(|&o| self.offers[o].listing_id);
        let mut per_seller: BTreeMap<usize, (u32, i64)> = BTreeMap::new();
        let mut lines = Vec::with_capacity(offers.len());
        let mut score_units = 0;
        for &o in &offers {
            let offer = &self.offers[o];
            let listing = &self.instance.listings[offer.listing];
            let (items, subtotal) = per_seller.entry(offer.seller).or_insert((0, 0));
            *items += 1;
            *subtotal += offer.price;
            score_units += offer.score;
            let candidate = self.candidate(offer.release);
            lines.push(CartLine {
                listing: offer.listing_id,
                release: offer.release,
                master: candidate.and_then(|c| c.master),
                seller: listing.seller.clone(),
                price: Money::new(offer.price, self.currency),
                asking_price: (listing.price.currency != self.currency).then_some(listing.price),
                media: listing.media,
                sleeve: listing.sleeve,
                score: score_as_f64(offer.score),
                origin: candidate.map_or(Origin::Recommendation, |c| c.origin),
            });
        }
        let orders: Vec<SellerOrder> = per_seller
            .iter()
            .map(|(&s, &(items, subtotal))| {
                let terms = &self.sellers[s];
                SellerOrder {
                    seller: terms.name.clone(),
                    items,
                    subtotal: Money::new(subtotal, self.currency),
                    shipping: Money::new(terms.shipping(items as usize), self.currency),
                    shipping_assumed: terms.shipping_assumed,
                }
            })
            .collect();
        let items_total: i64 = orders.iter().map(|o| o.subtotal.minor).sum();
        let shipping_total: i64 = orders.iter().map(|o| o.shipping.minor).sum();
        let total = items_total + shipping_total;
        debug_assert_eq!(total, entry.cost);
        let bound_by = self.bindings(&offers, &per_seller, total, context);
        let item_count = lines.len() as u32;
        let score = score_as_f64(score_units);
        Cart {
            lines,
            shipping_assumed: orders.iter().any(|o| o.shipping_assumed),
            seller_count: orders.len() as u32,
            orders,
            items_total: Money::new(items_total, self.currency),
            shipping_total: Money::new(shipping_total, self.currency),
            total: Money::new(total, self.currency),
            score,
            weight: score_as_f64(i64::from(item_count) * score_units),
            item_count,
            bound_by,
        }
    }

    fn bindings(
        &self,
        offers: &[usize],
        per_seller: &BTreeMap<usize, (u32, i64)>,
        total: i64,
        context: Context,
    ) -> Vec<Binding> {
        let mut bound_by = Vec::new();
        let left = self.budget - total;
        let taken: std::collections::HashSet<usize> =
            offers.iter().map(|&o| self.offers[o].group).collect();
        let may_add_seller = match context {
            Context::Seller(_) => false,
            Context::Scenario { max_sellers } => max_sellers.is_none_or(|m| per_seller.len() < m),
        };
        let range = match context {
            Context::Seller(s) => self.seller_offers[s].clone(),
            Context::Scenario { .. } => 0..self.offers.len(),
        };
        let fits = self.offers[range].iter().any(|offer| {
            let added = if per_seller.contains_key(&offer.seller) {
                self.unit_cost(offer)
            } else if may_add_seller {
                offer.price + self.sellers[offer.seller].first
            } else {
                return false;
            };
            !taken.contains(&offer.group) && added <= left
        });
        if !fits {
            bound_by.push(Binding::Budget);
        }
        if self.min_items > 1 && offers.len() == self.min_items {
            bound_by.push(Binding::MinItems);
        }
        if let Context::Scenario {
            max_sellers: Some(m),
        } = context
            && per_seller.len() >= m
        {
            bound_by.push(Binding::MaxSellers);
        }
        let minimum_tight = per_seller.iter().any(|(&s, &(_, subtotal))| {
            let min_order = self.sellers[s].min_order;
            let cheapest_line = offers
                .iter()
                .map(|&o| &self.offers[o])
                .filter(|o| o.seller == s)
                .map(|o| o.price)
                .min()
                .unwrap_or(0);
            min_order > 0 && subtotal - cheapest_line < min_order
        });
        if minimum_tight {
            bound_by.push(Binding::MinOrderTotal);
        }
        bound_by
    }
}
