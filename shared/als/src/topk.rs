//! Bounded top-N selection with a total, deterministic order: higher score first, then
//! lower item index. Scores that are not numbers are never selected.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::Recommendation;

/// Kept in a max-heap ordered "worst first", so the root is the entry to beat.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    score: f32,
    item: u32,
}

impl Entry {
    /// `Less` when `self` ranks better (it should leave the heap last).
    fn rank_cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.item.cmp(&other.item))
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank_cmp(other)
    }
}

pub(crate) struct TopK {
    n: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            heap: BinaryHeap::with_capacity(n.min(4096) + 1),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, item: u32, score: f32) {
        if self.n == 0 || score.is_nan() {
            return;
        }
        let entry = Entry { score, item };
        if self.heap.len() < self.n {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && entry.rank_cmp(&worst) == Ordering::Less
        {
            *worst = entry;
        }
    }

    /// The score an item must beat to enter, once full (a fast pre-filter).
    #[inline]
    pub(crate) fn threshold(&self) -> f32 {
        if self.heap.len() < self.n {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.score)
        }
    }

    pub(crate) fn into_sorted(self) -> Vec<Recommendation> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| Recommendation {
                item: e.item,
                score: e.score,
            })
            .collect()
    }
}

/// Top `n` of `scores`, skipping the items in `skip` (sorted, unique).
pub(crate) fn top_n_skipping(scores: &[f32], n: usize, skip: &[u32]) -> Vec<Recommendation> {
    let mut top = TopK::new(n);
    let mut skip = skip.iter().peekable();
    let mut threshold = f32::NEG_INFINITY;
    for (i, &s) in scores.iter().enumerate() {
        let i = i as u32;
        while skip.next_if(|&&x| x < i).is_some() {}
        if skip.peek() == Some(&&i) {
            continue;
        }
        // Equal scores may still win on the index tie-break, so only strictly lower
        // scores are cut early.
        if s < threshold {
            continue;
        }
        top.push(i, s);
        threshold = top.threshold();
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference(scores: &[f32], n: usize, skip: &[u32]) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .filter(|(i, s)| !skip.contains(i) && !s.is_nan())
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let got = top_n_skipping(&[1.0, 2.0, 2.0, 0.5, 2.0], 2, &[]);
        assert_eq!(got.iter().map(|r| r.item).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn skipped_items_are_absent_even_when_n_is_larger() {
        let got = top_n_skipping(&[5.0, 4.0, 3.0], 10, &[0, 2]);
        assert_eq!(
            got,
            vec![Recommendation {
                item: 1,
                score: 4.0
            }]
        );
        assert!(top_n_skipping(&[1.0], 0, &[]).is_empty());
        assert!(top_n_skipping(&[f32::NAN, 1.0], 5, &[1]).is_empty());
    }

    proptest! {
        #[test]
        fn matches_a_full_sort(
            scores in proptest::collection::vec(prop_oneof![(-3i8..3).prop_map(f32::from), -1e3f32..1e3], 0..60),
            n in 0usize..20,
            skip in proptest::collection::btree_set(0u32..70, 0..20),
        ) {
            let skip: Vec<u32> = skip.into_iter().collect();
            let got: Vec<(u32, f32)> = top_n_skipping(&scores, n, &skip).iter().map(|r| (r.item, r.score)).collect();
            prop_assert_eq!(got, reference(&scores, n, &skip));
        }
    }
}
