//! The K best carts met so far, in the crate's one total order: the objective (higher
//! first), then the cost (lower first), then the sorted listing ids (lexicographically
//! smaller first). Carts are distinct sets of choices, so the order is strict.

use std::cmp::Ordering;

use cratedigger_domain::ListingId;

use super::{Bar, Collector, FoundCart};

/// What "best" means for a list of carts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ranked {
    TotalScore,
    /// Quantity times total score. Searched one exact item count at a time: the collector
    /// must be told the count through [`TopK::searching_items`].
    OriginalWeight,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub score: i64,
    pub cost: i64,
    /// Market offer indices, in the order the search chose them.
    pub offers: Vec<u32>,
    pub ids: Vec<ListingId>,
}

impl Entry {
    fn objective(&self, ranked: Ranked) -> i128 {
        match ranked {
            Ranked::TotalScore => i128::from(self.score),
            Ranked::OriginalWeight => self.offers.len() as i128 * i128::from(self.score),
        }
    }
}

pub(crate) struct TopK {
    k: usize,
    ranked: Ranked,
    budget: i64,
    entries: Vec<Entry>,
    items_searched: Option<usize>,
}

impl TopK {
    pub fn new(k: usize, ranked: Ranked, budget: i64) -> Self {
        Self {
            k: k.max(1),
            ranked,
            budget,
            entries: Vec::new(),
            items_searched: None,
        }
    }

    /// Starts from a cart already known to be feasible (a previous scenario's answer).
    pub fn seed(&mut self, entry: Entry) {
        debug_assert!(self.entries.is_empty());
        self.entries = vec![entry];
        self.entries.truncate(self.k);
    }

    /// Declares the exact item count of the carts the next search will offer, which turns
    /// an objective threshold into a value threshold for that search.
    pub fn searching_items(&mut self, items: usize) {
        self.items_searched = Some(items);
    }

    /// Takes a cart another collector found, in its place among the kept ones.
    pub fn absorb(&mut self, entry: Entry) {
        let at = {
            let key = (
                entry.objective(self.ranked),
                entry.cost,
                entry.ids.as_slice(),
            );
            self.entries
                .partition_point(|e| self.compare(key, e) == Ordering::Less)
        };
        if at >= self.k || self.entries.get(at).is_some_and(|e| e.ids == entry.ids) {
            return;
        }
        self.entries.insert(at, entry);
        self.entries.truncate(self.k);
    }

    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub fn best(&self) -> Option<&Entry> {
        self.entries.first()
    }

    fn full(&self) -> bool {
        self.entries.len() >= self.k
    }

    /// What a cart needs (see [`crate::model::value`]) to enter in place of the last kept
    /// entry: its value, and whether equalling it is a tie that the listing ids decide.
    fn bar_of<'e>(&self, last: &'e Entry) -> Option<Bar<'e>> {
        let per_score = i128::from(self.budget) + 1;
        let spare = i128::from(self.budget - last.cost);
        match self.ranked {
            Ranked::TotalScore => Some(Bar {
                value: i128::from(last.score) * per_score + spare,
                tie: Some(&last.ids),
            }),
            Ranked::OriginalWeight => {
                let items = i128::try_from(self.items_searched?).ok()?.max(1);
                let weight = last.objective(self.ranked);
                Some(if weight % items == 0 {
                    // Equal value: equal weight and cost.
                    Bar {
                        value: weight / items * per_score + spare,
                        tie: Some(&last.ids),
                    }
                } else {
                    // The least value whose score, times the items, weighs more.
                    Bar {
                        value: (weight / items + 1) * per_score,
                        tie: None,
                    }
                })
            }
        }
    }

    fn compare(&self, a: (i128, i64, &[ListingId]), b: &Entry) -> Ordering {
        a.0.cmp(&b.objective(self.ranked))
            .then(b.cost.cmp(&a.1))
            .then_with(|| b.ids.as_slice().cmp(a.2))
    }
}

