//! A Lagrangian bound on the best multi-seller cart.
//!
//! Dualising the budget (multiplier `lambda`), "at most one offer per group" (one `mu`
//! per group) and each seller's minimum order (one `rho` per seller that has one: the
//! items' prices must reach the minimum when the seller ships) leaves a problem that
//! splits by seller: a seller is worth opening when its *profit* — the positive parts of
//! `value - lambda x cost + rho x price - mu` over its groups, minus its per-order
//! shipping priced the same way and `rho x minimum` — is positive. For any multipliers
//! `>= 0` the sum of the base and the best `max_sellers` positive profits bounds every
//! cart, and fixing a seller open or closed only adds or drops its profit. With the best
//! multipliers this bound equals the linear relaxation with `item <= seller open`
//! constraints, which is within a fraction of a percent of the optimum on marketplace
//! data. Subgradient steps come close in a few hundred cheap passes where the data is
//! varied; where it ties everywhere they stall well above it, and the linear programme's
//! own duals ([`super::linear`]) give the bound instead.
//!
//! Everything here is floating point in normalised units (score units for values, budget
//! fractions for costs). The bound only prunes, with a safety margin; carts are always
//! evaluated exactly.

use crate::Market;
use crate::model::value::{SCORE_SCALE, gcd};

/// The largest any multiplier may grow. Every multiplier of at least zero gives a valid
/// bound in exact arithmetic, but a huge one cancels in floating point: a seller whose
/// items exactly meet its minimum order has `rho x (prices - minimum) = 0`, and at
/// `rho = 1e16` that difference rounds to whole units, which swallows the seller's
/// profit and lets the bound fall below real carts. Capped here, the rounding errors
/// stay below the tolerance with which bounds prune (about 1e-9); no useful multiplier
/// is this large (values are scores of at most a few units against budget fractions).
pub(super) const MULTIPLIER_MAX: f64 = 1e6;

/// The profit of a seller that cannot ship: finite, so sums stay ordered, and far below
/// any bound.
const UNREACHABLE: f64 = -1e12;

/// The offers of one seller in one group: at most one of them is taken.
pub(super) struct Cell {
    pub(super) seller: usize,
    pub(super) group: usize,
    pub(super) offers: std::ops::Range<usize>,
}

pub(super) struct Relaxation {
    pub(super) cells: Vec<Cell>,
    pub(super) seller_cells: Vec<std::ops::Range<usize>>,
    /// Per offer: value in score units; cost (with shipping) and price (what counts
    /// towards a minimum order) as fractions of the budget.
    pub(super) value: Vec<f64>,
    pub(super) cost: Vec<f64>,
    pub(super) price: Vec<f64>,
    /// Per seller: the per-order shipping as lost value and as a fraction of the budget,
    /// and the minimum order as a fraction of the budget (zero: none).
    pub(super) fixed_value: Vec<f64>,
    pub(super) fixed_cost: Vec<f64>,
    pub(super) minimum: Vec<f64>,
    /// The sellers with a minimum order.
    pub(super) ordering: Vec<usize>,
    pub(super) base: f64,
    pub(super) groups: usize,
    /// Per offer: its score in score units. With `score_floor` (score units), carts must
    /// reach that score: the relaxation then bounds the cost of the carts that do (see
    /// [`Relaxation::for_cost`]).
    pub(super) score: Vec<f64>,
    pub(super) score_floor: Option<f64>,
    /// Per offer, its price, and per seller its minimum order, in minor units: the
    /// minimums are met exactly in [`Relaxation::ordering_profit`].
    pub(super) price_minor: Vec<i64>,
    pub(super) minimum_minor: Vec<i64>,
}

/// The sellers and offers a cart worth more than the incumbent may still use.
pub(super) struct Reduction {
    pub sellers: Vec<KeptSeller>,
    /// Market offer indices, ascending.
    pub offers: Vec<usize>,
}

