//! A fitted model and what it answers: recalculated users, recommendations with their
//! explanation, and similar items. Everything is by dense item index; `item_ids` maps
//! indices to the caller's ids (Discogs release ids) and back.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2, linalg::general_mat_mul};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kernels::{
    BF16_RELATIVE_ERROR, CHUNK, blocked_bf16, dot, score_bounds_bf16, scores_into, scores_of_items,
};
use crate::solver::UserSystem;
use crate::topk::{TopK, top_n_skipping};
use crate::{AlsError, AlsParams, ConfidenceState, Csr, SparseRow};

/// Facts about the training run, kept in the model file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// The caller's name for this model (the trainer uses a timestamp).
    pub version: String,
    /// RFC 3339 time of training, set by the caller.
    pub trained_at: String,
    pub users: usize,
    pub items: usize,
    pub nnz: usize,
    pub iterations: usize,
    pub loss: Option<f64>,
    pub fit_seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub item: u32,
    pub score: f32,
}

/// What to rank. `n` items at most; the user's own items are never returned; `allow`
/// restricts the candidates, `deny` removes some.
#[derive(Clone, Debug, Default)]
pub struct RecommendRequest<'a> {
    pub n: usize,
    pub allow: Option<&'a [u32]>,
    pub deny: &'a [u32],
}

impl RecommendRequest<'_> {
    pub fn top(n: usize) -> Self {
        Self {
            n,
            allow: None,
            deny: &[],
        }
    }
}

/// Why an item scored what it did for a user: the user's items that contributed most.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub score: f32,
    /// (user's item, contribution), largest first.
    pub contributions: Vec<(u32, f32)>,
}

#[derive(Clone, Debug)]
pub struct Model {
    user_factors: Array2<f32>,
    item_factors: Array2<f32>,
    item_ids: Vec<u64>,
    user_ids: Vec<String>,
    params: AlsParams,
    confidence_state: ConfidenceState,
    info: TrainingInfo,
    /// Derived once, never stored: `YtY`, shared by every recalculated user.
    gram: Array2<f32>,
    /// Derived once: item factor norms, for cosine similarity and the score bounds.
    item_norms: Vec<f32>,
    /// Derived once: the item factors in bfloat16, block-transposed, half the bytes to
    /// read when ranking every item (see `rank_all`).
    item_bf16: Vec<u16>,
    index_of_item: HashMap<u64, u32>,
}

impl Model {
    /// Assembles a model; item ids default to the indices, user ids to empty.
    pub(crate) fn from_parts(
        user_factors: Array2<f32>,
        item_factors: Array2<f32>,
        params: AlsParams,
        confidence_state: ConfidenceState,
        info: TrainingInfo,
    ) -> Self {
        let item_ids: Vec<u64> = (0..item_factors.nrows() as u64).collect();
        let user_ids = Vec::new();
        let item_factors = item_factors.as_standard_layout().into_owned();
        let gram = item_factors.t().dot(&item_factors);
        let item_norms = item_factors
            .rows()
            .into_iter()
            .map(|r| r.dot(&r).sqrt())
            .collect();
        let item_bf16 = blocked_bf16(item_factors.as_slice().unwrap_or(&[]), item_factors.ncols());
        let index_of_item = index(&item_ids);
        Self {
            user_factors,
            item_factors,
            item_ids,
            user_ids,
            params,
            confidence_state,
            info,
            gram,
            item_norms,
            item_bf16,
            index_of_item,
        }
    }

    /// Names the items (one id per item row, unique) and optionally the users.
    pub fn with_ids(mut self, item_ids: Vec<u64>, user_ids: Vec<String>) -> Result<Self, AlsError> {
        if item_ids.len() != self.items() {
            return Err(AlsError::bad_parameter(
                "item_ids",
                format!("expected {} ids", self.items()),
            ));
        }
        if !user_ids.is_empty() && user_ids.len() != self.user_factors.nrows() {
            return Err(AlsError::bad_parameter(
                "user_ids",
                format!("expected {} ids", self.user_factors.nrows()),
            ));
        }
        let index_of_item = index(&item_ids);
        if index_of_item.len() != item_ids.len() {
            return Err(AlsError::bad_parameter("item_ids", "ids must be unique"));
        }
        self.item_ids = item_ids;
        self.user_ids = user_ids;
        self.index_of_item = index_of_item;
        Ok(self)
    }

