#!/usr/bin/env bash
# Foundation benchmarks (issue 2): load from wrk in separate processes over loopback against the
# release binary. Usage: benches/foundation.sh   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
cargo build --release --quiet
cargo bench --bench seed_users --no-run --quiet 2>/dev/null
BIN=target/release/friend
PORT=${PORT:-18700}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=warn FRIEND_AUTH__MAX_LOGINS_PER_IP=100000 \
  FRIEND_REGISTRATION=open FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=10000000 \
  FRIEND_CHAT__FRIEND_REQUESTS_PER_HOUR=10000000 FRIEND_CHAT__NEW_CHATS_PER_HOUR=10000000

wait_ready() { for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && return 0; sleep 0.01; done; return 1; }
ms() { date +%s%3N; }

echo "== seeding 100,000 users"
cargo bench --bench seed_users --quiet -- "$WORK/data" 100000

echo "== start-up with 100,000 users"
for run in 1 2 3; do
  t0=$(ms); $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null 2>&1 & pid=$!
  wait_ready; t1=$(ms); echo "start-up run $run: $((t1 - t0)) ms (process start to /readyz 200)"
  if [ $run = 3 ]; then break; fi
  kill -TERM $pid; wait $pid || true
done
sleep 2
echo "idle RSS after start-up: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"

TOKEN=$(curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"login":"seed1","password":"bench-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
export TOKEN USERS=100000
sleep 1
echo "idle RSS after one login: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"

echo "== GET /api/v1/me, 64 connections, 20 s"
wrk -t2 -c64 -d20s --latency -s benches/wrk/get.lua "$BASE/api/v1/me"

for c in 32 64; do
  echo "== PATCH /api/v1/me (durable writes), $c connections, 20 s"
  wrk -t2 -c$c -d20s --latency -s benches/wrk/patch_me.lua "$BASE/api/v1/me"
done

echo "== 50 concurrent logins for 10 s while GET /api/v1/me runs (16 connections)"
wrk -t1 -c50 -d10s --latency -s benches/wrk/login.lua "$BASE/api/v1/auth/login" > "$WORK/login.txt" &
wrk -t1 -c16 -d10s --latency -s benches/wrk/get.lua "$BASE/api/v1/me"
wait %3 2>/dev/null || sleep 1
echo "-- the logins meanwhile:"; cat "$WORK/login.txt"
echo "RSS after the runs: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