pub(super) struct KeptSeller {
    pub seller: usize,
    /// Every such cart uses this seller.
    pub needed: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Multipliers {
    pub lambda: f64,
    pub mu: Vec<f64>,
    /// Per seller; stays zero for sellers without a minimum order.
    pub rho: Vec<f64>,
    /// For the score floor, if any.
    pub sigma: f64,
}

pub(super) struct Evaluation {
    pub bound: f64,
    /// Bound with every seller closed: `base + lambda + sum(mu)`.
    pub floor: f64,
    pub profit: Vec<f64>,
    /// Sellers open in the relaxed optimum, best profit first.
    pub open: Vec<usize>,
}

impl Relaxation {
    pub fn new(market: &Market<'_>) -> Self {
        let budget = market.budget as f64;
        let per_value = SCORE_SCALE * (budget + 1.0);
        let mut value = Vec::with_capacity(market.offers.len());
        let mut cost = Vec::with_capacity(market.offers.len());
        let mut price = Vec::with_capacity(market.offers.len());
        for offer in &market.offers {
            let unit = market.unit_cost(offer) as f64;
            value.push(offer.score as f64 / SCORE_SCALE - unit / per_value);
            cost.push(unit / budget);
            price.push(offer.price as f64 / budget);
        }
        let mut cells: Vec<Cell> = Vec::new();
        for (i, offer) in market.offers.iter().enumerate() {
            match cells.last_mut() {
                Some(cell) if cell.seller == offer.seller && cell.group == offer.group => {
                    cell.offers.end = i + 1;
                }
                _ => cells.push(Cell {
                    seller: offer.seller,
                    group: offer.group,
                    offers: i..i + 1,
                }),
            }
        }
        let mut seller_cells = vec![0..0; market.sellers.len()];
        let mut start = 0;
        while start < cells.len() {
            let seller = cells[start].seller;
            let end = start
                + cells[start..]
                    .iter()
                    .take_while(|c| c.seller == seller)
                    .count();
            seller_cells[seller] = start..end;
            start = end;
        }
        let fixed: Vec<f64> = market
            .sellers
            .iter()
            .map(|s| s.fixed_charge() as f64)
            .collect();
        Self {
            cells,
            seller_cells,
            value,
            cost,
            price,
            fixed_value: fixed.iter().map(|f| f / per_value).collect(),
            fixed_cost: fixed.iter().map(|f| f / budget).collect(),
            minimum: market
                .sellers
                .iter()
                .map(|s| s.min_order as f64 / budget)
                .collect(),
            ordering: (0..market.sellers.len())
                .filter(|&s| market.sellers[s].min_order > 0)
                .collect(),
            base: budget / per_value,
            groups: market.group_count,
            score: market
                .offers
                .iter()
                .map(|o| o.score as f64 / SCORE_SCALE)
                .collect(),
            score_floor: None,
            price_minor: market.offers.iter().map(|o| o.price).collect(),
            minimum_minor: market.sellers.iter().map(|s| s.min_order).collect(),
        }
    }

    /// The relaxation of "the cheapest cart with a score of at least `floor` (units)":
    /// the value of a cart is minus its cost as a fraction of the budget. Dualising the
    /// floor too (multiplier `sigma`) prices each score unit, so the bound is again the
    /// floor plus the best sellers' profits, now on how little such a cart can cost.
    pub fn for_cost(market: &Market<'_>, floor: i64) -> Self {
        let mut relaxation = Self::new(market);
        relaxation.value = relaxation.cost.iter().map(|c| -c).collect();
        relaxation.fixed_value = relaxation.fixed_cost.clone();
        relaxation.base = 0.0;
        relaxation.score_floor = Some(floor as f64 / SCORE_SCALE);
        relaxation
    }

    pub fn sellers(&self) -> usize {
        self.seller_cells.len()
    }

    /// A starting point: no group prices, and the budget priced at the value per budget
    /// fraction of the last item a greedy fill (ignoring shipping) would take.
    pub fn initial(&self) -> Multipliers {
        let mut best: Vec<(f64, f64)> = vec![(f64::NEG_INFINITY, 1.0); self.groups];
        for cell in &self.cells {
            for o in cell.offers.clone() {
                if self.value[o] > best[cell.group].0 {
                    best[cell.group] = (self.value[o], self.cost[o]);
                }
            }
        }
        best.retain(|(v, c)| *v > 0.0 && *c > 0.0);
        best.sort_by(|a, b| (b.0 / b.1).total_cmp(&(a.0 / a.1)));
        let mut room = 1.0;
        let mut lambda = 0.0;
        for (v, c) in best {
            lambda = v / c;
            room -= c;
            if room <= 0.0 {
                break;
            }
        }
        Multipliers {
            lambda,
            mu: vec![0.0; self.groups],
            rho: vec![0.0; self.sellers()],
            sigma: 0.0,
        }
    }

