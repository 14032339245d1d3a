#!/usr/bin/env bash
# The API against its own OpenAPI document: starts `cratedigger up --sim` from the debug
# build on a free port and runs schemathesis (PyPI, in a venv) on /api/openapi.json. Fails
# on any server error (5xx), any response that breaks the document (status, content type,
# schema, SSE events), and any invalid request that is not refused. Installs what is
# missing; idempotent. Runs from the repository root after
# `cargo build --workspace --all-targets`.
set -euo pipefail
cd "$(dirname "$0")/../.."
type log >/dev/null 2>&1 || log() { printf '[ci] %s\n' "$*" >&2; }

ci_cache="${ci_cache:-${XDG_CACHE_HOME:-$HOME/.cache}/cratedigger-ci}"
venv="$ci_cache/schemathesis"
binary="$PWD/target/debug/cratedigger"
examples="${API_CHECK_EXAMPLES:-100}"
[ -x "$binary" ] || { log "$binary is missing: build the workspace first"; exit 1; }

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  log "installing schemathesis"
  "$venv/bin/pip" install --quiet "schemathesis>=4.32,<5"
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
# A fuzzer is one client sending hundreds of requests a second: the per-client limit
# would answer most of them 429, so it is off here (its own tests cover it). The
# gateway's copy of the model is refreshed every second, so similar releases answer as
# soon as the model is trained.
(cd "$work" && APP_GATEWAY__RATE_LIMIT__PER_SECOND=0 APP_RECOMMENDER__REFRESH_SECONDS=1 \
  exec "$binary" up --sim --users 40 --port "$port") >"$work/up.log" 2>&1 &
server=$!
for _ in $(seq 240); do
  grep -q "cratedigger is up" "$work/up.log" && break
  kill -0 "$server" 2>/dev/null || { tail -n 30 "$work/up.log" >&2; log "cratedigger stopped before it was up"; exit 1; }
  sleep 0.5
done
grep -q "cratedigger is up" "$work/up.log" || { tail -n 30 "$work/up.log" >&2; log "cratedigger was not up after 2 minutes"; exit 1; }
sleep 2

log "running schemathesis ($examples examples per operation)"
# One worker: hypothesis describes its strategies with `ast.parse`, which CPython 3.11
# does not do safely from several threads at once.
if ! (cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$examples" --request-timeout 10 --workers 1 --seed 7 --no-color); then
  log "schemathesis found problems; the server's log ends with:"
  tail -n 40 "$work/up.log" >&2
  exit 1
fi
