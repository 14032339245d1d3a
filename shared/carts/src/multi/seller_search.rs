//! Branch and bound over which sellers ship. Each node is a set of open sellers; its
//! bound is the Lagrangian floor plus the open sellers' profits plus the best profits
//! still allowed. A set that survives is solved exactly as a knapsack over the cheapest
//! offer per release among its sellers (an exact reduction when no open seller has a
//! minimum order; otherwise every offer is kept as a choice).

use std::collections::{HashMap, HashSet};

use super::lagrangian::{Evaluation, Multipliers, Relaxation};
use crate::knapsack::{Choice, CountRule, Entry, Goal, LocalSeller, Problem, Ranked, Search, TopK};
use crate::model::value::{SCORE_SCALE, gcd};
use crate::{Market, Optimality};

/// Subgradient passes per scenario at most; each costs one sweep over the offers.
const SUBGRADIENT_PASSES: usize = 3000;
/// Nodes a search for an incumbent may visit: a set that takes longer is left to the
/// branch and bound, which solves it whole if it can still hold a better cart.
const INCUMBENT_NODES: u64 = 1 << 16;
/// Nodes the local search spends on each set it probes: a few milliseconds, enough to
/// find most sets' best carts (below the point where the exact table is built).
const PROBE_NODES: u64 = 1 << 12;

/// Why a seller set is solved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// For a good cart early; cut after [`INCUMBENT_NODES`].
    Incumbent,
    /// As the branch and bound's proof needs: whole, within the time budget.
    Prove,
}

/// The relative gap between the steps' bound and the best cart above which the linear
/// programme is solved for better multipliers: below it the branch and bound usually
/// closes the gap faster than the programme is solved.
const LINEAR_GAP: f64 = 2e-3;
/// The most score steps between the steps' bound and the best cart for which the linear
/// programme is solved to prove the score (see `linear_multipliers`).
const LINEAR_STEPS: i64 = 2;
/// Sets the branch and bound solves before it bounds the cost of a proven score: most
/// searches end sooner, and then the programme is not worth solving.
const COST_AFTER_SETS: usize = 64;
/// The relative gap above which the linear programme is solved before the local search.
const LINEAR_GAP_EARLY: f64 = 2e-2;
/// Sets solved, at most, to find the smallest listing ids among carts that tie with the
/// proven best on score and cost.
const TIE_SETS: usize = 1024;
/// Nodes the search for those ties may visit in all: a set whose search is cut short
/// keeps the best cart it met.
const TIE_NODES: u64 = 1 << 20;
/// With this many sellers or fewer the branch and bound visits every set at once: no
/// linear programme, local search or cost bound is worth its set-up.
const FEW_SELLERS: usize = 3;
/// How long the linear programme may take without a time budget.
const LINEAR_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Passes without a better bound after which the step is halved.
const STALL_PASSES: usize = 20;
/// What visiting one seller set costs, in search nodes, of the allowance past the deadline.
const SET_VISIT_NODES: u64 = 64;

pub(super) struct SellerSearch<'m, 'a> {
    market: &'m Market<'a>,
    max_sellers: usize,
    top: TopK,
    solved: HashSet<Vec<usize>>,
    /// Sets the local search probed, with the value of the best cart found in each.
    probed: HashMap<Vec<usize>, Option<f64>>,
    /// Sellers in every solved set (see `run`).
    always_open: Vec<usize>,
    /// Per market offer, whether a better cart may use it (see `run`); none: all.
    usable: Option<Vec<bool>>,
    /// The most sets solved before the search stops ([`crate::Options::seller_sets_limit`]).
    limit: usize,
    /// The limit was reached with sets left that might hold a better cart.
    limited: bool,
    /// The time budget ran out before every set that might hold a better cart was solved.
    timed_out: bool,
    /// The best bound on the carts (normalised units) the multipliers gave, and the best
    /// score it allows.
    proof_bound: f64,
    proof_reachable: Option<i64>,
    /// Whether sets that may only hold carts as cheap as the best (of its score) are
    /// visited: false while the cost bound proves the best cost (see `run`).
    ties: bool,
    /// See [`SellerSearch::bound_the_cost`].
    by_cost: Option<CostBound>,
    by_charges: Option<ChargesBound>,
    cost_tried: bool,
    /// The cart that would end the search, from `proof_reachable` (see [`Goal`]).
    goal: Option<Goal>,
    /// Nodes the set searches may still visit, when they are capped together (the tie
    /// pass, see `run`).
    nodes_left: Option<u64>,
}