    /// What offer `o` of `cell` adds to its seller's profit.
    fn gain(&self, cell: &Cell, o: usize, m: &Multipliers) -> f64 {
        self.value[o] - m.lambda * self.cost[o]
            + m.rho[cell.seller] * self.price[o]
            + m.sigma * self.score[o]
            - m.mu[cell.group]
    }

    /// The cell's best gain and the offer giving it.
    fn cell_gain(&self, cell: &Cell, m: &Multipliers) -> (f64, usize) {
        let mut best = (f64::NEG_INFINITY, cell.offers.start);
        for o in cell.offers.clone() {
            let gain = self.gain(cell, o, m);
            if gain > best.0 {
                best = (gain, o);
            }
        }
        best
    }

    /// Whether the multipliers are usable: none negative or above [`MULTIPLIER_MAX`].
    pub fn valid(m: &Multipliers) -> bool {
        let ok = |v: f64| (0.0..=MULTIPLIER_MAX).contains(&v);
        ok(m.lambda) && ok(m.sigma) && m.mu.iter().all(|&v| ok(v)) && m.rho.iter().all(|&v| ok(v))
    }

    pub fn evaluate(&self, m: &Multipliers, max_sellers: usize) -> Evaluation {
        let floor = self.base + m.lambda + m.mu.iter().sum::<f64>()
            - m.sigma * self.score_floor.unwrap_or(0.0);
        let profit: Vec<f64> = (0..self.sellers())
            .map(|s| {
                let gains: f64 = self.seller_cells[s]
                    .clone()
                    .map(|c| self.cell_gain(&self.cells[c], m).0.max(0.0))
                    .sum();
                gains
                    - self.fixed_value[s]
                    - m.lambda * self.fixed_cost[s]
                    - m.rho[s] * self.minimum[s]
            })
            .collect();
        let mut open: Vec<usize> = (0..self.sellers()).filter(|&s| profit[s] > 0.0).collect();
        open.sort_by(|&a, &b| profit[b].total_cmp(&profit[a]).then(a.cmp(&b)));
        open.truncate(max_sellers);
        let bound = floor + open.iter().map(|&s| profit[s]).sum::<f64>();
        Evaluation {
            bound,
            floor,
            profit,
            open,
        }
    }

    /// The evaluation at `m` with the profit of every seller that has a minimum order
    /// computed with the minimum met exactly instead of priced by `rho` (see
    /// [`Relaxation::ordering_profit`]): never above [`Relaxation::evaluate`]'s bound.
    pub fn evaluate_minimums(&self, m: &Multipliers, max_sellers: usize) -> Evaluation {
        let mut at = self.evaluate(m, max_sellers);
        if self.ordering.is_empty() {
            return at;
        }
        let unpriced = Multipliers {
            rho: vec![0.0; self.sellers()],
            ..m.clone()
        };
        for &s in &self.ordering {
            at.profit[s] = at.profit[s].min(self.ordering_profit(s, &unpriced));
        }
        let profit = &at.profit;
        let mut open: Vec<usize> = (0..self.sellers()).filter(|&s| profit[s] > 0.0).collect();
        open.sort_by(|&a, &b| profit[b].total_cmp(&profit[a]).then(a.cmp(&b)));
        open.truncate(max_sellers);
        at.bound = at.floor + open.iter().map(|&s| profit[s]).sum::<f64>();
        at.open = open;
        at
    }

