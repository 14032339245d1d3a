//! Upper bounds and feasibility tests over the groups still open to a branch.
//!
//! Groups are put in one order for the whole search: by the ratio of their best value to
//! their lowest cost. A group's optimistic stand-in (best value, best score, lowest cost)
//! dominates every choice in it, so two bounds hold for anything a suffix of groups can
//! add: the fractional knapsack over the stand-ins (tight when scores differ), and the
//! cardinality bound — adding m items adds at most the m best scores and costs at least
//! the m lowest costs — which is what separates carts when many scores are equal (a
//! wantlist where every record scores 1) and only the cost decides.

use std::cmp::Ordering;
use std::collections::HashMap;

use cratedigger_domain::ListingId;

use super::Choice;

pub(super) struct Bounds {
    /// Groups in search order, choices in each sorted by value (best first).
    pub groups: Vec<Vec<Choice>>,
    /// Number of leading groups with a positive best value; only these can raise a bound.
    positive: usize,
    /// Prefix sums over the positive groups of the lowest cost and of the best value.
    cost_prefix: Vec<i64>,
    value_prefix: Vec<i128>,
    stand_ins: Vec<(i128, i64)>,
    /// Row j: for m = 0..=min(depth, groups left), the sum of the m lowest costs among
    /// groups >= j.
    cheapest: Vec<Vec<i64>>,
    /// Row j: the same for the m best scores.
    best_scores: Vec<Vec<i64>>,
    depth: usize,
    /// Value of one score unit: budget + 1.
    per_score: i128,
    /// For a group of one choice, the nearest earlier group of one choice that is the same
    /// but for its listing id (seller, price, cost and score): see [`Bounds::twin`].
    twins: Vec<Option<usize>>,
    /// Row j: the smallest listing id among groups >= j (the last row: none).
    min_id_from: Vec<ListingId>,
    /// Groups are in ratio order, so the fractional bound holds; otherwise it is none.
    by_ratio: bool,
}

fn stand_in(group: &[Choice]) -> (i128, i64) {
    let value = group.iter().map(|c| c.value).max().unwrap_or(i128::MIN);
    let cost = group.iter().map(|c| c.cost).min().unwrap_or(i64::MAX);
    (value, cost)
}

fn best_score(group: &[Choice]) -> i64 {
    group.iter().map(|c| c.score).max().unwrap_or(0)
}

impl Bounds {
    /// `depth` is the most items the cardinality tables cover.
    pub fn new(groups: Vec<Vec<Choice>>, depth: usize, budget: i64) -> Self {
        Self::ordered(groups, depth, budget, true)
    }

    /// The same groups in the order of their least listing id (choices too), for walks on
    /// the exact bound; the fractional bound, which needs the ratio order, is left out.
    pub fn reordered_by_id(&self) -> Self {
        let budget = i64::try_from(self.per_score - 1).unwrap_or(i64::MAX);
        Self::ordered(self.groups.clone(), self.depth, budget, false)
    }

