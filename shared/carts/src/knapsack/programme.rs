//! The best cart of a search by dynamic programming over cost, for subproblems where the
//! walk proves long and the budget in cost steps times the offers is small: scores
//! proportional to prices and a budget no set fills exactly (a subset-sum shape), where
//! every bound but an exact one is loose and the walk would need the full table of
//! [`super::exact`] (8 bytes per group and room) only to be guided to the answer.
//!
//! The programme keeps two rows of best values and one bit per offer and room: whether
//! taking that offer is the preferred best way to spend the room on the groups from its
//! own on. Following the bits from the full capacity gives the best cart and, among
//! carts of the same value, the one with the smallest sorted listing ids, the crate's
//! tie rule: groups are taken in the order of their listing ids (when their ids do not
//! interleave; otherwise the programme does not apply), and at each group taking an offer
//! is preferred to skipping it and the smaller id to the larger.
//!
//! Item counts, minimum orders and sellers left out of a cart (who then pay no shipping)
//! are not modelled: the programme's cart is the answer only when it satisfies them, and
//! the caller checks that (the best cart of a larger problem that satisfies the smaller
//! one's rules is the best of the smaller one, ties included).

use super::exact::rooms;
use super::{Choice, Deadline};

/// The most offer-room cells (one bit each, one comparison each to fill) a programme may
/// take: 4 MiB of bits and some tens of milliseconds.
const MAX_CELLS: usize = 1 << 25;

/// Groups in id order, each one's offers in id order.
pub(super) struct Programme {
    groups: Vec<Vec<Choice>>,
    step: i64,
    /// Rooms: capacity in steps, plus one.
    width: usize,
    /// Every offer is worth the same per unit of cost (scores proportional to costs): the
    /// best cart is the one that spends the most, and the programme only needs to know
    /// which costs the groups can make up, 64 rooms to a word (see [`Programme::fill`]).
    proportional: bool,
}

/// How a programme ended.
pub(super) enum Solved {
    /// The best cart (empty: no offer fits or is worth anything).
    Cart(Vec<Choice>),
    /// The deadline passed first.
    TimedOut,
}

impl Programme {
    /// None when the programme does not apply: listing ids of groups interleave, an offer
    /// is worth nothing (the walk may still offer it), or the table is too large.
    pub fn new(groups: &[Vec<Choice>], capacity: i64) -> Option<Self> {
        if capacity < 0 {
            return None;
        }
        let mut groups: Vec<Vec<Choice>> =
            groups.iter().filter(|g| !g.is_empty()).cloned().collect();
        for group in &mut groups {
            group.sort_by_key(|c| c.listing_id);
        }
        groups.sort_by_key(|g| g[0].listing_id);
        let interleaved = groups
            .windows(2)
            .any(|w| w[0][w[0].len() - 1].listing_id >= w[1][0].listing_id);
        let offers: usize = groups.iter().map(Vec::len).sum();
        let too_many = groups.iter().any(|g| g.len() >= usize::from(u16::MAX));
        if interleaved || too_many || groups.iter().flatten().any(|c| c.value <= 0 || c.cost < 0) {
            return None;
        }
        let (step, width) = rooms(&groups, capacity)?;
        if width.checked_mul(offers.max(1))? > MAX_CELLS {
            return None;
        }
        let most: i128 = groups
            .iter()
            .map(|g| g.iter().map(|c| c.value).max().unwrap_or(0))
            .sum();
        let proportional = match groups.iter().flatten().next() {
            Some(first) => groups.iter().flatten().all(|c| {
                c.cost > 0 && c.value * i128::from(first.cost) == first.value * i128::from(c.cost)
            }),
            None => false,
        };
        (most <= i128::from(i64::MAX)).then_some(Self {
            groups,
            step,
            width,
            proportional,
        })
    }

    /// Row of a group of one offer from the next group's row, with the offer's bits: it
    /// is taken wherever taking is at least as good as skipping.
    fn single(&self, choice: &Choice, next: &[i64], row: &mut [i64], bits: &mut [u64]) {
        let (Ok(weight), Ok(value)) = (
            usize::try_from(choice.cost / self.step),
            i64::try_from(choice.value),
        ) else {
            row.copy_from_slice(next);
            return;
        };
        let weight = weight.min(self.width);
        row[..weight].copy_from_slice(&next[..weight]);
        for (w, word) in bits.iter_mut().enumerate() {
            let start = (w * 64).max(weight);
            let end = ((w + 1) * 64).min(self.width);
            if start >= end {
                continue;
            }
            let mut mask = 0_u64;
            let skips = &next[start..end];
            let takes = &next[start - weight..end - weight];
            for (i, ((out, &skip), &below)) in
                row[start..end].iter_mut().zip(skips).zip(takes).enumerate()
            {
                let take = below + value;
                let taken = take >= skip;
                *out = if taken { take } else { skip };
                mask |= u64::from(taken) << (start - w * 64 + i);
            }
            *word = mask;
        }
    }

