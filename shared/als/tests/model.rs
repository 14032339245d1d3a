//! What a fitted model answers: recalculated users, recommendations (never an excluded
//! item), explanations, similar items, and the defined behaviour on odd input.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use cratedigger_als::synthetic::PowerLaw;
use cratedigger_als::{
    AlsError, AlsParams, Confidence, Interactions, InteractionsBuilder, Model, RecommendRequest,
    SparseRow, fit,
};
use proptest::prelude::*;

/// A small model shared by the property tests (fitting once keeps them fast).
fn small() -> &'static (Interactions, Model) {
    static MODEL: OnceLock<(Interactions, Model)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let data = PowerLaw::new(400, 60, 4_000, 3).generate().unwrap();
        let params = AlsParams {
            factors: 16,
            iterations: 8,
            confidence: Confidence::Linear { alpha: 5.0 },
            ..AlsParams::default()
        };
        let model = fit(&data, &params).unwrap();
        (data, model)
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn recommend_never_returns_excluded_items(
        owned in proptest::collection::btree_map(0u32..60, 1.0f32..50.0, 1..40),
        deny in proptest::collection::vec(0u32..70, 0..10),
        allow in proptest::option::of(proptest::collection::vec(0u32..70, 0..30)),
        n in 0usize..80,
    ) {
        let (_, model) = small();
        let raw = SparseRow::from_pairs(owned.iter().map(|(&i, &w)| (i, w)), model.items()).unwrap();
        let request = RecommendRequest { n, allow: allow.as_deref(), deny: &deny };
        let recs = model.recommend(&raw, &request).unwrap();
        let candidates: std::collections::BTreeSet<u32> = (0..model.items() as u32)
            .filter(|i| !owned.contains_key(i) && !deny.contains(i))
            .filter(|i| allow.as_ref().is_none_or(|a| a.contains(i)))
            .collect();
        prop_assert_eq!(recs.len(), n.min(candidates.len()));
        for r in &recs {
            prop_assert!(candidates.contains(&r.item), "item {} should have been excluded", r.item);
        }
        for pair in recs.windows(2) {
            prop_assert!(pair[0].score > pair[1].score || (pair[0].score == pair[1].score && pair[0].item < pair[1].item));
        }
    }
}

#[test]
fn asking_for_more_than_is_left_returns_only_what_is_left() {
    let (_, model) = small();
    let owned: Vec<(u32, f32)> = (0..model.items() as u32 - 3).map(|i| (i, 1.0)).collect();
    let raw = SparseRow::from_pairs(owned, model.items()).unwrap();
    let recs = model.recommend(&raw, &RecommendRequest::top(50)).unwrap();
    let mut items: Vec<u32> = recs.iter().map(|r| r.item).collect();
    items.sort_unstable();
    let n = model.items() as u32;
    assert_eq!(items, vec![n - 3, n - 2, n - 1]);
}

#[test]
fn batch_recommend_agrees_with_single_calls() {
    let (data, model) = small();
    let rows: Vec<SparseRow> = (0..50).map(|u| data.row(u)).collect();
    let batch = model.recommend_batch(&rows, 10).unwrap();
    for (row, got) in rows.iter().zip(&batch) {
        let single = model.recommend(row, &RecommendRequest::top(10)).unwrap();
        let (a, b): (Vec<u32>, Vec<u32>) = (
            single.iter().map(|r| r.item).collect(),
            got.iter().map(|r| r.item).collect(),
        );
        assert_eq!(a, b);
        for (x, y) in single.iter().zip(got) {
            assert!((x.score - y.score).abs() < 1e-4);
        }
    }
}

#[test]
fn recalculated_training_users_match_their_fitted_factors() {
    let (train, _) = common::lastfm_split();
    let model = fit(&train, &AlsParams::default()).unwrap();
    let mut worst = 1.0_f32;
    for u in 0..train.users() {
        let row = train.row(u);
        if row.is_empty() {
            continue;
        }
        let recalculated = model.recalculate_user(&row).unwrap();
        let fitted = model.user_factors().row(u).to_vec();
        worst = worst.min(cosine(&recalculated, &fitted));
    }
    assert!(worst > 0.99, "worst cosine similarity {worst}");
}