    /// Seller `s`'s profit at `m` (whose `rho` is ignored) when it ships: the best gains
    /// of at most one offer per cell whose prices reach its minimum order, by dynamic
    /// programming over the price reached (capped at the minimum), minus its per-order
    /// charge. [`UNREACHABLE`] when its offers cannot reach the minimum.
    fn ordering_profit(&self, s: usize, m: &Multipliers) -> f64 {
        let minimum = self.minimum_minor[s];
        let cells = &self.cells[self.seller_cells[s].clone()];
        let step = cells
            .iter()
            .flat_map(|c| c.offers.clone())
            .fold(minimum, |g, o| gcd(g, self.price_minor[o]))
            .max(1);
        let top = (minimum / step) as usize;
        let mut best = vec![f64::NEG_INFINITY; top + 1];
        best[0] = 0.0;
        let mut next = best.clone();
        for cell in cells {
            next.copy_from_slice(&best);
            for o in cell.offers.clone() {
                let gain = self.gain(cell, o, m);
                let weight = (self.price_minor[o] / step) as usize;
                for (q, &here) in best.iter().enumerate() {
                    if here > f64::NEG_INFINITY {
                        let to = (q + weight).min(top);
                        next[to] = next[to].max(here + gain);
                    }
                }
            }
            std::mem::swap(&mut best, &mut next);
        }
        if best[top] == f64::NEG_INFINITY {
            return UNREACHABLE;
        }
        best[top] - self.fixed_value[s] - m.lambda * self.fixed_cost[s]
    }

    /// What the multipliers prove about carts worth more than `incumbent` (normalised
    /// units; see [`SellerSearch`](super::seller_search)) when no seller cap binds:
    /// fixing a seller open or closed, or an offer taken, moves the bound by an exact
    /// amount, so whatever would take it below the incumbent is ruled out.
    pub fn reduce(&self, m: &Multipliers, at: &Evaluation, incumbent: f64) -> Reduction {
        // Sums carry rounding errors: rule out only what falls clearly short.
        let bar = incumbent - 1e-7 * incumbent.abs().max(1.0);
        let mut sellers = Vec::new();
        let mut offers = Vec::new();
        for (s, cells) in self.seller_cells.iter().enumerate() {
            let profit = at.profit[s];
            // The bound with this seller open.
            let opened = at.bound - profit.max(0.0) + profit;
            if opened < bar {
                continue;
            }
            let before = offers.len();
            let cells = &self.cells[cells.clone()];
            if self.minimum_minor[s] > 0 {
                // Its profit meets the minimum exactly (`evaluate_minimums`): forcing one
                // offer does not move it by that offer's gain alone, so all stay.
                offers.extend(cells.iter().flat_map(|c| c.offers.clone()));
            } else {
                for cell in cells {
                    let best = self.cell_gain(cell, m).0.max(0.0);
                    for o in cell.offers.clone() {
                        if opened - best + self.gain(cell, o, m) >= bar {
                            offers.push(o);
                        }
                    }
                }
            }
            if offers.len() > before {
                sellers.push(KeptSeller {
                    seller: s,
                    needed: at.bound - profit.max(0.0) < bar,
                });
            }
        }
        Reduction { sellers, offers }
    }