    /// Row of a group of several offers, with the offer chosen at each room in `who`.
    fn several(&self, group: &[Choice], next: &[i64], row: &mut [i64], who: &mut [u16]) {
        row.copy_from_slice(next);
        who.fill(0);
        for (k, choice) in group.iter().enumerate() {
            let (Ok(weight), Ok(value)) = (
                usize::try_from(choice.cost / self.step),
                i64::try_from(choice.value),
            ) else {
                continue;
            };
            if weight >= self.width {
                continue;
            }
            // Checked against the group's size in `new`.
            let mark = u16::try_from(k + 1).unwrap_or(u16::MAX);
            let rooms = row[weight..].iter_mut().zip(&mut who[weight..]);
            for ((best, chosen), below) in rooms.zip(next) {
                let candidate = below + value;
                // Taking beats skipping on a tie; an earlier (smaller) id beats a later.
                if candidate > *best || (candidate == *best && *chosen == 0) {
                    *best = candidate;
                    *chosen = mark;
                }
            }
        }
    }

    pub fn solve(&self, deadline: &Deadline) -> Solved {
        if self.proportional {
            return self.fill(deadline);
        }
        let width = self.width;
        let words = width.div_ceil(64);
        let offers: usize = self.groups.iter().map(Vec::len).sum();
        // taken[(offer) * words ..]: bit r set when that offer is the preferred way to
        // spend room r on its group and the ones after it.
        let mut taken = vec![0_u64; offers * words];
        let mut next = vec![0_i64; width];
        let mut row = vec![0_i64; width];
        // Per room, 1 + the group's offer chosen there (0: skipped); groups of several.
        let mut who = vec![0_u16; width];
        let mut first_offer = offers;
        for group in self.groups.iter().rev() {
            if deadline.passed() {
                return Solved::TimedOut;
            }
            first_offer -= group.len();
            if let [choice] = group.as_slice() {
                let bits = &mut taken[first_offer * words..][..words];
                self.single(choice, &next, &mut row, bits);
            } else {
                self.several(group, &next, &mut row, &mut who);
                for (r, &mark) in who.iter().enumerate().filter(|(_, m)| **m > 0) {
                    let offer = first_offer + usize::from(mark) - 1;
                    taken[offer * words + r / 64] |= 1 << (r % 64);
                }
            }
            std::mem::swap(&mut row, &mut next);
        }
        let mut cart = Vec::new();
        let mut room = width - 1;
        let mut offer = 0;
        for group in &self.groups {
            for (k, choice) in group.iter().enumerate() {
                let bits = &taken[(offer + k) * words..][..words];
                if bits[room / 64] >> (room % 64) & 1 == 1 {
                    cart.push(*choice);
                    // Set only where the offer fits.
                    room -= usize::try_from(choice.cost / self.step).unwrap_or(room);
                    break;
                }
            }
            offer += group.len();
        }
        Solved::Cart(cart)
    }

    /// The programme for proportional offers: row g holds, one bit per room, the costs the
    /// groups g.. can make up exactly (row `groups`: only 0). The best cart makes up the
    /// largest cost within the capacity; following the rows from the first group, each
    /// takes the first offer (by id) after which the rest can still be made up, if any:
    /// the smallest listing ids of every cart of that cost.
    fn fill(&self, deadline: &Deadline) -> Solved {
        let words = self.width.div_ceil(64);
        let n = self.groups.len();
        let mut rows = vec![0_u64; (n + 1) * words];
        rows[n * words] = 1;
        for (g, group) in self.groups.iter().enumerate().rev() {
            if deadline.passed() {
                return Solved::TimedOut;
            }
            let (head, tail) = rows.split_at_mut((g + 1) * words);
            let next = &tail[..words];
            let row = &mut head[g * words..];
            row.copy_from_slice(next);
            for choice in group {
                if let Ok(weight) = usize::try_from(choice.cost / self.step) {
                    or_shifted(row, next, weight);
                }
            }
        }
        let reachable = |g: usize, room: usize| rows[g * words + room / 64] >> (room % 64) & 1 == 1;
        let Some(mut room) = (0..self.width).rev().find(|&r| reachable(0, r)) else {
            return Solved::Cart(Vec::new());
        };
        let mut cart = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let taken = group.iter().find(|c| {
                usize::try_from(c.cost / self.step)
                    .is_ok_and(|w| w <= room && reachable(g + 1, room - w))
            });
            if let Some(choice) = taken {
                cart.push(*choice);
                room -= usize::try_from(choice.cost / self.step).unwrap_or(room);
            }
        }
        Solved::Cart(cart)
    }
}