impl<'m, 'a> SellerSearch<'m, 'a> {
    pub fn new(market: &'m Market<'a>, max_sellers: usize, seed: Option<Entry>) -> Self {
        let mut top = TopK::new(1, Ranked::TotalScore, market.budget);
        if let Some(entry) = seed {
            top.seed(entry);
        }
        Self {
            market,
            max_sellers,
            top,
            solved: HashSet::new(),
            probed: HashMap::new(),
            always_open: Vec::new(),
            usable: None,
            limit: market.options.seller_sets_limit.max(1) as usize,
            limited: false,
            timed_out: false,
            proof_bound: f64::INFINITY,
            proof_reachable: None,
            ties: true,
            by_cost: None,
            by_charges: None,
            cost_tried: false,
            goal: None,
            nodes_left: None,
        }
    }

    /// Finds the best cart; returns it with the multipliers that proved it (a warm start
    /// for the next scenario), what was proven, and whether the time budget cut it short.
    pub fn run(
        mut self,
        relaxation: &Relaxation,
        warm: Option<Multipliers>,
    ) -> (Option<Entry>, Multipliers, Optimality, bool) {
        // Without a cap, a seller with no per-order charge and no minimum costs nothing to
        // keep open: every set is solved with those sellers in, instead of branching on
        // them (flat per-item shipping would otherwise mean 2^sellers sets).
        let unlimited = self.max_sellers >= relaxation.sellers();
        let market = self.market;
        let free: Vec<usize> = (0..relaxation.sellers())
            .filter(|&s| {
                let terms = &market.sellers[s];
                unlimited && terms.fixed_charge() == 0 && terms.min_order == 0
            })
            .collect();
        self.always_open = free.clone();
        let start = warm.unwrap_or_else(|| relaxation.initial());
        if relaxation.sellers() == 1 {
            // One seller: its search is the whole problem. The starting multipliers give
            // the goal (a bound as good as the fractional one).
            let at = relaxation.evaluate_minimums(&start, self.max_sellers);
            self.bound_by(at.bound);
            self.solve(&[0], Purpose::Prove);
            if self.solved.contains(&vec![0]) {
                let best = self.top.into_entries().into_iter().next();
                return (best, start, Optimality::Proven, false);
            }
        }
        let multipliers = self.tighten(relaxation, start);
        let (at, order) = self.branching(relaxation, &multipliers, &free);
        self.bound_by(at.bound);
        // Where the steps stalled well above the best cart, the linear programme's duals
        // may bound it better. Far above, they are solved before the local search, which
        // then starts from the programme's sellers; otherwise only if the local search
        // leaves a gap.
        let linear = self.adopt_linear(relaxation, at.bound, LINEAR_GAP_EARLY, true);
        let linear_solved = linear.is_some();
        if unlimited && relaxation.sellers() > FEW_SELLERS {
            let (preferred, start) = match linear {
                Some(LinearStart { open, start }) => (open, Some(start)),
                None => (Vec::new(), None),
            };
            if start.is_some() {
                self.improve_locally(&order, &preferred, start);
            }
            self.improve_locally(&order, &preferred, None);
        }
        if !linear_solved {
            self.adopt_linear(relaxation, at.bound, LINEAR_GAP, false);
        }
        let floor = at.floor
            + self
                .always_open
                .iter()
                .map(|&s| at.profit[s].max(0.0))
                .sum::<f64>();
        let ranking = Ranking::new(order, &at.profit, floor);
        self.visit_sets(&ranking);
        let timed_out = self.timed_out;
        let at_goal = self.goal_met();
        let limited = (self.limited || timed_out) && !at_goal;
        if (self.by_cost.is_some() || at_goal) && !limited && !timed_out {
            // No cart is better: of the carts that tie with it on score and cost, the one
            // with the smallest listing ids is looked for in the sets that may hold one,
            // within [`TIE_SETS`] sets, [`TIE_NODES`] nodes and the time left. Cutting
            // this short proves no less.
            self.ties = true;
            self.goal = None;
            self.nodes_left = Some(TIE_NODES);
            let limit = self.limit;
            self.limit = limit.min(self.solved.len().saturating_add(TIE_SETS));
            self.visit_sets(&ranking);
            self.limit = limit;
            self.limited = false;
            self.timed_out = false;
        }
        let best = self.top.into_entries().into_iter().next();
        let optimality = if limited {
            self.market
                .optimality_at_limit(self.proof_bound, best.as_ref().map(|e| e.score))
        } else {
            Optimality::Proven
        };
        (best, multipliers, optimality, timed_out)
    }

    /// Takes `bound` (normalised units) as the proof's bound if it is tighter, with the
    /// score it allows and the goal that follows: a cart of that score at the least any
    /// cart of it may cost.
    fn bound_by(&mut self, bound: f64) {
        self.proof_bound = self.proof_bound.min(bound);
        self.proof_reachable = self.market.reachable_score(self.proof_bound);
        self.goal = self.proof_reachable.and_then(|score| {
            let cost = self.market.least_cost_of(score)?;
            Some(Goal { score, cost })
        });
    }

