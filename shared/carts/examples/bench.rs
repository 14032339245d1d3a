//! Times the searches on one instance in the reference script's JSON format and prints
//! the figures as one JSON line, for `bench/carts/bench.py`. Build it with `--release`:
//!
//! ```sh
//! cargo run --release -p cratedigger-carts --example bench -- [--repeat 5] INSTANCE.json
//! ```
//! Each figure is the median of the repeats, in seconds, and includes preparing the
//! market (filtering and indexing the listings) as the reference's timing includes its
//! preprocessing.

use std::error::Error;
use std::time::Instant;

use cratedigger_carts::reference::ReferenceInstance;
use cratedigger_carts::{Market, Objective};
use serde_json::json;

fn median_seconds(repeat: usize, mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeat.max(1))
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut repeat = 5;
    let mut path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repeat" => repeat = args.next().ok_or("--repeat needs a number")?.parse()?,
            _ => path = Some(arg),
        }
    }
    let path = path.ok_or("usage: bench [--repeat N] INSTANCE.json")?;
    let reference: ReferenceInstance = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let (instance, criteria, options) = reference.to_problem(10)?;
    let market = Market::prepare(&instance, &criteria, &options)?;
    let sellers: Vec<_> = market.sellers().cloned().collect();

    let mut multi_score = None;
    let multi = median_seconds(repeat, || {
        let market = Market::prepare(&instance, &criteria, &options).ok();
        multi_score = market
            .and_then(|m| m.best_multi_seller(None))
            .map(|c| c.score);
    });
    let per_seller = |objective: Objective| {
        median_seconds(repeat, || {
            if let Ok(market) = Market::prepare(&instance, &criteria, &options) {
                for seller in &sellers {
                    let _ = market.top_k_for_seller(seller, objective);
                }
            }
        })
    };
    let top_k_total = per_seller(Objective::TotalScore);
    let top_k_weight = per_seller(Objective::OriginalWeight);
    let plan = median_seconds(repeat, || {
        let _ = Market::prepare(&instance, &criteria, &options).map(|m| m.plan());
    });
    let figures = json!({
        "eligible_listings": market.eligible_listings(),
        "sellers": sellers.len(),
        "multi_seconds": multi,
        "multi_score": multi_score,
        "per_seller_top10_total_score_seconds": top_k_total,
        "per_seller_top10_original_weight_seconds": top_k_weight,
        "full_plan_seconds": plan,
    });
    println!("{figures}");
    Ok(())
}