    pub fn with_version(
        mut self,
        version: impl Into<String>,
        trained_at: impl Into<String>,
    ) -> Self {
        self.info.version = version.into();
        self.info.trained_at = trained_at.into();
        self
    }

    pub fn items(&self) -> usize {
        self.item_factors.nrows()
    }
    pub fn factors(&self) -> usize {
        self.item_factors.ncols()
    }
    pub fn user_factors(&self) -> &Array2<f32> {
        &self.user_factors
    }
    pub fn item_factors(&self) -> &Array2<f32> {
        &self.item_factors
    }
    pub fn item_ids(&self) -> &[u64] {
        &self.item_ids
    }
    pub fn user_ids(&self) -> &[String] {
        &self.user_ids
    }
    pub fn params(&self) -> &AlsParams {
        &self.params
    }
    pub fn confidence_state(&self) -> &ConfidenceState {
        &self.confidence_state
    }
    pub fn info(&self) -> &TrainingInfo {
        &self.info
    }
    pub fn item_index(&self, id: u64) -> Option<u32> {
        self.index_of_item.get(&id).copied()
    }
    pub fn item_id(&self, index: u32) -> Option<u64> {
        self.item_ids.get(index as usize).copied()
    }

    /// A user's raw row, from (caller's item id, raw weight) pairs. Items the model does
    /// not know are left out (a model cannot score them), and counted in the second value.
    pub fn user_row(
        &self,
        items: impl IntoIterator<Item = (u64, f32)>,
    ) -> Result<(SparseRow, usize), AlsError> {
        let mut unknown = 0;
        let known: Vec<(u32, f32)> = items
            .into_iter()
            .filter_map(|(id, w)| {
                let index = self.item_index(id);
                unknown += usize::from(index.is_none());
                index.map(|i| (i, w))
            })
            .collect();
        Ok((SparseRow::from_pairs(known, self.items())?, unknown))
    }

    /// The confidences the model would have used for this raw row in training.
    pub fn confidence(&self, raw: &SparseRow) -> SparseRow {
        self.params
            .confidence
            .weigh_row(&self.confidence_state, self.items(), raw)
    }

    /// The user's factors, solved exactly against the item factors (one Cholesky solve
    /// with the cached YtY), from their raw row. A user with no items gets zeros.
    pub fn recalculate_user(&self, raw: &SparseRow) -> Result<Vec<f32>, AlsError> {
        if raw.is_empty() {
            return Ok(vec![0.0; self.factors()]);
        }
        Ok(self.system(raw)?.solution())
    }

    fn system(&self, raw: &SparseRow) -> Result<UserSystem, AlsError> {
        self.check_row(raw)?;
        let conf = self.confidence(raw);
        UserSystem::new(
            &self.gram,
            self.item_slice(),
            self.params.regularization,
            &conf,
        )
    }

    /// Recommends for a user given by their raw row (recalculated on the fly). A user
    /// with no items known to the model gets no recommendations.
    pub fn recommend(
        &self,
        raw: &SparseRow,
        request: &RecommendRequest<'_>,
    ) -> Result<Vec<Recommendation>, AlsError> {
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let factors = self.recalculate_user(raw)?;
        self.recommend_for_factors(&factors, &raw.indices, request)
    }

