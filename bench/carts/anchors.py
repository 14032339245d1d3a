#!/usr/bin/env python3
"""Cart optimiser against two exact solvers (HiGHS and CP-SAT), same run, adversarial families.

Every instance of a family is generated here (deterministically per seed, on top of the
reference script's generator where it helps), written as JSON, and solved three times:

  * ours:   `target/release/examples/anchor_solve` (search time and market preparation
            reported apart, median over --repeat runs, under --budget-ms);
  * HiGHS:  the multi-seller MILP built from numpy arrays (CSR) and passed in one call;
            model building and `run()` are timed apart, only `run()` is the solver time;
  * CP-SAT: the same model with integer coefficients, 2 workers, no hints; the solver time
            is the wall time of `Solve` (its own `WallTime()` is recorded too). By default
            it solves lexicographically (max score, then min cost at that score: two solves
            sharing the time limit), which proves equal-score instances far faster than the
            single weighted objective (`--cpsat-objective single`).

The model (all money in integer cents, scores in integer millionths, as in our optimiser):
binary x_i per eligible listing, y_s per seller; at most max_per_release listings per
release; x_i <= y_s (tight link); cost = sum price_i x_i + sum_s first_s y_s
+ additional_s (n_s - y_s) <= budget; sum x >= min_quantity; sum y <= max_sellers;
seller minimum order: sum_{i of s} price_i x_i >= min_order_s y_s. Objective: maximise
W * score_units - cost with W = budget + 1, i.e. max score, then min cost.

Checks: our cart is verified independently from its listing ids; it must equal the best
proven anchor (same score units, same cost in cents). An anchor that proved a better
optimum is a FAILURE (exit 1 unless --no-fail). Unproven answers report the gap to their
score bound. Ends with per-family medians and worst cases (ours / anchor solver time) and
a Markdown table for the README.

  python3 bench/carts/anchors.py --quick                 # one small instance per family (CI)
  python3 bench/carts/anchors.py                         # every size, seeds 1,2,3 (~30 min)
  python3 bench/carts/anchors.py --quick --anchors-only  # HiGHS and CP-SAT only, no binary
  python3 bench/carts/anchors.py --families subset_sum,tied_sellers --seeds 4 --json out.json

Needs python3 with numpy, highspy and ortools, and the example binary:
  cargo build --release -p cratedigger-carts --example anchor_solve
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "bench" / "carts" / "reference_milp.py"
DEFAULT_OURS = REPO / "target" / "release" / "examples" / "anchor_solve"
BUILD_HINT = "cargo build --release -p cratedigger-carts --example anchor_solve"
SCORE_SCALE = 1_000_000      # scores are compared in integer millionths
GAP_FLAG_PERCENT = 0.1       # unproven answers further than this from their bound are flagged
MIN_TIME = 1e-6              # guard for ratios against zero anchor times


def load_reference(path: Path):
    spec = importlib.util.spec_from_file_location("reference_milp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_units(score: float) -> int:
    """Integer millionths, rounding halves away from zero like Rust's f64::round."""
    return int(math.floor(float(score) * SCORE_SCALE + 0.5))


def cents(x: float) -> int:
    return int(round(float(x) * 100))


# --------------------------------------------------------------------------- #
# Instance families
# --------------------------------------------------------------------------- #
# Each builder takes (ref, rng, seed, **size) and returns an instance dict in the
# reference format; `rng` is seeded from (family, size label, seed).

def _seller(name: str, first: float, additional: float, country: str = "DE") -> dict:
    return {"name": name, "shipping_first": first, "shipping_additional": additional,
            "country": country}


def _listing(lid: int, release: int, seller: str, price: float) -> dict:
    return {"listing_id": lid, "release_id": release, "seller": seller, "price": round(price, 2),
            "condition": "VG+", "seller_rating": 99.5}


def _criteria(**over) -> dict:
    crit = {"min_condition": "VG", "min_seller_rating": 96.0, "min_quantity": 1,
            "max_per_release": 1}
    crit.update(over)
    return crit


def all_equal_bulk(ref, rng, seed, records):
    """One bulk seller, every score 1.0 and every price equal, room for ~2/3 of the records."""
    price, first, add = rng.choice([7.5, 10.0, 12.0]), 5.0, 1.0
    k = (2 * records) // 3
    budget = price * k + first + add * (k - 1) + 0.5 * (price + add)  # not enough for one more
    ids = rng.sample(range(100_000, 999_999), records)
    return {"budget": round(budget, 2),
            "items": [{"release_id": 1000 + r, "score": 1.0} for r in range(records)],
            "listings": [_listing(ids[r], 1000 + r, "bulk", price) for r in range(records)],
            "sellers": [_seller("bulk", first, add)],
            "criteria": _criteria()}


def _two_seller_ties(releases, listings, names, price, first, add, k) -> dict:
    """Every record worth 1.0 at one price and shipping, a budget for k of them from two
    sellers (with half a record to spare)."""
    budget = price * k + 2 * first + add * (k - 2) + 0.5 * price
    return {"budget": round(budget, 2),
            "items": [{"release_id": 1000 + r, "score": 1.0} for r in range(releases)],
            "listings": listings, "sellers": [_seller(n, first, add) for n in names],
            "criteria": _criteria()}


