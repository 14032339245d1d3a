//! The depth-first walk. Each node is one distinct set of choices (children only add
//! choices from later groups), so every feasible cart is met at most once and top-K lists
//! never repeat a cart. The walk keeps its own stack: carts of thousands of cheap items
//! must not overflow a worker thread's stack.

use super::bounds::{Bounds, PricedCount};
use super::{Choice, Collector, CountRule, Deadline, FoundCart, LocalSeller, Problem};

/// How many nodes the walk visits between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;

pub(crate) struct Search {
    bounds: Bounds,
    sellers: Vec<LocalSeller>,
    budget: i64,
    /// Budget minus every seller's per-order charge: what the items may cost together.
    capacity: i64,
    deadline: Deadline,
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

/// How many items the cardinality tables follow by default. Deeper carts still get the
/// fractional bound; the tables cost `groups x depth` to build.
const CARDINALITY_DEPTH: usize = 64;

impl Search {
    /// Prepares a search whose count rules name at most `counts_up_to` items.
    pub fn new(problem: Problem, counts_up_to: usize) -> Self {
        let capacity = problem.capacity();
        let depth = counts_up_to.max(problem.most_items().min(CARDINALITY_DEPTH));
        Self {
            bounds: Bounds::new(problem.groups, depth, problem.budget),
            sellers: problem.sellers,
            budget: problem.budget,
            capacity,
            deadline: Deadline::default(),
        }
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
        let priced = match rule {
            CountRule::Exactly(count) => Some(self.bounds.priced(count, self.capacity)),
            CountRule::AtLeast(_) => None,
        };
        let mut walk = Walk {
            search: self,
            rule,
            priced: priced.as_ref(),
            chosen: Vec::new(),
            seller_items: vec![0; self.sellers.len()],
            seller_subtotal: vec![0; self.sellers.len()],
            value: 0,
            unit_cost: 0,
            score: 0,
        };
        walk.run(collector)
    }
}

struct Walk<'s> {
    search: &'s Search,
    rule: CountRule,
    priced: Option<&'s PricedCount>,
    chosen: Vec<Choice>,
    seller_items: Vec<usize>,
    seller_subtotal: Vec<i64>,
    value: i128,
    unit_cost: i64,
    score: i64,
}

impl Walk<'_> {
    fn run(&mut self, collector: &mut impl Collector) -> bool {
        let search = self.search;
        let groups = &search.bounds.groups;
        let mut levels = vec![Level {
            group: 0,
            next_choice: 0,
            entered: false,
        }];
        let mut nodes: u64 = 0;
        while let Some(level) = levels.last_mut() {
            nodes += 1;
            if nodes.is_multiple_of(CLOCK_EVERY) && search.deadline.passed() {
                if collector.holds_any() || !search.deadline.spend_grace(CLOCK_EVERY) {
                    return false;
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
            self.push(choice);
            let items = self.chosen.len();
            let (admissible, full) = match self.rule {
                CountRule::AtLeast(m) => (items >= m, false),
                CountRule::Exactly(q) => (items == q, items == q),
            };
            if admissible {
                self.offer(collector);
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
        true
    }

    /// Whether adding choices from `group` onwards can still satisfy the count rule within
    /// the room left and beat what the collector holds. Both tests only get harder for
    /// later groups, so a false ends the level.
    fn worth_entering(&self, group: usize, collector: &impl Collector) -> bool {
        let bounds = &self.search.bounds;
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
        let mut gain = bounds.fractional(group, room);
        if let Some(by_count) = bounds.cardinality(group, room, fewest, most) {
            gain = gain.min(by_count);
        }
        if let Some(by_price) = self.priced.and_then(|p| p.gain(group, room, fewest)) {
            gain = gain.min(by_price);
        }
        // Values assume every seller of the problem ships (its fixed charge is paid).
        let base = i128::from(self.search.capacity);
        !collector.hopeless(base + self.value + gain)
    }

    fn push(&mut self, choice: Choice) {
        self.chosen.push(choice);
        self.seller_items[choice.seller] += 1;
        self.seller_subtotal[choice.seller] += choice.price;
        self.value += choice.value;
        self.unit_cost += choice.cost;
        self.score += choice.score;
    }

    fn pop(&mut self) {
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
    /// search assumed.
    fn offer(&self, collector: &mut impl Collector) {
        let mut cost = self.unit_cost;
        for (i, seller) in self.search.sellers.iter().enumerate() {
            if self.seller_items[i] > 0 {
                if self.seller_subtotal[i] < seller.min_order {
                    return;
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
    }
}