    /// Ranks items for given user factors. `seen` (sorted item indices) and
    /// `request.deny` are never returned, however large `n` is.
    pub fn recommend_for_factors(
        &self,
        factors: &[f32],
        seen: &[u32],
        request: &RecommendRequest<'_>,
    ) -> Result<Vec<Recommendation>, AlsError> {
        if factors.len() != self.factors() {
            return Err(AlsError::FactorMismatch {
                what: "user factors",
                expected: self.factors(),
                actual: factors.len(),
            });
        }
        let skip = merge_sorted(seen, request.deny);
        Ok(match request.allow {
            None => self.rank_all(factors, &skip, request.n),
            Some(allow) => {
                // A caller's allow-list may repeat items; each is ranked once.
                let mut allow = allow.to_vec();
                allow.sort_unstable();
                allow.dedup();
                let mut scores = vec![0.0_f32; allow.len()];
                scores_of_items(self.item_slice(), factors, &allow, &mut scores);
                let mut top = TopK::new(request.n);
                for (&item, &score) in allow.iter().zip(&scores) {
                    if (item as usize) < self.items() && skip.binary_search(&item).is_err() {
                        top.push(item, score);
                    }
                }
                top.into_sorted()
            }
        })
    }

    /// The exact top `n` of every item not in `skip` (sorted), in two passes that read
    /// little memory. The first scores every item from its bfloat16 copy, whose error is
    /// bounded: `|approx - exact| <= slack * |y_i|` with
    /// `slack = (2^-8 + 2 k 2^-23) |x|` (rounding to bf16, plus float accumulation in both
    /// sums; Cauchy-Schwarz). The `n`-th largest lower bound is a bar that `n` items are
    /// sure to reach; only items whose upper bound reaches it can be in the top `n`, and
    /// only those are scored exactly, in `f32`, as a full scan would. The result is the
    /// full scan's, ties included.
    fn rank_all(&self, factors: &[f32], skip: &[u32], n: usize) -> Vec<Recommendation> {
        let items = self.items();
        if n == 0 || items == 0 {
            return Vec::new();
        }
        let k = self.factors() as f32;
        let slack =
            1.01 * (BF16_RELATIVE_ERROR + 2.0 * k * f32::EPSILON) * dot(factors, factors).sqrt();
        RANK_SCRATCH.with_borrow_mut(|scratch| self.rank_all_with(factors, skip, n, slack, scratch))
    }

    fn rank_all_with(
        &self,
        factors: &[f32],
        skip: &[u32],
        n: usize,
        slack: f32,
        scratch: &mut RankScratch,
    ) -> Vec<Recommendation> {
        let items = self.items();
        let RankScratch {
            lower,
            upper,
            lower_max,
            upper_max,
        } = scratch;
        lower.resize(items, 0.0);
        upper.resize(items, 0.0);
        lower_max.clear();
        upper_max.clear();
        score_bounds_bf16(
            &self.item_bf16,
            factors,
            &self.item_norms,
            slack,
            lower,
            upper,
            lower_max,
            upper_max,
        );
        // Skipped items leave their chunk's maximum too high: a chunk scanned for nothing.
        for &i in skip.iter().filter(|&&i| (i as usize) < items) {
            lower[i as usize] = f32::NEG_INFINITY;
            upper[i as usize] = f32::NEG_INFINITY;
        }
        // The bar: the n-th largest lower bound among the items left.
        let mut bound = TopK::new(n);
        for (chunk, &max) in lower_max.iter().enumerate() {
            if max <= f32::NEG_INFINITY || max < bound.threshold() {
                continue;
            }
            let start = chunk * CHUNK;
            let end = (start + CHUNK).min(items);
            for (offset, &value) in lower[start..end].iter().enumerate() {
                bound.push((start + offset) as u32, value);
            }
        }
        let bar = bound.threshold();
        // The candidates, scored exactly.
        let mut top = TopK::new(n);
        let rows = self.item_slice();
        let width = self.factors();
        for (chunk, &max) in upper_max.iter().enumerate() {
            if max <= f32::NEG_INFINITY || max < bar {
                continue;
            }
            for i in chunk * CHUNK..((chunk + 1) * CHUNK).min(items) {
                if upper[i] > f32::NEG_INFINITY && upper[i] >= bar {
                    top.push(i as u32, dot(&rows[i * width..(i + 1) * width], factors));
                }
            }
        }
        top.into_sorted()
    }

