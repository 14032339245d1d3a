//! The two least-squares solvers.
//!
//! For row u with confidences c_ui over the fixed factors Y, ALS minimises
//! `sum_i c_ui (p_ui - x.y_i)^2 + reg |x|^2`, i.e. solves `A x = b` with
//! `A = YtY + reg I + sum_i (c_ui - 1) y_i y_i^T` and `b = sum_i c_ui y_i`.
//!
//! - [`least_squares_cg`] runs implicit's conjugate-gradient recurrence (`cg_steps` steps,
//!   warm-started from the current x, `f32`) for every row. Rows are independent, so a
//!   block of rows runs the recurrence in lockstep: the dense product with YtY, which is
//!   most of the work for rows with few items, becomes one matrix product per CG step for
//!   the whole block. Per row the arithmetic is exactly implicit's, including its handling
//!   of negative confidences (a "dislike": counts in A with |c|, not in b).
//! - [`UserSystem`] forms A and b for one row and factors A by Cholesky, for the exact
//!   solve that `recalculate_user` and `explain` need.

use multiversion::multiversion;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use crate::kernels::{axpy, dot};
use crate::{AlsError, Csr, SparseRow};

/// The most rows in one lockstep block: enough for an efficient matrix product.
const BLOCK_ROWS: usize = 128;
/// The most interactions in one block: the other side's rows a block gathers (256 bytes
/// each at 64 factors) then stay in L2 across the block's four passes (the residual and
/// three CG steps), instead of coming from L3 or memory each time.
const BLOCK_NNZ: usize = 1024;
/// implicit's convergence test on the squared residual norm.
const CONVERGED: f32 = 1e-20;

/// `YtY + reg I` in `f32`, the dense part of every row's system.
pub(crate) fn regularized_gram(y: &Array2<f32>, regularization: f32) -> Array2<f32> {
    let mut yty = y.t().dot(y);
    yty.diag_mut().iter_mut().for_each(|d| *d += regularization);
    yty
}

/// Updates every row of `x` (rows of `conf`) by `cg_steps` CG steps against fixed `y`.
pub(crate) fn least_squares_cg(
    conf: &Csr,
    x: &mut Array2<f32>,
    y: &Array2<f32>,
    regularization: f32,
    cg_steps: usize,
) {
    let k = x.ncols();
    if k == 0 || x.nrows() == 0 {
        return;
    }
    let yty = regularized_gram(y, regularization);
    let y = y.as_standard_layout();
    let y = y.as_slice().expect("a standard-layout array is one slice");
    let xs = x
        .as_slice_mut()
        .expect("factor matrices are created in standard layout");
    let mut blocks = Vec::new();
    let mut rest = xs;
    for (start, end) in plan_blocks(conf.indptr().raw_storage(), conf.rows()) {
        let (head, tail) = rest.split_at_mut((end - start) * k);
        blocks.push((start, head));
        rest = tail;
    }
    blocks.into_par_iter().for_each_init(
        || Scratch::new(k),
        |scratch, (start, xb)| {
            solve_block(conf, start, xb, y, yty.view(), cg_steps, scratch);
        },
    );
}

/// Contiguous row ranges of at most [`BLOCK_ROWS`] rows and, unless one row alone has
/// more, at most [`BLOCK_NNZ`] interactions.
fn plan_blocks(indptr: &[usize], rows: usize) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < rows {
        let mut end = start + 1;
        while end < rows
            && end - start < BLOCK_ROWS
            && indptr[end + 1] - indptr[start] <= BLOCK_NNZ
            && indptr[end + 1] - indptr[end] <= HEAVY_NNZ
            && indptr[start + 1] - indptr[start] <= HEAVY_NNZ
        {
            end += 1;
        }
        blocks.push((start, end));
        start = end;
    }
    blocks
}

struct Scratch {
    /// A block's (or a heavy row's) gathered rows, grown as needed; a block's row lengths;
    /// a heavy row's weights and dot products.
    gathered: Vec<f32>,
    lengths: Vec<usize>,
    weights: Vec<f32>,
    dots: Vec<f32>,
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    rsold: Vec<f32>,
    active: Vec<bool>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Self {
            gathered: Vec::new(),
            lengths: Vec::with_capacity(BLOCK_ROWS),
            weights: Vec::new(),
            dots: Vec::new(),
            r: vec![0.0; BLOCK_ROWS * k],
            p: vec![0.0; BLOCK_ROWS * k],
            ap: vec![0.0; BLOCK_ROWS * k],
            rsold: vec![0.0; BLOCK_ROWS],
            active: vec![false; BLOCK_ROWS],
        }
    }
}

