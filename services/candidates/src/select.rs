//! Mixing the wantlist and the recommendations to the asked share, and the seeded
//! sub-selection when either has more than the job needs. Pure and deterministic: the same
//! pools, size, share and seed give the same candidates.

use cratedigger_domain::{CandidateOrigin, CandidateRelease};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many of each origin a job of `size` candidates takes, given what is available:
/// the share is honoured where both pools allow it, and a short pool's places go to the
/// other, so the job gets `size` candidates whenever there are that many.
pub fn quotas(
    size: usize,
    wantlist_share: f64,
    wants: usize,
    recommendations: usize,
) -> (usize, usize) {
    let share = if wantlist_share.is_finite() {
        wantlist_share.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let want_target = (size as f64 * share).round() as usize;
    let take_wants = want_target.min(wants);
    let take_recommendations = (size - take_wants).min(recommendations);
    let take_wants = (size - take_recommendations).min(wants);
    (take_wants, take_recommendations)
}

/// `take` of `pool`, chosen with `rng`: all of them when there are no more than that;
/// otherwise uniformly (wantlist) or with probability growing with the score
/// (recommendations, Efraimidis-Spirakis weighted sampling without replacement). The
/// chosen keep the pool's order.
fn sub_select(
    pool: Vec<CandidateRelease>,
    take: usize,
    by_score: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<CandidateRelease> {
    if pool.len() <= take {
        return pool;
    }
    let mut keyed: Vec<(f64, usize)> = pool
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let key = if by_score && c.score > 0.0 {
                u.ln() / c.score
            } else if by_score {
                f64::NEG_INFINITY
            } else {
                u
            };
            (key, i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = keyed.into_iter().take(take).map(|(_, i)| i).collect();
    chosen.sort_unstable();
    let mut pool: Vec<Option<CandidateRelease>> = pool.into_iter().map(Some).collect();
    chosen.into_iter().filter_map(|i| pool[i].take()).collect()
}

/// The job's candidates: wantlist first, then recommendations.
pub fn mix(
    wants: Vec<CandidateRelease>,
    recommendations: Vec<CandidateRelease>,
    size: usize,
    wantlist_share: f64,
    seed: u64,
) -> Vec<CandidateRelease> {
    let (take_wants, take_recommendations) =
        quotas(size, wantlist_share, wants.len(), recommendations.len());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = sub_select(wants, take_wants, false, &mut rng);
    chosen.extend(sub_select(
        recommendations,
        take_recommendations,
        true,
        &mut rng,
    ));
    debug_assert!(
        chosen
            .iter()
            .take(take_wants)
            .all(|c| c.origin == CandidateOrigin::Wantlist)
    );
    chosen
}

#[cfg(test)]
mod tests {
    use cratedigger_domain::ReleaseId;

    use super::*;

    fn pool(origin: CandidateOrigin, ids: std::ops::Range<u64>) -> Vec<CandidateRelease> {
        ids.map(|id| CandidateRelease {
            release_id: ReleaseId(id),
            master_id: None,
            score: 1.0 / id as f64,
            origin,
        })
        .collect()
    }

    #[test]
    fn the_share_holds_when_both_pools_allow_it() {
        assert_eq!(quotas(100, 0.7, 500, 500), (70, 30));
        assert_eq!(quotas(100, 0.0, 500, 500), (0, 100));
        assert_eq!(quotas(100, 1.0, 500, 500), (100, 0));
    }

    #[test]
    fn a_short_pool_gives_its_places_to_the_other() {
        assert_eq!(quotas(100, 0.7, 20, 500), (20, 80));
        assert_eq!(quotas(100, 0.7, 500, 10), (90, 10));
        assert_eq!(quotas(100, 0.5, 30, 40), (30, 40));
        assert_eq!(quotas(100, f64::NAN, 30, 40), (30, 40));
    }

    #[test]
    fn the_same_seed_gives_the_same_selection_and_another_seed_another() {
        let wants = pool(CandidateOrigin::Wantlist, 1..1001);
        let recs = pool(CandidateOrigin::Recommendation, 2001..3001);
        let a = mix(wants.clone(), recs.clone(), 100, 0.6, 7);
        let b = mix(wants.clone(), recs.clone(), 100, 0.6, 7);
        let c = mix(wants, recs, 100, 0.6, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 100);
        assert_eq!(
            a.iter()
                .filter(|x| x.origin == CandidateOrigin::Wantlist)
                .count(),
            60
        );
        let mut ids: Vec<_> = a.iter().map(|x| x.release_id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 100, "no release twice");
    }

    #[test]
    fn recommendations_are_drawn_by_score() {
        let recs = pool(CandidateOrigin::Recommendation, 1..1001);
        let mut top_hits = 0;
        for seed in 0..50 {
            let chosen = mix(Vec::new(), recs.clone(), 50, 0.0, seed);
            top_hits += chosen.iter().filter(|c| c.release_id.0 <= 100).count();
        }
        // The best tenth by score holds far more than a tenth of the draws.
        assert!(top_hits > 50 * 50 / 4, "{top_hits}");
    }

    #[test]
    fn small_pools_are_taken_whole_in_order() {
        let wants = pool(CandidateOrigin::Wantlist, 1..6);
        let chosen = mix(wants.clone(), Vec::new(), 100, 0.5, 1);
        assert_eq!(chosen, wants);
    }
}
