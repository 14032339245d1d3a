//! The depth-first walk. Each node is one distinct set of choices (children only add
//! choices from later groups), so every feasible cart is met at most once and top-K lists
//! never repeat a cart. The walk keeps its own stack: carts of thousands of cheap items
//! must not overflow a worker thread's stack.

use std::cell::OnceCell;

use cratedigger_domain::ListingId;

use super::bounds::{Bounds, PricedCount};
use super::exact::{EAGER_CELLS, Exact, MAX_CELLS};
use super::programme::{Programme, Solved};
use super::{Bar, Choice, Collector, CountRule, Deadline, FoundCart, Goal, LocalSeller, Problem};

/// How many nodes the walk visits between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;
/// How many nodes a walk visits on the cheap bounds before it builds the exact one (where
/// that is affordable) and starts again with it: most searches end well before.
const NODES_BEFORE_EXACT: u64 = 1 << 14;

pub(crate) struct Search {
    /// Groups in the order of their ratio of value to cost, with the cheap bounds.
    by_ratio: Layout,
    /// Groups in the order of their listing ids, with the exact bound: built up front when
    /// small, else once a walk proves long; `None` inside: not affordable.
    by_id: OnceCell<Option<Layout>>,
    sellers: Vec<LocalSeller>,
    budget: i64,
    /// Budget minus every seller's per-order charge: what the items may cost together.
    capacity: i64,
    deadline: Deadline,
    /// Nodes the walks of this search may visit together; past them it stops as at the
    /// deadline and says so ([`Search::capped`]).
    node_cap: Option<u64>,
    /// Nodes the walks have visited, counted every [`CLOCK_EVERY`].
    spent: std::cell::Cell<u64>,
    goal: Option<Goal>,
}

/// One order of the groups and the tables that follow it.
///
/// With the exact bound the order no longer matters to the bound, and listing-id order
/// makes the walk meet sets in the order of their sorted ids, so the first cart of the
/// best value it meets is the one the ties are decided for, and every later tie is cut at
/// once ([`Walk::may_sort_before`]). The fractional bound needs the ratio order, so the
/// id order goes without it (the exact bound is never weaker).
struct Layout {
    bounds: Bounds,
    exact: Option<Exact>,
    /// Only when some seller has a minimum order or is required: row g holds, per
    /// seller, the largest item subtotal groups g.. can still add to its order and its
    /// cheapest item among them (`i64::MAX`: none).
    reach: Vec<(i64, i64)>,
}

impl Layout {
    fn by_id(
        from: &Layout,
        sellers: &[LocalSeller],
        capacity: i64,
        max_cells: usize,
    ) -> Option<Self> {
        Exact::shape(&from.bounds.groups, capacity, max_cells)?;
        let bounds = from.bounds.reordered_by_id();
        let exact = Exact::build(&bounds.groups, capacity, max_cells)?;
        let reach = subtotal_reach(&bounds.groups, sellers);
        Some(Self {
            bounds,
            exact: Some(exact),
            reach,
        })
    }
}

/// How a walk ended.
#[derive(PartialEq, Eq)]
enum Ended {
    /// Every cart that might matter was offered.
    Finished,
    /// The deadline stopped it.
    TimedOut,
    /// It met its node limit: worth walking again with the exact bound.
    Long,
}

/// Where one level of the walk stands: which group it is at and which choice comes next.
struct Level {
    group: usize,
    next_choice: usize,
    entered: bool,
}

impl Problem {
    /// The largest number of items any cart of this problem can hold.
    pub fn most_items(&self) -> usize {
        let mut costs: Vec<i64> = self
            .groups
            .iter()
            .filter_map(|g| g.iter().map(|c| c.cost).min())
            .collect();
        costs.sort_unstable();
        let mut room = self.capacity();
        costs
            .into_iter()
            .take_while(|&c| {
                room -= c;
                room >= 0
            })
            .count()
    }

    fn capacity(&self) -> i64 {
        self.budget - self.sellers.iter().map(|s| s.fixed).sum::<i64>()
    }
}

/// See [`Layout::reach`]; empty when no seller has a minimum order or is required.
fn subtotal_reach(groups: &[Vec<Choice>], sellers: &[LocalSeller]) -> Vec<(i64, i64)> {
    let n = sellers.len();
    if sellers.iter().all(|s| s.min_order == 0 && !s.required) {
        return Vec::new();
    }
    let mut reach = vec![(0_i64, i64::MAX); (groups.len() + 1) * n];
    for (g, group) in groups.iter().enumerate().rev() {
        let (head, tail) = reach.split_at_mut((g + 1) * n);
        let row = &mut head[g * n..];
        row.copy_from_slice(&tail[..n]);
        let mut most = vec![0_i64; n];
        for c in group {
            most[c.seller] = most[c.seller].max(c.price);
            row[c.seller].1 = row[c.seller].1.min(c.price);
        }
        for (slot, add) in row.iter_mut().zip(most) {
            slot.0 += add;
        }
    }
    reach
}

