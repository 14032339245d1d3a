//! Seeded randomness. Every generated thing draws from its own stream, derived from the
//! world seed, a stream name and an index, so one user's lists never depend on how many
//! other users exist or in which order they were asked for.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Named streams keep unrelated draws independent (adding a field to sellers must not
/// reshuffle every user's wantlist).
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Stream {
    Catalog = 1,
    Market = 2,
    User = 3,
    CreatedUser = 4,
    Faults = 5,
}

/// SplitMix64 finaliser: spreads nearby inputs (seed 1, seed 2) to unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for item `index` of `stream` in the world made from `seed`.
pub fn stream_rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let key = mix(mix(seed ^ mix(stream as u64)) ^ index);
    ChaCha8Rng::seed_from_u64(key)
}

/// A stable 64-bit hash of a name, for streams keyed by text (created users).
pub fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A standard normal draw (Box-Muller; one of the pair is thrown away for simplicity).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw with the given median and log-space spread.
pub fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * standard_normal(rng)).exp()
}

/// A Poisson draw with mean `lambda` (Knuth's method for small means, the normal
/// approximation above 30, where it is close enough for counting listings).
pub fn poisson(rng: &mut impl Rng, lambda: f64) -> usize {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * standard_normal(rng))
            .round()
            .max(0.0) as usize;
    }
    let limit = (-lambda).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// Picks an index by weight from a small fixed table.
pub fn weighted_index(rng: &mut impl Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return 0;
    }
    let mut pick = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if pick < *w {
            return i;
        }
        pick -= w;
    }
    weights.len() - 1
}

/// Zipf-distributed ranks over `n` items: rank r has weight 1 / (r + 1)^exponent.
/// Holds the cumulative weights so a draw is one binary search.
#[derive(Clone, Debug)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Self { cumulative }
    }

    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// A rank in `0..len()`; `None` for an empty table.
    pub fn sample(&self, rng: &mut impl Rng) -> Option<usize> {
        let total = *self.cumulative.last()?;
        let target = rng.random::<f64>() * total;
        let rank = self.cumulative.partition_point(|c| *c <= target);
        Some(rank.min(self.cumulative.len() - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed, stream, index| stream_rng(seed, stream, index).random::<u64>();
        assert_eq!(draw(7, Stream::User, 3), draw(7, Stream::User, 3));
        assert_ne!(draw(7, Stream::User, 3), draw(7, Stream::User, 4));
        assert_ne!(draw(7, Stream::User, 3), draw(8, Stream::User, 3));
        assert_ne!(draw(7, Stream::User, 3), draw(7, Stream::Market, 3));
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let zipf = Zipf::new(100, 1.0);
        let mut rng = stream_rng(1, Stream::Catalog, 0);
        let mut counts = [0_u32; 100];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng).unwrap()] += 1;
        }
        assert!(counts[0] > counts[9] * 5, "{counts:?}");
        assert!(counts[9] > counts[99], "{counts:?}");
        assert!(Zipf::new(0, 1.0).sample(&mut rng).is_none());
    }

    #[test]
    fn poisson_has_the_asked_mean() {
        let mut rng = stream_rng(3, Stream::Market, 0);
        for lambda in [0.5, 4.0, 80.0] {
            let total: usize = (0..4_000).map(|_| poisson(&mut rng, lambda)).sum();
            let mean = total as f64 / 4_000.0;
            assert!(
                (mean - lambda).abs() < lambda * 0.1 + 0.05,
                "{lambda}: {mean}"
            );
        }
        assert_eq!(poisson(&mut rng, 0.0), 0);
    }

    #[test]
    fn log_normal_centres_on_its_median() {
        let mut rng = stream_rng(2, Stream::Market, 0);
        let mut draws: Vec<f64> = (0..5_001)
            .map(|_| log_normal(&mut rng, 20.0, 0.5))
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[2_500];
        assert!((17.0..23.0).contains(&median), "{median}");
    }
}
