//! A deterministic power-law user x item matrix for benchmarks: user activity is
//! log-normal, item popularity Zipf over a fixed random permutation of item ids, and a
//! (user, item) pair drawn several times has the number of draws as its weight (like play
//! counts). The draw count is scaled once so the number of distinct pairs lands near the
//! target. Written out as CSV, the identical matrix can be fed to another implementation.

use std::io::Write;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{AlsError, Interactions, InteractionsBuilder};

#[derive(Clone, Copy, Debug)]
pub struct PowerLaw {
    pub users: usize,
    pub items: usize,
    pub nnz: usize,
    pub zipf_s: f64,
    pub lognormal_sigma: f64,
    pub seed: u64,
}

impl PowerLaw {
    pub fn new(users: usize, items: usize, nnz: usize, seed: u64) -> Self {
        Self {
            users,
            items,
            nnz,
            zipf_s: 1.0,
            lognormal_sigma: 1.0,
            seed,
        }
    }

    pub fn generate(&self) -> Result<Interactions, AlsError> {
        if self.users == 0 || self.items < 2 {
            return Err(AlsError::bad_parameter(
                "shape",
                "needs at least one user and two items",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let cdf = zipf_cdf(self.items, self.zipf_s);
        let mut permutation: Vec<u32> = (0..self.items as u32).collect();
        permutation.shuffle(&mut rng);
        let activity: Vec<f64> = (0..self.users)
            .map(|_| (self.lognormal_sigma * normal(&mut rng)).exp())
            .collect();
        let total_activity: f64 = activity.iter().sum();

        let draw = |target: f64, rng: &mut ChaCha8Rng| -> Vec<u64> {
            let mut keys = Vec::with_capacity(target as usize + self.users);
            for (u, a) in activity.iter().enumerate() {
                let n = (a / total_activity * target)
                    .round()
                    .clamp(1.0, (self.items / 2) as f64) as usize;
                for _ in 0..n {
                    let r: f64 = rng.random();
                    let rank = cdf.partition_point(|&c| c < r).min(self.items - 1);
                    keys.push(u as u64 * self.items as u64 + u64::from(permutation[rank]));
                }
            }
            keys.sort_unstable();
            keys
        };
        let mut keys = draw(self.nnz as f64, &mut rng);
        let distinct = count_distinct(&keys);
        let ratio = self.nnz as f64 / distinct.max(1) as f64;
        if (ratio - 1.0).abs() > 0.02 {
            keys = draw(self.nnz as f64 * ratio, &mut rng);
        }
        let mut builder =
            InteractionsBuilder::new(self.users, self.items)?.with_capacity(keys.len());
        let items = self.items as u64;
        for key in keys {
            builder.push(key / items, key % items, 1.0)?;
        }
        Ok(builder.build())
    }
}

/// Writes `user_id,item_id,weight` lines with a header, in row order.
pub fn write_csv(matrix: &Interactions, mut out: impl Write) -> std::io::Result<()> {
    writeln!(out, "user_id,item_id,weight")?;
    for u in 0..matrix.users() {
        for (i, w) in matrix.row(u).iter() {
            writeln!(out, "{u},{i},{w}")?;
        }
    }
    out.flush()
}

fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-s)).collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn count_distinct(sorted: &[u64]) -> usize {
    sorted.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!sorted.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_near_the_target() {
        let spec = PowerLaw::new(2_000, 1_000, 30_000, 7);
        let a = spec.generate().unwrap();
        let b = spec.generate().unwrap();
        assert_eq!(a.matrix(), b.matrix());
        let nnz = a.nnz() as f64;
        assert!((nnz / 30_000.0 - 1.0).abs() < 0.05, "nnz {nnz}");
        // Popular items are far more popular than the median one.
        let mut per_item = vec![0usize; 1_000];
        for &i in a.matrix().indices() {
            per_item[i as usize] += 1;
        }
        per_item.sort_unstable();
        assert!(per_item[999] > 20 * per_item[500].max(1));
    }

    #[test]
    fn writes_csv_that_parses_back() {
        let m = PowerLaw::new(20, 10, 60, 1).generate().unwrap();
        let mut out = Vec::new();
        write_csv(&m, &mut out).unwrap();
        let triplets = crate::matrix::parse_csv_triplets(out.as_slice()).unwrap();
        assert_eq!(triplets.len(), m.nnz());
    }
}