/// How many items the cardinality tables follow by default. Deeper carts still get the
/// fractional bound; the tables cost `groups x depth` to build.
const CARDINALITY_DEPTH: usize = 64;

impl Search {
    /// Prepares a search whose count rules name at most `counts_up_to` items.
    pub fn new(problem: Problem, counts_up_to: usize) -> Self {
        let capacity = problem.capacity();
        let depth = counts_up_to.max(problem.most_items().min(CARDINALITY_DEPTH));
        let bounds = Bounds::new(problem.groups, depth, problem.budget);
        let reach = subtotal_reach(&bounds.groups, &problem.sellers);
        let by_ratio = Layout {
            bounds,
            exact: None,
            reach,
        };
        let by_id = OnceCell::new();
        if let Some(small) = Layout::by_id(&by_ratio, &problem.sellers, capacity, EAGER_CELLS) {
            let _ = by_id.set(Some(small));
        }
        Self {
            by_ratio,
            by_id,
            sellers: problem.sellers,
            budget: problem.budget,
            capacity,
            deadline: Deadline::default(),
            node_cap: None,
            spent: std::cell::Cell::new(0),
            goal: None,
        }
    }

    /// Ends the walk at a cart that meets `goal`: none can beat it. On the exact bound's
    /// layout the first such cart a walk meets is also the one its ties are decided for,
    /// so it ends there at once; otherwise only once the walks have been long
    /// ([`NODES_BEFORE_EXACT`]), so short searches still decide ties by listing ids.
    pub fn with_goal(mut self, goal: Option<Goal>) -> Self {
        self.goal = goal;
        self
    }

    /// The nodes the walks have visited, to the nearest [`CLOCK_EVERY`].
    pub fn spent(&self) -> u64 {
        self.spent.get()
    }

    /// Stops the walks after about `nodes` nodes in all, each with what it found.
    pub fn with_node_cap(mut self, nodes: u64) -> Self {
        self.node_cap = Some(nodes);
        self
    }

    /// Whether the node cap stopped a walk.
    pub fn capped(&self) -> bool {
        self.node_cap.is_some_and(|cap| self.spent.get() >= cap)
    }

    /// Stops the walks at `deadline`, each with what it found by then.
    pub fn with_deadline(mut self, deadline: &Deadline) -> Self {
        self.deadline = deadline.clone();
        self
    }

    /// Offers every cart satisfying `rule` that might matter to the collector. False when
    /// the deadline stopped the walk first: the collector then holds the best carts met,
    /// not necessarily the best there are. Past the deadline a walk whose collector holds
    /// no cart still looks for one, within the plan's shared allowance of nodes.
    pub fn run(&self, rule: CountRule, collector: &mut impl Collector) -> bool {
        if self.capacity <= 0 {
            return true;
        }
        let ended = match self.by_id.get() {
            Some(Some(layout)) => self.walk(layout, rule, None).run(collector),
            Some(None) => self.walk(&self.by_ratio, rule, None).run(collector),
            None => {
                let first = self
                    .walk(&self.by_ratio, rule, Some(NODES_BEFORE_EXACT))
                    .run(collector);
                if first == Ended::Long
                    && let Some(ended) = self.programme(rule, collector)
                {
                    ended
                } else if first == Ended::Long {
                    // Again from the root, keeping what the collector holds: the carts
                    // already offered are offered again, and it keeps each once.
                    let layout = self.by_id.get_or_init(|| {
                        Layout::by_id(&self.by_ratio, &self.sellers, self.capacity, MAX_CELLS)
                    });
                    self.walk(layout.as_ref().unwrap_or(&self.by_ratio), rule, None)
                        .run(collector)
                } else {
                    first
                }
            }
        };
        ended == Ended::Finished
    }

