//! The exact bound, for subproblems whose budget is small against their items: for every
//! suffix of the search's groups and every room, the most value its choices can add
//! within that room, by dynamic programming over cost. Where the fractional bound is
//! loose (scores proportional to prices, so every item is as efficient as every other,
//! and a budget no set fills exactly) this one is tight, and with it the walk visits only
//! the branches that can still reach the bar.
//!
//! Costs are counted in steps of their greatest common divisor, which is exact and often
//! shrinks the table by a hundred (prices in whole units). Minimum orders and item counts
//! are left out, so it is an upper bound wherever they bind.

use super::Choice;
use crate::model::value::gcd;

/// The most table cells (8 bytes each) one search may build: 64 MiB.
pub(super) const MAX_CELLS: usize = 1 << 23;
/// Tables up to this many cells (512 KiB, well under a millisecond) are built before the
/// walk starts; larger ones only for a walk that proves long.
pub(super) const EAGER_CELLS: usize = 1 << 16;

pub(super) struct Exact {
    step: i64,
    /// Rooms per row: capacity in steps, plus one.
    width: usize,
    groups: usize,
    /// Row `groups - g`, for g in 0..=groups: the best value of groups g.. within each
    /// room.
    rows: Vec<i64>,
}

/// The rooms a table over cost needs for these groups within `capacity`: costs counted in
/// steps of their greatest common divisor, and the rooms per row (capacity in steps, plus
/// one). None for a negative capacity or one too large to count.
pub(super) fn rooms(groups: &[Vec<Choice>], capacity: i64) -> Option<(i64, usize)> {
    if capacity < 0 {
        return None;
    }
    let step = groups
        .iter()
        .flatten()
        .fold(0, |g, c| gcd(g, c.cost))
        .max(1);
    let width = usize::try_from(capacity / step).ok()?.checked_add(1)?;
    Some((step, width))
}

impl Exact {
    /// The cost step and the rooms per row of the table for these groups; None when it
    /// would exceed `max_cells` or its values would not fit.
    pub fn shape(groups: &[Vec<Choice>], capacity: i64, max_cells: usize) -> Option<(i64, usize)> {
        let (step, width) = rooms(groups, capacity)?;
        let cells = width.checked_mul(groups.len() + 1)?;
        if cells > max_cells.min(MAX_CELLS) {
            return None;
        }
        let most: i128 = groups
            .iter()
            .map(|g| g.iter().map(|c| c.value).max().unwrap_or(0).max(0))
            .sum();
        (most <= i128::from(i64::MAX)).then_some((step, width))
    }

    /// None when the table would exceed `max_cells` or its values would not fit.
    pub fn build(groups: &[Vec<Choice>], capacity: i64, max_cells: usize) -> Option<Self> {
        let (step, width) = Self::shape(groups, capacity, max_cells)?;
        // Rows are stored last group first, so each is built from the one before it in
        // memory, written once (no zeroing of the whole table).
        let mut rows = Vec::with_capacity(width * (groups.len() + 1));
        rows.resize(width, 0_i64);
        for (built, group) in groups.iter().rev().enumerate() {
            rows.extend_from_within(built * width..(built + 1) * width);
            let (head, row) = rows.split_at_mut((built + 1) * width);
            let next = &head[built * width..];
            for choice in group {
                // A choice worth nothing never raises a best value.
                let Ok(value) = i64::try_from(choice.value) else {
                    continue;
                };
                let Ok(weight) = usize::try_from(choice.cost / step) else {
                    continue;
                };
                if value <= 0 || weight >= width {
                    continue;
                }
                for (slot, below) in row[weight..].iter_mut().zip(next) {
                    *slot = (*slot).max(below + value);
                }
            }
        }
        Some(Self {
            step,
            width,
            groups: groups.len(),
            rows,
        })
    }

    /// The most value groups `from..` can add within `room` (at most the capacity).
    pub fn best(&self, from: usize, room: i64) -> i128 {
        let at = usize::try_from(room / self.step).map_or(0, |r| r.min(self.width - 1));
        let row = self.groups.saturating_sub(from);
        self.rows
            .get(row * self.width + at)
            .map_or(0, |&v| i128::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knapsack::test_choice;

    const BUDGET: i64 = 10_000;

    fn choice(i: usize, score: i64, cost: i64) -> Choice {
        test_choice(i, score, cost, BUDGET)
    }

    /// Best value of any set of one-choice groups from `from` on within `room`.
    fn brute(groups: &[Vec<Choice>], from: usize, room: i64) -> i128 {
        let items: Vec<&Choice> = groups[from..].iter().map(|g| &g[0]).collect();
        (0..1_u32 << items.len())
            .filter_map(|mask| {
                let picked = items.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1);
                let (cost, value) = picked.fold((0, 0), |(c, v), (_, x)| (c + x.cost, v + x.value));
                (cost <= room).then_some(value)
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn the_table_is_the_best_extension_for_every_suffix_and_room() {
        let mut x: u64 = 7;
        for _ in 0..30 {
            let groups: Vec<Vec<Choice>> = (0..10)
                .map(|i| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let cost = 250 * (1 + (x >> 40) as i64 % 12);
                    // Scores proportional to prices, the shape the table is for, or not.
                    let score = if i % 2 == 0 {
                        cost * 10
                    } else {
                        (x >> 20) as i64 % 5_000
                    };
                    vec![choice(i, score, cost)]
                })
                .collect();
            let exact = Exact::build(&groups, 4_000, MAX_CELLS).unwrap();
            assert_eq!(exact.step, 250);
            for from in 0..=groups.len() {
                for room in [0, 249, 250, 1_999, 2_600, 4_000] {
                    assert_eq!(
                        exact.best(from, room),
                        brute(&groups, from, room),
                        "{from} {room}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_table_too_large_is_not_built() {
        let groups = vec![vec![choice(0, 1, 1)], vec![choice(1, 1, 1)]];
        assert!(Exact::build(&groups, (MAX_CELLS / 4) as i64, MAX_CELLS).is_some());
        assert!(Exact::build(&groups, MAX_CELLS as i64, MAX_CELLS).is_none());
        assert!(Exact::build(&groups, 1_000, EAGER_CELLS).is_some());
        assert!(Exact::build(&groups, EAGER_CELLS as i64, EAGER_CELLS).is_none());
    }
}