/// `row |= next << shift`, over bit arrays of the same length (bits past the end drop).
fn or_shifted(row: &mut [u64], next: &[u64], shift: usize) {
    let (words, bits) = (shift / 64, shift % 64);
    if words >= row.len() {
        return;
    }
    for (i, out) in row.iter_mut().enumerate().skip(words) {
        let low = next[i - words];
        let carried = if bits == 0 || i == words {
            0
        } else {
            next[i - words - 1] >> (64 - bits)
        };
        *out |= low << bits | carried;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knapsack::test_choice;
    use cratedigger_domain::ListingId;

    const BUDGET: i64 = 20_001;

    /// The best value and, among carts of that value, the smallest sorted ids, of any set of
    /// at most one offer per group within `capacity`, by trying them all.
    fn brute(groups: &[Vec<Choice>], capacity: i64) -> (i128, Vec<ListingId>) {
        let mut best = (0_i128, Vec::new());
        let mut pick = vec![0_usize; groups.len()];
        loop {
            let chosen: Vec<&Choice> = groups
                .iter()
                .zip(&pick)
                .filter(|&(_, &p)| p > 0)
                .map(|(g, &p)| &g[p - 1])
                .collect();
            let cost: i64 = chosen.iter().map(|c| c.cost).sum();
            if cost <= capacity && !chosen.is_empty() {
                let value: i128 = chosen.iter().map(|c| c.value).sum();
                let mut ids: Vec<ListingId> = chosen.iter().map(|c| c.listing_id).collect();
                ids.sort_unstable();
                if value > best.0 || (value == best.0 && ids < best.1) {
                    best = (value, ids);
                }
            }
            let Some(g) = (0..groups.len()).find(|&g| pick[g] < groups[g].len()) else {
                return best;
            };
            pick[g] += 1;
            pick[..g].fill(0);
        }
    }

    #[test]
    fn the_programme_finds_the_best_cart_and_decides_ties_by_listing_ids() {
        let mut x: u64 = 3;
        let mut rand = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for round in 0..300 {
            let groups: Vec<Vec<Choice>> = (0..7)
                .map(|g| {
                    (0..1 + rand(3) as usize)
                        .map(|k| {
                            let id = 10 * g + k;
                            // Few distinct prices and scores, often proportional: many ties.
                            let cost = 200 * (1 + rand(5) as i64);
                            let score = if round % 2 == 0 {
                                cost * 10
                            } else {
                                1_000 * (1 + rand(3) as i64)
                            };
                            test_choice(id, score, cost, BUDGET)
                        })
                        .collect()
                })
                .collect();
            let capacity = 300 + 100 * rand(30) as i64;
            let mut programme = Programme::new(&groups, capacity).expect("ids in group order");
            assert_eq!(programme.proportional, round % 2 == 0);
            let expected = brute(&groups, capacity);
            // Proportional offers are solved on reachable costs, and on values alike.
            for by_value in [false, true] {
                programme.proportional &= !by_value;
                let Solved::Cart(cart) = programme.solve(&Deadline::default()) else {
                    panic!("no deadline");
                };
                let value: i128 = cart.iter().map(|c| c.value).sum();
                let mut ids: Vec<ListingId> = cart.iter().map(|c| c.listing_id).collect();
                ids.sort_unstable();
                assert!(cart.iter().map(|c| c.cost).sum::<i64>() <= capacity);
                assert_eq!((value, ids), expected, "round {round}, by value {by_value}");
            }
        }
    }

    #[test]
    fn interleaved_ids_or_a_table_too_large_are_left_to_the_walk() {
        let interleaved = vec![
            vec![
                test_choice(1, 10, 10, BUDGET),
                test_choice(5, 10, 10, BUDGET),
            ],
            vec![test_choice(3, 10, 10, BUDGET)],
        ];
        assert!(Programme::new(&interleaved, 100).is_none());
        let one = vec![vec![test_choice(1, 10, 1, BUDGET)]];
        assert!(Programme::new(&one, MAX_CELLS as i64 - 1).is_some());
        assert!(Programme::new(&one, MAX_CELLS as i64).is_none());
    }
}