    /// Whether the best cart so far meets the goal: then none is better.
    fn goal_met(&self) -> bool {
        let (Some(goal), Some(best)) = (self.goal, self.top.best()) else {
            return false;
        };
        goal.met_by(best.score, best.cost)
    }

    /// Visits the sets of `ranking` that may hold a better cart: those of at most 1, 2, 4,
    /// ... sellers first (where many sellers tie, a cart from few of them, with fewer
    /// per-order charges, is found before the search goes deep). Sets already solved are
    /// not solved again.
    fn visit_sets(&mut self, ranking: &Ranking) {
        let mut most = 1;
        loop {
            let most_now = most.min(self.max_sellers);
            self.bound_the_cost(ranking);
            self.extend(ranking, 0, &mut Vec::new(), 0.0, most_now);
            if most_now >= self.max_sellers || self.limited || self.timed_out {
                break;
            }
            most *= 2;
        }
    }

    /// Once the best cart's score is proven (the bound rounds down to it), only a cheaper
    /// cart of that score can be better: from then on sets are also pruned by what such a
    /// cart may cost in them (see [`CostBound`]), and ties on the cost are left for later
    /// (see `run`). Tried once.
    fn bound_the_cost(&mut self, ranking: &Ranking) {
        if self.cost_tried
            || self.market.sellers.len() <= FEW_SELLERS
            || self.max_sellers <= 1
            || self.solved.len() < COST_AFTER_SETS
        {
            return;
        }
        let Some(best) = self.top.best() else {
            return;
        };
        if self.proof_reachable.is_some_and(|r| r <= best.score) {
            self.cost_tried = true;
            let score = best.score;
            self.by_cost = self.cost_bound(score, &ranking.order);
            self.by_charges = ChargesBound::new(self.market, score, &ranking.order);
            self.ties = self.by_cost.is_none() && self.by_charges.is_none();
            // The least any cart of the score may cost, whatever its sellers: a goal
            // closer than the cheapest cost per score unit.
            if let (Some(by_cost), Some(goal)) = (&self.by_cost, &mut self.goal) {
                let budget = self.market.budget as f64;
                let least = -budget * (by_cost.floor + by_cost.positive_after[0]);
                // In whole minor units, below the sums' rounding errors.
                let least = (least - 1e-7 * least.abs().max(1.0)).ceil();
                if least.is_finite() && least > goal.cost as f64 {
                    goal.cost = least as i64;
                }
            }
        }
    }

    /// The bound on the cost of the carts of at least `score` ([`Relaxation::for_cost`],
    /// at the linear programme's duals), with the branching sellers in `order`.
    fn cost_bound(&self, score: i64, order: &[usize]) -> Option<CostBound> {
        let time_limit = self.linear_time()?;
        let relaxation = Relaxation::for_cost(self.market, score);
        let multipliers =
            super::linear::optimal_multipliers(&relaxation, self.max_sellers, time_limit)?;
        let at = relaxation.evaluate_minimums(&multipliers, self.max_sellers);
        // The sellers in every set are open: their profits count whatever their sign.
        let floor = at.floor + self.always_open.iter().map(|&s| at.profit[s]).sum::<f64>();
        let mut positive_after = vec![0.0; order.len() + 1];
        for (i, &s) in order.iter().enumerate().rev() {
            positive_after[i] = positive_after[i + 1] + at.profit[s].max(0.0);
        }
        Some(CostBound {
            profit: at.profit,
            positive_after,
            floor,
        })
    }

    /// The bound at `multipliers`, and the sellers to branch on, best profit first. Sets
    /// `always_open` (the `free` sellers, and without a cap those every better cart needs)
    /// and `usable` (without a cap: the offers a better cart may use).
    fn branching(
        &mut self,
        relaxation: &Relaxation,
        multipliers: &Multipliers,
        free: &[usize],
    ) -> (Evaluation, Vec<usize>) {
        let at = relaxation.evaluate_minimums(multipliers, self.max_sellers);
        let unlimited = self.max_sellers >= relaxation.sellers();
        self.always_open = free.to_vec();
        self.usable = None;
        let mut order: Vec<usize> = (0..relaxation.sellers())
            .filter(|s| !free.contains(s))
            .collect();
        if let Some(incumbent) = self.incumbent().filter(|_| unlimited) {
            // Without a cap the multipliers tell which sellers and offers a better cart
            // may use at all, and which sellers it must use: those are in every set.
            let reduction = relaxation.reduce(multipliers, &at, incumbent);
            let mut usable = vec![false; self.market.offers.len()];
            for &o in &reduction.offers {
                usable[o] = true;
            }
            self.usable = Some(usable);
            let kept: HashSet<usize> = reduction.sellers.iter().map(|k| k.seller).collect();
            for kept in reduction.sellers.iter().filter(|k| k.needed) {
                if !self.always_open.contains(&kept.seller) {
                    self.always_open.push(kept.seller);
                }
            }
            self.always_open.retain(|s| kept.contains(s));
            order.retain(|s| kept.contains(s) && !self.always_open.contains(s));
        }
        order.sort_by(|&a, &b| at.profit[b].total_cmp(&at.profit[a]).then(a.cmp(&b)));
        (at, order)
    }

