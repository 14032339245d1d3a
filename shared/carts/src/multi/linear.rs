//! The linear relaxation of the multi-seller cart, solved by an interior-point method
//! ([clarabel](https://docs.rs/clarabel)) for its duals.
//!
//! The Lagrangian bound at the linear programme's optimal duals equals the programme's
//! value, so the duals are the best multipliers there are. They are only ever used as
//! multipliers: the bound is then computed by [`Relaxation::evaluate`], which is valid for
//! any non-negative multipliers, so an inexact or failed solve weakens the bound but never
//! makes it wrong.
//!
//! The programme, over offers `x` and sellers `y`, all in `[0, 1]`:
//!
//! ```text
//! maximise   sum value_o x_o - sum fixed_value_s y_s
//! subject to sum_{o in g} x_o <= 1                          per group      (mu_g)
//!            sum cost_o x_o + sum fixed_cost_s y_s <= 1     the budget     (lambda)
//!            minimum_s y_s - sum_{o of s} price_o x_o <= 0  per minimum    (rho_s)
//!            sum y_s <= max_sellers                         when it binds
//!            sum score_o x_o >= score_floor                 with a floor   (sigma)
//!            sum_{o in cell} x_o <= y_s                     per seller and group
//! ```

use std::time::Duration;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

use super::lagrangian::{MULTIPLIER_MAX, Multipliers, Relaxation};

/// The linear programme's duals as multipliers, or None when the solver gave up (out of
/// time, or numerically) before an answer worth using.
pub(super) fn optimal_multipliers(
    relaxation: &Relaxation,
    max_sellers: usize,
    time_limit: Duration,
) -> Option<Multipliers> {
    let offers = relaxation.value.len();
    let sellers = relaxation.sellers();
    let groups = relaxation.groups;
    let mut rows = Rows::default();
    let group_row = rows.add(groups);
    let budget_row = rows.add(1);
    let ordering = &relaxation.ordering;
    let order_row = rows.add(ordering.len());
    let mut order_of = vec![None; sellers];
    for (k, &s) in ordering.iter().enumerate() {
        order_of[s] = Some(order_row + k);
    }
    let cap_row = (max_sellers < sellers).then(|| rows.add(1));
    let score_row = relaxation.score_floor.map(|_| rows.add(1));
    let cell_row = rows.add(relaxation.cells.len());
    let open_at_most_once = rows.add(sellers);
    let nonnegative = rows.add(offers + sellers);

    let y = |s: usize| offers + s;
    for (c, cell) in relaxation.cells.iter().enumerate() {
        for o in cell.offers.clone() {
            rows.push(group_row + cell.group, o, 1.0);
            rows.push(budget_row, o, relaxation.cost[o]);
            if let Some(row) = order_of[cell.seller] {
                rows.push(row, o, -relaxation.price[o]);
            }
            rows.push(cell_row + c, o, 1.0);
            if let Some(row) = score_row {
                rows.push(row, o, -relaxation.score[o]);
            }
        }
        rows.push(cell_row + c, y(cell.seller), -1.0);
    }
    for (s, order) in order_of.iter().enumerate() {
        rows.push(budget_row, y(s), relaxation.fixed_cost[s]);
        if let Some(row) = *order {
            rows.push(row, y(s), relaxation.minimum[s]);
        }
        if let Some(row) = cap_row {
            rows.push(row, y(s), 1.0);
        }
        rows.push(open_at_most_once + s, y(s), 1.0);
    }
    for column in 0..offers + sellers {
        rows.push(nonnegative + column, column, -1.0);
    }
    let mut b = vec![0.0; rows.count];
    b[group_row..group_row + groups].fill(1.0);
    b[budget_row] = 1.0;
    if let Some(row) = cap_row {
        b[row] = max_sellers as f64;
    }
    if let (Some(row), Some(floor)) = (score_row, relaxation.score_floor) {
        b[row] = -floor;
    }
    b[open_at_most_once..open_at_most_once + sellers].fill(1.0);

    // Rows scaled to a largest coefficient of one: the original row's dual is the scaled
    // row's divided by the scale.
    let scale = rows.scale(&mut b);
    let columns = offers + sellers;
    let q: Vec<f64> = relaxation
        .value
        .iter()
        .map(|v| -v)
        .chain(relaxation.fixed_value.iter().copied())
        .collect();
    let a = CscMatrix::new_from_triplets(rows.count, columns, rows.row, rows.column, rows.value);
    let p = CscMatrix::zeros((columns, columns));
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .time_limit(time_limit.as_secs_f64())
        .build()
        .ok()?;
    let cones = [SupportedConeT::NonnegativeConeT(rows.count)];
    let mut solver = DefaultSolver::new(&p, &q, &a, &b, &cones, settings).ok()?;
    solver.solve();
    let solution = &solver.solution;
    if !matches!(
        solution.status,
        SolverStatus::Solved | SolverStatus::AlmostSolved
    ) {
        return None;
    }
    // Any multipliers in range bound the carts: clamped, extreme duals only weaken it.
    let dual = |row: usize| (solution.z[row] / scale[row]).clamp(0.0, MULTIPLIER_MAX);
    let mut rho = vec![0.0; sellers];
    for (k, &s) in ordering.iter().enumerate() {
        rho[s] = dual(order_row + k);
    }
    let multipliers = Multipliers {
        lambda: dual(budget_row),
        mu: (0..groups).map(|g| dual(group_row + g)).collect(),
        rho,
        sigma: score_row.map_or(0.0, dual),
    };
    Relaxation::valid(&multipliers).then_some(multipliers)
}

/// The constraint matrix as triplets, rows numbered as they are added.
#[derive(Default)]
struct Rows {
    count: usize,
    row: Vec<usize>,
    column: Vec<usize>,
    value: Vec<f64>,
}

impl Rows {
    /// Reserves `n` rows; returns the first.
    fn add(&mut self, n: usize) -> usize {
        self.count += n;
        self.count - n
    }

    fn push(&mut self, row: usize, column: usize, value: f64) {
        if value != 0.0 {
            self.row.push(row);
            self.column.push(column);
            self.value.push(value);
        }
    }

    /// Divides every row (and its right-hand side) by its largest coefficient; returns
    /// the divisors, one per row.
    fn scale(&mut self, b: &mut [f64]) -> Vec<f64> {
        let mut largest = vec![0.0_f64; self.count];
        for (&r, &v) in self.row.iter().zip(&self.value) {
            largest[r] = largest[r].max(v.abs());
        }
        for l in &mut largest {
            if !(l.is_finite() && *l > 0.0) {
                *l = 1.0;
            }
        }
        for (&r, v) in self.row.iter().zip(&mut self.value) {
            *v /= largest[r];
        }
        for (r, rhs) in b.iter_mut().enumerate() {
            *rhs /= largest[r];
        }
        largest
    }
}
