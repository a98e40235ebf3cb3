#!/usr/bin/env bash
# Study-life benchmarks (issue 6): 2,000 users × 365 days of logs, 3 goals each, 10,000 friendships,
# everyone in the weekly ranking. Measures the start-of-week report job (2,000 weekly reports) while
# wrk reads reports, then weekly/monthly reports and charts over the past year's periods.
# Usage: benches/study.sh   (needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18720}
source benches/wrk_env.sh

echo "== seeding"
cargo bench --bench seed_users --quiet -- "$WORK/data" 2000 10000 0 365
du -sh "$WORK/data"

weeks() { for k in $(seq 1 52); do echo -n "$1?week=$(date -d "-$((k * 7)) days" +%G-W%V)${2:-} "; done; }
months() { for k in $(seq 1 12); do echo -n "$1?month=$(date -d "$(date +%Y-%m-15) -$k months" +%Y-%m)${2:-} "; done; }

echo "== start-of-week job (2,000 weekly reports) while 4 connections read weekly reports"
start
TOKEN=$(login seed1); export TOKEN
PATHS=$(weeks /api/v1/reports/weekly) wrk -t2 -c4 -d20s --latency -s benches/wrk/paths.lua "$BASE"
grep -o '"reports":[0-9]*,"elapsed_ms":[0-9]*\|reports=[0-9]* elapsed_ms=[0-9]*' "$WORK/log" || { echo "job did not finish in 20 s"; tail -5 "$WORK/log"; }
kill -TERM $pid; wait $pid || true

start
TOKEN=$(login seed1); export TOKEN
for c in 4 16; do
  echo "== GET /api/v1/reports/weekly (52 past weeks), $c connections, 10 s"
  PATHS=$(weeks /api/v1/reports/weekly) wrk -t2 -c$c -d10s --latency -s benches/wrk/paths.lua "$BASE"
  echo "== GET /api/v1/reports/monthly (12 past months), $c connections, 10 s"
  PATHS=$(months /api/v1/reports/monthly) wrk -t2 -c$c -d10s --latency -s benches/wrk/paths.lua "$BASE"
  echo "== GET /api/v1/reports/weekly/chart.svg (52 weeks, light and dark), $c connections, 10 s"
  PATHS="$(weeks /api/v1/reports/weekly/chart.svg) $(weeks /api/v1/reports/weekly/chart.svg '&theme=dark')" \
    wrk -t2 -c$c -d10s --latency -s benches/wrk/paths.lua "$BASE"
  echo "== GET /api/v1/reports/monthly/chart.svg (12 months), $c connections, 10 s"
  PATHS=$(months /api/v1/reports/monthly/chart.svg) wrk -t2 -c$c -d10s --latency -s benches/wrk/paths.lua "$BASE"
done
echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