    /// Subgradient ascent on the dual; meanwhile solves the relaxation's seller sets
    /// exactly, so a good incumbent exists before the branch and bound starts.
    fn tighten(&mut self, relaxation: &Relaxation, start: Multipliers) -> Multipliers {
        let mut current = start;
        let mut best = current.clone();
        let mut best_bound = f64::INFINITY;
        let mut best_open = Vec::new();
        let mut theta = 1.0;
        let mut stalled = 0;
        // Sets are solved at passes 0, 1, 2, 4, 8, ... that improved the bound: early
        // for a first cart, then as the multipliers settle.
        let mut next_solve = 0;
        for pass in 0..SUBGRADIENT_PASSES {
            // Out of time: the multipliers so far still give a valid bound.
            if self.market.deadline.stop(self.top.best().is_some()) {
                break;
            }
            let at = relaxation.evaluate(&current, self.max_sellers);
            if at.bound < best_bound {
                best_bound = at.bound;
                best = current.clone();
                best_open = at.open.clone();
                stalled = 0;
                if pass >= next_solve && !at.open.is_empty() {
                    next_solve = (2 * pass).max(1);
                    self.solve_set(at.open.clone(), Purpose::Incumbent);
                }
            } else {
                stalled += 1;
                if stalled >= STALL_PASSES {
                    theta /= 2.0;
                    stalled = 0;
                }
            }
            let incumbent = self.incumbent();
            if incumbent.is_some_and(|v| !beats(best_bound, v)) || theta < 1e-3 {
                break;
            }
            let target = incumbent.unwrap_or(at.bound - 0.05 * at.bound.abs().max(1.0));
            relaxation.step(&mut current, &at, target, theta);
        }
        if !best_open.is_empty() && !self.market.deadline.stop(self.top.best().is_some()) {
            self.solve_set(best_open, Purpose::Incumbent);
        }
        best
    }

    /// Solves the linear programme where [`SellerSearch::linear_multipliers`] says it is
    /// worth it, and takes what its duals give: a tighter bound for the proof, an
    /// incumbent from their open sellers, and a start for the local search.
    ///
    /// The duals bound the carts at least as tightly as the steps' multipliers, but they
    /// are degenerate (many sellers' profits exactly zero) and rank the sellers poorly:
    /// the branching keeps the steps' multipliers.
    fn adopt_linear(
        &mut self,
        relaxation: &Relaxation,
        bound: f64,
        gap: f64,
        for_start: bool,
    ) -> Option<LinearStart> {
        let linear = self.linear_multipliers(relaxation, bound, gap, for_start)?;
        let at = relaxation.evaluate_minimums(&linear, self.max_sellers);
        self.bound_by(at.bound);
        if !at.open.is_empty() && !self.market.deadline.stop(self.top.best().is_some()) {
            self.solve_set(at.open.clone(), Purpose::Incumbent);
        }
        // Without their minimum orders, which the local search adds back one at a time:
        // sets that must meet several at once rarely hold carts a probe finds.
        let market = self.market;
        let start = at
            .open
            .iter()
            .copied()
            .filter(|&s| market.sellers[s].min_order == 0)
            .collect();
        Some(LinearStart {
            open: at.open,
            start,
        })
    }

    /// The linear programme's duals, where the bound is more than `gap` (relative) above
    /// the best cart and there is time for them.
    fn linear_multipliers(
        &self,
        relaxation: &Relaxation,
        bound: f64,
        gap: f64,
        for_start: bool,
    ) -> Option<Multipliers> {
        let incumbent = self.incumbent()?;
        let best = self.top.best()?.score;
        if self.goal_met()
            || relaxation.sellers() <= FEW_SELLERS
            || self.max_sellers <= 1
            || bound - incumbent <= gap * incumbent.abs().max(1.0)
        {
            return None;
        }
        // Worth it where the programme's bound may prove the score (it lies within a few
        // score steps, which rounding may close), or for the local search's start where
        // minimum orders make good sets hard to find.
        let step = self.market.score_step();
        let steps_above = self
            .market
            .reachable_score(bound)
            .map_or(i64::MAX, |r| (r - best) / step);
        let minimums = !relaxation.ordering.is_empty();
        if steps_above > LINEAR_STEPS && !(for_start && minimums) {
            return None;
        }
        super::linear::optimal_multipliers(relaxation, self.max_sellers, self.linear_time()?)
    }

