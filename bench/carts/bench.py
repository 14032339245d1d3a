#!/usr/bin/env python3
"""Benchmark of the cart optimiser against the reference MILP solver (HiGHS), same run.

For each instance size the reference script generates the instance, solves it (its own
`solve_seconds`, model building included, JSON loading excluded) and the Rust solver is
timed by `cargo run --release --example bench` (median of --repeat runs, preparing the
market included). Prints the ratios, checks that both found the same optimum, and ends
with a Markdown table for the README.

  python3 bench/carts/bench.py                 # the 4,000-listing instance
  python3 bench/carts/bench.py --scaling       # plus the sizes up to 20,000 listings

The main instance is `gen --seed 72 --releases 400 --sellers 80 --listings 4000 --budget
120`: 2,534 eligible listings by the reference's count. Needs python3 with highspy.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "bench" / "carts" / "reference_milp.py"
# (listings, sellers, releases)
MAIN = (4000, 80, 400)
SCALING = [(2000, 40, 200), MAIN, (8000, 160, 800), (12000, 250, 1200), (20000, 500, 2000)]


def run_json(cmd: list[str], cwd: Path | None = None) -> dict:
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout
    # The reference prints HiGHS' banner before its JSON.
    return json.loads(out[out.index("{"):])


def bench_size(reference: Path, folder: Path, size, seed: int, repeat: int, original: bool) -> dict:
    listings, sellers, releases = size
    path = folder / f"bench_{listings}_{seed}.json"
    gen = subprocess.run([sys.executable, str(reference), "gen", "--seed", str(seed),
                          "--releases", str(releases), "--sellers", str(sellers),
                          "--listings", str(listings), "--budget", "120"],
                         check=True, capture_output=True, text=True).stdout
    path.write_text(gen[gen.index("{"):])
    solve = [sys.executable, str(reference), "solve", str(path)]
    multi = run_json(solve + ["--mode", "multi"])
    single = run_json(solve + ["--mode", "single"])
    weight = run_json(solve + ["--mode", "single", "--original-weight"]) if original else None
    ours = run_json(["cargo", "run", "-q", "--release", "-p", "cratedigger-carts", "--example",
                     "bench", "--", "--repeat", str(repeat), str(path)], cwd=REPO)

    problems = []
    ref_multi = multi["multi_seller"].get("objective_sum_score")
    if ref_multi is None or abs(ref_multi - (ours["multi_score"] or 0)) > 1e-6:
        problems.append(f"multi-seller optimum differs: ours {ours['multi_score']}, reference {ref_multi}")
    row = {
        "listings": listings, "sellers": sellers, "releases": releases,
        "eligible": multi["eligible_listings"],
        "highs_multi_s": multi["solve_seconds"],
        "ours_multi_s": ours["multi_seconds"],
        "multi_ratio": ours["multi_seconds"] / multi["solve_seconds"],
        "highs_single_s": single["solve_seconds"],
        "ours_top10_s": ours["per_seller_top10_total_score_seconds"],
        "single_ratio": ours["per_seller_top10_total_score_seconds"] / single["solve_seconds"],
        "ours_top10_weight_s": ours["per_seller_top10_original_weight_seconds"],
        "ours_plan_s": ours["full_plan_seconds"],
        "problems": problems,
    }
    if weight:
        row["highs_weight_s"] = weight["solve_seconds"]
        row["weight_ratio"] = ours["per_seller_top10_original_weight_seconds"] / weight["solve_seconds"]
    return row


def table(rows: list[dict]) -> str:
    lines = ["| listings / sellers / releases | eligible | HiGHS multi | ours multi | ratio "
             "| HiGHS per-seller (top-1) | ours per-seller top-10 | ratio | ours top-10 by weight "
             "| ours full plan |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['listings']:,} / {r['sellers']} / {r['releases']} | {r['eligible']:,} "
            f"| {r['highs_multi_s']:.2f} s | {r['ours_multi_s'] * 1000:.1f} ms | {r['multi_ratio']:.4f} "
            f"| {r['highs_single_s']:.2f} s | {r['ours_top10_s'] * 1000:.1f} ms | {r['single_ratio']:.4f} "
            f"| {r['ours_top10_weight_s'] * 1000:.1f} ms | {r['ours_plan_s'] * 1000:.1f} ms |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=72)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scaling", action="store_true", help="also run the sizes up to 20,000 listings")
    ap.add_argument("--original-weight", action="store_true",
                    help="also time the reference's original-weight sweep (minutes)")
    ap.add_argument("--reference", type=Path,
                    default=Path(os.environ.get("CARTS_REFERENCE", DEFAULT_REFERENCE)))
    a = ap.parse_args()

    sizes = SCALING if a.scaling else [MAIN]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            row = bench_size(a.reference, Path(tmp), size, a.seed, a.repeat, a.original_weight)
            rows.append(row)
            print(json.dumps(row), flush=True)
    main_row = next(r for r in rows if (r["listings"], r["sellers"], r["releases"]) == MAIN)
    print(f"\n{MAIN[0]:,} listings / {MAIN[1]} sellers: multi-seller {main_row['multi_ratio']:.4f}x HiGHS "
          f"(target <= 0.1x), all per-seller top-10 {main_row['single_ratio']:.4f}x HiGHS (target <= 0.05x)")
    if "weight_ratio" in main_row:
        print(f"per-seller top-10 by the original weight: {main_row['weight_ratio']:.4f}x HiGHS' sweep")
    print()
    print(table(rows))
    failed = [p for r in rows for p in r["problems"]]
    for p in failed:
        print(f"PROBLEM: {p}")
    return 1 if failed or main_row["multi_ratio"] > 0.1 or main_row["single_ratio"] > 0.05 else 0


if __name__ == "__main__":
    sys.exit(main())
