#!/usr/bin/env python3
"""Exactness check of the cart optimiser against the reference MILP solver (HiGHS).

Generates instances with the reference script's own generator from a fixed schedule of
seeds and shapes (sizes, budgets, seller caps, minimum quantities, country and condition
filters), solves them with `cargo run -p cratedigger-carts --example solve`, and compares:

  * per seller, the best cart by total score and the best by the original weight
    (quantity x total score) with the reference's optimum: same objective, same cost;
  * every multi-seller scenario (at most 1, 2, 3 and any sellers, under the instance's
    own cap) with the reference's multi-seller optimum for that cap: same score, same
    cost; the instance's own scenario is also passed through the script's `verify`;
  * that every reported cart is feasible, and that per-seller lists are distinct and sorted.

Some shapes are made hard on purpose: all scores equal, three distinct scores, flat
per-item shipping, a triple budget.

Exits non-zero on any gap or problem. Needs python3 with highspy (pip install highspy).

  python3 bench/carts/compare.py --count 25          # what CI runs
  python3 bench/carts/compare.py                     # the full schedule (240 instances)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "bench" / "carts" / "reference_milp.py"
FULL_SCHEDULE = 240
TOLERANCE = 1e-6

# (releases, sellers, listings): from brute-force size up to a few hundred listings.
SIZES = [(6, 3, 12), (10, 3, 24), (14, 4, 40), (25, 6, 90), (40, 8, 160), (60, 12, 300),
         (80, 16, 420), (30, 10, 120)]
BUDGETS = [25.0, 40.0, 60.0, 90.0, 120.0, 200.0]
CAPS = [None, 1, 2, 3, None]
MIN_QUANTITIES = [0, 1, 2, 1, 3, 5]


def load_reference(path: Path):
    spec = importlib.util.spec_from_file_location("reference_milp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shape(i: int) -> dict:
    """The i-th instance of the schedule: every field cycles with a different period."""
    releases, sellers, listings = SIZES[i % len(SIZES)]
    criteria = {"max_sellers": CAPS[i % len(CAPS)],
                "min_quantity": MIN_QUANTITIES[(i // 2) % len(MIN_QUANTITIES)]}
    if i % 7 == 3:
        criteria["countries"] = ["DE", "US", "UK", "FR"]
    if i % 5 == 4:
        criteria["min_condition"] = "Very Good Plus (VG+)"
    if i % 11 == 6:
        criteria["min_seller_rating"] = 0
    # Shapes that are hard for bounds: equal scores (a wantlist where only cost decides),
    # a few distinct scores, flat per-item shipping (no per-order charge), big carts.
    stress = {2: "equal_scores", 6: "few_scores"}.get(i % 9)
    stress = stress or {5: "flat_shipping"}.get(i % 13) or {8: "big_budget"}.get(i % 17)
    budget = BUDGETS[(i // 3) % len(BUDGETS)] * (3 if stress == "big_budget" else 1)
    return {"seed": 1000 + i, "releases": releases, "sellers": sellers, "listings": listings,
            "budget": budget, "criteria": criteria, "stress": stress}


def make_instance(ref, s: dict) -> dict:
    raw = ref.generate(seed=s["seed"], releases=s["releases"], sellers=s["sellers"],
                       listings=s["listings"], budget=s["budget"])
    raw["criteria"].update(s["criteria"])
    if s["stress"] == "equal_scores":
        for item in raw["items"]:
            item["score"] = 1.0
    elif s["stress"] == "few_scores":
        for n, item in enumerate(raw["items"]):
            item["score"] = (0.25, 0.5, 1.0)[n * 7 % 3]
    elif s["stress"] == "flat_shipping":
        for seller in raw["sellers"]:
            seller["shipping_additional"] = seller["shipping_first"]
    return raw


def solve_ours(paths: list[Path], release: bool) -> list[dict]:
    cmd = ["cargo", "run", "-q", "-p", "cratedigger-carts", "--example", "solve"]
    if release:
        cmd.insert(2, "--release")
    out = subprocess.run(cmd + ["--"] + [str(p) for p in paths], cwd=REPO, check=True,
                         capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def cents(x: float) -> int:
    return int(round(float(x) * 100))


def check_cart(ref, inst, cart: dict, single: bool, cap) -> list[str]:
    """Feasibility by the script's rules; also that our reported cost is the real one."""
    eligible = {l["listing_id"]: i for i, l in enumerate(inst.listings)}
    problems = [f"listing {lid} is not eligible" for lid in cart["listing_ids"] if lid not in eligible]
    if problems:
        return problems
    chosen = [eligible[lid] for lid in cart["listing_ids"]]
    d = ref.describe(inst, chosen)
    releases = [int(inst.listings[i]["release_id"]) for i in chosen]
    if len(set(releases)) != len(releases):
        problems.append("two listings of one release")
    if cents(d["total_cost"]) > inst.budget:
        problems.append(f"total {d['total_cost']} over budget {inst.budget / 100}")
    if len(chosen) < max(1, inst.min_qty):
        problems.append(f"{len(chosen)} items, fewer than {inst.min_qty}")
    if single and len(d["sellers"]) != 1:
        problems.append("a per-seller cart uses several sellers")
    if cap and len(d["sellers"]) > cap:
        problems.append(f"{len(d['sellers'])} sellers over the cap {cap}")
    if cents(d["total_cost"]) != cents(cart["total_cost"]):
        problems.append(f"reported total {cart['total_cost']} but it costs {d['total_cost']}")
    if abs(d["objective_sum_score"] - cart["objective_sum_score"]) > TOLERANCE:
        problems.append(f"reported score {cart['objective_sum_score']} but it is {d['objective_sum_score']}")
    return problems