    /// How long the linear programme may take: half the time left, or
    /// [`LINEAR_TIME_LIMIT`] without a budget; None when no time is left.
    fn linear_time(&self) -> Option<std::time::Duration> {
        let limit = self
            .market
            .deadline
            .remaining()
            .map_or(LINEAR_TIME_LIMIT, |left| left / 2);
        (!limit.is_zero()).then_some(limit)
    }

    /// Local search for a better incumbent before the branch and bound: from `start` (or
    /// the sellers of the best cart), moves to the neighbouring set whose best cart is the
    /// best, if it is better than the current set's, until none is. Neighbours are one
    /// seller of `candidates` more, one of its own fewer, or one of its own swapped for
    /// one of `preferred`. The sets' carts are probed ([`PROBE_NODES`]); every cart met
    /// counts as an incumbent. It ends when no neighbour is better, when the set limit is
    /// reached or when the time is up: each move improves the current set's best cart.
    fn improve_locally(
        &mut self,
        candidates: &[usize],
        preferred: &[usize],
        start: Option<Vec<usize>>,
    ) {
        let market = self.market;
        let Some(mut current) = start.or_else(|| {
            let best = self.top.best()?;
            Some(
                best.offers
                    .iter()
                    .map(|&o| market.offers[o as usize].seller)
                    .collect(),
            )
        }) else {
            return;
        };
        current.extend(&self.always_open);
        current.sort_unstable();
        current.dedup();
        let mut value = self.probe(&current);
        'moves: loop {
            let own: Vec<usize> = current
                .iter()
                .copied()
                .filter(|s| !self.always_open.contains(s))
                .collect();
            let outside = |list: &[usize]| -> Vec<usize> {
                list.iter()
                    .copied()
                    .filter(|s| !current.contains(s))
                    .collect()
            };
            let (candidates, preferred) = (outside(candidates), outside(preferred));
            let removals = own.iter().map(|&s| (Some(s), None));
            let additions = candidates.iter().map(|&s| (None, Some(s)));
            let swaps = own
                .iter()
                .flat_map(|&r| preferred.iter().map(move |&a| (Some(r), Some(a))));
            let moves: Vec<(Option<usize>, Option<usize>)> =
                removals.chain(additions).chain(swaps).collect();
            let mut best: Option<(Vec<usize>, f64)> = None;
            for (removed, added) in moves {
                if self.limited || self.out_of_time() || self.goal_met() {
                    return;
                }
                let mut set: Vec<usize> = current
                    .iter()
                    .copied()
                    .filter(|&s| Some(s) != removed)
                    .chain(added)
                    .collect();
                set.sort_unstable();
                if set.is_empty() {
                    continue;
                }
                let bar = best.as_ref().map(|b| b.1).or(value);
                if let Some(found) = self.probe(&set)
                    && bar.is_none_or(|v| found > v + 1e-9 * v.abs().max(1.0))
                {
                    best = Some((set, found));
                }
            }
            if let Some((set, found)) = best {
                current = set;
                value = Some(found);
                continue 'moves;
            }
            return;
        }
    }

    /// The value (in the relaxation's units) of the best cart from the sellers `open`
    /// (sorted, `always_open` among them) that a search of at most [`PROBE_NODES`] nodes
    /// finds, without the bar of the best cart so far; that cart joins the best so far.
    /// Each set is probed once.
    fn probe(&mut self, open: &[usize]) -> Option<f64> {
        if let Some(&value) = self.probed.get(open) {
            return value;
        }
        let (search, rule) = self.set_search(open, Some(PROBE_NODES));
        let mut top = TopK::new(1, Ranked::TotalScore, self.market.budget);
        // Finished, it found the set's best cart: the branch and bound need not solve it.
        let finished = search.run(rule, &mut top);
        self.searched(&search, open, finished);
        let best = top.into_entries().into_iter().next();
        let value = best.as_ref().map(|e| self.value_of(e));
        if let Some(entry) = best {
            self.top.absorb(entry);
        }
        self.probed.insert(open.to_vec(), value);
        value
    }

    /// Solves `open` with the sellers that are in every set.
    fn solve_set(&mut self, mut open: Vec<usize>, purpose: Purpose) {
        open.extend(&self.always_open);
        open.sort_unstable();
        open.dedup();
        self.solve(&open, purpose);
    }

    /// Visits the sets `open` plus sellers from `from` on (in ranking order), of at most
    /// `most` sellers, solving each set whose bound may still reach the best cart.
    fn extend(
        &mut self,
        ranking: &Ranking,
        from: usize,
        open: &mut Vec<usize>,
        open_profit: f64,
        most: usize,
    ) {
        if self.limited || self.timed_out || self.goal_met() {
            return;
        }
        let has_sellers = !open.is_empty() || !self.always_open.is_empty();
        if has_sellers
            && self.promising(ranking.floor + open_profit)
            && self.cost_possible(open, None)
        {
            if self.out_of_time() {
                return;
            }
            let sellers: Vec<usize> = open.iter().chain(&self.always_open).copied().collect();
            self.solve_set(sellers, Purpose::Prove);
            self.bound_the_cost(ranking);
        }
        if open.len() >= most {
            return;
        }
        let slots_after = most - open.len() - 1;
        for i in from..ranking.order.len() {
            // Both terms shrink as i grows (profits are sorted), so the first failure ends
            // the loop.
            let profit = ranking.profits[i];
            let bound =
                ranking.floor + open_profit + profit + ranking.best_from(i + 1, slots_after);
            if !self.promising(bound) || self.out_of_time() || self.goal_met() {
                break;
            }
            // The cost bound is not in ranking order: a failure skips this seller only.
            open.push(ranking.order[i]);
            if self.cost_possible(open, Some(i + 1)) {
                self.extend(ranking, i + 1, open, open_profit + profit, most);
            }
            open.pop();
        }
    }

    /// Called only where a set that may hold a better cart is left to visit. Past the
    /// deadline the search is cut, unless it holds no cart yet: then each visit spends
    /// some of the plan's allowance for finding one, until it is gone.
    fn out_of_time(&mut self) -> bool {
        let deadline = &self.market.deadline;
        if deadline.passed()
            && (self.top.best().is_some() || !deadline.spend_grace(SET_VISIT_NODES))
        {
            self.timed_out = true;
        }
        self.timed_out
    }

    fn promising(&self, bound: f64) -> bool {
        self.incumbent().is_none_or(|v| beats(bound, v))
    }

    /// Whether the cost bound with the sellers `open` (and with `then_from`, any of the
    /// ranking's from that position on) leaves room for a cart of the best score cheaper
    /// than the best, or with `ties` as cheap (then the listing ids decide); true without
    /// a cost bound.
    fn cost_possible(&self, open: &[usize], then_from: Option<usize>) -> bool {
        let Some(best) = self.top.best() else {
            return true;
        };
        // Costs are whole minor units: cheaper is at least one unit cheaper.
        let cost = if self.ties { best.cost } else { best.cost - 1 };
        if let Some(by_charges) = &self.by_charges {
            let sellers = open.iter().chain(&self.always_open).copied();
            if !by_charges.allows(self.market, sellers, then_from, cost) {
                return false;
            }
        }
        let Some(by_cost) = &self.by_cost else {
            return true;
        };
        let profit = open.iter().map(|&s| by_cost.profit[s]).sum::<f64>()
            + then_from.map_or(0.0, |i| by_cost.positive_after[i]);
        by_cost.floor + profit + 1e-9 >= -(cost as f64) / self.market.budget as f64
    }

    /// The best cart so far in the relaxation's units.
    fn incumbent(&self) -> Option<f64> {
        self.top.best().map(|best| self.value_of(best))
    }

    /// A cart's value in the relaxation's units.
    fn value_of(&self, cart: &Entry) -> f64 {
        let budget = self.market.budget as f64;
        cart.score as f64 / SCORE_SCALE
            + (budget - cart.cost as f64) / (SCORE_SCALE * (budget + 1.0))
    }

    /// Solves exactly the best cart whose sellers are among `open` (sorted), once per set.
    ///
    /// Its carts may leave sellers out, unless one of them has a minimum order: carts that
    /// leave sellers out must still meet the minimum of every seller they use, and the
    /// search meets few of them, while requiring every seller that costs something to keep
    /// open turns the minimums into a bound that prunes. That is all the branch and bound
    /// needs (a cart from fewer sellers is another set's); without minimums, requiring
    /// them would only blunt the exact bound, which does not know about it.
    fn solve(&mut self, open: &[usize], purpose: Purpose) {
        if self.solved.contains(open) {
            return;
        }
        if self.solved.len() >= self.limit {
            self.limited = true;
            return;
        }
        let nodes = (purpose == Purpose::Incumbent).then_some(INCUMBENT_NODES);
        let (search, rule) = self.set_search(open, nodes);
        let finished = search.run(rule, &mut self.top);
        self.searched(&search, open, finished);
    }

    /// The exact search of the set `open`, cut after `nodes` nodes if given, and the
    /// count rule it runs under.
    fn set_search(&self, open: &[usize], nodes: Option<u64>) -> (Search, CountRule) {
        let fewest = self.market.min_items.max(1);
        let mut search = Search::new(self.open_set_problem(open), fewest)
            .with_deadline(&self.market.deadline)
            .with_goal(self.goal);
        let cap = match (nodes, self.nodes_left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(nodes) = cap {
            search = search.with_node_cap(nodes.max(1));
        }
        (search, CountRule::AtLeast(fewest))
    }

    /// Records how the search of `open` ended: finished, the set is solved; stopped
    /// short of its node cap, the time budget ran out.
    fn searched(&mut self, search: &Search, open: &[usize], finished: bool) {
        let capped = search.capped();
        if let Some(left) = &mut self.nodes_left {
            *left = left.saturating_sub(search.spent());
            if *left == 0 {
                self.limited = true;
            }
        }
        if finished {
            self.solved.insert(open.to_vec());
        } else if !capped {
            self.timed_out = true;
        }
    }

    fn open_set_problem(&self, open: &[usize]) -> Problem {
        let market = self.market;
        let mut choices: Vec<Choice> = open
            .iter()
            .enumerate()
            .flat_map(|(local, &s)| {
                market.seller_offers[s]
                    .clone()
                    .filter(|&o| self.usable.as_ref().is_none_or(|u| u[o]))
                    .map(move |o| market.choice(o, local))
            })
            .collect();
        let group_of = |c: &Choice| market.offers[c.offer as usize].group;
        choices.sort_by_key(|c| {
            (
                group_of(c),
                c.cost,
                std::cmp::Reverse(c.score),
                c.listing_id,
            )
        });
        let minimums = open.iter().any(|&s| market.sellers[s].min_order > 0);
        let mut groups: Vec<Vec<Choice>> = Vec::new();
        let mut last_group = None;
        let mut best_score_so_far = i64::MIN;
        for choice in choices {
            let group = group_of(&choice);
            if last_group != Some(group) {
                groups.push(Vec::new());
                last_group = Some(group);
                best_score_so_far = i64::MIN;
            }
            // Without minimum orders only undominated choices matter: a cheaper-or-equal
            // choice with at least the score is never worse, whichever seller ships it
            // (a seller left without items only makes the cart cheaper). A minimum order
            // can make a dearer copy the only way to keep a seller's order valid, so then
            // every choice stays.
            if !minimums {
                if choice.score <= best_score_so_far {
                    continue;
                }
                best_score_so_far = choice.score;
            }
            if let Some(g) = groups.last_mut() {
                g.push(choice);
            }
        }
        Problem {
            budget: market.budget,
            sellers: open
                .iter()
                .map(|&s| {
                    let terms = &market.sellers[s];
                    // With minimum orders a set's carts use all its sellers (see `solve`),
                    // but for those that cost nothing to keep open: they are in every set.
                    LocalSeller {
                        fixed: terms.fixed_charge(),
                        min_order: terms.min_order,
                        required: minimums && (terms.fixed_charge() > 0 || terms.min_order > 0),
                    }
                })
                .collect(),
            groups,
        }
    }
}

