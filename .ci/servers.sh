# Starts (when missing) the servers the test suites talk to and exports their addresses.
# Sourced by .ci/run; also usable by hand: `source .ci/servers.sh && ensure_servers`.
# Every function tolerates a server that is already running.

log() { printf '[ci] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
  log "$3 did not open port $1 within $2 s"
  return 1
}

ensure_redis() {
  if ! port_open 6379; then
    log "starting redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/cratedigger-ci-redis.log
    wait_port 6379 20 redis
  fi
  export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
}

ensure_postgres() {
  if ! port_open 5432; then
    log "starting postgresql"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port 5432 30 postgresql
  fi
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
}

ci_cache="${XDG_CACHE_HOME:-$HOME/.cache}/cratedigger-ci"

# The Google Pub/Sub emulator (installed with google-cloud-cli). It keeps state until it
# stops, so tests name their own topics and subscriptions.
ensure_pubsub() {
  local port=8085
  if ! port_open "$port"; then
    log "starting the pub/sub emulator"
    mkdir -p "$ci_cache"
    nohup gcloud beta emulators pubsub start --host-port="127.0.0.1:$port" \
      --project=cratedigger-test >"$ci_cache/pubsub.log" 2>&1 &
    wait_port "$port" 60 "pub/sub emulator" || { tail -n 20 "$ci_cache/pubsub.log" >&2; return 1; }
  fi
  export PUBSUB_EMULATOR_HOST="127.0.0.1:$port"
  export PUBSUB_PROJECT_ID="${PUBSUB_PROJECT_ID:-cratedigger-test}"
}

# A MongoDB wire-protocol server for the MongoDB adapter's tests: SecantusDB from PyPI, in
# a virtual environment cached between runs. A test server only; the code never needs it.
ensure_mongodb() {
  local port=27017
  if ! port_open "$port"; then
    local venv="$ci_cache/venv"
    if [ ! -x "$venv/bin/secantusd-py" ]; then
      log "installing SecantusDB"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --pre SecantusDB
    fi
    log "starting SecantusDB"
    nohup "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
      >"$ci_cache/secantus.log" 2>&1 &
    wait_port "$port" 30 secantusdb || { tail -n 20 "$ci_cache/secantus.log" >&2; return 1; }
  fi
  export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$port/?directConnection=true}"
}

# Python with the checkers' packages (HiGHS and OR-Tools CP-SAT for the cart optimiser's
# exactness checks), in the cached virtual environment.
ensure_ci_python() {
  local venv="$ci_cache/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if ! "$venv/bin/python" -c "import highspy, numpy, ortools" 2>/dev/null; then
    log "installing highspy, numpy and ortools"
    "$venv/bin/pip" install --quiet highspy numpy ortools
  fi
  export CI_PYTHON="$venv/bin/python"
}

# Debian's Chromium: the browser listing source's tests drive it, as does the page check.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  export CHROMIUM=/usr/bin/chromium
}

ensure_servers() {
  ensure_redis
  ensure_postgres
  ensure_pubsub
  ensure_mongodb
  ensure_chromium
  # Tests whose server variable is missing fail instead of skipping.
  export CRATEDIGGER_REQUIRE_SERVERS=1
}