def all_equal_multi(ref, rng, seed, sellers, releases):
    """Many sellers with identical prices and shipping, each holding about half of the
    releases; all scores 1.0; the budget needs two or more sellers for ~2/3 of the releases."""
    price, first, add = 10.0, 5.0, 1.0
    names = [f"s{s:03d}" for s in range(sellers)]
    listings, lid = [], 200_000
    for r in range(releases):
        for name in names:
            if rng.random() < 0.5:
                lid += rng.randint(1, 9)
                listings.append(_listing(lid, 1000 + r, name, price))
    k = (2 * releases) // 3
    return _two_seller_ties(releases, listings, names, price, first, add, k)


def equal_scores_big_carts(ref, rng, seed, releases, sellers, listings, budget):
    """Every score 1.0, cheap varied prices (1-5 EUR), a budget for carts of > 64 records."""
    raw = ref.generate(seed=seed, releases=releases, sellers=sellers, listings=listings,
                       budget=budget)
    for item in raw["items"]:
        item["score"] = 1.0
    for listing in raw["listings"]:
        listing["price"] = round(rng.uniform(1.0, 5.0), 2)
    return raw


def subset_sum(ref, rng, seed, releases, sellers, listings):
    """Score exactly proportional to price (units = 100 x cents), every amount in even cents
    and an odd budget: no cart fills the budget, and the LP bound is off by a parity argument.
    One seller with zero shipping, or several sellers with even shipping charges."""
    price = {r: 2 * rng.randint(100, 3000) for r in range(releases)}  # even cents 2.00..60.00
    names = [f"s{s:02d}" for s in range(sellers)]
    if sellers == 1:
        seller_list = [_seller(names[0], 0.0, 0.0)]
        pairs = [(r, names[0]) for r in range(releases)]
    else:
        # The additional item never costs more than the first (Discogs' own rule; the
        # optimiser refuses such policies).
        seller_list = []
        for n in names:
            first = rng.choice([0.0, 2.0, 4.0])
            seller_list.append(_seller(n, first, min(first, rng.choice([0.0, 1.0, 2.0]))))
        pairs = set()
        while len(pairs) < listings:
            pairs.add((rng.randrange(releases), rng.choice(names)))
        pairs = sorted(pairs)
    ids = rng.sample(range(300_000, 999_999), len(pairs))
    out = [_listing(lid, 1000 + r, s, price[r] / 100) for lid, (r, s) in zip(ids, pairs)]
    offered = {r for r, _ in pairs}
    budget_cents = int(0.4 * sum(price[r] for r in offered)) | 1  # odd
    return {"budget": budget_cents / 100,
            "items": [{"release_id": 1000 + r, "score": price[r] / 10_000} for r in range(releases)],
            "listings": out, "sellers": seller_list, "criteria": _criteria()}


def tied_sellers(ref, rng, seed, sellers, releases, per_seller):
    """Hundreds of identical sellers (same price, same shipping) offering overlapping sets of
    releases, all scores 1.0: profits tie everywhere; the budget needs two sellers."""
    price, first, add = 8.0, 4.0, 1.0
    names = [f"t{s:03d}" for s in range(sellers)]
    listings, lid = [], 400_000
    for name in names:
        for r in sorted(rng.sample(range(releases), per_seller)):
            lid += rng.randint(1, 5)
            listings.append(_listing(lid, 1000 + r, name, price))
    k = per_seller + per_seller // 2
    return _two_seller_ties(releases, listings, names, price, first, add, k)


def flat_shipping_cap(ref, rng, seed, releases, sellers, listings, budget):
    """Generated base with per-item shipping only (additional == first) and max_sellers 3."""
    raw = ref.generate(seed=seed, releases=releases, sellers=sellers, listings=listings,
                       budget=budget)
    for s in raw["sellers"]:
        s["shipping_additional"] = s["shipping_first"]
    raw["criteria"]["max_sellers"] = 3
    return raw


def min_orders(ref, rng, seed, releases, sellers, listings, budget):
    """Generated base with a minimum order (10-40 EUR of items) on about half the sellers."""
    raw = ref.generate(seed=seed, releases=releases, sellers=sellers, listings=listings,
                       budget=budget)
    for s in raw["sellers"]:
        if rng.random() < 0.5:
            s["min_order"] = float(rng.choice([10, 15, 20, 25, 30, 35, 40]))
    return raw


def below_rounding(ref, rng, seed, releases, sellers, listings, budget):
    """Generated base with scores 1.0 + k * 1e-9 (k < 500): equal once rounded to millionths."""
    raw = ref.generate(seed=seed, releases=releases, sellers=sellers, listings=listings,
                       budget=budget)
    for item in raw["items"]:
        item["score"] = 1.0 + rng.randint(0, 400) * 1e-9
    return raw


def generated(ref, rng, seed, releases, sellers, listings, budget):
    """The reference generator as is (the issue's shape and a large one)."""
    return ref.generate(seed=seed, releases=releases, sellers=sellers, listings=listings,
                        budget=budget)


def _gen(r, s, n, b):
    return {"releases": r, "sellers": s, "listings": n, "budget": b}