/// The sellers to branch on, best profit first, with what the bound needs about them.
struct Ranking {
    order: Vec<usize>,
    profits: Vec<f64>,
    /// Prefix sums of the positive profits, in order.
    positive_prefix: Vec<f64>,
    /// The bound with no branched seller open.
    floor: f64,
}

/// What the linear programme's duals give the local search: the sellers open at them, and
/// those of them without a minimum order, to start from.
struct LinearStart {
    open: Vec<usize>,
    start: Vec<usize>,
}

/// How little a cart of the best score may cost with a set of sellers: minus the cost (as
/// a fraction of the budget) is at most `floor` plus the set's profits.
struct CostBound {
    /// Per seller.
    profit: Vec<f64>,
    /// From each position of the ranking on, the sum of the positive profits.
    positive_after: Vec<f64>,
    floor: f64,
}

/// What a cart of at least `score` that uses every seller of a set costs at least: their
/// per-order charges, and its score at the least cost per score unit among their offers.
/// A set whose carts leave a seller out is another set, visited on its own; where the
/// relaxation spreads the per-order charges over many sellers, this bound still counts
/// each in full.
struct ChargesBound {
    score: i64,
    /// Per seller, the least (cost, score) ratio of its offers.
    ratio: Vec<Option<Ratio>>,
    /// From each position of the ranking on, the least of the sellers' ratios.
    ratio_after: Vec<Option<Ratio>>,
}

