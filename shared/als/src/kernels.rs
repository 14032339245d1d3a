//! Vector primitives on `f32` rows. They are `#[inline(always)]` and written so LLVM
//! vectorises them (independent accumulator lanes, no loop-carried dependency on one
//! scalar); callers that run hot are `#[multiversion]` functions, so the primitives get
//! compiled for the best instruction set found at run time (AVX-512, AVX2, or baseline)
//! without tying the binary to one CPU.

use multiversion::multiversion;

/// Accumulator lanes: enough independent sums to fill two AVX2 or one AVX-512 register.
const LANES: usize = 16;

#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0_f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..LANES {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    // Pairwise reduction keeps rounding symmetric across lanes.
    reduce(acc) + tail
}

/// `y += alpha * x`
#[inline(always)]
pub(crate) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `scores[i] = <rows[i], v>` for a row-major matrix of `rows.len() / v.len()` rows.
#[multiversion(targets = "simd")]
pub(crate) fn scores_into(rows: &[f32], v: &[f32], scores: &mut [f32]) {
    let k = v.len();
    if k == 0 {
        scores.iter_mut().for_each(|s| *s = 0.0);
        return;
    }
    for (s, row) in scores.iter_mut().zip(rows.chunks_exact(k)) {
        *s = dot(row, v);
    }
}

/// `scores[j] = <rows[items[j]], v>` for selected rows only.
#[multiversion(targets = "simd")]
pub(crate) fn scores_of_items(rows: &[f32], v: &[f32], items: &[u32], scores: &mut [f32]) {
    let k = v.len();
    for (s, &i) in scores.iter_mut().zip(items) {
        let start = i as usize * k;
        *s = rows
            .get(start..start + k)
            .map_or(f32::NEG_INFINITY, |row| dot(row, v));
    }
}

/// `f32` to bfloat16 (the top 16 bits), rounding to nearest even.
#[inline]
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let rounding = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// The largest relative error of [`to_bf16`]: 7 explicit mantissa bits, rounded.
pub(crate) const BF16_RELATIVE_ERROR: f32 = 1.0 / 256.0;

/// Pairwise sum of the accumulator lanes (vectorises into shuffles, unlike a running sum).
#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for j in 0..width {
            acc[j] += acc[j + width];
        }
        width /= 2;
    }
    acc[0]
}

/// Items per block of the bfloat16 copy: the block's scores stay in registers.
pub(crate) const BLOCK: usize = 64;
const _: () = assert!(
    BLOCK.is_multiple_of(CHUNK),
    "chunks must not straddle blocks"
);

/// The item factors in bfloat16, block-transposed: for each block of [`BLOCK`] items,
/// factor 0 of all of them, then factor 1, and so on (the last block padded with zeros).
/// Scoring then needs no horizontal sums: each factor is one multiply-add across a block.
pub(crate) fn blocked_bf16(rows: &[f32], k: usize) -> Vec<u16> {
    if k == 0 {
        return Vec::new();
    }
    let items = rows.len() / k;
    let blocks = items.div_ceil(BLOCK);
    let mut out = vec![0_u16; blocks * k * BLOCK];
    for (item, row) in rows.chunks_exact(k).enumerate() {
        let (block, slot) = (item / BLOCK, item % BLOCK);
        for (j, &v) in row.iter().enumerate() {
            out[(block * k + j) * BLOCK + slot] = to_bf16(v);
        }
    }
    out
}

