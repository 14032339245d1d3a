//! Measures this crate the way `bench/als/anchor_implicit.py` (in the shared folder)
//! measures benfred/implicit, and prints one JSON line:
//! fit time (median of repeats, per iteration), single-user recalculate + top-10 latency,
//! batch recommend throughput, ranking metrics at 10, peak RSS.
//!
//! ```text
//! als_bench --train train.csv --test test.csv [--threads 2] [--repeats 3]
//! als_bench --generate USERS ITEMS NNZ --seed 42 --out data.csv   # power-law CSV
//! ```
//! `bench/als/run.sh` runs both implementations on the same data and prints the ratios.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::Instant;

use clap::Parser;
use cratedigger_als::synthetic::{PowerLaw, write_csv};
use cratedigger_als::{
    AlsParams, Confidence, Interactions, InteractionsBuilder, RecommendRequest, SparseRow,
    fit_with_callback, parse_csv_triplets, ranking_metrics_at_k,
};
use serde_json::json;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long)]
    train: Option<String>,
    #[arg(long)]
    test: Option<String>,
    /// Write a power-law data set: USERS ITEMS NNZ.
    #[arg(long, num_args = 3, value_names = ["USERS", "ITEMS", "NNZ"])]
    generate: Option<Vec<usize>>,
    #[arg(long)]
    out: Option<String>,
    #[arg(long, default_value = "bm25")]
    weighting: String,
    #[arg(long, default_value_t = 40.0)]
    alpha: f32,
    #[arg(long, default_value_t = 64)]
    factors: usize,
    #[arg(long, default_value_t = 0.05)]
    regularization: f32,
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[arg(long, default_value_t = 1000)]
    latency_users: usize,
    /// 0 = every user when there are at most 20,000, else 20,000 (as the anchor does).
    #[arg(long, default_value_t = 0)]
    batch_users: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()?;
    if let Some(spec) = &args.generate {
        let out = args.out.as_deref().ok_or("--generate needs --out")?;
        let data = PowerLaw::new(spec[0], spec[1], spec[2], args.seed).generate()?;
        write_csv(&data, BufWriter::new(File::create(out)?))?;
        println!(
            "{}",
            json!({"generated": out, "users": data.users(), "items": data.items(), "nnz": data.nnz()})
        );
        return Ok(());
    }
    let (train_path, test_path) = (
        args.train.as_deref().ok_or("--train is required")?,
        args.test.as_deref(),
    );
    let t = Instant::now();
    let (train, test) = load(train_path, test_path)?;
    let load_s = t.elapsed().as_secs_f64();
    let confidence = match args.weighting.as_str() {
        "bm25" => Confidence::Bm25 { k1: 100.0, b: 0.8 },
        "linear" => Confidence::Linear { alpha: args.alpha },
        "log" => Confidence::Log { alpha: args.alpha },
        "raw" => Confidence::Raw,
        other => return Err(format!("unknown weighting {other}").into()),
    };
    let params = AlsParams {
        factors: args.factors,
        regularization: args.regularization,
        iterations: args.iterations,
        threads: 0,
        seed: args.seed,
        confidence,
        ..AlsParams::default()
    };

    let rss_before_fit = rss_mb("VmRSS");
    let mut fit_times = Vec::new();
    let mut iteration_times = Vec::new();
    let mut model = None;
    for _ in 0..args.repeats.max(1) {
        let t = Instant::now();
        let m = fit_with_callback(&train, &params, |r| {
            iteration_times.push(r.elapsed.as_secs_f64())
        })?;
        fit_times.push(t.elapsed().as_secs_f64());
        model = Some(m);
    }
    let model = model.ok_or("no fit ran")?;

    // Single-user latency: weigh + recalculate + score + top 10, rows prepared beforehand
    // (the anchor also excludes slicing the row).
    let active: Vec<usize> = (0..train.users())
        .filter(|&u| !train.row(u).is_empty())
        .collect();
    let picked = sample(&active, args.latency_users, args.seed + 1);
    let rows: Vec<SparseRow> = picked.iter().map(|&u| train.row(u)).collect();
    let request = RecommendRequest::top(10);
    model.recommend(&rows[0], &request)?;
    let mut latency = Vec::with_capacity(rows.len());
    for row in &rows {
        let t = Instant::now();
        std::hint::black_box(model.recommend(row, &request)?);
        latency.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut stored_latency = Vec::with_capacity(rows.len());
    for (&u, row) in picked.iter().zip(&rows) {
        let factors = model.user_factors().row(u).to_vec();
        let t = Instant::now();
        std::hint::black_box(model.recommend_for_factors(&factors, &row.indices, &request)?);
        stored_latency.push(t.elapsed().as_secs_f64() * 1e6);
    }

    // Batch throughput with stored factors (as the anchor's batch call), then recalculated.
    let batch_n = match args.batch_users {
        0 if train.users() <= 20_000 => train.users(),
        0 => 20_000,
        n => n.min(train.users()),
    };
    let mut batch_users = sample(
        &(0..train.users()).collect::<Vec<_>>(),
        batch_n,
        args.seed + 2,
    );
    batch_users.sort_unstable();
    let mut batch_times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(model.recommend_stored(&batch_users, train.matrix(), 10));
        batch_times.push(t.elapsed().as_secs_f64());
    }
    let batch_rows: Vec<SparseRow> = batch_users.iter().map(|&u| train.row(u)).collect();
    let t = Instant::now();
    std::hint::black_box(model.recommend_batch(&batch_rows, 10)?);
    let batch_recalc_s = t.elapsed().as_secs_f64();

    let metrics = test
        .as_ref()
        .map(|test| ranking_metrics_at_k(&model, train.matrix(), test.matrix(), 10));
    let batch_median = median(&mut batch_times);
    println!(
        "{}",
        json!({
            "tool": "cratedigger-als",
            "dataset": train_path,
            "shape": {"users": train.users(), "items": train.items(), "train_nnz": train.nnz()},
            "load_s": load_s,
            "params": {"factors": params.factors, "regularization": params.regularization,
                       "iterations": params.iterations, "cg_steps": params.cg_steps,
                       "threads": args.threads, "weighting": args.weighting, "seed": args.seed},
            "rss_mb_before_fit": rss_before_fit,
            "fit_s": {"median": median(&mut fit_times.clone()), "all": fit_times,
                      "per_iter_median": median(&mut iteration_times.clone()),
                      "per_iter_min": iteration_times.iter().copied().fold(f64::INFINITY, f64::min),
                      "per_iter_max": iteration_times.iter().copied().fold(0.0, f64::max)},
            "recommend_single_us": {
                "users": rows.len(),
                "recalculate_user": {"p50": pct(&mut latency, 50.0), "p90": pct(&mut latency, 90.0),
                                     "p99": pct(&mut latency, 99.0),
                                     "mean": latency.iter().sum::<f64>() / latency.len().max(1) as f64},
                "stored_factors": {"p50": pct(&mut stored_latency, 50.0), "p99": pct(&mut stored_latency, 99.0)},
            },
            "batch_recommend": {"users": batch_n, "seconds_median": batch_median,
                                "users_per_s": batch_n as f64 / batch_median,
                                "recalculate_user_users_per_s": batch_n as f64 / batch_recalc_s},
            "metrics_at_10": metrics,
            "peak_rss_mb": rss_mb("VmHWM"),
        })
    );
    Ok(())
}