# family -> [(size label, builder, size)]; the first entry is the --quick sample.
SMALL = _gen(40, 30, 500, 150.0)
ISSUE = _gen(150, 120, 2500, 500.0)
LARGE = _gen(300, 500, 5000, 500.0)
FAMILIES = {
    "all_equal": [("bulk24", all_equal_bulk, {"records": 24}),
                  ("multi20x40", all_equal_multi, {"sellers": 20, "releases": 40}),
                  ("bulk36", all_equal_bulk, {"records": 36}),
                  ("multi35x60", all_equal_multi, {"sellers": 35, "releases": 60}),
                  ("bulk48", all_equal_bulk, {"records": 48}),
                  ("multi50x80", all_equal_multi, {"sellers": 50, "releases": 80})],
    "equal_scores_big_carts": [("150r", equal_scores_big_carts, _gen(150, 20, 800, 250.0)),
                               ("200r", equal_scores_big_carts, _gen(200, 60, 2000, 300.0)),
                               ("300r", equal_scores_big_carts, _gen(300, 200, 5000, 400.0)),
                               ("300r500s", equal_scores_big_carts, _gen(300, 500, 5000, 400.0))],
    "subset_sum": [("single60", subset_sum, {"releases": 60, "sellers": 1, "listings": 60}),
                   ("single100", subset_sum, {"releases": 100, "sellers": 1, "listings": 100}),
                   ("multi10", subset_sum, {"releases": 80, "sellers": 10, "listings": 200}),
                   ("multi40", subset_sum, {"releases": 150, "sellers": 40, "listings": 600})],
    "tied_sellers": [("200s", tied_sellers, {"sellers": 200, "releases": 20, "per_seller": 8}),
                     ("200s30r", tied_sellers, {"sellers": 200, "releases": 30, "per_seller": 10}),
                     ("350s", tied_sellers, {"sellers": 350, "releases": 50, "per_seller": 10}),
                     ("500s", tied_sellers, {"sellers": 500, "releases": 60, "per_seller": 10})],
    "flat_shipping_cap": [("small", flat_shipping_cap, SMALL), ("issue", flat_shipping_cap, ISSUE),
                          ("large", flat_shipping_cap, LARGE)],
    "min_orders": [("small", min_orders, SMALL), ("issue", min_orders, ISSUE),
                   ("large", min_orders, LARGE)],
    "below_rounding": [("small", below_rounding, SMALL), ("issue", below_rounding, ISSUE),
                       ("large", below_rounding, LARGE)],
    "generated": [("small", generated, SMALL), ("issue", generated, ISSUE),
                  ("large", generated, LARGE)],
}


def make_instance(ref, family: str, label: str, builder, size: dict, seed: int) -> dict:
    key = f"{family}/{label}/{seed}"
    base_seed = zlib.crc32(key.encode())  # deterministic, independent of PYTHONHASHSEED
    return builder(ref, random.Random(base_seed), base_seed % 1_000_000, **size)


# --------------------------------------------------------------------------- #
# The model in arrays (shared by both anchors)
# --------------------------------------------------------------------------- #
class Model:
    """Integer data of the cart MILP over the eligible listings of a reference `Instance`.

    Columns: x_0..x_{n-1} (listings, in the Instance's order), then y_0..y_{m-1} (sellers).
    """

    def __init__(self, inst, raw: dict):
        self.inst = inst
        lst = inst.listings
        self.n = len(lst)
        self.sellers = sorted({l["seller"] for l in lst})
        self.m = len(self.sellers)
        seller_pos = {s: k for k, s in enumerate(self.sellers)}
        self.seller_of = np.array([seller_pos[l["seller"]] for l in lst], dtype=np.int64)
        self.price = np.array([l["_price"] for l in lst], dtype=np.int64)
        self.units = np.array([score_units(l["_score"]) for l in lst], dtype=np.int64)
        releases = sorted({int(l["release_id"]) for l in lst})
        release_pos = {r: k for k, r in enumerate(releases)}
        self.release_of = np.array([release_pos[int(l["release_id"])] for l in lst], dtype=np.int64)
        self.first = np.array([inst.ship_first[s] for s in self.sellers], dtype=np.int64)
        self.add = np.array([inst.ship_add[s] for s in self.sellers], dtype=np.int64)
        orders = {s["name"]: cents(s.get("min_order") or 0) for s in raw["sellers"]}
        self.min_order = np.array([orders.get(s, 0) for s in self.sellers], dtype=np.int64)
        self.budget = inst.budget
        self.weight = inst.budget + 1  # W: one score unit outweighs any cost difference
        self.min_qty = inst.min_qty
        self.max_per_release = inst.max_per_release
        self.cap = int(inst.max_sellers) if inst.max_sellers else None
        # Objective coefficients: listing W*units - price - additional; seller -(first - add).
        self.x_obj = self.weight * self.units - self.price - self.add[self.seller_of]
        self.y_obj = -(self.first - self.add)
        # A seller whose additional item costs more than its first would be "opened" for
        # free by the model; for those, y_s <= n_s is required, not optional.
        self.must_use = self.add > self.first

    def objective_fits_int64(self) -> bool:
        top = int(self.weight) * int(self.units.sum()) + self.budget
        return top < 2 ** 62

    def objective_exact_in_double(self) -> bool:
        return int(self.weight) * int(self.units.sum()) + self.budget < 2 ** 53


