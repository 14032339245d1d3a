//! Gathers every search into one [`CartPlan`].

use crate::cart::Context;
use crate::{CartPlan, EmptyReason, Market, Objective, Scenario, SellerCarts};

impl Market<'_> {
    /// Per-seller top-K lists for the objectives the options ask for, and every scenario.
    pub fn plan(&self) -> CartPlan {
        let k = self.criteria.carts_per_seller as usize;
        let wanted = self.options.per_seller_objectives;
        let carts_for = |seller: usize, objective: Objective| {
            if !wanted.includes(objective) {
                return Vec::new();
            }
            self.seller_top_k(seller, objective, k)
                .iter()
                .map(|entry| self.cart(entry, Context::Seller(seller)))
                .collect()
        };
        let per_seller: Vec<SellerCarts> = (0..self.sellers.len())
            .map(|s| SellerCarts {
                seller: self.sellers[s].name.clone(),
                by_total_score: carts_for(s, Objective::TotalScore),
                by_original_weight: carts_for(s, Objective::OriginalWeight),
            })
            .collect();
        let scenarios: Vec<Scenario> = self
            .scenario_entries()
            .into_iter()
            .map(|(cap, entry, optimality)| Scenario {
                max_sellers: cap.map(|c| c as u32),
                cart: entry.map(|e| self.cart(&e, Context::Scenario { max_sellers: cap })),
                optimality,
            })
            .collect();
        let empty = scenarios
            .iter()
            .all(|s| s.cart.is_none())
            .then(|| self.why_empty());
        CartPlan {
            per_seller,
            scenarios,
            eligible_listings: self.eligible_listings as u32,
            rejections: self.rejections.clone(),
            empty,
        }
    }

    /// Called only when no scenario has a cart.
    fn why_empty(&self) -> EmptyReason {
        if self.instance.candidates.is_empty() {
            return EmptyReason::NoCandidates;
        }
        if self.offers.is_empty() {
            return EmptyReason::NoEligibleListings;
        }
        if self.sellers.iter().all(|s| s.min_order == 0) {
            return EmptyReason::TooFewItemsWithinBudget;
        }
        // Ask again with the sellers' minimums waived to tell the two causes apart.
        let mut waived = self.shallow_copy();
        for seller in &mut waived.sellers {
            seller.min_order = 0;
        }
        if waived.best_multi_seller(None).is_some() {
            EmptyReason::SellerMinimumsUnmet
        } else {
            EmptyReason::TooFewItemsWithinBudget
        }
    }
}
