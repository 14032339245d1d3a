//! Exact arithmetic for scores and cart values.
//!
//! Scores arrive as floats; they are rounded once to integer millionths so that sums,
//! comparisons and ties are exact and the search is deterministic. A cart's *value* folds
//! the tie-break into one integer: `score x (budget + 1) + (budget - cost)`. Because a cart
//! never costs more than the budget, the second term lies in `0..=budget`, so comparing
//! values compares scores first and, for equal scores, prefers the cheaper cart. Every
//! item then contributes `score x (budget + 1) - unit cost`, which makes the problem a
//! plain knapsack over one linear objective.

/// Score units per unit of score: scores are exact to a millionth.
pub const SCORE_SCALE: f64 = 1_000_000.0;
/// The largest score accepted.
pub const MAX_SCORE: f64 = 1_000_000.0;
/// The largest budget accepted, in minor units; keeps every sum of costs far from overflow.
pub const MAX_BUDGET_MINOR: i64 = 1_000_000_000_000;

/// A score rounded to integer millionths. The caller has checked `0..=MAX_SCORE`.
pub(crate) fn scaled_score(score: f64) -> i64 {
    (score * SCORE_SCALE).round() as i64
}

pub(crate) fn score_as_f64(units: i64) -> f64 {
    units as f64 / SCORE_SCALE
}

/// Value of one item of `score_units` costing `unit_cost` (price plus additional shipping).
pub(crate) fn item_value(score_units: i64, unit_cost: i64, budget: i64) -> i128 {
    i128::from(score_units) * i128::from(budget + 1) - i128::from(unit_cost)
}

/// The greatest common divisor (non-negative): costs and scores step in its multiples.
pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_order_by_score_then_cost() {
        let budget = 10_000;
        // Same score, the cheaper cart wins; a higher score wins whatever it costs.
        let cheap = 3 * i128::from(budget + 1) + i128::from(budget - 1_000);
        let dear = 3 * i128::from(budget + 1) + i128::from(budget - 9_000);
        let better = 4 * i128::from(budget + 1);
        assert!(cheap > dear);
        assert!(better > cheap);
        assert_eq!(item_value(3, 250, budget), 3 * 10_001 - 250);
    }

    #[test]
    fn scores_round_to_millionths() {
        assert_eq!(scaled_score(0.8655), 865_500);
        assert_eq!(scaled_score(0.1 + 0.2), 300_000);
        assert_eq!(score_as_f64(865_500), 0.8655);
    }
}