fn solve_block(
    conf: &Csr,
    first_row: usize,
    xb: &mut [f32],
    y: &[f32],
    yty: ArrayView2<'_, f32>,
    cg_steps: usize,
    s: &mut Scratch,
) {
    let k = yty.nrows();
    let rows = xb.len() / k;
    if rows == 1
        && let Some(row) = conf.outer_view(first_row)
        && row.nnz() > HEAVY_NNZ
    {
        solve_heavy_row(row.indices(), row.data(), xb, y, yty, cg_steps, s);
        return;
    }
    // Copy the block's rows out of `y` once: independent copies overlap their memory
    // latency far better than computing on each row as it arrives, and the four passes
    // below then read a contiguous buffer that stays in L2.
    let indptr_view = conf.indptr();
    let indptr = indptr_view.raw_storage();
    let (start, end) = (indptr[first_row], indptr[first_row + rows]);
    s.gathered.resize((end - start) * k, 0.0);
    gather(&conf.indices()[start..end], y, k, &mut s.gathered);
    s.lengths.clear();
    s.lengths
        .extend((0..rows).map(|u| indptr[first_row + u + 1] - indptr[first_row + u]));
    let block = Block {
        lengths: &s.lengths,
        data: &conf.data()[start..end],
        rows: &s.gathered,
    };
    let (r, p, ap) = (
        &mut s.r[..rows * k],
        &mut s.p[..rows * k],
        &mut s.ap[..rows * k],
    );
    // r = -YtY x, then the sparse part of b - A x per row.
    matmul(-1.0, view(xb, rows, k), yty, r);
    start_residuals(
        &block,
        xb,
        r,
        p,
        &mut s.rsold[..rows],
        &mut s.active[..rows],
    );
    for _ in 0..cg_steps {
        if !s.active[..rows].iter().any(|&a| a) {
            break;
        }
        matmul(1.0, view(p, rows, k), yty, ap);
        cg_step(
            &block,
            xb,
            r,
            p,
            ap,
            &mut s.rsold[..rows],
            &mut s.active[..rows],
        );
    }
}

/// A block's interactions: per row, how many; their confidences; the gathered factor rows
/// of the other side, in the same order.
struct Block<'a> {
    lengths: &'a [usize],
    data: &'a [f32],
    rows: &'a [f32],
}

/// Copies the rows of `indices` out of `y`, in order.
#[multiversion(targets = "simd")]
fn gather(indices: &[u32], y: &[f32], k: usize, out: &mut [f32]) {
    for (&i, row) in indices.iter().zip(out.chunks_exact_mut(k)) {
        row.copy_from_slice(&y[i as usize * k..(i as usize + 1) * k]);
    }
}

/// Rows with more interactions than this are solved alone over their gathered rows (see
/// [`solve_heavy_row`]).
const HEAVY_NNZ: usize = 256;

/// One row with more interactions than a block holds (a very popular item). Its rows,
/// gathered at random every pass, would come from memory four times (the residual and
/// three CG steps); instead they are gathered once into a contiguous buffer, and the CG
/// steps read that buffer in order: `A p = YtY p + Yg^T (w * (Yg p))` with `w = |c| - 1`.
/// The same recurrence as implicit's, one random pass over memory instead of four.
fn solve_heavy_row(
    indices: &[u32],
    data: &[f32],
    x: &mut [f32],
    y: &[f32],
    yty: ArrayView2<'_, f32>,
    cg_steps: usize,
    s: &mut Scratch,
) {
    let k = yty.nrows();
    let n = indices.len();
    s.gathered.resize(n * k, 0.0);
    s.weights.resize(n, 0.0);
    s.dots.resize(n, 0.0);
    let mut b = vec![0.0_f32; k];
    gather_rows(indices, data, y, k, &mut s.gathered, &mut s.weights, &mut b);
    let yty = yty.as_standard_layout();
    let yty = yty
        .as_slice()
        .expect("a standard-layout array is one slice");
    gathered_cg(yty, &s.gathered, &s.weights, &mut s.dots, &b, x, cg_steps);
}