/// A cost per score unit, as the fraction `cost / score` (score positive).
#[derive(Clone, Copy)]
struct Ratio {
    cost: i64,
    score: i64,
}

impl Ratio {
    fn less(a: Option<Ratio>, b: Option<Ratio>) -> Option<Ratio> {
        match (a, b) {
            (Some(x), Some(y)) => {
                let cross = |p: Ratio, q: Ratio| i128::from(p.cost) * i128::from(q.score);
                Some(if cross(x, y) <= cross(y, x) { x } else { y })
            }
            (x, y) => x.or(y),
        }
    }

    /// The least cost of `score` units at this ratio, in whole minor units.
    fn cost_of(self, score: i64) -> i128 {
        let units = i128::from(self.score);
        (i128::from(score) * i128::from(self.cost) + units - 1).div_euclid(units)
    }
}

impl ChargesBound {
    fn new(market: &Market<'_>, score: i64, order: &[usize]) -> Option<Self> {
        if score <= 0 {
            return None;
        }
        let ratio: Vec<Option<Ratio>> = (0..market.sellers.len())
            .map(|s| market.least_ratio(market.seller_offers[s].clone()))
            .collect();
        let mut ratio_after = vec![None; order.len() + 1];
        for (i, &s) in order.iter().enumerate().rev() {
            ratio_after[i] = Ratio::less(ratio_after[i + 1], ratio[s]);
        }
        Some(Self {
            score,
            ratio,
            ratio_after,
        })
    }