/// Bounds on every item's exact score from its bfloat16 copy ([`blocked_bf16`]):
/// `lower[i] <= <row_i, v> <= upper[i]`, with `slack * norms[i]` on either side (see
/// `Model::rank_all`); and the largest of each [`CHUNK`] of both, so scans can skip chunks.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn score_bounds_bf16(
    blocks: &[u16],
    v: &[f32],
    norms: &[f32],
    slack: f32,
    lower: &mut [f32],
    upper: &mut [f32],
    lower_max: &mut Vec<f32>,
    upper_max: &mut Vec<f32>,
) {
    let k = v.len();
    if k == 0 {
        return;
    }
    let items = lower.len().min(upper.len()).min(norms.len());
    // Fused multiply-adds where the CPU has them: fewer instructions, and the bound
    // (written for separate roundings) only gets looser than needed.
    let fused = multiversion::target::selected_target!().supports_feature_str("fma");
    for (block, columns) in blocks.chunks_exact(k * BLOCK).enumerate() {
        let acc = if fused {
            block_scores::<true>(columns, v)
        } else {
            block_scores::<false>(columns, v)
        };
        let start = block * BLOCK;
        let end = (start + BLOCK).min(items);
        if end - start == BLOCK {
            // A full block: fixed-size arrays, so this vectorises too.
            let (lo, hi, norm) = (
                &mut lower[start..end],
                &mut upper[start..end],
                &norms[start..end],
            );
            for i in 0..BLOCK {
                let margin = slack * norm[i];
                lo[i] = acc[i] - margin;
                hi[i] = acc[i] + margin;
            }
            for c in (0..BLOCK).step_by(CHUNK) {
                lower_max.push(largest(&lo[c..c + CHUNK]));
                upper_max.push(largest(&hi[c..c + CHUNK]));
            }
        } else {
            for chunk_start in (start..end).step_by(CHUNK) {
                let chunk_end = (chunk_start + CHUNK).min(end);
                for i in chunk_start..chunk_end {
                    let margin = slack * norms[i];
                    lower[i] = acc[i - start] - margin;
                    upper[i] = acc[i - start] + margin;
                }
                lower_max.push(largest(&lower[chunk_start..chunk_end]));
                upper_max.push(largest(&upper[chunk_start..chunk_end]));
            }
        }
    }
}

/// The largest value (scores are never NaN; a plain comparison lets this vectorise).
#[inline(always)]
fn largest(values: &[f32]) -> f32 {
    values
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// One block's approximate scores; the accumulators are a local array the compiler keeps
/// in registers.
#[inline(always)]
fn block_scores<const FUSED: bool>(columns: &[u16], v: &[f32]) -> [f32; BLOCK] {
    let mut acc = [0.0_f32; BLOCK];
    for (column, &x) in columns.chunks_exact(BLOCK).zip(v) {
        let column: &[u16; BLOCK] = column.try_into().unwrap_or(&[0; BLOCK]);
        for (a, &bits) in acc.iter_mut().zip(column) {
            let y = f32::from_bits(u32::from(bits) << 16);
            *a = if FUSED { y.mul_add(x, *a) } else { *a + y * x };
        }
    }
    acc
}

/// Items per chunk of the maxima [`score_bounds_bf16`] reports: scans skip whole chunks
/// that cannot hold anything above their bar.
pub(crate) const CHUNK: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 / (i as f32 + 1.0)).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(
                (dot(&a, &b) - plain).abs() <= 1e-4 * plain.abs().max(1.0),
                "n = {n}"
            );
        }
    }

    #[test]
    fn scores_cover_every_row() {
        let rows = [1.0, 0.0, 0.0, 1.0, 2.0, 2.0];
        let mut s = [0.0; 3];
        scores_into(&rows, &[3.0, 4.0], &mut s);
        assert_eq!(s, [3.0, 4.0, 14.0]);
        let mut picked = [0.0; 2];
        scores_of_items(&rows, &[3.0, 4.0], &[2, 9], &mut picked);
        assert_eq!(picked, [14.0, f32::NEG_INFINITY]);
    }
}

#[cfg(test)]
mod timing {
    #[test]
    #[ignore = "timing aid"]
    fn scoring_and_selection() {
        for n in [2_048, 17_632] {
            bounds_timing(n);
        }
    }

    fn bounds_timing(n: usize) {
        let k = 64;
        let rows: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let v: Vec<f32> = (0..k).map(|i| i as f32 / 64.0).collect();
        let mut scores = vec![0.0; n];
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            super::scores_into(&rows, &v, &mut scores);
            std::hint::black_box(&scores);
        }
        eprintln!(
            "{n} items: scores_into {:.1} us",
            t.elapsed().as_secs_f64() * 1e3
        );
        let skip: Vec<u32> = (0..40).map(|i| i * 400).collect();
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(crate::topk::top_n_skipping(&scores, 10, &skip));
        }
        eprintln!("top_n_skipping {:.1} us", t.elapsed().as_secs_f64() * 1e3);
        let bf: Vec<u16> = super::blocked_bf16(&rows, k);
        let norms = vec![1.0f32; n];
        let (mut lo, mut hi) = (vec![0.0; n], vec![0.0; n]);
        let (mut lo_max, mut hi_max) = (Vec::new(), Vec::new());
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            lo_max.clear();
            hi_max.clear();
            super::score_bounds_bf16(
                &bf,
                &v,
                &norms,
                0.01,
                &mut lo,
                &mut hi,
                &mut lo_max,
                &mut hi_max,
            );
            std::hint::black_box(&lo);
        }
        eprintln!(
            "{n} items: score_bounds_bf16 {:.1} us",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
