#!/usr/bin/env bash
# Notes benchmarks (issue 5): 100,000 generated notes (benches/seed/notes.rs) from 2,000 authors with
# 10,000 friendships. Measures the index rebuild on first start (bulk indexing), then search with
# typical 1–3 word queries and the feed, signed in as 8 different users, at 4 and 16 connections.
# Usage: benches/notes.sh   (needs wrk)
#
# `benches/notes.sh ingest [TOTAL]` (issue 16): TOTAL (100,000) of the same generated notes written one
# by one through POST /api/v1/notes at 8 connections on an empty server (benches/notes_ingest.rs,
# with the "searchable within 1 s" probe), then the same searches at 16 connections right after
# the ingest and again after 60 s, when merges have settled. BIN=path measures another build;
# INGEST=path runs an already built notes_ingest (so that nothing is compiled during the run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = ingest ]; then
  PORT=${PORT:-18741}
  source benches/wrk_env.sh
  start() {
    FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=info FRIEND_REGISTRATION=open FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=1000000 \
      $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >"$WORK/log" 2>&1 & pid=$!
    for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
  }
  start
  echo "== ingest: ${2:-100000} notes through the API, 8 connections"
  if [ -n "${INGEST:-}" ]; then "$INGEST" "$BASE" "${2:-100000}" 8; else cargo bench --bench notes_ingest --quiet -- "$BASE" "${2:-100000}" 8; fi \
    | tee "$WORK/ingest" | grep -v '^TOKENS='
  TOKENS=$(sed -n 's/^TOKENS=//p' "$WORK/ingest"); export TOKENS
  du -sh "$WORK/data/search/notes"
  SEARCH=""; for q in photosynthesis mitochondria%20membrane derivative%20equation french%20revolution \
    %22krebs%20cycle%22 energy%20momentum photosyntesis%20 polynom shakespeare%20sonnet tectonic%20plate gravity \
    %E5%85%89%E5%90%88%E4%BD%9C%E7%94%A8; do SEARCH="$SEARCH /api/v1/notes/search?q=$q"; done
  SEARCH="$SEARCH /api/v1/notes/search?q=energy&tag=physics /api/v1/notes/search?q=matrix&tag=exam"
  echo "== search right after the ingest, 16 connections, 15 s"
  PATHS="$SEARCH" wrk -t2 -c16 -d15s --latency -s benches/wrk/rotate.lua "$BASE"
  sleep 60
  echo "== search 60 s later (merges settled), 16 connections, 15 s"
  PATHS="$SEARCH" wrk -t2 -c16 -d15s --latency -s benches/wrk/rotate.lua "$BASE"
  ls "$WORK/data/search/notes" | grep -c '\.idx$' | sed 's/^/segments: /'
  echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
  kill -TERM $pid; wait $pid || true
  exit 0
fi
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
cargo build --release --quiet
BIN=target/release/friend
PORT=${PORT:-18740}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== seeding"
cargo bench --bench seed_users --quiet -- "$WORK/data" 2000 10000 0 0 100000
du -sh "$WORK/data"
FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=info $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >"$WORK/log" 2>&1 & pid=$!
for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
echo "== rebuilding the notes index from storage (first start)"
for _ in $(seq 1 600); do grep -q 'index rebuilt index="notes"' "$WORK/log" && break; sleep 0.5; done
grep 'index rebuilt index="notes"' "$WORK/log" | sed -E 's/.*(docs=[0-9]+ ms=[0-9]+).*/\1/'
du -sh "$WORK/data/search/notes"
TOKENS=""
for i in 1 2 3 4 5 6 7 8; do
  TOKENS="$TOKENS $(curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"seed$i\",\"password\":\"bench-password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')"
done
export TOKENS
QUERIES="photosynthesis mitochondria%20membrane derivative%20equation french%20revolution %22krebs%20cycle%22 \
  energy%20momentum photosyntesis%20 polynom shakespeare%20sonnet tectonic%20plate gravity \
  %E5%85%89%E5%90%88%E4%BD%9C%E7%94%A8"
SEARCH=""; for q in $QUERIES; do SEARCH="$SEARCH /api/v1/notes/search?q=$q"; done
SEARCH="$SEARCH /api/v1/notes/search?q=energy&tag=physics /api/v1/notes/search?q=matrix&tag=exam"
curl -sf "$BASE$(echo $SEARCH | cut -d' ' -f1)" -H "authorization: Bearer $(echo $TOKENS | cut -d' ' -f1)" \
  | grep -o '"id":"[^"]*","author"' | wc -l | sed 's/^/hits on the first page of the first query: /'
for c in 4 16; do
  echo "== GET /api/v1/notes/search (14 queries, 8 users), $c connections, 15 s"
  PATHS="$SEARCH" wrk -t2 -c$c -d15s --latency -s benches/wrk/rotate.lua "$BASE"
  echo "== GET /api/v1/notes/feed (8 users), $c connections, 10 s"
  PATHS="/api/v1/notes/feed /api/v1/notes/feed?limit=50" wrk -t2 -c$c -d10s --latency -s benches/wrk/rotate.lua "$BASE"
done
echo "RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MB"}')"
kill -TERM $pid; wait $pid || true
