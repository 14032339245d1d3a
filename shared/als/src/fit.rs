//! Fitting: weigh the raw matrix, initialise factors from the seed, alternate users and
//! items for the given number of iterations.

use std::time::{Duration, Instant};

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::TrainingInfo;
use crate::solver::{least_squares_cg, loss};
use crate::{AlsError, Confidence, Csr, Interactions, Model, matrix};

/// The hyper-parameters, with implicit's meaning (its defaults except `factors` and
/// `regularization`, which default to the values its Last.fm example uses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlsParams {
    pub factors: usize,
    pub regularization: f32,
    pub iterations: usize,
    /// CG steps per row and half-iteration (implicit: 3).
    pub cg_steps: usize,
    /// Seeds the initial factors: the same seed, data and parameters give the same model,
    /// whatever the number of threads.
    pub seed: u64,
    /// Worker threads; 0 uses rayon's global pool (all cores unless configured).
    pub threads: usize,
    pub confidence: Confidence,
    /// Compute the training loss after every iteration (costs about one extra
    /// half-iteration each time).
    pub calculate_training_loss: bool,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 0.05,
            iterations: 15,
            cg_steps: 3,
            seed: 42,
            threads: 0,
            confidence: Confidence::default(),
            calculate_training_loss: false,
        }
    }
}

impl AlsParams {
    pub fn validate(&self) -> Result<(), AlsError> {
        if !(1..=1024).contains(&self.factors) {
            return Err(AlsError::bad_parameter("factors", "must be from 1 to 1024"));
        }
        if !(self.regularization.is_finite() && self.regularization > 0.0) {
            return Err(AlsError::bad_parameter(
                "regularization",
                "must be a positive number",
            ));
        }
        if self.cg_steps == 0 {
            return Err(AlsError::bad_parameter("cg_steps", "must be at least 1"));
        }
        self.confidence.validate()
    }
}

/// Reported after every iteration, for progress bars and loss curves.
#[derive(Clone, Debug)]
pub struct IterationReport {
    /// 0-based.
    pub iteration: usize,
    pub iterations: usize,
    /// Time this iteration took (without the loss computation).
    pub elapsed: Duration,
    pub loss: Option<f64>,
}

/// Fits a model to a matrix of raw weights.
pub fn fit(raw: &Interactions, params: &AlsParams) -> Result<Model, AlsError> {
    fit_with_callback(raw, params, |_| {})
}

/// Fits a model, calling `on_iteration` after each iteration.
pub fn fit_with_callback(
    raw: &Interactions,
    params: &AlsParams,
    mut on_iteration: impl FnMut(&IterationReport) + Send,
) -> Result<Model, AlsError> {
    params.validate()?;
    if raw.nnz() == 0 {
        return Err(AlsError::Empty);
    }
    let started = Instant::now();
    let mut work = || -> Model {
        let (conf, state) = params.confidence.weigh(raw.matrix());
        let conf_t = matrix::transpose(&conf);
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut init =
            |rows| Array2::from_shape_fn((rows, params.factors), |_| rng.random::<f32>() * 0.01);
        let mut users = init(raw.users());
        let mut items = init(raw.items());
        let mut last_loss = None;
        for iteration in 0..params.iterations {
            let t = Instant::now();
            least_squares_cg(
                &conf,
                &mut users,
                &items,
                params.regularization,
                params.cg_steps,
            );
            least_squares_cg(
                &conf_t,
                &mut items,
                &users,
                params.regularization,
                params.cg_steps,
            );
            let elapsed = t.elapsed();
            if params.calculate_training_loss {
                last_loss = Some(loss(&conf, &users, &items, params.regularization));
            }
            on_iteration(&IterationReport {
                iteration,
                iterations: params.iterations,
                elapsed,
                loss: last_loss,
            });
        }
        let info = TrainingInfo {
            users: raw.users(),
            items: raw.items(),
            nnz: raw.nnz(),
            iterations: params.iterations,
            loss: last_loss,
            fit_seconds: started.elapsed().as_secs_f64(),
            ..TrainingInfo::default()
        };
        Model::from_parts(users, items, params.clone(), state, info)
    };
    if params.threads == 0 {
        return Ok(work());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| AlsError::bad_parameter("threads", e.to_string()))?;
    Ok(pool.install(work))
}

/// implicit's training loss of factors against a confidence matrix.
pub fn training_loss(
    conf: &Csr,
    user_factors: &Array2<f32>,
    item_factors: &Array2<f32>,
    regularization: f32,
) -> f64 {
    loss(conf, user_factors, item_factors, regularization)
}