/// Copies the rows of `indices` out of `y` into `gathered`, their weights `|c| - 1` into
/// `weights`, and adds `c y_i` to `b` for positive confidences (negative ones are
/// dislikes, as in implicit).
#[multiversion(targets = "simd")]
fn gather_rows(
    indices: &[u32],
    data: &[f32],
    y: &[f32],
    k: usize,
    gathered: &mut [f32],
    weights: &mut [f32],
    b: &mut [f32],
) {
    for (((&i, &c), g), w) in indices
        .iter()
        .zip(data)
        .zip(gathered.chunks_exact_mut(k))
        .zip(weights.iter_mut())
    {
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        g.copy_from_slice(yi);
        *w = c.abs() - 1.0;
        if c > 0.0 {
            axpy(c, yi, b);
        }
    }
}

/// `out = YtY v + Yg^T (w * (Yg v))`.
#[inline(always)]
fn gathered_product(
    yty: &[f32],
    gathered: &[f32],
    weights: &[f32],
    dots: &mut [f32],
    v: &[f32],
    out: &mut [f32],
) {
    let k = v.len();
    for (o, row) in out.iter_mut().zip(yty.chunks_exact(k)) {
        *o = dot(row, v);
    }
    for ((d, row), w) in dots.iter_mut().zip(gathered.chunks_exact(k)).zip(weights) {
        *d = w * dot(row, v);
    }
    for (d, row) in dots.iter().zip(gathered.chunks_exact(k)) {
        axpy(*d, row, out);
    }
}

/// implicit's CG recurrence for one row over its gathered rows: `cg_steps` steps from the
/// current `x`.
#[multiversion(targets = "simd")]
fn gathered_cg(
    yty: &[f32],
    gathered: &[f32],
    weights: &[f32],
    dots: &mut [f32],
    b: &[f32],
    x: &mut [f32],
    cg_steps: usize,
) {
    let k = b.len();
    let mut ap = vec![0.0_f32; k];
    gathered_product(yty, gathered, weights, dots, x, &mut ap);
    let mut r: Vec<f32> = b.iter().zip(&ap).map(|(b, a)| b - a).collect();
    let mut p = r.clone();
    let mut rsold = dot(&r, &r);
    if rsold < CONVERGED {
        return;
    }
    for _ in 0..cg_steps {
        gathered_product(yty, gathered, weights, dots, &p, &mut ap);
        let alpha = rsold / dot(&p, &ap);
        axpy(alpha, &p, x);
        axpy(-alpha, &ap, &mut r);
        let rsnew = dot(&r, &r);
        if rsnew < CONVERGED {
            return;
        }
        let beta = rsnew / rsold;
        for (pj, rj) in p.iter_mut().zip(&r) {
            *pj = rj + beta * *pj;
        }
        rsold = rsnew;
    }
}

fn view(buf: &[f32], rows: usize, k: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, k), &buf[..rows * k]).expect("block buffers hold rows x k values")
}

/// `out = alpha * a . b` for row-major buffers.
fn matmul(alpha: f32, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, out: &mut [f32]) {
    let shape = (a.nrows(), b.ncols());
    if let Ok(mut c) = ArrayViewMut2::from_shape(shape, out) {
        general_mat_mul(alpha, &a, &b, 0.0, &mut c);
    }
}

#[multiversion(targets = "simd")]
fn start_residuals<'a>(
    block: &Block<'a>,
    x: &[f32],
    r: &mut [f32],
    p: &mut [f32],
    rsold: &mut [f32],
    active: &mut [bool],
) {
    let k = r.len() / rsold.len().max(1);
    let (mut confidences, mut rows) = (block.data, block.rows);
    let per_row = x
        .chunks_exact(k)
        .zip(r.chunks_exact_mut(k))
        .zip(p.chunks_exact_mut(k));
    for (u, (((xu, ru), pu), &n)) in per_row.zip(block.lengths).enumerate() {
        let (cs, rest_c) = confidences.split_at(n);
        let (ys, rest_y) = rows.split_at(n * k);
        (confidences, rows) = (rest_c, rest_y);
        for (&c, yi) in cs.iter().zip(ys.chunks_exact(k)) {
            let temp = if c > 0.0 {
                c - (c - 1.0) * dot(yi, xu)
            } else {
                (c + 1.0) * dot(yi, xu)
            };
            axpy(temp, yi, ru);
        }
        pu.copy_from_slice(ru);
        rsold[u] = dot(ru, ru);
        active[u] = rsold[u] >= CONVERGED;
    }
}

