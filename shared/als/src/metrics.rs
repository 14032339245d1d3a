//! Held-out ranking quality with implicit's definitions
//! (`implicit.evaluation.ranking_metrics_at_k`): for every user with test items, the
//! top K by stored factors with training items filtered;
//! precision = hits / sum_u min(K, |test_u|); nDCG normalises by the ideal DCG of
//! min(K, |test_u|) hits; MAP divides each user's AP by min(K, |test_u|); AUC counts
//! unranked items as ranked after the top K, as implicit does.

use std::collections::HashSet;

use serde::Serialize;

use crate::{Csr, Model};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankingMetrics {
    pub precision: f64,
    pub map: f64,
    pub ndcg: f64,
    pub auc: f64,
    pub users: usize,
}

pub fn ranking_metrics_at_k(model: &Model, train: &Csr, test: &Csr, k: usize) -> RankingMetrics {
    let users: Vec<usize> = (0..test.rows())
        .filter(|&u| test.outer_view(u).is_some_and(|r| r.nnz() > 0))
        .collect();
    let ranked = model.recommend_stored(&users, train, k);
    let gain: Vec<f64> = (0..k).map(|i| 1.0 / ((i + 2) as f64).log2()).collect();
    let ideal: Vec<f64> = gain
        .iter()
        .scan(0.0, |acc, g| {
            *acc += g;
            Some(*acc)
        })
        .collect();
    let items = test.cols() as f64;
    let (mut relevant, mut pr_div, mut map, mut ndcg, mut auc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&u, recs) in users.iter().zip(&ranked) {
        let likes: HashSet<u32> = test
            .outer_view(u)
            .map(|r| r.indices().iter().copied().collect())
            .unwrap_or_default();
        let cutoff = k.min(likes.len());
        if cutoff == 0 {
            continue;
        }
        pr_div += cutoff as f64;
        let (mut hit, mut miss, mut ap, mut user_auc) = (0.0, 0.0, 0.0, 0.0);
        for (i, &g) in gain.iter().enumerate() {
            if recs.get(i).is_some_and(|r| likes.contains(&r.item)) {
                relevant += 1.0;
                hit += 1.0;
                ap += hit / (i + 1) as f64;
                ndcg += g / ideal[cutoff - 1];
            } else {
                miss += 1.0;
                user_auc += hit;
            }
        }
        let positives = likes.len() as f64;
        let negatives = items - positives;
        user_auc += ((hit + positives) / 2.0) * (negatives - miss);
        map += ap / cutoff as f64;
        auc += user_auc / (positives * negatives);
    }
    let n = users.len().max(1) as f64;
    RankingMetrics {
        precision: if pr_div > 0.0 { relevant / pr_div } else { 0.0 },
        map: map / n,
        ndcg: ndcg / n,
        auc: auc / n,
        users: users.len(),
    }
}
