//! Gathers every search into one [`CartPlan`].

use crate::cart::Context;
use crate::{CartPlan, EmptyReason, Market, Objective, Scenario, SellerCarts};

impl Market<'_> {
    /// Every scenario, then per-seller top-K lists for the objectives the options ask
    /// for: under a time budget the carts across sellers, the main answer, come first.
    pub fn plan(&self) -> CartPlan {
        let (entries, scenarios_cut) = self.scenario_entries();
        let scenarios: Vec<Scenario> = entries
            .into_iter()
            .map(|(cap, entry, optimality)| Scenario {
                max_sellers: cap.map(|c| c as u32),
                cart: entry.map(|e| self.cart(&e, Context::Scenario { max_sellers: cap })),
                optimality,
            })
            .collect();
        let k = self.criteria.carts_per_seller as usize;
        let wanted = self.options.per_seller_objectives;
        let mut cut = false;
        let mut carts_for = |seller: usize, objective: Objective| -> (Vec<crate::Cart>, bool) {
            if !wanted.includes(objective) {
                return (Vec::new(), true);
            }
            let (entries, finished) = self.seller_top_k(seller, objective, k);
            cut |= !finished;
            let carts = entries
                .iter()
                .map(|entry| self.cart(entry, Context::Seller(seller)))
                .collect();
            (carts, finished)
        };
        let per_seller: Vec<SellerCarts> = (0..self.sellers.len())
            .map(|s| {
                let (by_total_score, total_done) = carts_for(s, Objective::TotalScore);
                let (by_original_weight, weight_done) = carts_for(s, Objective::OriginalWeight);
                SellerCarts {
                    seller: self.sellers[s].name.clone(),
                    by_total_score,
                    by_original_weight,
                    cut_short: !(total_done && weight_done),
                }
            })
            .collect();
        let timed_out = cut || scenarios_cut;
        let empty = scenarios
            .iter()
            .all(|s| s.cart.is_none())
            .then(|| self.why_empty(timed_out));
        CartPlan {
            per_seller,
            scenarios,
            eligible_listings: self.eligible_listings as u32,
            rejections: self.rejections.clone(),
            empty,
            timed_out,
        }
    }

    /// Called only when no scenario has a cart.
    fn why_empty(&self, timed_out: bool) -> EmptyReason {
        if self.instance.candidates.is_empty() {
            return EmptyReason::NoCandidates;
        }
        if self.offers.is_empty() {
            return EmptyReason::NoEligibleListings;
        }
        if timed_out {
            // The searches stopped before they could tell: asking again would not either.
            return EmptyReason::TimedOut;
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