def highs_arrays(mod: Model, open_if_used: bool):
    """Column data and the constraint matrix (CSR) of the tight formulation, as numpy."""
    n, m = mod.n, mod.m
    x = np.arange(n, dtype=np.int64)
    y = n + np.arange(m, dtype=np.int64)
    rows, cols, vals, lower, upper = [], [], [], [], []
    nrow = 0

    def block(r, c, v, lo, up):
        nonlocal nrow
        rows.append(r + nrow)
        cols.append(c)
        vals.append(np.asarray(v, dtype=np.float64))
        lower.append(np.asarray(lo, dtype=np.float64))
        upper.append(np.asarray(up, dtype=np.float64))
        nrow += len(lo)

    inf = np.inf
    # Per release: sum x <= max_per_release (only where a release has more listings).
    counts = np.bincount(mod.release_of)
    crowded = np.flatnonzero(counts > mod.max_per_release)
    if crowded.size:
        row_of = np.full(counts.size, -1, dtype=np.int64)
        row_of[crowded] = np.arange(crowded.size)
        members = x[row_of[mod.release_of] >= 0]
        block(row_of[mod.release_of[members]], members, np.ones(members.size),
              np.full(crowded.size, -inf), np.full(crowded.size, mod.max_per_release))
    # Tight link: x_i - y_s <= 0.
    block(np.repeat(np.arange(n), 2), np.column_stack([x, y[mod.seller_of]]).ravel(),
          np.tile([1.0, -1.0], n), np.full(n, -inf), np.zeros(n))
    # Budget: sum (price + additional) x + sum (first - additional) y <= budget.
    block(np.zeros(n + m, dtype=np.int64), np.concatenate([x, y]),
          np.concatenate([mod.price + mod.add[mod.seller_of], mod.first - mod.add]),
          [-inf], [mod.budget])
    if mod.min_qty > 0:
        block(np.zeros(n, dtype=np.int64), x, np.ones(n), [mod.min_qty], [inf])
    if mod.cap:
        block(np.zeros(m, dtype=np.int64), y, np.ones(m), [-inf], [mod.cap])
    # Minimum order: sum_{i of s} price_i x_i - min_order_s y_s >= 0.
    ordered = np.flatnonzero(mod.min_order > 0)
    if ordered.size:
        row_of = np.full(m, -1, dtype=np.int64)
        row_of[ordered] = np.arange(ordered.size)
        members = x[row_of[mod.seller_of] >= 0]
        block(np.concatenate([row_of[mod.seller_of[members]], np.arange(ordered.size)]),
              np.concatenate([members, y[ordered]]),
              np.concatenate([mod.price[members], -mod.min_order[ordered]]),
              np.zeros(ordered.size), np.full(ordered.size, inf))
    # Open only if used: y_s - sum_{i of s} x_i <= 0 (all sellers, or where required).
    used = np.arange(m) if open_if_used else np.flatnonzero(mod.must_use)
    if used.size:
        row_of = np.full(m, -1, dtype=np.int64)
        row_of[used] = np.arange(used.size)
        members = x[row_of[mod.seller_of] >= 0]
        block(np.concatenate([row_of[mod.seller_of[members]], np.arange(used.size)]),
              np.concatenate([members, y[used]]),
              np.concatenate([-np.ones(members.size), np.ones(used.size)]),
              np.full(used.size, -inf), np.zeros(used.size))

    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    order = np.lexsort((c, r))  # CSR: by row, then column
    start = np.zeros(nrow + 1, dtype=np.int32)
    np.cumsum(np.bincount(r, minlength=nrow), out=start[1:])
    return {"col_cost": np.concatenate([mod.x_obj, mod.y_obj]).astype(np.float64),
            "col_lower": np.zeros(n + m), "col_upper": np.ones(n + m),
            "row_lower": np.concatenate(lower), "row_upper": np.concatenate(upper),
            "start": start, "index": c[order].astype(np.int32), "value": v[order],
            "integrality": np.ones(n + m, dtype=np.int32), "num_row": nrow}