/// Reads the train (and test) CSV; both get the shape of their union, as a split does.
fn load(
    train: &str,
    test: Option<&str>,
) -> Result<(Interactions, Option<Interactions>), Box<dyn std::error::Error>> {
    type Triplets = Vec<(u64, u64, f32)>;
    let read = |p: &str| -> Result<Triplets, Box<dyn std::error::Error>> {
        Ok(parse_csv_triplets(BufReader::new(File::open(p)?))?)
    };
    let train = read(train)?;
    let test = test.map(read).transpose()?;
    let all = || train.iter().chain(test.iter().flatten());
    let users = all().map(|t| t.0).max().map_or(0, |m| m as usize + 1);
    let items = all().map(|t| t.1).max().map_or(0, |m| m as usize + 1);
    let build = |triplets: &[(u64, u64, f32)]| -> Result<Interactions, Box<dyn std::error::Error>> {
        let mut b = InteractionsBuilder::new(users, items)?.with_capacity(triplets.len());
        for &(u, i, w) in triplets {
            b.push(u, i, w)?;
        }
        Ok(b.build())
    };
    Ok((build(&train)?, test.as_deref().map(build).transpose()?))
}

/// A fixed-seed sample without replacement (a partial Fisher-Yates with an LCG).
fn sample(from: &[usize], n: usize, seed: u64) -> Vec<usize> {
    let mut pool = from.to_vec();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let n = n.min(pool.len());
    for i in 0..n {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = i + (state >> 33) as usize % (pool.len() - i);
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

fn median(values: &mut [f64]) -> f64 {
    pct(values, 50.0)
}

/// Percentile with linear interpolation (numpy's default).
fn pct(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

fn rss_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