    /// Recommends for many users given by raw rows: users are recalculated, then scored
    /// in blocks with one matrix product per block, in parallel.
    pub fn recommend_batch(
        &self,
        raws: &[SparseRow],
        n: usize,
    ) -> Result<Vec<Vec<Recommendation>>, AlsError> {
        let factors: Vec<Vec<f32>> = raws
            .par_iter()
            .map(|raw| self.recalculate_user(raw))
            .collect::<Result<_, _>>()?;
        let k = self.factors();
        let flat: Vec<f32> = factors.into_iter().flatten().collect();
        let users = Array2::from_shape_vec((raws.len(), k), flat)
            .map_err(|e| AlsError::bad_parameter("users", e.to_string()))?;
        let seen: Vec<&[u32]> = raws.iter().map(|r| r.indices.as_slice()).collect();
        let mut out = self.rank_rows(users.view(), &seen, n);
        for (recs, raw) in out.iter_mut().zip(raws) {
            if raw.is_empty() {
                recs.clear();
            }
        }
        Ok(out)
    }

    /// Recommends for training users by their stored factors, filtering the items of each
    /// user's row in `seen` (as implicit's batch `recommend` does).
    pub fn recommend_stored(
        &self,
        users: &[usize],
        seen: &Csr,
        n: usize,
    ) -> Vec<Vec<Recommendation>> {
        let rows: Vec<usize> = users
            .iter()
            .copied()
            .filter(|&u| u < self.user_factors.nrows())
            .collect();
        let factors = self.user_factors.select(ndarray::Axis(0), &rows);
        let seen: Vec<&[u32]> = rows.iter().map(|&u| row_indices(seen, u)).collect();
        self.rank_rows(factors.view(), &seen, n)
    }