    fn ordered(mut groups: Vec<Vec<Choice>>, depth: usize, budget: i64, by_ratio: bool) -> Self {
        groups.retain(|g| !g.is_empty());
        for group in &mut groups {
            if by_ratio {
                group.sort_by(|a, b| b.value.cmp(&a.value).then(a.listing_id.cmp(&b.listing_id)));
            } else {
                group.sort_by_key(|c| c.listing_id);
            }
        }
        let mut keyed: Vec<((i128, i64), Vec<Choice>)> =
            groups.into_iter().map(|g| (stand_in(&g), g)).collect();
        if by_ratio {
            // Positive groups by decreasing value/cost (cross-multiplied, exact), then the
            // rest; ties keep the first listing id first so the order is deterministic.
            keyed.sort_by(|(a, ga), (b, gb)| {
                let by_ratio = match (a.0 > 0, b.0 > 0) {
                    (true, true) => (b.0 * i128::from(a.1)).cmp(&(a.0 * i128::from(b.1))),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => b.0.cmp(&a.0),
                };
                by_ratio.then(ga[0].listing_id.cmp(&gb[0].listing_id))
            });
        } else {
            keyed.sort_by_key(|(_, g)| g[0].listing_id);
        }
        // In id order no prefix is the fractional knapsack's: none counts as positive.
        let positive = if by_ratio {
            keyed.iter().take_while(|((v, _), _)| *v > 0).count()
        } else {
            0
        };
        let mut cost_prefix = vec![0_i64; positive + 1];
        let mut value_prefix = vec![0_i128; positive + 1];
        for (i, ((value, cost), _)) in keyed.iter().take(positive).enumerate() {
            cost_prefix[i + 1] = cost_prefix[i] + cost;
            value_prefix[i + 1] = value_prefix[i] + value;
        }
        let stand_ins: Vec<(i128, i64)> = keyed.iter().map(|(s, _)| *s).collect();
        let costs: Vec<i64> = stand_ins.iter().map(|s| s.1).collect();
        let scores: Vec<i64> = keyed.iter().map(|(_, g)| best_score(g)).collect();
        let cheapest = suffix_sums(&costs, depth, |a, b| a < b);
        let best_scores = suffix_sums(&scores, depth, |a, b| a > b);
        let groups: Vec<Vec<Choice>> = keyed.into_iter().map(|(_, g)| g).collect();
        let twins = twins(&groups);
        let mut min_id_from = vec![ListingId(u64::MAX); groups.len() + 1];
        for (j, group) in groups.iter().enumerate().rev() {
            let least = group.iter().map(|c| c.listing_id).min();
            min_id_from[j] = least.map_or(min_id_from[j + 1], |id| id.min(min_id_from[j + 1]));
        }
        Self {
            by_ratio,
            twins,
            min_id_from,
            groups,
            positive,
            cost_prefix,
            value_prefix,
            stand_ins,
            cheapest,
            best_scores,
            depth,
            per_score: i128::from(budget) + 1,
        }
    }

    /// The group that `group` is interchangeable with, if any: an earlier one, in search
    /// order, offering the same thing for the same money. Carts that differ only by which
    /// of such groups they take count as one, the one taking the earliest (their listing
    /// ids ascend along the search order): so a group may be taken only after its twin.
    pub fn twin(&self, group: usize) -> Option<usize> {
        self.twins.get(group).copied().flatten()
    }

    /// The smallest listing id among groups >= `from`.
    pub fn min_id_from(&self, from: usize) -> ListingId {
        self.min_id_from
            .get(from)
            .copied()
            .unwrap_or(ListingId(u64::MAX))
    }

    /// Fractional knapsack over the positive stand-ins from `from` on, within `capacity`.
    pub fn fractional(&self, from: usize, capacity: i64) -> i128 {
        if !self.by_ratio {
            return i128::MAX / 4;
        }
        if from >= self.positive || capacity <= 0 {
            return 0;
        }
        let limit = self.cost_prefix[from] + capacity;
        // Last index t with cost_prefix[t] <= limit: groups from..t fit whole.
        let t = self.cost_prefix.partition_point(|&c| c <= limit) - 1;
        let whole = self.value_prefix[t] - self.value_prefix[from];
        if t >= self.positive {
            return whole;
        }
        let room = i128::from(limit - self.cost_prefix[t]);
        let (value, cost) = self.stand_ins[t];
        whole + value * room / i128::from(cost)
    }

    /// The least `count` more items from groups >= `from` can cost, or None when there are
    /// not that many groups left.
    pub fn cheapest(&self, from: usize, count: usize) -> Option<i64> {
        debug_assert!(count <= self.depth);
        self.cheapest.get(from)?.get(count).copied()
    }

    /// The most value that adding between `fewest` and `most` (None: any number of) items
    /// from groups >= `from` can add within `room`, by the cardinality bound; None when the
    /// tables are too shallow to tell.
    pub fn cardinality(
        &self,
        from: usize,
        room: i64,
        fewest: usize,
        most: Option<usize>,
    ) -> Option<i128> {
        let cheapest = self.cheapest.get(from)?;
        let scores = self.best_scores.get(from)?;
        let reachable = cheapest.partition_point(|&c| c <= room);
        // Row shorter than depth + 1: every remaining group is covered. Otherwise a cart
        // may hold more items than the table knows about.
        let covers_all = cheapest.len() - 1 == self.groups.len() - from;
        let top = match most {
            Some(m) if m < cheapest.len() => m.min(reachable.saturating_sub(1)),
            Some(_) => return None,
            None if covers_all || reachable < cheapest.len() => reachable.saturating_sub(1),
            None => return None,
        };
        (fewest..=top)
            .map(|m| i128::from(scores[m]) * self.per_score - i128::from(cheapest[m]))
            .max()
            .or(Some(i128::MIN / 2))
    }
}

