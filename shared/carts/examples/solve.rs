//! Solves instances in the reference script's JSON format and prints one answer per line
//! (see `cratedigger_carts::reference`), for `bench/carts/compare.py` and by hand:
//!
//! ```sh
//! cargo run -p cratedigger-carts --example solve -- [--k 10] INSTANCE.json...
//! ```

use std::error::Error;

use cratedigger_carts::optimise;
use cratedigger_carts::reference::{ReferenceAnswer, ReferenceInstance};

fn main() -> Result<(), Box<dyn Error>> {
    let mut k = 10;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--k" => k = args.next().ok_or("--k needs a number")?.parse()?,
            _ => paths.push(arg),
        }
    }
    if paths.is_empty() {
        return Err("usage: solve [--k N] INSTANCE.json...".into());
    }
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
        let reference: ReferenceInstance = serde_json::from_str(&text)?;
        let (instance, criteria, options) = reference.to_problem(k)?;
        let plan = optimise(&instance, &criteria, &options)?;
        println!("{}", serde_json::to_string(&ReferenceAnswer::from(&plan))?);
    }
    Ok(())
}