    /// The best cart by the dynamic programme over cost, in place of the walk on the exact
    /// table (where that table is affordable: the programme costs about as much as
    /// building it), where it applies (the collector keeps one best cart, and every cart
    /// pays every seller's per-order charge: there is one seller, or each seller a cart
    /// may leave out charges nothing per order; no minimum orders) and its cart satisfies
    /// the count rule. None: the walk decides.
    fn programme(&self, rule: CountRule, collector: &mut impl Collector) -> Option<Ended> {
        let CountRule::AtLeast(fewest) = rule else {
            return None;
        };
        // Minimum orders usually bind where the walk proves long: the programme's cart
        // would break one, and its time be lost.
        let charged =
            self.sellers.len() == 1 || self.sellers.iter().all(|s| s.required || s.fixed == 0);
        let minimums = self.sellers.iter().any(|s| s.min_order > 0);
        let groups = &self.by_ratio.bounds.groups;
        if !charged
            || minimums
            || !collector.keeps_only_the_best()
            || Exact::shape(groups, self.capacity, MAX_CELLS).is_none()
        {
            return None;
        }
        let programme = Programme::new(groups, self.capacity)?;
        let cart = match programme.solve(&self.deadline) {
            Solved::Cart(cart) => cart,
            Solved::TimedOut if collector.holds_any() => return Some(Ended::TimedOut),
            // Past the deadline with no cart: the walk looks for one within the grace.
            Solved::TimedOut => return Some(self.walk(&self.by_ratio, rule, None).run(collector)),
        };
        let mut items = vec![0_usize; self.sellers.len()];
        let mut subtotal = vec![0_i64; self.sellers.len()];
        for choice in &cart {
            items[choice.seller] += 1;
            subtotal[choice.seller] += choice.price;
        }
        let valid = cart.len() >= fewest.max(1)
            && self.sellers.iter().enumerate().all(|(s, seller)| {
                (items[s] > 0 || !seller.required)
                    && (items[s] == 0 || subtotal[s] >= seller.min_order)
            });
        if !valid {
            return None;
        }
        let charges: i64 = self
            .sellers
            .iter()
            .zip(&items)
            .filter(|(_, n)| **n > 0)
            .map(|(s, _)| s.fixed)
            .sum();
        collector.admit(FoundCart {
            score: cart.iter().map(|c| c.score).sum(),
            cost: cart.iter().map(|c| c.cost).sum::<i64>() + charges,
            chosen: &cart,
        });
        Some(Ended::Finished)
    }

    fn walk<'s>(&'s self, layout: &'s Layout, rule: CountRule, limit: Option<u64>) -> Walk<'s> {
        let priced = match rule {
            CountRule::Exactly(count) => Some(layout.bounds.priced(count, self.capacity)),
            CountRule::AtLeast(_) => None,
        };
        Walk {
            search: self,
            layout,
            rule,
            priced,
            limit,
            chosen: Vec::new(),
            chosen_groups: Vec::new(),
            taken: vec![false; layout.bounds.groups.len()],
            seller_items: vec![0; self.sellers.len()],
            seller_subtotal: vec![0; self.sellers.len()],
            value: 0,
            unit_cost: 0,
            score: 0,
        }
    }
}

struct Walk<'s> {
    search: &'s Search,
    layout: &'s Layout,
    rule: CountRule,
    priced: Option<PricedCount>,
    /// Nodes after which the walk gives up to be started again with the exact bound.
    limit: Option<u64>,
    chosen: Vec<Choice>,
    /// The group of each chosen choice, and per group whether the current set takes it.
    chosen_groups: Vec<usize>,
    taken: Vec<bool>,
    seller_items: Vec<usize>,
    seller_subtotal: Vec<i64>,
    value: i128,
    unit_cost: i64,
    score: i64,
}

