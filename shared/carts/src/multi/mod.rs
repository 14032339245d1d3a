//! The best cart across sellers, with shipping, for a cap on the number of sellers.
//!
//! Exact: a Lagrangian bound ([`lagrangian`]; where its steps stall, the linear
//! relaxation's duals, [`linear`]) ranks and prunes seller sets, and every set that could
//! still win is solved exactly as a knapsack ([`seller_search`]). Scenarios
//! are solved from the smallest cap up, each seeded with the previous answer (a cart
//! allowed under a smaller cap is allowed under a larger one) and the previous
//! multipliers.

mod lagrangian;
mod linear;
mod seller_search;

use crate::cart::Context;
use crate::knapsack::Entry;
use crate::{Cart, Market, Optimality, Scenario};
use lagrangian::Relaxation;
use seller_search::SellerSearch;

/// The seller caps every plan reports, before the criteria's own cap applies.
pub const SCENARIO_CAPS: [Option<u32>; 4] = [Some(1), Some(2), Some(3), None];

impl Market<'_> {
    /// The best cart from at most `max_sellers` sellers (None: any number), further capped
    /// by the criteria's `max_sellers`; None when no cart is feasible.
    pub fn best_multi_seller(&self, max_sellers: Option<u32>) -> Option<Cart> {
        let cap = self.effective_cap(max_sellers);
        let entry = self.seeded_entry(&Relaxation::new(self), cap).entry?;
        Some(self.cart(&entry, Context::Scenario { max_sellers: cap }))
    }

    /// The scenario of at most `max_sellers` sellers (further capped by the criteria's),
    /// searched alone: its best cart and what is proven about it.
    pub fn best_scenario(&self, max_sellers: Option<u32>) -> Scenario {
        let cap = self.effective_cap(max_sellers);
        let found = self.seeded_entry(&Relaxation::new(self), cap);
        Scenario {
            max_sellers: cap.map(|c| c as u32),
            cart: found
                .entry
                .map(|e| self.cart(&e, Context::Scenario { max_sellers: cap })),
            optimality: found.optimality,
        }
    }

    /// Whether the plan's time budget has run out.
    pub fn out_of_time(&self) -> bool {
        self.deadline.passed()
    }

    /// The scenario caps after the criteria's cap, without repeats, smallest first.
    pub(crate) fn scenario_caps(&self) -> Vec<Option<usize>> {
        let mut caps: Vec<Option<usize>> = Vec::new();
        for cap in SCENARIO_CAPS {
            let cap = self.effective_cap(cap);
            if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
        caps
    }

    /// Each scenario's cap, best cart and proof, and whether the time budget cut any
    /// scenario's search short.
    pub(crate) fn scenario_entries(&self) -> (Vec<ScenarioEntry>, bool) {
        let relaxation = Relaxation::new(self);
        let mut seed = None;
        let mut warm = None;
        let mut answers: Vec<ScenarioEntry> = Vec::new();
        let mut timed_out = false;
        let mut searched = None;
        for cap in self.scenario_caps() {
            // A cap at or above the number of sellers is the same search as the one before
            // it that was too.
            let sellers = self.sellers_under(cap);
            if let Some((_, entry, optimality)) = answers.last()
                && searched == Some(sellers)
            {
                answers.push((cap, entry.clone(), *optimality));
                continue;
            }
            let found = self.multi_seller_entry(&relaxation, cap, seed, warm);
            seed = found.entry.clone();
            warm = found.multipliers;
            timed_out |= found.timed_out;
            searched = Some(sellers);
            answers.push((cap, found.entry, found.optimality));
        }
        (answers, timed_out)
    }

    /// How many sellers a cart under `cap` may use, at most the sellers there are.
    fn sellers_under(&self, cap: Option<usize>) -> usize {
        cap.unwrap_or(self.sellers.len()).min(self.sellers.len())
    }

    fn effective_cap(&self, max_sellers: Option<u32>) -> Option<usize> {
        match (max_sellers, self.criteria.max_sellers) {
            (Some(a), Some(b)) => Some(a.min(b) as usize),
            (Some(a), None) | (None, Some(a)) => Some(a as usize),
            (None, None) => None,
        }
    }

    /// The scenario of `cap`, searched from the best single-seller cart (as the plan's
    /// scenarios are, each from the one before): a cart always exists early, even where
    /// sellers' minimum orders make carts across sellers hard to meet.
    fn seeded_entry(&self, relaxation: &Relaxation, cap: Option<usize>) -> Found {
        if cap == Some(1) || self.sellers_under(cap) == 1 {
            return self.multi_seller_entry(relaxation, cap, None, None);
        }
        let single = self.multi_seller_entry(relaxation, Some(1), None, None);
        // Only the cart: multipliers tuned for one seller are a poor start for many.
        let mut found = self.multi_seller_entry(relaxation, cap, single.entry, None);
        found.timed_out |= single.timed_out;
        found
    }

    fn multi_seller_entry(
        &self,
        relaxation: &Relaxation,
        cap: Option<usize>,
        seed: Option<Entry>,
        warm: Option<lagrangian::Multipliers>,
    ) -> Found {
        if self.offers.is_empty() {
            return Found {
                entry: None,
                multipliers: warm,
                optimality: Optimality::Proven,
                timed_out: false,
            };
        }
        let max_sellers = self.sellers_under(cap);
        let (entry, multipliers, optimality, timed_out) =
            SellerSearch::new(self, max_sellers, seed).run(relaxation, warm);
        Found {
            entry,
            multipliers: Some(multipliers),
            optimality,
            timed_out,
        }
    }
}

/// A scenario's cap, its best cart, and what is proven about it.
pub(crate) type ScenarioEntry = (Option<usize>, Option<Entry>, Optimality);

/// One scenario's answer.
struct Found {
    entry: Option<Entry>,
    multipliers: Option<lagrangian::Multipliers>,
    optimality: Optimality,
    timed_out: bool,
}
