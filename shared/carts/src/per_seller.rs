//! The K best carts from one seller alone: the original cart builder's question, answered
//! exactly and with shipping.
//!
//! "Distinct carts" means distinct sets of releases. A seller offers each release at its
//! cheapest eligible copy (see [`crate::Rejection::CheaperCopyAtSeller`]), so a set of
//! releases is one cart.

use cratedigger_domain::SellerName;

use crate::knapsack::{Choice, CountRule, Entry, LocalSeller, Problem, Ranked, Search, TopK};
use crate::model::value::item_value;
use crate::{Cart, CartError, Market, Objective};

impl Market<'_> {
    /// The `criteria.carts_per_seller` best carts from `seller` alone, best first. Under a
    /// time budget they may be only the best met in time; [`crate::optimise`] says when
    /// ([`crate::SellerCarts::cut_short`]).
    pub fn top_k_for_seller(
        &self,
        seller: &SellerName,
        objective: Objective,
    ) -> Result<Vec<Cart>, CartError> {
        let index = self
            .seller_index(seller)
            .ok_or_else(|| CartError::UnknownSeller(seller.clone()))?;
        let k = self.criteria.carts_per_seller as usize;
        Ok(self
            .seller_top_k(index, objective, k)
            .0
            .iter()
            .map(|entry| self.cart(entry, crate::cart::Context::Seller(index)))
            .collect())
    }

    /// The seller's K best carts, and whether the search finished (false: the time
    /// budget stopped it, and these are the best it met).
    pub(crate) fn seller_top_k(
        &self,
        seller: usize,
        objective: Objective,
        k: usize,
    ) -> (Vec<Entry>, bool) {
        let problem = self.seller_problem(seller);
        let fewest = self.min_items.max(1);
        match objective {
            Objective::TotalScore => {
                let mut top = TopK::new(k, Ranked::TotalScore, self.budget);
                let finished = Search::new(problem, fewest)
                    .with_deadline(&self.deadline)
                    .run(CountRule::AtLeast(fewest), &mut top);
                (top.into_entries(), finished)
            }
            Objective::OriginalWeight => {
                let most = problem.most_items();
                if most < fewest {
                    return (Vec::new(), true);
                }
                let search = Search::new(problem, most).with_deadline(&self.deadline);
                let mut top = TopK::new(k, Ranked::OriginalWeight, self.budget);
                let mut finished = true;
                // Large carts usually weigh most: searching them first sets a high bar early.
                for items in (fewest..=most).rev() {
                    top.searching_items(items);
                    if !search.run(CountRule::Exactly(items), &mut top) {
                        // Out of time, and either a cart is held or the allowance for
                        // finding one is spent: smaller counts would not get further.
                        finished = false;
                        break;
                    }
                }
                (top.into_entries(), finished)
            }
        }
    }

    fn seller_problem(&self, seller: usize) -> Problem {
        let terms = &self.sellers[seller];
        let offers = &self.offers[self.seller_offers[seller].clone()];
        let start = self.seller_offers[seller].start;
        let mut groups: Vec<Vec<Choice>> = Vec::new();
        let mut last_group = None;
        for (i, offer) in offers.iter().enumerate() {
            if last_group != Some(offer.group) {
                groups.push(Vec::new());
                last_group = Some(offer.group);
            }
            let choice = self.choice(start + i, 0);
            if let Some(group) = groups.last_mut() {
                group.push(choice);
            }
        }
        Problem {
            budget: self.budget,
            sellers: vec![LocalSeller {
                fixed: terms.fixed_charge(),
                min_order: terms.min_order,
                required: true,
            }],
            groups,
        }
    }

    /// Offer `index` as a knapsack choice of the search's seller number `local_seller`.
    pub(crate) fn choice(&self, index: usize, local_seller: usize) -> Choice {
        let offer = &self.offers[index];
        let cost = self.unit_cost(offer);
        Choice {
            offer: index as u32,
            listing_id: offer.listing_id,
            seller: local_seller,
            price: offer.price,
            cost,
            score: offer.score,
            value: item_value(offer.score, cost, self.budget),
        }
    }
}