impl Walk<'_> {
    fn run(&mut self, collector: &mut impl Collector) -> Ended {
        let search = self.search;
        let bounds = &self.layout.bounds;
        let groups = &bounds.groups;
        let mut levels = vec![Level {
            group: 0,
            next_choice: 0,
            entered: false,
        }];
        let mut nodes: u64 = 0;
        while let Some(level) = levels.last_mut() {
            nodes += 1;
            if nodes.is_multiple_of(CLOCK_EVERY) {
                if search.deadline.passed()
                    && (collector.holds_any() || !search.deadline.spend_grace(CLOCK_EVERY))
                {
                    return Ended::TimedOut;
                }
                if self.limit.is_some_and(|limit| nodes >= limit) {
                    return Ended::Long;
                }
                let spent = search.spent.get() + CLOCK_EVERY;
                search.spent.set(spent);
                if search.node_cap.is_some_and(|cap| spent >= cap) {
                    return Ended::TimedOut;
                }
            }
            if !level.entered {
                if level.group >= groups.len() || !self.worth_entering(level.group, collector) {
                    // Later groups only have weaker bounds: this level is done.
                    levels.pop();
                    if !levels.is_empty() {
                        self.pop();
                    }
                    continue;
                }
                if bounds
                    .twin(level.group)
                    .is_some_and(|twin| !self.taken[twin])
                {
                    // The same cart with the twin in its place comes first.
                    level.group += 1;
                    continue;
                }
                level.entered = true;
                level.next_choice = 0;
            }
            let group = &groups[level.group];
            let Some(choice) = group.get(level.next_choice).copied() else {
                level.group += 1;
                level.entered = false;
                continue;
            };
            level.next_choice += 1;
            if choice.cost > search.capacity - self.unit_cost {
                continue;
            }
            let next_group = level.group + 1;
            self.push(choice, level.group);
            let items = self.chosen.len();
            let (admissible, full) = match self.rule {
                CountRule::AtLeast(m) => (items >= m, false),
                CountRule::Exactly(q) => (items == q, items == q),
            };
            if admissible && self.offer(collector) && self.may_end_at_goal() {
                return Ended::Finished;
            }
            if full || next_group >= groups.len() {
                self.pop();
            } else {
                levels.push(Level {
                    group: next_group,
                    next_choice: 0,
                    entered: false,
                });
            }
        }
        Ended::Finished
    }

    /// Whether adding choices from `group` onwards can still satisfy the count rule within
    /// the room left and beat what the collector holds. Both tests only get harder for
    /// later groups, so a false ends the level.
    fn worth_entering(&self, group: usize, collector: &impl Collector) -> bool {
        let bounds = &self.layout.bounds;
        let room = self.search.capacity - self.unit_cost;
        let items = self.chosen.len();
        // Entering a group means adding at least one more item.
        let (fewest, most) = match self.rule {
            CountRule::AtLeast(m) => (m.saturating_sub(items).max(1), None),
            CountRule::Exactly(q) => (q.saturating_sub(items), Some(q.saturating_sub(items))),
        };
        if bounds
            .cheapest(group, fewest)
            .is_none_or(|cost| cost > room)
        {
            return false;
        }
        if !self.layout.reach.is_empty() && !self.minimums_reachable(group, room) {
            return false;
        }
        let mut gain = bounds.fractional(group, room);
        if let Some(by_count) = bounds.cardinality(group, room, fewest, most) {
            gain = gain.min(by_count);
        }
        if let Some(by_price) = self
            .priced
            .as_ref()
            .and_then(|p| p.gain(group, room, fewest))
        {
            gain = gain.min(by_price);
        }
        if let Some(exact) = &self.layout.exact {
            gain = gain.min(exact.best(group, room));
        }
        // Values assume every seller of the problem ships (its fixed charge is paid).
        let bound = i128::from(self.search.capacity) + self.value + gain;
        match collector.bar() {
            None => true,
            Some(bar) if bound != bar.value => bound > bar.value,
            Some(Bar { tie: None, .. }) => true,
            Some(Bar { tie: Some(ids), .. }) => self.may_sort_before(group, ids),
        }
    }

    /// Whether every seller that the cart must use (a required one, or one in the set
    /// below its minimum order) can still get what it lacks from `group` onwards, all
    /// within `room`: otherwise no cart of this branch is valid, however it goes on.
    fn minimums_reachable(&self, group: usize, room: i64) -> bool {
        let sellers = &self.search.sellers;
        let reach = &self.layout.reach[group * sellers.len()..];
        let mut short = 0;
        for (s, seller) in sellers.iter().enumerate() {
            let (most, cheapest) = reach[s];
            let items = self.seller_items[s];
            let missing = if items > 0 {
                (seller.min_order - self.seller_subtotal[s]).max(0)
            } else if seller.required {
                if cheapest == i64::MAX {
                    return false;
                }
                seller.min_order.max(cheapest)
            } else {
                0
            };
            // Only a seller in the set or required is missing anything.
            if missing > 0 {
                if seller.min_order - self.seller_subtotal[s] > most {
                    return false;
                }
                short += missing;
            }
        }
        short <= room
    }

    /// Whether a cart that adds choices from `group` onwards to the current set might
    /// have sorted listing ids before `ids`. Such a cart keeps the current ids below the
    /// least id still to come, in order, and then goes on with at least one id not below
    /// it; the walk meets sets in an order that makes most ties fail this at once.
    fn may_sort_before(&self, group: usize, ids: &[ListingId]) -> bool {
        let least = self.layout.bounds.min_id_from(group);
        let mut fixed: Vec<ListingId> = self
            .chosen
            .iter()
            .map(|c| c.listing_id)
            .filter(|&id| id < least)
            .collect();
        fixed.sort_unstable();
        if let Some((a, b)) = fixed.iter().zip(ids).find(|(a, b)| a != b) {
            return a < b;
        }
        // `fixed` is a prefix of `ids` or the other way round; the cart is longer than
        // `fixed`, and its next id is at least `least`.
        ids.get(fixed.len()).is_some_and(|&next| next >= least)
    }

    fn push(&mut self, choice: Choice, group: usize) {
        self.taken[group] = true;
        self.chosen_groups.push(group);
        self.chosen.push(choice);
        self.seller_items[choice.seller] += 1;
        self.seller_subtotal[choice.seller] += choice.price;
        self.value += choice.value;
        self.unit_cost += choice.cost;
        self.score += choice.score;
    }

    fn pop(&mut self) {
        if let Some(group) = self.chosen_groups.pop() {
            self.taken[group] = false;
        }
        if let Some(choice) = self.chosen.pop() {
            self.seller_items[choice.seller] -= 1;
            self.seller_subtotal[choice.seller] -= choice.price;
            self.value -= choice.value;
            self.unit_cost -= choice.cost;
            self.score -= choice.score;
        }
    }

    /// Hands the current set to the collector if every seller it uses accepts the order.
    /// Sellers the set does not use pay no shipping, so the cart may be cheaper than the
    /// search assumed. True when the cart meets the search's goal.
    fn offer(&self, collector: &mut impl Collector) -> bool {
        let mut cost = self.unit_cost;
        for (i, seller) in self.search.sellers.iter().enumerate() {
            if self.seller_items[i] == 0 && seller.required {
                return false;
            }
            if self.seller_items[i] > 0 {
                if self.seller_subtotal[i] < seller.min_order {
                    return false;
                }
                cost += seller.fixed;
            }
        }
        debug_assert!(cost <= self.search.budget);
        collector.admit(FoundCart {
            score: self.score,
            cost,
            chosen: &self.chosen,
        });
        self.search.goal.is_some_and(|g| g.met_by(self.score, cost))
    }

    /// Whether a walk that has just met its goal may end there (see [`Search::with_goal`]).
    fn may_end_at_goal(&self) -> bool {
        self.layout.exact.is_some() || self.search.spent.get() >= NODES_BEFORE_EXACT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knapsack::{Ranked, TopK, test_choice};

    /// Scores proportional to prices and a capacity no set fills exactly: the fractional
    /// bound is useless here, so the walk proves long. Keeping one cart, the programme
    /// over cost answers; keeping two, the walk is started again on the exact table. Both
    /// find the optimum.
    #[test]
    fn a_long_walk_hands_over_to_the_programme_or_the_exact_bound_and_proves_the_optimum() {
        let budget: i64 = 70_001;
        let mut x: u64 = 11;
        let items: Vec<(i64, i64)> = (0..40)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let price = 2 * (1_000 + (x >> 40) as i64 % 4_000);
                (price, price * 100)
            })
            .collect();
        let problem = || Problem {
            budget,
            sellers: vec![LocalSeller {
                fixed: 0,
                min_order: 0,
                required: true,
            }],
            groups: items
                .iter()
                .enumerate()
                .map(|(i, &(cost, score))| vec![test_choice(i, score, cost, budget)])
                .collect(),
        };
        let by_programme = Search::new(problem(), 1);
        assert!(
            by_programme.by_id.get().is_none(),
            "too large to build up front"
        );
        let mut one = TopK::new(1, Ranked::TotalScore, budget);
        assert!(by_programme.run(CountRule::AtLeast(1), &mut one));
        assert!(by_programme.by_id.get().is_none(), "the programme answered");

        let by_table = Search::new(problem(), 1);
        let mut two = TopK::new(2, Ranked::TotalScore, budget);
        assert!(by_table.run(CountRule::AtLeast(1), &mut two));
        assert!(by_table.by_id.get().is_some_and(|l| l.is_some()));

        // The most score at each exact cost, by a plain table over costs.
        let width = budget as usize + 1;
        let mut most = vec![i64::MIN; width];
        most[0] = 0;
        for &(cost, score) in &items {
            for c in (cost as usize..width).rev() {
                if most[c - cost as usize] != i64::MIN {
                    most[c] = most[c].max(most[c - cost as usize] + score);
                }
            }
        }
        let (cost, score) = (0..width)
            .map(|c| (c as i64, most[c]))
            .max_by_key(|&(c, s)| (s, -c))
            .unwrap();
        assert!(cost < budget, "the budget is odd and every price even");
        let one = one.into_entries();
        let two = two.into_entries();
        assert_eq!((one[0].score, one[0].cost), (score, cost));
        assert_eq!(one[0], two[0], "the same cart, ties decided alike");
    }
}