# --------------------------------------------------------------------------- #
# Anchors
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def quiet_stdout():
    """Silence file descriptor 1 (HiGHS prints its banner from C on first construction)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def empty_model(mod: Model) -> dict:
    """No eligible listing: the empty cart, or no cart at all under a minimum quantity."""
    none = mod.min_qty > 0
    return {"status": "no eligible listing", "proven": True, "infeasible": none,
            "chosen": None if none else [], "build_seconds": 0.0, "solve_seconds": 0.0}


def solve_highs(mod: Model, time_limit: float, open_if_used: bool) -> dict:
    import highspy
    if mod.n == 0:
        return empty_model(mod)
    t0 = time.perf_counter()
    a = highs_arrays(mod, open_if_used)
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.5)  # integer objective: a gap below 1 is a proof
    h.setOptionValue("time_limit", float(time_limit))
    # One call, C-style: num_col, num_row, num_nz, a_format, sense, offset, col_cost,
    # col_lower, col_upper, row_lower, row_upper, a_start, a_index, a_value, integrality.
    status = h.passModel(mod.n + mod.m, a["num_row"], len(a["index"]),
                         int(highspy.MatrixFormat.kRowwise), int(highspy.ObjSense.kMaximize), 0.0,
                         a["col_cost"], a["col_lower"], a["col_upper"], a["row_lower"],
                         a["row_upper"], a["start"], a["index"], a["value"], a["integrality"])
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the model")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    h.run()
    solve = time.perf_counter() - t0
    st = h.getModelStatus()
    info = h.getInfo()
    out = {"status": h.modelStatusToString(st), "proven": st == highspy.HighsModelStatus.kOptimal,
           "build_seconds": build, "solve_seconds": solve, "chosen": None,
           "objective": None, "bound": info.mip_dual_bound, "nodes": info.mip_node_count}
    if st == highspy.HighsModelStatus.kInfeasible:
        out["proven"] = out["infeasible"] = True  # proven: no cart at all
    elif info.primal_solution_status == 2:  # kSolutionStatusFeasible
        values = np.asarray(h.getSolution().col_value)
        out["chosen"] = [int(i) for i in np.flatnonzero(values[:mod.n] > 0.5)]
        out["objective"] = info.objective_function_value
    return out


def cpsat_model(mod: Model, open_if_used: bool):
    """The tight model as a CP-SAT model; returns (model, x, y, score, cost, weighted)."""
    from ortools.sat.python import cp_model
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(mod.n)]
    y = [model.new_bool_var(f"y{s}") for s in range(mod.m)]
    per_release, per_seller = defaultdict(list), defaultdict(list)
    for i in range(mod.n):
        per_release[int(mod.release_of[i])].append(x[i])
        per_seller[int(mod.seller_of[i])].append(i)
    for members in per_release.values():
        if len(members) > mod.max_per_release:
            if mod.max_per_release == 1:
                model.add_at_most_one(members)
            else:
                model.add(sum(members) <= mod.max_per_release)
    for i in range(mod.n):  # tight link x_i <= y_s
        model.add_implication(x[i], y[int(mod.seller_of[i])])
    cost = cp_model.LinearExpr.weighted_sum(
        x + y, (mod.price + mod.add[mod.seller_of]).tolist() + (mod.first - mod.add).tolist())
    model.add(cost <= mod.budget)
    if mod.min_qty > 0:
        model.add(sum(x) >= mod.min_qty)
    if mod.cap:
        model.add(sum(y) <= mod.cap)
    price = mod.price.tolist()
    for s, members in per_seller.items():
        if mod.min_order[s] > 0:
            model.add(cp_model.LinearExpr.weighted_sum([x[i] for i in members],
                                                        [price[i] for i in members])
                      >= int(mod.min_order[s]) * y[s])
        if open_if_used or mod.must_use[s]:
            model.add_bool_or([x[i] for i in members]).only_enforce_if(y[s])
    score = cp_model.LinearExpr.weighted_sum(x, mod.units.tolist())
    weighted = cp_model.LinearExpr.weighted_sum(x + y, mod.x_obj.tolist() + mod.y_obj.tolist())
    return model, x, y, score, cost, weighted


def solve_cpsat(mod: Model, time_limit: float, workers: int, open_if_used: bool,
                objective: str) -> dict:
    """objective "single": maximise W * score - cost in one solve (the MILP's objective).
    objective "lex": maximise the score, then fix it and minimise the cost (two solves
    sharing the time limit, no hints); the same optimum, and CP-SAT proves it much faster
    because the huge weighted coefficients weaken its objective propagation."""
    from ortools.sat.python import cp_model
    if mod.n == 0:
        return empty_model(mod)
    if objective == "single" and not mod.objective_fits_int64():
        return {"status": "skipped (objective over 2^62)", "proven": False, "chosen": None,
                "build_seconds": 0.0, "solve_seconds": 0.0}
    t0 = time.perf_counter()
    model, x, y, score, cost, weighted = cpsat_model(mod, open_if_used)
    model.maximize(weighted if objective == "single" else score)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = float(time_limit)
    build = time.perf_counter() - t0

    t0 = time.perf_counter()
    st = solver.solve(model)
    solve, wall = time.perf_counter() - t0, solver.wall_time
    stages = [solver.status_name(st)]
    if objective == "lex" and st == cp_model.OPTIMAL:
        t1 = time.perf_counter()
        model.add(score >= int(round(solver.objective_value)))
        model.minimize(cost)
        build += time.perf_counter() - t1
        solver.parameters.max_time_in_seconds = max(0.1, float(time_limit) - solve)
        t0 = time.perf_counter()
        st = solver.solve(model)
        solve += time.perf_counter() - t0
        wall += solver.wall_time
        stages.append(solver.status_name(st))
    out = {"status": "/".join(stages), "proven": st in (cp_model.OPTIMAL, cp_model.INFEASIBLE),
           "build_seconds": build, "solve_seconds": solve, "wall_time": wall, "chosen": None,
           "objective": None, "bound": solver.best_objective_bound}
    if objective == "lex" and len(stages) == 1:
        out["proven"] = st == cp_model.INFEASIBLE  # the score stage alone proves no cost
    if st == cp_model.INFEASIBLE:
        out["infeasible"] = True
    elif st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        out["chosen"] = [i for i in range(mod.n) if solver.boolean_value(x[i])]
        out["objective"] = solver.objective_value
    return out


# --------------------------------------------------------------------------- #
# Ours
# --------------------------------------------------------------------------- #
def solve_ours(binary: Path, path: Path, repeat: int, budget_ms: int) -> dict:
    cmd = [str(binary), "--repeat", str(repeat), "--budget-ms", str(budget_ms), str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line.strip().startswith("{")]
    return json.loads(lines[0])


# --------------------------------------------------------------------------- #
# Independent evaluation of a cart
# --------------------------------------------------------------------------- #
def evaluate(mod: Model, chosen: list[int] | None) -> dict | None:
    """Feasibility, score units and cost in cents of a cart given by listing positions."""
    if chosen is None:
        return None
    inst = mod.inst
    problems = []
    per_release, per_seller = defaultdict(int), defaultdict(list)
    for i in chosen:
        per_release[int(mod.release_of[i])] += 1
        per_seller[int(mod.seller_of[i])].append(i)
    if any(c > mod.max_per_release for c in per_release.values()):
        problems.append("more than max_per_release listings of one release")
    items = int(mod.price[chosen].sum()) if chosen else 0
    shipping = sum(inst.shipping(mod.sellers[s], len(v)) for s, v in per_seller.items())
    cost = items + shipping
    if cost > mod.budget:
        problems.append(f"cost {cost} over budget {mod.budget} cents")
    if len(chosen) < mod.min_qty:
        problems.append(f"{len(chosen)} items, fewer than min_quantity {mod.min_qty}")
    if mod.cap and len(per_seller) > mod.cap:
        problems.append(f"{len(per_seller)} sellers over the cap {mod.cap}")
    for s, v in per_seller.items():
        subtotal = int(mod.price[v].sum())
        if subtotal < mod.min_order[s]:
            problems.append(f"{mod.sellers[s]}: subtotal {subtotal} under min order {mod.min_order[s]}")
    units = int(mod.units[chosen].sum()) if chosen else 0
    return {"score_units": units, "cost_cents": cost, "items": len(chosen),
            "sellers": len(per_seller), "problems": problems,
            "score": sum(inst.listings[i]["_score"] for i in chosen),
            "listing_ids": sorted(int(inst.listings[i]["listing_id"]) for i in chosen)}


def ours_cart(mod: Model, answer: dict) -> dict:
    """Our answer, re-evaluated from its listing ids; a null score means no cart."""
    pos = {l["listing_id"]: i for i, l in enumerate(mod.inst.listings)}
    ids = answer.get("listing_ids") or []
    missing = [lid for lid in ids if lid not in pos]
    ev = evaluate(mod, [pos[lid] for lid in ids if lid in pos])
    ev["problems"] += [f"listing {lid} is not eligible" for lid in missing]
    if answer.get("score_units") is not None and answer["score_units"] != ev["score_units"]:
        ev["problems"].append(f"reported score_units {answer['score_units']}, cart has {ev['score_units']}")
    if answer.get("cost_cents") is not None and answer["cost_cents"] != ev["cost_cents"]:
        ev["problems"].append(f"reported cost {answer['cost_cents']}, cart costs {ev['cost_cents']}")
    if answer.get("score") is None and ids:
        ev["problems"].append("listing ids given but no score")
    return ev


def key(ev: dict | None):
    """Order of carts: more score units, then less cost; no cart at all ranks lowest."""
    if ev is None:
        return (-1, 0)
    return (ev["score_units"], -ev["cost_cents"])


def show(ev: dict | None) -> str:
    if ev is None:
        return "no cart"
    return f"score {ev['score_units'] / SCORE_SCALE:.6f} cost {ev['cost_cents'] / 100:.2f}"


def feasible(ev: dict | None) -> bool:
    return ev is not None and not ev["problems"]


def gap_percent(answer: dict) -> float | None:
    bound, score = answer.get("score_bound"), answer.get("score") or 0.0
    if answer.get("proof") in ("proven", "score_proven"):
        return 0.0  # the score is optimal (score_proven: the cost may not be minimal)
    if bound is None:
        return None
    return 0.0 if bound <= 0 else max(0.0, (bound - score) / bound * 100)


# --------------------------------------------------------------------------- #
# One instance
# --------------------------------------------------------------------------- #
def run_instance(ref, args, family, label, builder, size, seed, folder: Path) -> dict:
    raw = make_instance(ref, family, label, builder, size, seed)
    path = folder / f"{family}_{label}_s{seed}.json"
    path.write_text(json.dumps(raw))
    inst = ref.Instance(raw)
    mod = Model(inst, raw)
    row = {"family": family, "size": label, "seed": seed, "file": path.name,
           "listings": len(raw["listings"]), "eligible": mod.n, "sellers": mod.m,
           "releases": int(len(set(mod.release_of.tolist()))), "budget_cents": mod.budget,
           "objective_exact_in_double": mod.objective_exact_in_double(), "problems": [],
           "warnings": []}

    if not row["objective_exact_in_double"]:
        row["warnings"].append("W * score exceeds 2^53: HiGHS' proof may be off by rounding")
    anchors = {"highs": solve_highs(mod, args.time_limit, args.open_if_used),
               "cpsat": solve_cpsat(mod, args.time_limit, args.workers, args.open_if_used,
                                   args.cpsat_objective)}
    for name, res in anchors.items():
        ev = evaluate(mod, res.pop("chosen"))
        res["cart"] = ev
        if ev is not None and ev["problems"]:
            row["warnings"].append(f"{name} cart infeasible: {ev['problems'][:3]}")
        row[name] = res
    proven = [(n, r["cart"]) for n, r in anchors.items()
              if r["proven"] and (r.get("infeasible") or feasible(r["cart"]))]
    best = max(proven, key=lambda p: key(p[1]), default=None)
    if len({key(c) for _, c in proven}) > 1:
        row["warnings"].append("anchors disagree on the proven optimum: " +
                               ", ".join(f"{n} {show(c)}" for n, c in proven))
    found = [r["cart"] for r in anchors.values() if feasible(r["cart"])]
    best_found = max(found, key=key, default=None)
    row["anchor_best"] = {"by": best[0] if best else None, "proven": best is not None,
                          **({k: ((best[1] if best else best_found) or {}).get(k)
                              for k in ("score_units", "cost_cents", "items", "sellers")})}

    if args.anchors_only:
        row["verdict"] = "anchors only"
        return row
    answer = solve_ours(args.ours, path, args.repeat, args.budget_ms)
    no_cart = answer.get("score") is None and not answer.get("listing_ids")
    ev = None if no_cart else ours_cart(mod, answer)
    row["ours"] = {**{k: answer.get(k) for k in ("prepare_seconds", "solve_seconds", "proof",
                                                 "score", "score_bound", "timed_out")},
                   "cart": ev, "gap_percent": gap_percent(answer)}
    row["problems"] += [f"ours: {p}" for p in (ev["problems"] if ev else [])]
    proof = answer.get("proof")
    if best is not None:
        if key(best[1]) > key(ev):
            row["problems"].append(f"FAILURE: {best[0]} proved {show(best[1])}, ours {show(ev)}")
            row["verdict"] = "worse than proven optimum"
        elif key(best[1]) < key(ev):
            row["warnings"].append(f"ours {show(ev)} beats the 'proven' {best[0]} {show(best[1])}")
            row["verdict"] = "better than a proven anchor (anchor numerics)"
        else:
            row["verdict"] = "equal, proven" if proof == "proven" else f"equal, {proof}"
    elif best_found is not None:
        rel = "equal to" if key(ev) == key(best_found) else \
            ("better than" if key(ev) > key(best_found) else "worse than")
        row["verdict"] = f"{rel} best anchor (none proven), ours {proof}"
    else:
        row["verdict"] = f"no anchor answer, ours {proof}"
    if proof == "proven" and best_found is not None and key(best_found) > key(ev):
        row["problems"].append(f"FAILURE: ours claims a proof but an anchor found {show(best_found)}")
    gap = row["ours"]["gap_percent"]
    if gap is not None and gap > GAP_FLAG_PERCENT:
        row["warnings"].append(f"ours gap {gap:.3f} % above {GAP_FLAG_PERCENT} %")
    return row


def line(row: dict) -> str:
    """One progress line per instance."""
    h, c = row["highs"], row["cpsat"]
    parts = [f"{row['family']}/{row['size']}/s{row['seed']}", f"{row['eligible']} eligible",
             f"HiGHS {h['solve_seconds']:.3f}s (+build {h['build_seconds']:.3f}s)"
             f" {'proven' if h['proven'] else h['status']}",
             f"CP-SAT {c['solve_seconds']:.3f}s (+build {c['build_seconds']:.3f}s)"
             f" {'proven' if c['proven'] else c['status']}",
             f"opt {row['anchor_best']['score_units']}u/{row['anchor_best']['cost_cents']}c"
             f" ({row['anchor_best']['items']} items)"]
    if "ours" in row:
        o = row["ours"]
        parts.insert(2, f"ours {o['solve_seconds'] * 1000:.2f}ms (+prep {o['prepare_seconds'] * 1000:.2f}ms)"
                        f" {o['proof']}{' TIMED OUT' if o['timed_out'] else ''}")
    parts.append(row["verdict"])
    return "  ".join(parts)


# --------------------------------------------------------------------------- #
# Summary
# --------------------------------------------------------------------------- #
def summarise(rows: list[dict], anchors_only: bool) -> list[dict]:
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        fr = [r for r in rows if r["family"] == family]
        s = {"family": family, "instances": len(fr), "max_eligible": max(r["eligible"] for r in fr),
             "highs_median_s": statistics.median(r["highs"]["solve_seconds"] for r in fr),
             "highs_max_s": max(r["highs"]["solve_seconds"] for r in fr),
             "cpsat_median_s": statistics.median(r["cpsat"]["solve_seconds"] for r in fr),
             "cpsat_max_s": max(r["cpsat"]["solve_seconds"] for r in fr),
             "highs_proven": sum(r["highs"]["proven"] for r in fr),
             "cpsat_proven": sum(r["cpsat"]["proven"] for r in fr),
             "failures": sum(any(p.startswith("FAILURE") or p.startswith("ours:") for p in r["problems"])
                             for r in fr),
             "warnings": sum(bool(r["warnings"]) for r in fr)}
        if not anchors_only:
            ratios_h = [r["ours"]["solve_seconds"] / max(r["highs"]["solve_seconds"], MIN_TIME) for r in fr]
            ratios_c = [r["ours"]["solve_seconds"] / max(r["cpsat"]["solve_seconds"], MIN_TIME) for r in fr]
            gaps = [r["ours"]["gap_percent"] for r in fr if r["ours"]["gap_percent"] is not None]
            s.update({"ours_median_s": statistics.median(r["ours"]["solve_seconds"] for r in fr),
                      "ours_max_s": max(r["ours"]["solve_seconds"] for r in fr),
                      "vs_highs_median": statistics.median(ratios_h), "vs_highs_worst": max(ratios_h),
                      "vs_cpsat_median": statistics.median(ratios_c), "vs_cpsat_worst": max(ratios_c),
                      "ours_proven": sum(r["ours"]["proof"] == "proven" for r in fr),
                      "largest_gap_percent": max(gaps) if gaps else None,
                      "equal": sum(r["verdict"].startswith("equal") for r in fr)})
        out.append(s)
    return out


def fmt_s(t: float) -> str:
    return f"{t * 1000:.2f} ms" if t < 1 else f"{t:.2f} s"


def print_summary(summary: list[dict], anchors_only: bool) -> None:
    print("\nPer family (solver time only; model building / market preparation excluded):")
    for s in summary:
        text = (f"  {s['family']:<24} n={s['instances']:<3} HiGHS median {fmt_s(s['highs_median_s'])}"
                f" max {fmt_s(s['highs_max_s'])}  CP-SAT median {fmt_s(s['cpsat_median_s'])}"
                f" max {fmt_s(s['cpsat_max_s'])}")
        if not anchors_only:
            gap = s["largest_gap_percent"]
            text += (f"  ours median {fmt_s(s['ours_median_s'])}"
                     f"  ours/HiGHS median {s['vs_highs_median']:.4f} worst {s['vs_highs_worst']:.4f}"
                     f"  ours/CP-SAT median {s['vs_cpsat_median']:.4f} worst {s['vs_cpsat_worst']:.4f}"
                     f"  proven ours/HiGHS/CP-SAT {s['ours_proven']}/{s['highs_proven']}/{s['cpsat_proven']}"
                     f"  largest gap {'-' if gap is None else f'{gap:.3f} %'}")
        else:
            text += f"  proven HiGHS/CP-SAT {s['highs_proven']}/{s['cpsat_proven']}"
        if s["failures"] or s["warnings"]:
            text += f"  FAILED {s['failures']}, with warnings {s['warnings']}"
        print(text)


def markdown(summary: list[dict], anchors_only: bool) -> str:
    if anchors_only:
        lines = ["| family | instances | max eligible | HiGHS median (max) | CP-SAT median (max) "
                 "| proven HiGHS / CP-SAT |",
                 "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for s in summary:
            lines.append(f"| {s['family']} | {s['instances']} | {s['max_eligible']:,} "
                         f"| {fmt_s(s['highs_median_s'])} ({fmt_s(s['highs_max_s'])}) "
                         f"| {fmt_s(s['cpsat_median_s'])} ({fmt_s(s['cpsat_max_s'])}) "
                         f"| {s['highs_proven']} / {s['cpsat_proven']} |")
        return "\n".join(lines)
    lines = ["| family | instances | max eligible | ours median | HiGHS median | CP-SAT median "
             "| ours / HiGHS median (worst) | ours / CP-SAT median (worst) "
             "| proven ours / HiGHS / CP-SAT | equal to anchor | largest gap |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in summary:
        gap = s["largest_gap_percent"]
        lines.append(f"| {s['family']} | {s['instances']} | {s['max_eligible']:,} "
                     f"| {fmt_s(s['ours_median_s'])} | {fmt_s(s['highs_median_s'])} "
                     f"| {fmt_s(s['cpsat_median_s'])} "
                     f"| {s['vs_highs_median']:.4f} ({s['vs_highs_worst']:.4f}) "
                     f"| {s['vs_cpsat_median']:.4f} ({s['vs_cpsat_worst']:.4f}) "
                     f"| {s['ours_proven']} / {s['highs_proven']} / {s['cpsat_proven']} "
                     f"| {s['equal']} / {s['instances']} | {'-' if gap is None else f'{gap:.3f} %'} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one small instance per family, seed 1")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    ap.add_argument("--families", help=f"comma-separated subset of {','.join(FAMILIES)}")
    ap.add_argument("--sizes", help="comma-separated size labels to keep (e.g. large,500s)")
    ap.add_argument("--anchors-only", action="store_true", help="skip ours (no binary needed)")
    ap.add_argument("--ours", type=Path, default=DEFAULT_OURS, help="the anchor_solve binary")
    ap.add_argument("--repeat", type=int, default=3, help="our runs per instance (median)")
    ap.add_argument("--budget-ms", type=int, default=2000, help="our search budget (product default)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="anchors' time limit, seconds")
    ap.add_argument("--workers", type=int, default=2, help="CP-SAT workers")
    ap.add_argument("--cpsat-objective", choices=["lex", "single"], default="lex",
                    help="CP-SAT: score then cost in two solves (default), or W * score - cost")
    ap.add_argument("--open-if-used", action="store_true",
                    help="add y_s <= n_s for every seller (otherwise only where needed)")
    ap.add_argument("--reference", type=Path,
                    default=Path(os.environ.get("CARTS_REFERENCE", DEFAULT_REFERENCE)))
    ap.add_argument("--keep", type=Path, help="keep the instance files in this folder")
    ap.add_argument("--json", type=Path, help="write every per-instance row here")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even on failures")
    args = ap.parse_args()

    if not args.anchors_only and not args.ours.exists():
        print(f"{args.ours.relative_to(REPO) if args.ours.is_relative_to(REPO) else args.ours} "
              f"is missing: run `{BUILD_HINT}` (or pass --anchors-only)")
        return 2
    ref = load_reference(args.reference)
    seeds = [1] if args.quick else [int(s) for s in args.seeds.split(",") if s.strip()]
    names = args.families.split(",") if args.families else list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}")

    rows = []
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for family in names:
            sizes = FAMILIES[family][:1] if args.quick else FAMILIES[family]
            if args.sizes:
                sizes = [sz for sz in sizes if sz[0] in args.sizes.split(",")]
            for label, builder, size in sizes:
                for seed in seeds:
                    row = run_instance(ref, args, family, label, builder, size, seed, folder)
                    rows.append(row)
                    print(line(row), flush=True)
                    for p in row["problems"]:
                        print(f"    PROBLEM: {p}")
                    for w in row["warnings"]:
                        print(f"    warning: {w}")

    summary = summarise(rows, args.anchors_only)
    print_summary(summary, args.anchors_only)
    print()
    print(markdown(summary, args.anchors_only))
    command = "python3 bench/carts/anchors.py " + " ".join(sys.argv[1:])
    print(f"\nCommand: `{command.strip()}` ({len(rows)} instances, {time.time() - t_start:.0f} s wall, "
          f"HiGHS time limit {args.time_limit:g} s, CP-SAT {args.workers} workers"
          + ("" if args.anchors_only else f", ours --budget-ms {args.budget_ms} --repeat {args.repeat}")
          + ")")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "rows": rows, "summary": summary},
                                        indent=1, default=float))
    failures = [p for r in rows for p in r["problems"]]
    if failures:
        print(f"\n{len(failures)} problem(s):")
        for p in failures:
            print(f"  {p}")
    return 1 if failures and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
