#!/usr/bin/env bash
# The long chaos run: the chaos suite (services/standalone/tests/chaos.rs) with more rounds
# and more users than CI's single round, on the servers .ci/run uses (started when
# missing). Each round kills every service in turn under a 429 storm, pauses Redis and
# restarts PostgreSQL, with every event published twice; the last line is the summary.
#
#   scripts/chaos.sh [ROUNDS] [USERS_PER_FAULT]     (defaults: 5 rounds, 3 users)
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/servers.sh
ensure_servers
export CHAOS_ROUNDS="${1:-5}" CHAOS_USERS="${2:-3}"
log "chaos: $CHAOS_ROUNDS rounds, $CHAOS_USERS users per fault"
log="${TMPDIR:-/tmp}/cratedigger-chaos.log"
log "full output in $log"
cargo nextest run -p cratedigger --test chaos --no-capture 2>&1 \
  | tee "$log" | grep -v '^{"' | grep -E '^chaos:|panicked|PASS|FAIL'
