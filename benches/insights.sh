#!/usr/bin/env bash
# Insights benchmarks (issue 13): 2,000 users × 365 days of logs (and 3 goals each).
# Features + inference per user in process, model load time and RSS, the weekly job for all
# 2,000 while wrk reads GET /me, then GET /insights at 16 connections.
# Usage: benches/insights.sh   (needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18750}
source benches/wrk_env.sh

echo "== seeding"
cargo bench --bench seed_users --quiet -- "$WORK/data" 2000 0 0 365
echo "== features + inference + rules per user (in process, 3 rounds over 2,000 users)"
cargo bench --bench insights_compute --quiet -- "$WORK/data" 3

echo "== first start: the weekly job (2,000 weekly reports, then 2,000 students' insights) while 16 connections GET /me"
start
grep -o 'insights model loaded.*' "$WORK/log" | head -1
TOKEN=$(login seed1); export TOKEN
wrk -t2 -c16 -d25s --latency -s benches/wrk/get.lua "$BASE/api/v1/me"
grep -o 'reports=[0-9]* elapsed_ms=[0-9]*' "$WORK/log" || echo "report job not finished"
grep -o 'students=[0-9]* elapsed_ms=[0-9]*' "$WORK/log" || { echo "insights job did not finish in 25 s"; tail -5 "$WORK/log"; }

TOKENS=$(for i in $(seq 1 40); do echo -n "$(login seed$i) "; done); export TOKENS
echo "== GET /api/v1/insights (40 students rotating), 16 connections, 10 s"
PATHS=/api/v1/insights wrk -t2 -c16 -d10s --latency -s benches/wrk/rotate.lua "$BASE"
echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
echo "binary: $(stat -c %s $BIN) bytes"