/// Each one-choice group's nearest earlier twin (see [`Bounds::twin`]). Twins have the
/// same stand-in, so either sort put them in order of listing id.
fn twins(groups: &[Vec<Choice>]) -> Vec<Option<usize>> {
    let mut last: HashMap<(usize, i64, i64, i64), usize> = HashMap::new();
    groups
        .iter()
        .enumerate()
        .map(|(j, group)| match group.as_slice() {
            [c] => last.insert((c.seller, c.price, c.cost, c.score), j),
            _ => None,
        })
        .collect()
}

/// Row j holds, for m = 0..=depth (while enough keys remain), the sum of the m most
/// preferred keys among keys[j..]. Built from the end, keeping a sorted window of at most
/// `depth` keys.
fn suffix_sums<K, P>(keys: &[K], depth: usize, prefer: P) -> Vec<Vec<K>>
where
    K: Copy + Default + std::ops::AddAssign,
    P: Fn(&K, &K) -> bool,
{
    let n = keys.len();
    let mut rows = vec![Vec::new(); n + 1];
    rows[n] = vec![K::default()];
    let mut window: Vec<K> = Vec::with_capacity(depth + 1);
    for j in (0..n).rev() {
        let k = keys[j];
        let at = window.partition_point(|w| prefer(w, &k) || !prefer(&k, w));
        if at < depth {
            window.insert(at, k);
            window.truncate(depth);
        }
        let mut row = Vec::with_capacity(window.len() + 1);
        let mut sum = K::default();
        row.push(sum);
        for w in &window {
            sum += *w;
            row.push(sum);
        }
        rows[j] = row;
    }
    rows
}

/// A bound for searches that add an exact number of items: with the budget priced at
/// `lambda` per minor unit, m more items within `room` add at most
/// `lambda x room + (the m best of value - lambda x cost)`. Any `lambda >= 0` is valid;
/// the one chosen minimises the bound at the root, where it equals the linear relaxation
/// with both the budget and the item count.
pub(super) struct PricedCount {
    lambda: i128,
    /// Row j: for m = 0..=count, the m best priced values among groups >= j.
    best: Vec<Vec<i128>>,
}

impl PricedCount {
    pub fn gain(&self, from: usize, room: i64, count: usize) -> Option<i128> {
        let best = self.best.get(from)?.get(count)?;
        Some(self.lambda * i128::from(room) + best)
    }
}

