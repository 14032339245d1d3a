#!/usr/bin/env bash
# ALS benchmark: cratedigger-als against benfred/implicit on the same data, in one run.
#
#   bench/als/run.sh lastfm              # Last.fm HetRec 2011, the fixed 80/20 split
#   bench/als/run.sh synthetic           # power-law 200,000 users x 100,000 items x ~10 M
#   bench/als/run.sh synthetic 20000 10000 1000000   # a smaller power-law set
#
# Prints one JSON line per implementation and then one line of ratios (ours / implicit).
# implicit runs when `python3 -c "import implicit"` works (pip install implicit
# threadpoolctl); set PYTHON to choose the interpreter. THREADS (default 2) applies to both.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
shared="$root/../shared"
threads="${THREADS:-2}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release -p cratedigger-als --example als_bench --manifest-path "$root/Cargo.toml"
ours="$root/target/release/examples/als_bench"

have_implicit=0
if "$python" -c "import implicit, threadpoolctl" 2>/dev/null; then have_implicit=1; fi

case "${1:-lastfm}" in
  lastfm)
    split="$shared/datasets/lastfm-hetrec2011-2k/split_seed42"
    if [ "$have_implicit" = 1 ]; then
      # The anchor splits interactions.csv with seed 42: the same split as split_seed42.
      OMP_NUM_THREADS="$threads" "$python" "$shared/bench/als/anchor_implicit.py" \
        --csv "$shared/datasets/lastfm-hetrec2011-2k/interactions.csv" --num-threads "$threads" \
        >"$work/implicit.json"
    fi
    "$ours" --train "$split/train.csv" --test "$split/test.csv" --threads "$threads" >"$work/ours.json"
    ;;
  synthetic)
    users="${2:-200000}" items="${3:-100000}" nnz="${4:-10000000}"
    "$ours" --generate "$users" "$items" "$nnz" --seed 42 --out "$work/data.csv" >&2
    if [ "$have_implicit" = 1 ]; then
      # implicit reads our CSV, splits it and dumps the split it trained on; we train on
      # that same dump, so both fit the identical matrix.
      OMP_NUM_THREADS="$threads" "$python" "$shared/bench/als/anchor_implicit.py" \
        --csv "$work/data.csv" --num-threads "$threads" --eval-users 20000 \
        --dump-split "$work/split" >"$work/implicit.json"
      "$ours" --train "$work/split/train.csv" --test "$work/split/test.csv" --threads "$threads" >"$work/ours.json"
    else
      "$ours" --train "$work/data.csv" --threads "$threads" >"$work/ours.json"
    fi
    ;;
  *) echo "usage: $0 lastfm | synthetic [USERS ITEMS NNZ]" >&2; exit 2 ;;
esac

cat "$work/ours.json"
if [ "$have_implicit" = 1 ]; then
  cat "$work/implicit.json"
  "$python" - "$work/ours.json" "$work/implicit.json" <<'PY'
import json, sys
ours, anchor = (json.load(open(p)) for p in sys.argv[1:3])
def r(a, b): return round(a / b, 3) if b else None
print(json.dumps({
    "ratios_ours_over_implicit": {
        "fit_time": r(ours["fit_s"]["median"], anchor["fit_s"]["median"]),
        "per_iteration": r(ours["fit_s"]["per_iter_median"], anchor["fit_s"]["per_iter_median"]),
        "recalculate_top10_p50": r(ours["recommend_single_us"]["recalculate_user"]["p50"], anchor["recommend_single_us"]["recalculate_user"]["p50"]),
        "recalculate_top10_p99": r(ours["recommend_single_us"]["recalculate_user"]["p99"], anchor["recommend_single_us"]["recalculate_user"]["p99"]),
        "batch_users_per_s": r(ours["batch_recommend"]["users_per_s"], anchor["batch_recommend"]["users_per_s"]),
        "peak_rss": r(ours["peak_rss_mb"], anchor["peak_rss_mb"]),
    },
    "quality_at_10": {
        "ours": {k: (ours.get("metrics_at_10") or {}).get(k) for k in ("precision", "ndcg")},
        "implicit": {k: anchor["metrics_at_10"].get(k) for k in ("precision", "ndcg")},
    },
}))
PY
else
  echo '{"note": "implicit is not installed (pip install implicit threadpoolctl): no ratios"}'
fi