    /// One projected subgradient step towards `target` (the best cart's normalised value).
    pub fn step(&self, m: &mut Multipliers, at: &Evaluation, target: f64, theta: f64) {
        let mut budget_slack = 1.0;
        let mut group_slack = vec![1.0; self.groups];
        // A closed seller meets its minimum (nothing ordered); an open one by its items.
        // Only sellers with a minimum order have a multiplier (none: nothing allocated).
        let mut order_slack = if self.ordering.is_empty() {
            Vec::new()
        } else {
            vec![0.0; self.sellers()]
        };
        let mut score_slack = -self.score_floor.unwrap_or(0.0);
        for &s in &at.open {
            budget_slack -= self.fixed_cost[s];
            if let Some(slack) = order_slack.get_mut(s) {
                *slack = -self.minimum[s];
            }
            for c in self.seller_cells[s].clone() {
                let cell = &self.cells[c];
                let (gain, offer) = self.cell_gain(cell, m);
                if gain > 0.0 {
                    budget_slack -= self.cost[offer];
                    group_slack[cell.group] -= 1.0;
                    if let Some(slack) = order_slack.get_mut(s) {
                        *slack += self.price[offer];
                    }
                    score_slack += self.score[offer];
                }
            }
        }
        let order_moves = |s: usize, rho: f64| !(rho <= 0.0 && order_slack[s] > 0.0);
        // Components that would push a multiplier below zero do not move it.
        let lambda_moves = !(m.lambda <= 0.0 && budget_slack > 0.0);
        let mut norm = if lambda_moves {
            budget_slack * budget_slack
        } else {
            0.0
        };
        for (g, slack) in group_slack.iter().enumerate() {
            if !(m.mu[g] <= 0.0 && *slack > 0.0) {
                norm += slack * slack;
            }
        }
        for &s in &self.ordering {
            if order_moves(s, m.rho[s]) {
                norm += order_slack[s] * order_slack[s];
            }
        }
        let sigma_moves = self.score_floor.is_some() && !(m.sigma <= 0.0 && score_slack > 0.0);
        if sigma_moves {
            norm += score_slack * score_slack;
        }
        if norm <= 0.0 {
            return;
        }
        let t = theta * (at.bound - target).max(1e-12) / norm;
        let project = |v: f64| v.clamp(0.0, MULTIPLIER_MAX);
        if lambda_moves {
            m.lambda = project(m.lambda - t * budget_slack);
        }
        for (g, slack) in group_slack.iter().enumerate() {
            m.mu[g] = project(m.mu[g] - t * slack);
        }
        for &s in &self.ordering {
            if order_moves(s, m.rho[s]) {
                m.rho[s] = project(m.rho[s] - t * order_slack[s]);
            }
        }
        if sigma_moves {
            m.sigma = project(m.sigma - t * score_slack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Candidate, CartCriteria, Instance, Listing, Options, Origin, Seller};
    use cratedigger_domain::{
        Country, Currency, ListingId, MediaCondition, Money, ReleaseId, SellerName,
    };

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn listing(id: u64, seller: &str, price: i64) -> Listing {
        Listing {
            id: ListingId(id),
            release: ReleaseId(id),
            seller: SellerName::new(seller),
            price: eur(price),
            converted: None,
            media: MediaCondition::NearMint,
            sleeve: None,
            available: true,
        }
    }

    fn seller(name: &str, min_order: Option<i64>) -> Seller {
        Seller {
            name: SellerName::new(name),
            rating: None,
            ships_from: Some(Country::new("Germany")),
            shipping: Some(crate::ShippingPolicy::new(eur(0), eur(0))),
            min_order_total: min_order.map(eur),
        }
    }

    /// "a" takes orders of 20.00 or more: its 15.00 record worth 1.0 ships only with its
    /// 6.00 record worth 0.01. Priced at the budget, the cheap record's gain is negative,
    /// so with the minimum priced at zero the relaxation ships the good record alone;
    /// met exactly, the minimum makes the seller carry both.
    #[test]
    fn a_minimum_met_exactly_bounds_tighter_and_still_above_every_cart() {
        let candidate = |release: u64, score: f64| Candidate {
            release: ReleaseId(release),
            master: None,
            score,
            origin: Origin::Wantlist,
        };
        let instance = Instance {
            candidates: vec![candidate(1, 1.0), candidate(2, 0.01), candidate(3, 0.5)],
            listings: vec![
                listing(1, "a", 1_500),
                listing(2, "a", 600),
                listing(3, "b", 500),
            ],
            sellers: vec![seller("a", Some(2_000)), seller("b", None)],
        };
        let mut criteria = CartCriteria::with_budget(eur(2_500));
        criteria.min_seller_rating = None;
        let market = Market::prepare(&instance, &criteria, &Options::default()).unwrap();
        let relaxation = Relaxation::new(&market);
        // The best cart: both of a's records (21.00, score 1.01); b's 5.00 would pass the
        // budget.
        let best = 1.01 + (2_500.0 - 2_100.0) / (SCORE_SCALE * 2_501.0);
        for lambda in [0.0, 0.1, 0.5, 1.0, 2.0] {
            let m = Multipliers {
                lambda,
                mu: vec![0.0; relaxation.groups],
                rho: vec![0.0; relaxation.sellers()],
                sigma: 0.0,
            };
            let priced = relaxation.evaluate(&m, 2).bound;
            let exact = relaxation.evaluate_minimums(&m, 2).bound;
            assert!(
                exact <= priced + 1e-12,
                "lambda {lambda}: {exact} > {priced}"
            );
            assert!(
                exact + 1e-9 >= best,
                "lambda {lambda}: {exact} below the best cart"
            );
            // Between these the good record's gain is positive and the cheap one's not.
            if (0.1..=1.0).contains(&lambda) {
                assert!(
                    exact < priced - 1e-3,
                    "lambda {lambda}: {exact} vs {priced}"
                );
            }
        }
    }
}