    /// Whether a cart using every one of `sellers` (and, with `then_from`, perhaps some
    /// of the ranking's from that position on) may cost at most `cost`.
    fn allows(
        &self,
        market: &Market<'_>,
        sellers: impl Iterator<Item = usize>,
        then_from: Option<usize>,
        cost: i64,
    ) -> bool {
        let mut charges = 0_i128;
        let mut ratio = then_from.and_then(|i| self.ratio_after[i]);
        for s in sellers {
            charges += i128::from(market.sellers[s].fixed_charge());
            ratio = Ratio::less(ratio, self.ratio[s]);
        }
        ratio.is_some_and(|r| charges + r.cost_of(self.score) <= i128::from(cost))
    }
}

impl Ranking {
    fn new(order: Vec<usize>, profit: &[f64], floor: f64) -> Self {
        let profits: Vec<f64> = order.iter().map(|&s| profit[s]).collect();
        let mut positive_prefix = vec![0.0];
        for p in profits.iter().take_while(|p| **p > 0.0) {
            positive_prefix.push(positive_prefix[positive_prefix.len() - 1] + p);
        }
        Self {
            order,
            profits,
            positive_prefix,
            floor,
        }
    }

    /// The largest sum of at most `slots` profits from position `i` on.
    fn best_from(&self, i: usize, slots: usize) -> f64 {
        let positive = self.positive_prefix.len() - 1;
        let start = i.min(positive);
        let end = i.saturating_add(slots).min(positive);
        if end > start {
            self.positive_prefix[end] - self.positive_prefix[start]
        } else {
            0.0
        }
    }
}

/// Whether a bound may still reach `incumbent`: floating point sums carry tiny errors, so
/// only a bound clearly below the incumbent prunes.
fn beats(bound: f64, incumbent: f64) -> bool {
    bound + 1e-9 * incumbent.abs().max(1.0) >= incumbent
}

impl Market<'_> {
    /// What a search stopped at its limit still proves, from the relaxation's bound
    /// `bound` (normalised units: score over [`SCORE_SCALE`] plus a cost term below one
    /// score unit) and the best score found.
    fn optimality_at_limit(&self, bound: f64, best_score: Option<i64>) -> Optimality {
        let Some(reachable) = self.reachable_score(bound) else {
            return Optimality::BestFound { score_bound: bound };
        };
        match best_score {
            Some(score) if reachable <= score => Optimality::ScoreProven,
            _ => Optimality::BestFound {
                score_bound: reachable as f64 / SCORE_SCALE,
            },
        }
    }

    /// A lower bound on the cost of any cart of at least `score` (units, positive): its
    /// items cost at least `score` times the least cost per score unit of any offer, and
    /// it pays at least one seller's per-order charge.
    fn least_cost_of(&self, score: i64) -> Option<i64> {
        if score <= 0 {
            return None;
        }
        let items = self.least_ratio(0..self.offers.len())?.cost_of(score);
        let fixed = self.sellers.iter().map(|t| t.fixed_charge()).min()?;
        i64::try_from(items + i128::from(fixed)).ok()
    }

    /// The least cost (with the additional-item shipping) per score unit among `offers`
    /// of positive score.
    fn least_ratio(&self, offers: std::ops::Range<usize>) -> Option<Ratio> {
        self.offers[offers]
            .iter()
            .filter(|o| o.score > 0)
            .map(|o| Ratio {
                cost: self.unit_cost(o),
                score: o.score,
            })
            .fold(None, |least, r| Ratio::less(least, Some(r)))
    }

    /// The gcd of the offers' scores (units): every cart's score is a multiple of it.
    fn score_step(&self) -> i64 {
        self.offers
            .iter()
            .fold(0_i64, |g, o| gcd(g, o.score.abs()))
            .max(1)
    }

    /// The highest score (in units) a cart may have under `bound` (normalised units):
    /// every cart's score is a sum of offer scores, so a multiple of their gcd, and the
    /// bound rounds down to the largest such multiple. None when out of range.
    fn reachable_score(&self, bound: f64) -> Option<i64> {
        let step = self.score_step();
        let units = bound * SCORE_SCALE;
        let steps = ((units + units.abs() * 1e-9 + 1e-6) / step as f64).floor();
        (steps.is_finite() && steps.abs() < (i64::MAX / step) as f64).then(|| steps as i64 * step)
    }
}
