//! Exact branch and bound for one cart: pick at most one choice per group from a few
//! sellers whose shipping is already decided, within the budget.
//!
//! Used for every per-seller search (one seller, top K) and for the inner problem of the
//! multi-seller search (a fixed set of sellers, best cart). Sellers' per-order shipping
//! charges are subtracted from the capacity up front; each choice then costs its price
//! plus its seller's additional-item shipping. The search visits every distinct set of
//! choices at most once and prunes with a fractional (Dantzig) bound, so the carts it
//! reports are exactly the best ones.

mod bounds;
mod exact;
mod programme;
mod search;
mod top_k;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cratedigger_domain::ListingId;

pub(crate) use search::Search;
pub(crate) use top_k::{Entry, Ranked, TopK};

/// Past the deadline, how many more nodes the walks of one plan may visit, together,
/// looking for a first cart when they have none.
const GRACE_NODES: u64 = 16 * 1024;

/// When the searches of a plan must stop, if ever, and the nodes they may still spend
/// after it looking for a first cart. Clones share the allowance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    grace: Arc<AtomicU64>,
}

impl Deadline {
    /// `budget` from now; none (or one too far to represent): never.
    pub fn after(budget: Option<Duration>) -> Self {
        Self {
            at: budget.and_then(|b| Instant::now().checked_add(b)),
            grace: Arc::new(AtomicU64::new(GRACE_NODES)),
        }
    }

    /// The time left; None: no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Spends `nodes` of the allowance past the deadline; false once it is used up.
    pub fn spend_grace(&self, nodes: u64) -> bool {
        self.grace
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(nodes)
            })
            .is_ok()
    }

    /// Whether a search that holds `found` carts must stop now: the deadline has passed
    /// and it has a cart, or the allowance for finding one is used up.
    pub fn stop(&self, found: bool) -> bool {
        self.passed() && (found || self.grace.load(Ordering::Relaxed) == 0)
    }
}

/// One way to fill a group: a seller's offer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Choice {
    /// Index into the market's offers.
    pub offer: u32,
    pub listing_id: ListingId,
    /// Index into [`Problem::sellers`].
    pub seller: usize,
    pub price: i64,
    /// Price plus the seller's additional-item shipping.
    pub cost: i64,
    pub score: i64,
    /// `score x (budget + 1) - cost`; see [`crate::model::value`].
    pub value: i128,
}

/// A seller taking part in a search, with what its orders must respect.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalSeller {
    /// Shipping charged once per order: first minus additional.
    pub fixed: i64,
    /// Smallest item subtotal the seller accepts; 0 for none.
    pub min_order: i64,
    /// Every cart the search reports uses this seller (carts without it belong to another
    /// search: the multi-seller search solves each set of sellers on its own).
    pub required: bool,
}

pub(crate) struct Problem {
    pub budget: i64,
    pub sellers: Vec<LocalSeller>,
    /// Each inner vector is one group: at most one of its choices is taken.
    pub groups: Vec<Vec<Choice>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CountRule {
    AtLeast(usize),
    Exactly(usize),
}

/// A feasible cart met by the search.
pub(crate) struct FoundCart<'a> {
    /// Sum of score units.
    pub score: i64,
    /// Items plus the shipping of the sellers actually used.
    pub cost: i64,
    pub chosen: &'a [Choice],
}

/// A cart no other can beat, if one exists: the highest score any cart may have and the
/// least a cart of that score may cost. A walk that meets such a cart has nothing better
/// to find (see [`Search::with_goal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Goal {
    pub score: i64,
    pub cost: i64,
}

impl Goal {
    pub fn met_by(&self, score: i64, cost: i64) -> bool {
        score >= self.score && cost <= self.cost
    }
}

/// What a cart must reach to be admitted: a value above `value`, or equal to it with
/// sorted listing ids before `tie` (`None`: equal is enough).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bar<'a> {
    pub value: i128,
    pub tie: Option<&'a [ListingId]>,
}

/// Receives the carts a search meets and tells it when a branch cannot matter.
pub(crate) trait Collector {
    /// What the next cart must reach; `None`: any cart is admitted.
    fn bar(&self) -> Option<Bar<'_>>;
    fn admit(&mut self, cart: FoundCart<'_>);
    /// Whether it holds any cart yet (perhaps one it was seeded with).
    fn holds_any(&self) -> bool;
    /// Whether it keeps only the cart of the highest value (ties by listing ids), so a
    /// search may hand it that cart alone, however it found it.
    fn keeps_only_the_best(&self) -> bool {
        false
    }
}

/// A one-seller choice whose listing id and offer are `i` and whose price is its cost, for
/// the tests of the search and its bounds.
#[cfg(test)]
pub(crate) fn test_choice(i: usize, score: i64, cost: i64, budget: i64) -> Choice {
    Choice {
        offer: i as u32,
        listing_id: ListingId(i as u64),
        seller: 0,
        price: cost,
        cost,
        score,
        value: crate::model::value::item_value(score, cost, budget),
    }
}
