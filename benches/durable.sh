#!/usr/bin/env bash
# What acknowledged writes cost (issue 15: power-safe acks): PATCH /me at 32 and 64 connections and
# durable chat acks (200 senders, 10 s) for each build in BINS, alternating ROUNDS times back to
# back, each on an empty data directory.
# Usage: BINS="/tmp/friend-before target/release/friend" benches/durable.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
[ -n "${BINS:-}" ] || { cargo build --release --quiet; BINS=target/release/friend; }
PORT=${PORT:-18760}
source benches/chat_env.sh

start() {
  rm -rf "$WORK/data"
  $1 --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null 2>&1 & pid=$!
  for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
}
stop() { kill -TERM $pid; wait $pid || true; }

for round in $(seq 1 "${1:-2}"); do
  for bin in $BINS; do
    echo "== round $round: $bin"
    start "$bin"
    TOKEN=$(curl -sf -XPOST "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
      -d '{"email":"bench@s.test","username":"bench","password":"bench-password","name":"Bench"}' \
      | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    export TOKEN
    for c in 32 64; do
      echo "-- PATCH /api/v1/me, $c connections, 15 s"
      wrk -t2 -c$c -d15s --latency -s benches/wrk/patch_me.lua "$BASE/api/v1/me" | grep -E "Requests/sec|^ +(50|99)%"
    done
    stop
    start "$bin"
    echo "-- durable chat acks, 200 senders, 10 s"
    $LOAD "$BASE" throughput 200 10 | tail -3
    stop
  done
done
