#!/usr/bin/env bash
# Web Push benchmarks (issue 12): a fake push service inside the load generator on 127.0.0.1.
# Usage: benches/push.sh [throughput|unreachable|all]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
# BIN=path measures another server build with this load generator.
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/friend}
cargo bench --bench push_load --no-run --quiet 2>/dev/null
LOAD=$(ls -t target/release/deps/push_load-* | grep -v '\.d$' | head -1)
PORT=${PORT:-18730}
FAKE=${FAKE:-18790}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=warn FRIEND_CHAT__MAX_GROUP_MEMBERS=1000 FRIEND_CHAT__DM_POLICY=anyone \
  FRIEND_REGISTRATION=open FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=10000000 \
  FRIEND_CHAT__NEW_CHATS_PER_HOUR=10000000 FRIEND_PUSH__ALLOW_HOSTS="[\"127.0.0.1:$FAKE\"]"

start() {
  rm -rf "$WORK/data"
  $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >"$WORK/log" 2>&1 & pid=$!
  for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
}
rss() { grep VmRSS /proc/$pid/status | awk '{print $2/1024}'; }
stop() { kill -TERM $pid; wait $pid || true; }
what=${1:-all}

if [ "$what" = all ] || [ "$what" = throughput ]; then
  echo "== 20,000 encrypted pushes to a local push service (500 users × 4 devices × 10 groups)"
  start
  $LOAD "$BASE" "$FAKE" throughput 500 4 10
  echo "server RSS after: $(rss) MB"
  stop
fi
if [ "$what" = all ] || [ "$what" = unreachable ]; then
  echo "== 10,000 pushes queued, the push service never answers (500 users × 2 devices × 10 groups)"
  start
  $LOAD "$BASE" "$FAKE" unreachable 500 2 10 & load=$!
  peak=0
  while kill -0 $load 2>/dev/null; do r=$(rss); peak=$(echo "if ($r > $peak) $r else $peak" | bc); sleep 1; done
  wait $load
  echo "server RSS: peak ${peak} MB, at the end $(rss) MB; /readyz: $(curl -s $BASE/readyz)"
  stop
fi