impl Collector for TopK {
    fn bar(&self) -> Option<Bar<'_>> {
        if !self.full() {
            return None;
        }
        self.bar_of(self.entries.last()?)
    }

    fn admit(&mut self, cart: FoundCart<'_>) {
        let objective = match self.ranked {
            Ranked::TotalScore => i128::from(cart.score),
            Ranked::OriginalWeight => cart.chosen.len() as i128 * i128::from(cart.score),
        };
        let mut ids: Vec<ListingId> = cart.chosen.iter().map(|c| c.listing_id).collect();
        if let Some(last) = self.entries.last().filter(|_| self.full()) {
            // Cheap rejection before sorting ids: most carts met are not good enough.
            let last_objective = last.objective(self.ranked);
            if objective < last_objective || (objective == last_objective && cart.cost > last.cost)
            {
                return;
            }
        }
        ids.sort_unstable();
        let key = (objective, cart.cost, ids.as_slice());
        let at = self
            .entries
            .partition_point(|e| self.compare(key, e) == Ordering::Less);
        if self.entries.get(at).is_some_and(|e| e.ids == ids) || at >= self.k {
            return;
        }
        let offers = cart.chosen.iter().map(|c| c.offer).collect();
        self.entries.insert(
            at,
            Entry {
                score: cart.score,
                cost: cart.cost,
                offers,
                ids,
            },
        );
        self.entries.truncate(self.k);
    }

    fn holds_any(&self) -> bool {
        !self.entries.is_empty()
    }

    fn keeps_only_the_best(&self) -> bool {
        self.k == 1 && self.ranked == Ranked::TotalScore
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knapsack::Choice;

    fn cart(ids: &[u64], score: i64, cost: i64) -> (Vec<Choice>, i64, i64) {
        let chosen = ids
            .iter()
            .map(|&id| Choice {
                offer: id as u32,
                listing_id: ListingId(id),
                seller: 0,
                price: 0,
                cost: 0,
                score: 0,
                value: 0,
            })
            .collect();
        (chosen, score, cost)
    }

    fn admit(top: &mut TopK, (chosen, score, cost): &(Vec<Choice>, i64, i64)) {
        top.admit(FoundCart {
            score: *score,
            cost: *cost,
            chosen,
        });
    }

    #[test]
    fn keeps_the_best_by_score_then_cost_then_ids() {
        let mut top = TopK::new(3, Ranked::TotalScore, 10_000);
        for c in [
            cart(&[5], 10, 900),
            cart(&[4], 10, 800),
            cart(&[9, 1], 20, 9_000),
            cart(&[3], 10, 800),
        ] {
            admit(&mut top, &c);
        }
        let ids: Vec<Vec<u64>> = top
            .into_entries()
            .iter()
            .map(|e| e.ids.iter().map(|i| i.0).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 9], vec![3], vec![4]]);
    }

    #[test]
    fn weight_ranks_by_quantity_times_score_and_prunes_per_item_count() {
        let mut top = TopK::new(1, Ranked::OriginalWeight, 10_000);
        admit(&mut top, &cart(&[1, 2, 3], 30, 5_000)); // weight 90
        admit(&mut top, &cart(&[4], 80, 100)); // weight 80: worse despite a higher score
        assert_eq!(top.best().map(|e| e.ids.len()), Some(3));
        // A two-item cart needs a score of 45 to tie a weight of 90.
        top.searching_items(2);
        let per_score = 10_001;
        let bar = top.bar().unwrap();
        assert_eq!(bar.value, 45 * per_score + 5_000);
        // A cart of equal value weighs the same and costs the same: the ids decide.
        let ids: Vec<u64> = bar.tie.unwrap().iter().map(|i| i.0).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        // Four items: a weight of 90 is no whole score each, so a four-item cart weighs
        // more only from a score of 23.
        top.searching_items(4);
        let bar = top.bar().unwrap();
        assert_eq!(bar.value, 23 * per_score);
        assert!(bar.tie.is_none());
    }
}
