#!/usr/bin/env bash
# Heavy reads beside light ones (issue 16): GET /api/v1/me at 16 connections alone, then while 8
# other connections (8 students in turn) run data exports, feed pages, searches, year-long activity
# lists, CSV exports and charts. Data (seed_users): 2,000 students with a year of logs, 10,000
# friendships and 100,000 notes.
# Usage: benches/heavy_reads.sh   (needs wrk)
#   BIN=path measures another build; SEED_DIR=dir keeps the seeded data there and reuses it (each
#   run starts from a copy), so two builds can be measured back to back on the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18750}
source benches/wrk_env.sh
SEED_DIR=${SEED_DIR:-$WORK/seed}
if [ ! -d "$SEED_DIR" ]; then
  echo "== seeding"
  cargo bench --bench seed_users --quiet -- "$SEED_DIR" 2000 10000 0 365 100000
fi
cp -r "$SEED_DIR" "$WORK/data"
start
# The first start rebuilds the notes index and makes last week's reports and insights: wait for all.
for what in 'index rebuilt index="notes"' 'reports ready' 'weekly insights computed'; do
  for _ in $(seq 1 600); do grep -q "$what" "$WORK/log" && break; sleep 0.5; done
done
TOKEN=$(login seed0)
TOKENS=""; for i in 1 2 3 4 5 6 7 8; do TOKENS="$TOKENS $(login seed$i)"; done
export TOKEN TOKENS
FROM=$(date -u -d '-365 days' +%F); TO=$(date -u +%F)
HEAVY="/api/v1/me/export /api/v1/notes/feed?limit=50 /api/v1/notes/search?q=energy%20momentum
  /api/v1/reports/monthly/chart.svg /api/v1/activities?from=$FROM&to=$TO /api/v1/notes/search?q=photosynthesis
  /api/v1/reports/weekly/chart.svg?theme=dark /api/v1/reports/export.csv?from=$FROM&to=$TO /api/v1/chats
  /api/v1/friends?limit=100"
for p in $HEAVY; do
  printf '%s %s\n' "$(curl -s -o /dev/null -w '%{http_code} %{size_download}B %{time_total}s' "$BASE$p" \
    -H "authorization: Bearer $(echo $TOKENS | cut -d' ' -f1)")" "$p"
done
echo "== GET /api/v1/me alone, 16 connections, 20 s"
wrk -t1 -c16 -d20s --latency -s benches/wrk/get.lua "$BASE/api/v1/me"
echo "== GET /api/v1/me, 16 connections, while 8 connections run the heavy reads above, 20 s"
PATHS="$HEAVY" wrk -t1 -c8 -d24s --latency -s benches/wrk/rotate.lua "$BASE" >"$WORK/heavy" & heavy=$!
sleep 2
wrk -t1 -c16 -d20s --latency -s benches/wrk/get.lua "$BASE/api/v1/me"
wait $heavy
echo "== the heavy reads meanwhile, 8 connections"
cat "$WORK/heavy"
echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