#[multiversion(targets = "simd")]
#[allow(clippy::too_many_arguments)]
fn cg_step<'a>(
    block: &Block<'a>,
    x: &mut [f32],
    r: &mut [f32],
    p: &mut [f32],
    ap: &mut [f32],
    rsold: &mut [f32],
    active: &mut [bool],
) {
    let k = r.len() / rsold.len().max(1);
    let (mut confidences, mut rows_left) = (block.data, block.rows);
    let rows = x
        .chunks_exact_mut(k)
        .zip(r.chunks_exact_mut(k))
        .zip(p.chunks_exact_mut(k));
    for (u, ((((xu, ru), pu), apu), &n)) in rows
        .zip(ap.chunks_exact_mut(k))
        .zip(block.lengths)
        .enumerate()
    {
        let (cs, rest_c) = confidences.split_at(n);
        let (ys, rest_y) = rows_left.split_at(n * k);
        (confidences, rows_left) = (rest_c, rest_y);
        if !active[u] {
            continue;
        }
        for (&c, yi) in cs.iter().zip(ys.chunks_exact(k)) {
            axpy((c.abs() - 1.0) * dot(yi, pu), yi, apu);
        }
        let alpha = rsold[u] / dot(pu, apu);
        axpy(alpha, pu, xu);
        axpy(-alpha, apu, ru);
        let rsnew = dot(ru, ru);
        if rsnew < CONVERGED {
            active[u] = false;
            continue;
        }
        let beta = rsnew / rsold[u];
        for (pj, rj) in pu.iter_mut().zip(ru.iter()) {
            *pj = rj + beta * *pj;
        }
        rsold[u] = rsnew;
    }
}

/// One row's system `A x = b`, with A factored by Cholesky, in `f32` as implicit solves it.
pub(crate) struct UserSystem {
    k: usize,
    /// Row-major lower-triangular L with `A = L L^T`.
    lower: Vec<f32>,
    /// L transposed (row-major upper), so back substitution reads rows.
    upper: Vec<f32>,
    b: Vec<f32>,
}

impl UserSystem {
    /// Forms and factors the system for confidences `row` over item factors `y` (row
    /// major, `k` columns), given the unregularised Gram matrix `gram = YtY`:
    /// `A = YtY + reg I + Yu^T diag(|c| - 1) Yu` (one small matrix product) and
    /// `b = sum_{c > 0} c y_i`.
    pub(crate) fn new(
        gram: &Array2<f32>,
        y: &[f32],
        regularization: f32,
        row: &SparseRow,
    ) -> Result<Self, AlsError> {
        let k = gram.nrows();
        let n = row.len();
        let mut items = Vec::with_capacity(n * k);
        let mut weighted = Vec::with_capacity(n * k);
        let mut b = vec![0.0_f32; k];
        for (i, c) in row.iter() {
            let Some(yi) = y.get(i as usize * k..(i as usize + 1) * k) else {
                return Err(AlsError::UnknownItem(i));
            };
            items.extend_from_slice(yi);
            let w = c.abs() - 1.0;
            weighted.extend(yi.iter().map(|v| v * w));
            if c > 0.0 {
                axpy(c, yi, &mut b);
            }
        }
        let mut a = gram.clone();
        a.diag_mut().iter_mut().for_each(|d| *d += regularization);
        if n > 0 {
            let items = ArrayView2::from_shape((n, k), &items[..])
                .map_err(|e| AlsError::bad_parameter("row", e.to_string()))?;
            let weighted = ArrayView2::from_shape((n, k), &weighted[..])
                .map_err(|e| AlsError::bad_parameter("row", e.to_string()))?;
            general_mat_mul(1.0, &items.t(), &weighted, 1.0, &mut a);
        }
        let a = a.as_standard_layout();
        let lower = cholesky(a.as_slice().unwrap_or(&[]), k)?;
        let mut upper = vec![0.0_f32; k * k];
        for r in 0..k {
            for c in 0..=r {
                upper[c * k + r] = lower[r * k + c];
            }
        }
        Ok(Self { k, lower, upper, b })
    }