impl Bounds {
    /// Prices the budget for carts of exactly `count` items within `capacity`.
    pub fn priced(&self, count: usize, capacity: i64) -> PricedCount {
        let stand_ins = &self.stand_ins;
        let root_bound = |lambda: i128| -> (i128, i128) {
            let mut priced: Vec<(i128, i64)> = stand_ins
                .iter()
                .map(|(v, c)| (v - lambda * i128::from(*c), *c))
                .collect();
            let take = count.min(priced.len());
            if take < priced.len() {
                priced.select_nth_unstable_by(take, |a, b| b.0.cmp(&a.0));
            }
            let chosen = &priced[..take];
            let bound = lambda * i128::from(capacity) + chosen.iter().map(|p| p.0).sum::<i128>();
            // Subgradient: positive when the chosen items leave budget over.
            let slope = i128::from(capacity) - chosen.iter().map(|p| i128::from(p.1)).sum::<i128>();
            (bound, slope)
        };
        // The bound is convex in lambda: find where its slope turns non-negative. Lambda
        // stays small enough that lambda x (every cost) cannot overflow.
        let max_value = stand_ins.iter().map(|(v, _)| v.abs()).max().unwrap_or(0);
        let all_costs: i128 = stand_ins.iter().map(|(_, c)| i128::from(*c)).sum::<i128>()
            + i128::from(capacity.max(0));
        let (mut low, mut high) = (
            0_i128,
            (2 * max_value + 1).min(i128::MAX / 4 / (all_costs + 1)),
        );
        if root_bound(0).1 >= 0 {
            high = 0;
        }
        while low < high {
            let mid = low + (high - low) / 2;
            if root_bound(mid).1 >= 0 {
                high = mid
            } else {
                low = mid + 1
            }
        }
        let lambda = low;
        let keys: Vec<i128> = stand_ins
            .iter()
            .map(|(v, c)| v - lambda * i128::from(*c))
            .collect();
        PricedCount {
            lambda,
            best: suffix_sums(&keys, count, |a, b| a > b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knapsack::test_choice;

    const BUDGET: i64 = 5_000;

    fn choice(i: usize, score: i64, cost: i64) -> Choice {
        test_choice(i, score, cost, BUDGET)
    }

    /// Tiny groups of one choice each, from a simple deterministic sequence; scores repeat
    /// often so that the cardinality bound matters.
    fn groups(seed: u64, n: usize) -> Vec<Vec<Choice>> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let score = [250_000, 500_000, 1_000_000, (x >> 40) as i64 % 1_000_000]
                    [(x >> 20) as usize % 4];
                vec![choice(i, score, 100 + (x >> 33) as i64 % 1_500)]
            })
            .collect()
    }

    /// Best total value of exactly `count` (or any number, if None) items from `from` on.
    fn brute(bounds: &Bounds, from: usize, room: i64, count: Option<usize>) -> Option<i128> {
        let items: Vec<&Choice> = bounds.groups[from..].iter().map(|g| &g[0]).collect();
        (0..1_u32 << items.len())
            .filter_map(|mask| {
                let picked: Vec<&&Choice> = items
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask >> i & 1 == 1)
                    .map(|(_, c)| c)
                    .collect();
                let cost: i64 = picked.iter().map(|c| c.cost).sum();
                let fits =
                    cost <= room && count.is_none_or(|n| n == picked.len()) && !picked.is_empty();
                fits.then(|| picked.iter().map(|c| c.value).sum())
            })
            .max()
    }

    #[test]
    fn every_bound_is_at_least_the_best_extension() {
        for seed in 0..60 {
            let bounds = Bounds::new(groups(seed, 9), 9, BUDGET);
            for room in [300, 1_200, 2_500, 4_000] {
                for from in 0..bounds.groups.len() {
                    if let Some(best) = brute(&bounds, from, room, None) {
                        assert!(
                            bounds.fractional(from, room) >= best,
                            "seed {seed} from {from}"
                        );
                        let by_count = bounds.cardinality(from, room, 1, None).unwrap_or(i128::MAX);
                        assert!(by_count >= best, "seed {seed} from {from} room {room}");
                    }
                    for count in 1..=3 {
                        let Some(best) = brute(&bounds, from, room, Some(count)) else {
                            continue;
                        };
                        let priced = bounds.priced(count, room);
                        assert!(priced.gain(from, room, count).is_some_and(|g| g >= best));
                        let by_count = bounds.cardinality(from, room, count, Some(count));
                        assert!(by_count.is_none_or(|g| g >= best));
                    }
                }
            }
        }
    }

    #[test]
    fn the_priced_bound_is_tight_at_the_root_when_costs_decide() {
        // Equal scores: any three items score the same, so the bound for exactly three is
        // the three cheapest, which fit.
        let groups: Vec<Vec<Choice>> = [400, 100, 300, 200, 500]
            .iter()
            .enumerate()
            .map(|(i, &c)| vec![choice(i, 1_000_000, c)])
            .collect();
        let bounds = Bounds::new(groups, 5, BUDGET);
        let best = brute(&bounds, 0, 1_000, Some(3)).unwrap();
        assert_eq!(best, 3 * 1_000_000 * i128::from(BUDGET + 1) - 600);
        assert_eq!(bounds.priced(3, 1_000).gain(0, 1_000, 3), Some(best));
        assert_eq!(bounds.cardinality(0, 1_000, 3, Some(3)), Some(best));
    }
}