def same(ours: dict | None, score, cost) -> bool:
    """`score`/`cost` None: the reference has no cart (an empty cart counts as none)."""
    if score is None or ours is None:
        return score is None and ours is None
    return abs(ours["objective_sum_score"] - score) <= TOLERANCE and cents(ours["total_cost"]) == cents(cost)


def compare_one(ref, raw: dict, ours: dict, original_weight: bool = True) -> tuple[list[str], int]:
    problems, checks = [], 0
    inst = ref.Instance(raw)
    single = ref.solve_single(inst, original_weight=original_weight)["per_seller"]
    for seller, r in single.items():
        mine = ours["single_seller"].get(seller, {"top": [], "original_weight": []})
        optimal = r["status"] == "optimal" and r["quantity"] > 0
        best = mine["top"][0] if mine["top"] else None
        checks += 1
        if not same(best, r["objective_sum_score"] if optimal else None, r.get("total_cost")):
            problems.append(f"{seller} total score: ours {best and best['objective_sum_score']} "
                            f"{best and best['total_cost']}, reference {r.get('objective_sum_score')} {r.get('total_cost')}")
        if original_weight:
            ow = r.get("original_weight", {})
            ref_weight = ow.get("weight_qty2_mean_score") if optimal and ow.get("quantity") else None
            mine_weight = mine["original_weight"][0]["weight"] if mine["original_weight"] else None
            checks += 1
            if (ref_weight is None) != (mine_weight is None) or (
                    ref_weight is not None and abs(ref_weight - mine_weight) > TOLERANCE):
                problems.append(f"{seller} original weight: ours {mine_weight}, reference {ref_weight}")
        for kind in ("top", "original_weight"):
            carts = mine[kind]
            keys = [tuple(c["listing_ids"]) for c in carts]
            if len(set(keys)) != len(keys):
                problems.append(f"{seller} {kind}: repeated cart")
            rank = (lambda c: (c["objective_sum_score"], -c["total_cost"])) if kind == "top" else \
                (lambda c: (c["weight"], -c["total_cost"]))
            if any(rank(a) < rank(b) for a, b in zip(carts, carts[1:])):
                problems.append(f"{seller} {kind}: not sorted")
            for c in carts:
                problems += [f"{seller} {kind}: {p}" for p in check_cart(ref, inst, c, True, None)]
    unknown = set(ours["single_seller"]) - set(single)
    problems += [f"{s}: a seller the reference has no eligible listing for" for s in unknown]

    own_cap = inst.max_sellers
    for scenario in ours["scenarios"]:
        cap = scenario["max_sellers"]
        inst.max_sellers = cap
        m = ref.solve_multi(inst)
        checks += 1
        optimal = m.get("status") == "optimal" and m.get("quantity", 0) > 0
        if not same(scenario["cart"], m.get("objective_sum_score") if optimal else None, m.get("total_cost")):
            c = scenario["cart"]
            problems.append(f"multi cap {cap}: ours {c and c['objective_sum_score']} {c and c['total_cost']}, "
                            f"reference {m.get('objective_sum_score')} {m.get('total_cost')}")
        if scenario["cart"]:
            problems += [f"multi cap {cap}: {p}" for p in check_cart(ref, inst, scenario["cart"], False, cap)]
    inst.max_sellers = own_cap
    if ours["multi_seller"]:
        checks += 1
        v = ref.verify(inst, ours["multi_seller"]["listing_ids"], "multi")
        if not v["feasible"] or (v["relative_gap"] not in (None, 0) and abs(v["relative_gap"]) > 1e-9):
            problems.append(f"verify: feasible={v['feasible']} gap={v['relative_gap']} {v['problems']}")
    return problems, checks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=FULL_SCHEDULE, help="instances from the schedule's start")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--reference", type=Path,
                    default=Path(os.environ.get("CARTS_REFERENCE", DEFAULT_REFERENCE)))
    ap.add_argument("--release", action="store_true", help="build the solver with --release")
    ap.add_argument("--keep", type=Path, help="write the instances and answers here")
    ap.add_argument("--instances", type=Path, nargs="+", help="compare these instance files instead")
    ap.add_argument("--no-original-weight", action="store_true",
                    help="skip the reference's original-weight sweep (slow on large instances)")
    a = ap.parse_args()

    ref = load_reference(a.reference)
    if a.instances:
        shapes = [{"seed": p.stem, "file": str(p)} for p in a.instances]
    else:
        shapes = [shape(i) for i in range(a.start, a.start + a.count)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        raws, paths = [], []
        for s in shapes:
            if "file" in s:
                path = Path(s["file"])
                raw = json.loads(path.read_text())
            else:
                raw = make_instance(ref, s)
                path = folder / f"instance_{s['seed']}.json"
                path.write_text(json.dumps(raw))
            raws.append(raw)
            paths.append(path)
        t0 = time.time()
        answers = solve_ours(paths, a.release)
        ours_seconds = time.time() - t0
        if a.keep:
            for s, answer in zip(shapes, answers):
                (folder / f"answer_{s['seed']}.json").write_text(json.dumps(answer, indent=1))

    failures, checks = 0, 0
    t0 = time.time()
    for s, raw, answer in zip(shapes, raws, answers):
        problems, n = compare_one(ref, raw, answer, not a.no_original_weight)
        checks += n
        if problems:
            failures += 1
            print(f"FAIL seed {s['seed']} {s}:")
            for p in problems[:20]:
                print(f"  {p}")
    print(json.dumps({"instances": len(shapes), "comparisons": checks, "failed_instances": failures,
                      "ours_seconds_incl_build": round(ours_seconds, 2),
                      "reference_seconds": round(time.time() - t0, 2)}))
    return 1 if failures or len(answers) != len(shapes) else 0


if __name__ == "__main__":
    sys.exit(main())
