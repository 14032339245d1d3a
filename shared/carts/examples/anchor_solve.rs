//! Solves instances in the reference script's JSON format (with an optional `min_order`
//! per seller) for the best cart across sellers under the instance's own seller cap, and
//! prints one JSON line per instance for `bench/carts/anchors.py`. Build it with
//! `--release`:
//!
//! ```sh
//! cargo build --release -p cratedigger-carts --example anchor_solve
//! target/release/examples/anchor_solve [--repeat 3] [--budget-ms 2000] INSTANCE.json...
//! ```
//!
//! `prepare_seconds` (filtering and indexing the listings: the anchors' model building)
//! and `solve_seconds` (the search alone) are medians over the repeats, reported apart.

use std::error::Error;
use std::time::Instant;

use cratedigger_carts::reference::ReferenceInstance;
use cratedigger_carts::{Market, Optimality, Options};
use serde_json::json;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut repeat: usize = 3;
    let mut budget_ms: u64 = 2_000;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repeat" => repeat = args.next().ok_or("--repeat needs a number")?.parse()?,
            "--budget-ms" => {
                budget_ms = args.next().ok_or("--budget-ms needs a number")?.parse()?
            }
            _ => paths.push(arg),
        }
    }
    if paths.is_empty() {
        return Err("usage: anchor_solve [--repeat N] [--budget-ms MS] INSTANCE.json...".into());
    }
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
        let reference: ReferenceInstance = serde_json::from_str(&text)?;
        let (instance, criteria, options) = reference.to_problem(1)?;
        let options = Options {
            time_budget_ms: Some(budget_ms),
            ..options
        };
        let mut prepare = Vec::new();
        let mut solve = Vec::new();
        let mut answer = None;
        for _ in 0..repeat.max(1) {
            let started = Instant::now();
            let market = Market::prepare(&instance, &criteria, &options)?;
            prepare.push(started.elapsed().as_secs_f64());
            let started = Instant::now();
            let scenario = market.best_scenario(criteria.max_sellers);
            solve.push(started.elapsed().as_secs_f64());
            answer = Some((scenario, market.out_of_time()));
        }
        let Some((scenario, timed_out)) = answer else {
            continue;
        };
        let cart = scenario.cart.as_ref();
        let (proof, score_bound) = match scenario.optimality {
            Optimality::Proven => ("proven", None),
            Optimality::ScoreProven => ("score_proven", None),
            Optimality::BestFound { score_bound } => ("best_found", Some(score_bound)),
        };
        let mut ids: Vec<u64> = cart
            .map(|c| c.lines.iter().map(|l| l.listing.0).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        let line = json!({
            "file": path,
            "prepare_seconds": median(prepare),
            "solve_seconds": median(solve),
            "score": cart.map(|c| c.score),
            "score_units": cart.map(|c| c.lines.iter().map(|l| (l.score * 1e6).round() as i64).sum::<i64>()),
            "cost_cents": cart.map(|c| c.total.minor),
            "listing_ids": ids,
            "proof": proof,
            "score_bound": score_bound,
            "timed_out": timed_out,
        });
        println!("{line}");
    }
    Ok(())
}
