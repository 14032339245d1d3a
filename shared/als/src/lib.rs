//! Implicit-feedback alternating least squares, the algorithm of benfred/implicit.
//!
//! Consumes a sparse user x item matrix of raw interaction weights (play counts, or 1 for
//! "wants" and "has"); produces a [`Model`]: user and item factors plus what is needed to
//! treat a user the model has never seen exactly like a training user (the confidence
//! weighting's per-item statistics and the cached Gram matrix of the item factors).
//!
//! - [`fit`] follows Hu, Koren & Volinsky (2008) with the conjugate-gradient solver of
//!   Takács et al. as implicit implements it: a fixed number of CG steps per row and
//!   iteration, warm-started from the previous factors, in `f32`. Rows are independent, so
//!   they are solved in blocks whose dense part is one matrix product, in parallel.
//! - [`Model::recalculate_user`] solves a user's factors exactly (Cholesky) against the
//!   fitted item factors; [`Model::recommend`] ranks items for them and never returns an
//!   excluded item; [`Model::explain`] and [`Model::similar_items`] answer "why" and "what
//!   else".
//! - [`ModelFiles`] writes and reads a model as `.npy` arrays and a JSON manifest, so Python
//!   can inspect it.
//!
//! No async and no I/O beyond model files: callers run long work on a blocking thread.

mod confidence;
mod error;
mod files;
mod fit;
mod kernels;
mod matrix;
mod metrics;
mod model;
mod solver;
pub mod synthetic;
mod topk;

pub use confidence::{Confidence, ConfidenceState};
pub use error::AlsError;
pub use files::{FileEntry, MANIFEST_FILE, Manifest, ModelFiles};
pub use fit::{AlsParams, IterationReport, fit, fit_with_callback, training_loss};
pub use matrix::{Interactions, InteractionsBuilder, SparseRow, parse_csv_triplets};
pub use metrics::{RankingMetrics, ranking_metrics_at_k};
pub use model::{Explanation, Model, RecommendRequest, Recommendation, TrainingInfo};

/// The sparse matrices this crate works on: CSR, `f32` values, `u32` column indices.
pub type Csr = sprs::CsMatI<f32, u32, usize>;
