//! Held-out quality on Last.fm with implicit's example settings. implicit 0.7.3 reaches
//! precision@10 0.148 and nDCG@10 0.162 on this split; we must reach 0.145 and 0.158.

mod common;

use cratedigger_als::{AlsParams, Confidence, fit, ranking_metrics_at_k};

#[test]
fn lastfm_precision_and_ndcg_at_10_match_implicit() {
    let (train, test) = common::lastfm_split();
    assert_eq!((train.users(), train.items()), (1892, 17632));
    let params = AlsParams {
        factors: 64,
        regularization: 0.05,
        iterations: 15,
        confidence: Confidence::Bm25 { k1: 100.0, b: 0.8 },
        ..AlsParams::default()
    };
    let model = fit(&train, &params).unwrap();
    let metrics = ranking_metrics_at_k(&model, train.matrix(), test.matrix(), 10);
    eprintln!("{metrics:?}");
    assert_eq!(metrics.users, 1883);
    assert!(
        metrics.precision >= 0.145,
        "precision@10 {}",
        metrics.precision
    );
    assert!(metrics.ndcg >= 0.158, "ndcg@10 {}", metrics.ndcg);
}