    /// The exact solution x of `A x = b`.
    pub(crate) fn solution(&self) -> Vec<f32> {
        self.solve(&self.b)
    }

    /// `A^-1 rhs`: forward substitution with L, back substitution with L^T.
    pub(crate) fn solve(&self, rhs: &[f32]) -> Vec<f32> {
        let k = self.k;
        let mut z = rhs.to_vec();
        for i in 0..k {
            let s = dot(&self.lower[i * k..i * k + i], &z[..i]);
            z[i] = (z[i] - s) / self.lower[i * k + i];
        }
        for i in (0..k).rev() {
            let s = dot(&self.upper[i * k + i + 1..(i + 1) * k], &z[i + 1..]);
            z[i] = (z[i] - s) / self.upper[i * k + i];
        }
        z
    }
}

/// Lower Cholesky factor of the symmetric positive-definite matrix `a` (row major; its
/// lower triangle is read). Right-looking: each column, once scaled, updates the rows
/// below it with contiguous multiply-adds, which vectorise (no horizontal sums).
#[multiversion(targets = "simd")]
fn cholesky(a: &[f32], k: usize) -> Result<Vec<f32>, AlsError> {
    if a.len() < k * k {
        return Err(AlsError::NotPositiveDefinite);
    }
    let mut m = a[..k * k].to_vec();
    let mut column = vec![0.0_f32; k];
    for j in 0..k {
        let d = m[j * k + j];
        // NaN is not finite either.
        if !d.is_finite() || d <= 0.0 {
            return Err(AlsError::NotPositiveDefinite);
        }
        let d = d.sqrt();
        m[j * k + j] = d;
        for i in j + 1..k {
            m[i * k + j] /= d;
            column[i] = m[i * k + j];
        }
        for i in j + 1..k {
            let lij = m[i * k + j];
            axpy(-lij, &column[j + 1..=i], &mut m[i * k + j + 1..=i * k + i]);
        }
    }
    for i in 0..k {
        m[i * k + i + 1..(i + 1) * k].fill(0.0);
    }
    Ok(m)
}

