#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 600), its corpus seeded from the Discogs
# fixtures beside the project (marketplace pages, API JSON) or from fuzz/seeds.
#
#   fuzz/run.sh market_page 600
#   fuzz/run.sh api_json 600
#   fuzz/run.sh job_request 600
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). A crash leaves
# its input in fuzz/artifacts/TARGET/; `cargo +nightly fuzz run TARGET FILE` replays it.
set -euo pipefail

target=${1:?which target: market_page, api_json or job_request}
seconds=${2:-600}
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../../shared/datasets/discogs-fixtures"
corpus="$here/corpus/$target"
mkdir -p "$corpus"

seed() { # seed FILE [PREFIX]: one corpus entry named after its content
  local name
  name=$(sha1sum "$1" | cut -c1-40)
  if [ -n "${2:-}" ]; then
    { printf '%b' "$2"; cat "$1"; } > "$corpus/$name"
  else
    cp "$1" "$corpus/$name"
  fi
}

case "$target" in
  market_page)
    # The first byte picks the HTTP status and Cloudflare's header: 0 is a plain 200.
    while IFS= read -r -d '' file; do seed "$file" '\x00'; done \
      < <(find "$fixtures" -type f -name '*.html' -print0)
    ;;
  api_json)
    while IFS= read -r -d '' file; do
      if head -c 1 "$file" | grep -q '[{[]'; then seed "$file"; fi
    done < <(find "$fixtures" -type f ! -name '*.html' ! -name '*.headers' ! -name '*.md' -print0)
    ;;
  job_request)
    for file in "$here"/seeds/job_request/*; do seed "$file"; done
    ;;
  *)
    echo "unknown target $target (market_page, api_json, job_request)" >&2
    exit 2
    ;;
esac
echo "fuzz: $target, $(find "$corpus" -type f | wc -l) corpus entries, ${seconds} s"
cd "$here"
exec cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=4096