#[test]
fn explanations_sum_to_the_score() {
    let (data, model) = small();
    let raw = data.row(7);
    let factors = model.recalculate_user(&raw).unwrap();
    let top = model.recommend(&raw, &RecommendRequest::top(3)).unwrap();
    for rec in top {
        let full = model.explain(&raw, rec.item, usize::MAX).unwrap();
        assert!(
            (full.score - rec.score).abs() < 1e-3 * rec.score.abs().max(1.0),
            "{} vs {}",
            full.score,
            rec.score
        );
        let sum: f32 = full.contributions.iter().map(|c| c.1).sum();
        assert!((sum - full.score).abs() < 1e-3 * full.score.abs().max(1.0));
        assert!(full.contributions.iter().all(|(i, _)| raw.contains(*i)));
        let short = model.explain(&raw, rec.item, 2).unwrap();
        assert_eq!(
            short.contributions,
            full.contributions[..2.min(full.contributions.len())]
        );
        let direct: f32 = model
            .item_factors()
            .row(rec.item as usize)
            .iter()
            .zip(&factors)
            .map(|(a, b)| a * b)
            .sum();
        assert!((direct - rec.score).abs() < 1e-4 * direct.abs().max(1.0));
    }
}

#[test]
fn similar_items_are_sorted_cosines_without_the_item_itself() {
    let (_, model) = small();
    let similar = model.similar_items(4, 10, &[5]).unwrap();
    assert_eq!(similar.len(), 10);
    assert!(
        similar
            .iter()
            .all(|r| r.item != 4 && r.item != 5 && (-1.001..=1.001).contains(&r.score))
    );
    assert!(similar.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(matches!(
        model.similar_items(10_000, 5, &[]),
        Err(AlsError::UnknownItem(10_000))
    ));
}

#[test]
fn fitting_is_deterministic_whatever_the_thread_count() {
    let data = PowerLaw::new(500, 120, 6_000, 9).generate().unwrap();
    let one = fit(
        &data,
        &AlsParams {
            threads: 1,
            factors: 24,
            iterations: 4,
            ..AlsParams::default()
        },
    )
    .unwrap();
    let two = fit(
        &data,
        &AlsParams {
            threads: 2,
            factors: 24,
            iterations: 4,
            ..AlsParams::default()
        },
    )
    .unwrap();
    assert_eq!(one.item_factors(), two.item_factors());
    assert_eq!(one.user_factors(), two.user_factors());
}

#[test]
fn training_loss_is_reported_per_iteration_and_falls() {
    let data = PowerLaw::new(300, 80, 3_000, 2).generate().unwrap();
    let params = AlsParams {
        factors: 8,
        iterations: 5,
        calculate_training_loss: true,
        ..AlsParams::default()
    };
    let mut losses = Vec::new();
    cratedigger_als::fit_with_callback(&data, &params, |report| {
        assert_eq!(report.iterations, 5);
        losses.push(report.loss.unwrap());
    })
    .unwrap();
    assert_eq!(losses.len(), 5);
    assert!(
        losses.last().unwrap() < losses.first().unwrap(),
        "{losses:?}"
    );
}

#[test]
fn odd_input_has_defined_behaviour() {
    // An empty matrix cannot be fitted.
    let empty = InteractionsBuilder::new(3, 3).unwrap().build();
    assert!(matches!(
        fit(&empty, &AlsParams::default()),
        Err(AlsError::Empty)
    ));
    // Bad parameters are named.
    let (data, model) = small();
    let bad = AlsParams {
        factors: 0,
        ..AlsParams::default()
    };
    assert!(matches!(
        fit(data, &bad),
        Err(AlsError::BadParameter {
            name: "factors",
            ..
        })
    ));
    // A user with no items has zero factors and no recommendations.
    let none = SparseRow::default();
    assert!(
        model
            .recalculate_user(&none)
            .unwrap()
            .iter()
            .all(|v| *v == 0.0)
    );
    assert!(
        model
            .recommend(&none, &RecommendRequest::top(10))
            .unwrap()
            .is_empty()
    );
    // Items outside the model are an error when given by index, skipped when given by id.
    let outside = SparseRow {
        indices: vec![1, 999],
        values: vec![1.0, 1.0],
    };
    assert!(matches!(
        model.recommend(&outside, &RecommendRequest::top(5)),
        Err(AlsError::UnknownItem(999))
    ));
    let (row, unknown) = model
        .user_row([(1, 2.0), (999_999, 1.0), (1, 3.0)])
        .unwrap();
    assert_eq!(
        (row.indices.as_slice(), row.values.as_slice(), unknown),
        (&[1][..], &[5.0][..], 1)
    );
    // Users without items in training still get (zero-ish) factors and do not break fitting.
    let mut b = InteractionsBuilder::new(4, 3).unwrap();
    b.push(0, 0, 1.0).unwrap();
    b.push(0, 1, 2.0).unwrap();
    let sparse = fit(
        &b.build(),
        &AlsParams {
            factors: 2,
            iterations: 3,
            ..AlsParams::default()
        },
    )
    .unwrap();
    assert!(sparse.user_factors().iter().all(|v| v.is_finite()));
}