/// implicit's training loss:
/// `(sum_u x_u^T A_u x_u - 2 b_u^T x_u + sum_i c_ui) + reg (|X|^2 + |Y|^2)` divided by
/// `sum c + users * items - nnz`.
pub(crate) fn loss(conf: &Csr, x: &Array2<f32>, y: &Array2<f32>, regularization: f32) -> f64 {
    let k = x.ncols();
    let yty = y.t().dot(y);
    let ys = y.as_standard_layout();
    let ys = ys.as_slice().unwrap_or(&[]);
    let (loss, total_conf, user_norm) = (0..x.nrows())
        .into_par_iter()
        .map(|u| {
            let xu = x.row(u);
            let xu = xu
                .as_slice()
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| xu.to_vec());
            let mut r: Vec<f32> = yty.dot(&ndarray::ArrayView1::from(&xu[..])).to_vec();
            let (mut loss, mut total) = (0.0_f64, 0.0_f64);
            if let Some(row) = conf.outer_view(u) {
                for (&i, &c) in row.indices().iter().zip(row.data()) {
                    let yi = &ys[i as usize * k..(i as usize + 1) * k];
                    let (base, c) = if c > 0.0 { (-2.0 * c, c) } else { (0.0, -c) };
                    axpy(base + (c - 1.0) * dot(yi, &xu), yi, &mut r);
                    total += f64::from(c);
                    loss += f64::from(c);
                }
            }
            loss += f64::from(dot(&r, &xu));
            (loss, total, f64::from(dot(&xu, &xu)))
        })
        .reduce(|| (0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let item_norm: f64 = y.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    let total = loss + f64::from(regularization) * (item_norm + user_norm);
    let cells = x.nrows() as f64 * y.nrows() as f64 - conf.nnz() as f64;
    total / (total_conf + cells)
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::InteractionsBuilder;

    fn random(rows: usize, k: usize, seed: u64) -> Array2<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, k), |_| rng.random::<f32>() - 0.5)
    }

    fn random_conf(users: usize, items: usize, seed: u64) -> Csr {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut b = InteractionsBuilder::new(users, items).unwrap();
        for u in 0..users as u64 {
            for _ in 0..rng.random_range(0..6) {
                b.push(
                    u,
                    rng.random_range(0..items as u64),
                    rng.random_range(1.0..20.0),
                )
                .unwrap();
            }
        }
        b.build().into_matrix()
    }

    /// Enough CG steps converge to the exact solution (CG is exact in k steps).
    #[test]
    fn cg_with_k_steps_reaches_the_exact_solve() {
        let (users, items, k, reg) = (300, 40, 8, 0.1);
        let conf = random_conf(users, items, 1);
        let y = random(items, k, 2);
        let mut x = Array2::zeros((users, k));
        least_squares_cg(&conf, &mut x, &y, reg, 3 * k);
        let gram = y.t().dot(&y);
        let ys = y.as_slice().unwrap();
        for u in 0..users {
            let exact = UserSystem::new(&gram, ys, reg, &SparseRow::of(&conf, u))
                .unwrap()
                .solution();
            for (a, b) in x.row(u).iter().zip(&exact) {
                assert!((a - b).abs() < 1e-3, "user {u}: cg {a} vs exact {b}");
            }
        }
    }

    /// Three steps from a warm start already get most of the way there.
    #[test]
    fn three_warm_steps_shrink_the_error() {
        let (users, items, k, reg) = (200, 50, 16, 0.05);
        let conf = random_conf(users, items, 3);
        let y = random(items, k, 4);
        let gram = y.t().dot(&y);
        let ys = y.as_slice().unwrap();
        let exact: Vec<Vec<f32>> = (0..users)
            .map(|u| {
                UserSystem::new(&gram, ys, reg, &SparseRow::of(&conf, u))
                    .unwrap()
                    .solution()
            })
            .collect();
        let err = |x: &Array2<f32>| -> f64 {
            (0..users)
                .map(|u| {
                    x.row(u)
                        .iter()
                        .zip(&exact[u])
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>()
                })
                .sum()
        };
        let mut x = Array2::zeros((users, k));
        let before = err(&x);
        least_squares_cg(&conf, &mut x, &y, reg, 3);
        let once = err(&x);
        least_squares_cg(&conf, &mut x, &y, reg, 3);
        assert!(
            once < before * 0.5 && err(&x) < once,
            "{before} {once} {}",
            err(&x)
        );
    }

    /// implicit's per-row CG, written plainly, as the reference for both code paths.
    fn reference_cg(conf: &Csr, x: &mut Array2<f32>, y: &Array2<f32>, reg: f32, steps: usize) {
        let k = x.ncols();
        let yty = regularized_gram(y, reg);
        for u in 0..x.nrows() {
            let row = conf.outer_view(u).unwrap();
            let pairs: Vec<(usize, f32)> = row.iter().map(|(i, &c)| (i, c)).collect();
            let a_times = |v: &[f32]| -> Vec<f32> {
                let mut out: Vec<f32> = (0..k)
                    .map(|i| (0..k).map(|j| yty[[i, j]] * v[j]).sum())
                    .collect();
                for &(i, c) in &pairs {
                    let yi = y.row(i);
                    let d: f32 = yi.iter().zip(v).map(|(a, b)| a * b).sum();
                    for j in 0..k {
                        out[j] += (c - 1.0) * d * yi[j];
                    }
                }
                out
            };
            let mut xu: Vec<f32> = x.row(u).to_vec();
            let mut b = vec![0.0; k];
            for &(i, c) in &pairs {
                for j in 0..k {
                    b[j] += c * y[[i, j]];
                }
            }
            let ax = a_times(&xu);
            let mut r: Vec<f32> = (0..k).map(|j| b[j] - ax[j]).collect();
            let mut p = r.clone();
            let mut rsold: f32 = r.iter().map(|v| v * v).sum();
            for _ in 0..steps {
                if rsold < 1e-20 {
                    break;
                }
                let ap = a_times(&p);
                let alpha = rsold / p.iter().zip(&ap).map(|(a, b)| a * b).sum::<f32>();
                for j in 0..k {
                    xu[j] += alpha * p[j];
                    r[j] -= alpha * ap[j];
                }
                let rsnew: f32 = r.iter().map(|v| v * v).sum();
                for j in 0..k {
                    p[j] = r[j] + rsnew / rsold * p[j];
                }
                rsold = rsnew;
            }
            x.row_mut(u).assign(&ndarray::ArrayView1::from(&xu[..]));
        }
    }

    /// Rows with more interactions than a block holds take the Gram-matrix path; light
    /// rows the lockstep path; both follow implicit's recurrence.
    #[test]
    fn heavy_and_light_rows_follow_the_reference_cg() {
        let (users, items, k, reg) = (40, 4000, 16, 0.1);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut b = InteractionsBuilder::new(users, items).unwrap();
        for u in 0..users as u64 {
            let n = if u % 7 == 0 {
                3000
            } else {
                rng.random_range(0..30)
            };
            for _ in 0..n {
                b.push(
                    u,
                    rng.random_range(0..items as u64),
                    rng.random_range(1.0..5.0),
                )
                .unwrap();
            }
        }
        let conf = b.build().into_matrix();
        assert!((0..users).any(|u| conf.outer_view(u).unwrap().nnz() > HEAVY_NNZ));
        let y = random(items, k, 12) * 0.1;
        let start = random(users, k, 13);
        for steps in [1, 3] {
            let (mut fast, mut slow) = (start.clone(), start.clone());
            least_squares_cg(&conf, &mut fast, &y, reg, steps);
            reference_cg(&conf, &mut slow, &y, reg, steps);
            for u in 0..users {
                let scale = slow.row(u).iter().map(|v| v.abs()).fold(1e-3, f32::max);
                for (a, b) in fast.row(u).iter().zip(slow.row(u)) {
                    assert!(
                        (a - b).abs() <= 2e-3 * scale,
                        "row {u}, {steps} steps: {a} vs {b}"
                    );
                }
            }
        }
        // And enough steps reach the exact solution on the heavy rows too.
        let mut x = Array2::zeros((users, k));
        least_squares_cg(&conf, &mut x, &y, reg, 3 * k);
        let gram = y.t().dot(&y);
        for u in (0..users).step_by(7) {
            let exact =
                UserSystem::new(&gram, y.as_slice().unwrap(), reg, &SparseRow::of(&conf, u))
                    .unwrap()
                    .solution();
            for (a, b) in x.row(u).iter().zip(&exact) {
                assert!(
                    (a - b).abs() < 2e-3 * b.abs().max(1.0),
                    "heavy row {u}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn blocks_cover_every_row_within_their_limits() {
        // Rows of 0, 3000, 10, 10, ... interactions.
        let mut indptr = vec![0, 0, 3000];
        for _ in 0..300 {
            indptr.push(indptr.last().unwrap() + 10);
        }
        let rows = indptr.len() - 1;
        let blocks = plan_blocks(&indptr, rows);
        assert_eq!(
            blocks.first(),
            Some(&(0, 1)),
            "the next row would overflow the block"
        );
        assert_eq!(
            blocks[1],
            (1, 2),
            "a row too big to share a block sits alone"
        );
        let mut next = 0;
        for &(start, end) in &blocks {
            assert_eq!(start, next);
            assert!(end - start <= BLOCK_ROWS);
            assert!(end - start == 1 || indptr[end] - indptr[start] <= BLOCK_NNZ);
            next = end;
        }
        assert_eq!(next, rows);
        assert!(plan_blocks(&[0], 0).is_empty());
    }

    #[test]
    fn cholesky_rejects_an_indefinite_system() {
        assert!(matches!(
            cholesky(&[-1.0], 1),
            Err(AlsError::NotPositiveDefinite)
        ));
        assert!(matches!(
            cholesky(&[f32::NAN], 1),
            Err(AlsError::NotPositiveDefinite)
        ));
    }

    #[test]
    fn loss_is_zero_free_and_decreases_with_fitting() {
        let (users, items, k, reg) = (100, 30, 8, 0.05);
        let conf = random_conf(users, items, 5);
        let mut y = random(items, k, 6);
        let mut x = random(users, k, 7);
        let transposed = crate::matrix::transpose(&conf);
        let before = loss(&conf, &x, &y, reg);
        for _ in 0..5 {
            least_squares_cg(&conf, &mut x, &y, reg, 3);
            least_squares_cg(&transposed, &mut y, &x, reg, 3);
        }
        let after = loss(&conf, &x, &y, reg);
        assert!(after > 0.0 && after < before, "{before} -> {after}");
    }
}
