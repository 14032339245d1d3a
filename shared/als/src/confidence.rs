//! Turning raw weights into the confidences c_ui the solver uses, with implicit's
//! definitions (see `bench/als/anchor_implicit.py` in the shared folder):
//!
//! - BM25 (`implicit.nearest_neighbours.bm25_weight`) applied to the item x user matrix:
//!   `c = w (K1 + 1) / (K1 norm_i + w) * idf_u` with `norm_i = (1 - B) + B sum_i / mean(sum)`
//!   over items and `idf_u = ln(n_items) - ln(1 + |items of u|)`;
//! - linear `c = 1 + alpha w` and logarithmic `c = 1 + alpha ln(1 + w)` (Hu et al. 2008);
//! - raw: the weight is the confidence.
//!
//! A user the model never saw must be weighed like a training user, so BM25 keeps its
//! per-item statistics from training in a [`ConfidenceState`].

use serde::{Deserialize, Serialize};

use crate::{AlsError, Csr, SparseRow};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum Confidence {
    Bm25 { k1: f32, b: f32 },
    Linear { alpha: f32 },
    Log { alpha: f32 },
    Raw,
}

impl Default for Confidence {
    /// implicit's Last.fm example: BM25 with K1 = 100, B = 0.8.
    fn default() -> Self {
        Self::Bm25 { k1: 100.0, b: 0.8 }
    }
}

/// Per-item statistics a weighting learned from the training matrix.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum ConfidenceState {
    #[default]
    Stateless,
    /// BM25's length normalisation per item (the idf needs only the item count).
    Bm25 { item_norm: Vec<f32> },
}

impl Confidence {
    pub fn validate(&self) -> Result<(), AlsError> {
        let positive = |name, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(AlsError::bad_parameter(name, "must be a positive number"))
            }
        };
        match *self {
            Self::Bm25 { k1, b } => {
                positive("k1", k1)?;
                if !(0.0..=1.0).contains(&b) {
                    return Err(AlsError::bad_parameter("b", "must be between 0 and 1"));
                }
                Ok(())
            }
            Self::Linear { alpha } | Self::Log { alpha } => positive("alpha", alpha),
            Self::Raw => Ok(()),
        }
    }

    /// Weighs a user x item matrix of raw weights; returns the confidence matrix and the
    /// statistics needed to weigh new users the same way.
    pub fn weigh(&self, raw: &Csr) -> (Csr, ConfidenceState) {
        let mut out = raw.clone();
        match *self {
            Self::Bm25 { k1, b } => {
                let item_norm = bm25_item_norms(raw, b);
                let n_items = raw.cols();
                for mut row in out.outer_iterator_mut() {
                    let idf = bm25_idf(n_items, row.nnz());
                    for (i, w) in row.iter_mut() {
                        *w = bm25(*w, item_norm[i], idf, k1);
                    }
                }
                (out, ConfidenceState::Bm25 { item_norm })
            }
            _ => {
                out.data_mut()
                    .iter_mut()
                    .for_each(|w| *w = self.elementwise(*w));
                (out, ConfidenceState::Stateless)
            }
        }
    }

    /// Weighs one user's raw row with the statistics learned in training.
    pub fn weigh_row(&self, state: &ConfidenceState, n_items: usize, raw: &SparseRow) -> SparseRow {
        let values = match (*self, state) {
            (Self::Bm25 { k1, .. }, ConfidenceState::Bm25 { item_norm }) => {
                let idf = bm25_idf(n_items, raw.len());
                raw.iter()
                    .map(|(i, w)| {
                        bm25(
                            w,
                            item_norm.get(i as usize).copied().unwrap_or(1.0),
                            idf,
                            k1,
                        )
                    })
                    .collect()
            }
            _ => raw.values.iter().map(|&w| self.elementwise(w)).collect(),
        };
        SparseRow {
            indices: raw.indices.clone(),
            values,
        }
    }

    fn elementwise(&self, w: f32) -> f32 {
        match *self {
            Self::Linear { alpha } => 1.0 + alpha * w,
            Self::Log { alpha } => 1.0 + alpha * w.ln_1p(),
            Self::Raw | Self::Bm25 { .. } => w,
        }
    }
}

fn bm25(w: f32, item_norm: f32, idf: f64, k1: f32) -> f32 {
    let (w, k1) = (f64::from(w), f64::from(k1));
    (w * (k1 + 1.0) / (k1 * f64::from(item_norm) + w) * idf) as f32
}

fn bm25_idf(n_items: usize, user_items: usize) -> f64 {
    (n_items as f64).ln() - (user_items as f64).ln_1p()
}

/// `(1 - B) + B * sum_i / mean(sum)`, with sums over the items' columns (every item of
/// the shape counts in the mean, as in implicit).
fn bm25_item_norms(raw: &Csr, b: f32) -> Vec<f32> {
    let mut sums = vec![0.0_f64; raw.cols()];
    for (&i, &w) in raw.indices().iter().zip(raw.data()) {
        sums[i as usize] += f64::from(w);
    }
    let mean = sums.iter().sum::<f64>() / sums.len().max(1) as f64;
    let b = f64::from(b);
    sums.iter()
        .map(|s| {
            if mean > 0.0 {
                ((1.0 - b) + b * s / mean) as f32
            } else {
                1.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InteractionsBuilder;

    fn small() -> Csr {
        let mut b = InteractionsBuilder::new(3, 4).unwrap();
        for (u, i, w) in [
            (0, 0, 3.0),
            (0, 1, 1.0),
            (1, 1, 5.0),
            (2, 0, 1.0),
            (2, 2, 2.0),
            (2, 3, 7.0),
        ] {
            b.push(u, i, w).unwrap();
        }
        b.build().into_matrix()
    }

    #[test]
    fn bm25_matches_the_formula_by_hand() {
        let raw = small();
        let (conf, _) = Confidence::Bm25 { k1: 100.0, b: 0.8 }.weigh(&raw);
        // item sums: [4, 6, 2, 7], mean 4.75; user 0 has 2 items of 4.
        let norm0 = 0.2 + 0.8 * 4.0 / 4.75;
        let idf0 = 4.0_f64.ln() - 3.0_f64.ln();
        let expected = 3.0 * 101.0 / (100.0 * norm0 + 3.0) * idf0;
        assert!((f64::from(conf.get(0, 0).copied().unwrap()) - expected).abs() < 1e-6);
    }

    #[test]
    fn a_training_row_weighs_the_same_alone() {
        let raw = small();
        for scheme in [
            Confidence::Bm25 { k1: 100.0, b: 0.8 },
            Confidence::Linear { alpha: 40.0 },
            Confidence::Log { alpha: 2.0 },
            Confidence::Raw,
        ] {
            let (conf, state) = scheme.weigh(&raw);
            for u in 0..raw.rows() {
                let alone = scheme.weigh_row(&state, raw.cols(), &SparseRow::of(&raw, u));
                assert_eq!(alone, SparseRow::of(&conf, u), "{scheme:?}");
            }
        }
    }

    #[test]
    fn elementwise_schemes() {
        assert_eq!(Confidence::Linear { alpha: 40.0 }.elementwise(2.0), 81.0);
        assert!(
            (Confidence::Log { alpha: 1.0 }.elementwise(1.0) - (1.0 + 2.0_f32.ln())).abs() < 1e-6
        );
        assert!(Confidence::Bm25 { k1: 1.0, b: 1.5 }.validate().is_err());
        assert!(Confidence::Linear { alpha: -1.0 }.validate().is_err());
    }
}
