#!/usr/bin/env bash
# Social-graph benchmarks (issue 3): 10,000 users, 200,000 friendships, `seed0` with 300 friends.
# Usage: benches/social.sh   (needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
cargo build --release --quiet
BIN=target/release/friend
PORT=${PORT:-18710}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=warn \
  FRIEND_REGISTRATION=open FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=10000000 \
  FRIEND_CHAT__FRIEND_REQUESTS_PER_HOUR=10000000 FRIEND_CHAT__NEW_CHATS_PER_HOUR=10000000

echo "== seeding"
cargo bench --bench seed_users --quiet -- "$WORK/data" 10000 200000 300
$BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null 2>&1 & pid=$!
for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
TOKEN=$(curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"login":"seed0","password":"bench-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
export TOKEN
sleep 2 # the directory index is rebuilt in the background on first start
echo "friends of seed0: $(curl -sf "$BASE/api/v1/friends?limit=100" -H "authorization: Bearer $TOKEN" | grep -o '"username"' | wc -l) on the first page"

for c in 4 16; do
  echo "== GET /api/v1/friends?limit=100 (300 friends), $c connections, 10 s"
  wrk -t2 -c$c -d10s --latency -s benches/wrk/get.lua "$BASE/api/v1/friends?limit=100"
  echo "== GET /api/v1/users?q=..., $c connections, 10 s"
  wrk -t2 -c$c -d10s --latency -s benches/wrk/discover.lua "$BASE"
  echo "== GET /api/v1/users/suggestions, $c connections, 10 s"
  wrk -t2 -c$c -d10s --latency -s benches/wrk/get.lua "$BASE/api/v1/users/suggestions"
done
echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