    fn rank_rows(
        &self,
        users: ArrayView2<'_, f32>,
        seen: &[&[u32]],
        n: usize,
    ) -> Vec<Vec<Recommendation>> {
        /// Users scored per matrix product; the block of scores stays a few MB.
        const USERS_PER_BLOCK: usize = 32;
        let items_t = self.item_factors.t();
        let blocks: Vec<usize> = (0..users.nrows()).step_by(USERS_PER_BLOCK).collect();
        blocks
            .par_iter()
            .flat_map_iter(|&start| {
                let end = (start + USERS_PER_BLOCK).min(users.nrows());
                let block = users.slice(ndarray::s![start..end, ..]);
                let mut scores = Array2::<f32>::zeros((end - start, self.items()));
                general_mat_mul(1.0, &block, &items_t, 0.0, &mut scores);
                (start..end)
                    .map(|u| {
                        let row = scores.row(u - start);
                        let row = row.as_slice().unwrap_or(&[]);
                        top_n_skipping(row, n, seen[u])
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The user's items that contributed most to `item`'s score (Hu et al. 2008, section
    /// 5): with `W = A^-1`, item j contributes `c_j (y_item^T W y_j)`; they sum to the score.
    pub fn explain(&self, raw: &SparseRow, item: u32, n: usize) -> Result<Explanation, AlsError> {
        let target = self.item_row(item)?;
        if raw.is_empty() {
            return Ok(Explanation {
                score: 0.0,
                contributions: Vec::new(),
            });
        }
        let system = self.system(raw)?;
        let weighted = system.solve(target);
        let conf = self.confidence(raw);
        let mut total = 0.0_f64;
        let mut top = TopK::new(n);
        for (j, c) in conf.iter() {
            if c <= 0.0 {
                continue;
            }
            let yj = self.item_row(j)?;
            let contribution = f64::from(c) * f64::from(dot(&weighted, yj));
            total += contribution;
            top.push(j, contribution as f32);
        }
        let contributions = top
            .into_sorted()
            .into_iter()
            .map(|r| (r.item, r.score))
            .collect();
        Ok(Explanation {
            score: total as f32,
            contributions,
        })
    }

    /// The `n` items most similar to `item` by cosine similarity of their factors, the
    /// item itself and `deny` excluded.
    pub fn similar_items(
        &self,
        item: u32,
        n: usize,
        deny: &[u32],
    ) -> Result<Vec<Recommendation>, AlsError> {
        let target = self.item_row(item)?.to_vec();
        let norm = self.item_norms[item as usize];
        let mut scores = vec![0.0_f32; self.items()];
        scores_into(self.item_slice(), &target, &mut scores);
        for (s, other) in scores.iter_mut().zip(&self.item_norms) {
            let denominator = norm * other;
            *s = if denominator > 0.0 {
                *s / denominator
            } else {
                0.0
            };
        }
        let skip = merge_sorted(&[item], deny);
        Ok(top_n_skipping(&scores, n, &skip))
    }

    fn item_slice(&self) -> &[f32] {
        self.item_factors
            .as_slice()
            .expect("item factors are kept in standard layout")
    }

    fn item_row(&self, item: u32) -> Result<&[f32], AlsError> {
        let k = self.factors();
        self.item_slice()
            .get(item as usize * k..(item as usize + 1) * k)
            .ok_or(AlsError::UnknownItem(item))
    }

    fn check_row(&self, raw: &SparseRow) -> Result<(), AlsError> {
        match raw.indices.iter().find(|&&i| i as usize >= self.items()) {
            Some(&i) => Err(AlsError::UnknownItem(i)),
            None => Ok(()),
        }
    }

    /// Parts for the model files.
    pub(crate) fn parts(&self) -> (&Array2<f32>, &Array2<f32>, &AlsParams, &TrainingInfo) {
        (
            &self.user_factors,
            &self.item_factors,
            &self.params,
            &self.info,
        )
    }
}

/// The column indices of row `u` (empty past the last row).
fn row_indices(m: &Csr, u: usize) -> &[u32] {
    if u >= m.rows() {
        return &[];
    }
    &m.indices()[m.indptr().outer_inds_sz(u)]
}

/// Buffers `rank_all` reuses on each thread: a request allocates nothing large.
#[derive(Default)]
struct RankScratch {
    lower: Vec<f32>,
    upper: Vec<f32>,
    lower_max: Vec<f32>,
    upper_max: Vec<f32>,
}

thread_local! {
    static RANK_SCRATCH: std::cell::RefCell<RankScratch> = std::cell::RefCell::new(RankScratch::default());
}

fn index(ids: &[u64]) -> HashMap<u64, u32> {
    ids.iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect()
}

/// Union of two sorted lists (the second need not be sorted), sorted and unique.
fn merge_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut all: Vec<u32> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A model whose item factors are given; rows may repeat to force exact ties.
    fn model_with(items: Vec<Vec<f32>>) -> Model {
        let k = items[0].len();
        let flat: Vec<f32> = items.concat();
        let item_factors = Array2::from_shape_vec((items.len(), k), flat).unwrap();
        let user_factors = Array2::zeros((1, k));
        Model::from_parts(
            user_factors,
            item_factors,
            AlsParams::default(),
            ConfidenceState::Stateless,
            TrainingInfo::default(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The two-pass ranking returns exactly what a full f32 scan returns.
        #[test]
        fn two_pass_ranking_equals_the_full_scan(
            k in 1usize..40,
            rows in proptest::collection::vec(proptest::collection::vec(-3.0f32..3.0, 40), 1..120),
            duplicate_every in 1usize..6,
            scale in prop_oneof![Just(1e-3f32), Just(1.0), Just(50.0)],
            user in proptest::collection::vec(-2.0f32..2.0, 40),
            skip in proptest::collection::btree_set(0u32..130, 0..30),
            n in 0usize..30,
        ) {
            // Every run of `duplicate_every` items shares one row: exact ties.
            let items: Vec<Vec<f32>> = (0..rows.len())
                .map(|i| rows[i - i % duplicate_every][..k].iter().map(|v| v * scale).collect())
                .collect();
            let model = model_with(items);
            let x: Vec<f32> = user[..k].to_vec();
            let skip: Vec<u32> = skip.into_iter().collect();
            let mut scores = vec![0.0; model.items()];
            scores_into(model.item_slice(), &x, &mut scores);
            let expected = top_n_skipping(&scores, n, &skip);
            prop_assert_eq!(model.rank_all(&x, &skip, n), expected);
        }
    }
}
