#!/usr/bin/env bash
# The web page in headless Chromium (Debian's `chromium`, driven by playwright-core from
# npm): starts `cratedigger up --sim` from the debug build on a free port, submits a carts
# job through the form, follows its progress and checks that the carts table shows the
# optimiser's best cart as the API gives it, read through the browser listing source
# past the simulator's challenge, and uploads a marketplace page the browser saved
# through the page's file field (services/gateway/tests/browser/carts.mjs).
# Screenshots go to target/browser/. Installs what is missing; idempotent. Runs from the
# repository root after `cargo build --workspace --all-targets`.
set -euo pipefail
cd "$(dirname "$0")/../.."
type log >/dev/null 2>&1 || log() { printf '[ci] %s\n' "$*" >&2; }

ci_cache="${ci_cache:-${XDG_CACHE_HOME:-$HOME/.cache}/cratedigger-ci}"
binary="$PWD/target/debug/cratedigger"
shots="$PWD/target/browser"
[ -x "$binary" ] || { log "$binary is missing: build the workspace first"; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing node.js"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
node_modules="$ci_cache/playwright/node_modules"
if [ ! -d "$node_modules/playwright-core" ]; then
  log "installing playwright-core"
  mkdir -p "$ci_cache/playwright"
  npm install --prefix "$ci_cache/playwright" --no-audit --no-fund --loglevel=error playwright-core@1 >/dev/null
fi

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting cratedigger up --sim on port $port"
# Data goes to var/ in the working directory: a fresh one each run.
(cd "$work" && exec "$binary" up --sim --users 40 --port "$port") >"$work/up.log" 2>&1 &
server=$!
for _ in $(seq 240); do
  grep -q "cratedigger is up" "$work/up.log" && break
  kill -0 "$server" 2>/dev/null || { tail -n 30 "$work/up.log" >&2; log "cratedigger stopped before it was up"; exit 1; }
  sleep 0.5
done
grep -q "cratedigger is up" "$work/up.log" || { tail -n 30 "$work/up.log" >&2; log "cratedigger was not up after 2 minutes"; exit 1; }

log "driving the page in chromium"
mkdir -p "$shots"
sim=$(sed -n 's/^the simulated Discogs is at //p' "$work/up.log" | head -n 1)
if ! NODE_PATH="$node_modules" node services/gateway/tests/browser/carts.mjs --base "http://127.0.0.1:$port" --sim "$sim" --out "$shots"; then
  log "the browser check failed; the server's log ends with:"
  tail -n 40 "$work/up.log" >&2
  exit 1
fi
log "screenshots in $shots"
