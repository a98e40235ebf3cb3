#!/usr/bin/env bash
# Safety benchmarks (issue 11): sign-in latency and server memory while 20 clients upload
# hostile images (a PNG that announces 512 MiB of pixels, a GIF with a 4096² canvas and 300
# frames, the largest animated GIF still accepted). Usage: benches/hostile.sh  (BIN= another build)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/friend}
cargo bench --bench hostile_load --no-run --quiet 2>/dev/null
LOAD=$(ls -t target/release/deps/hostile_load-* | grep -v '\.d$' | head -1)
PORT=${PORT:-18730}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
# The per-user upload limit is raised to measure the decoder pool itself (the limit would stop
# each attacker after 120 uploads an hour).
export FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=warn FRIEND_REGISTRATION=open
# OLD=1: a build from before these settings existed (it refuses unknown FRIEND_ variables).
[ -n "${OLD:-}" ] || export FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=1000000 FRIEND_MEDIA__UPLOADS_PER_HOUR=1000000 FRIEND_MEDIA__QUOTA_MB=0 FRIEND_MEDIA__MIN_FREE_MB=0
$BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null 2>&1 & pid=$!
for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
echo "server RSS at start: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024}') MB"
$LOAD "$BASE" uploads "${ATTACKERS:-20}" "${SECONDS_:-30}" "${KINDS:-012}"
echo "server peak RSS (VmHWM): $(grep VmHWM /proc/$pid/status | awk '{print $2/1024}') MB, now $(grep VmRSS /proc/$pid/status | awk '{print $2/1024}') MB"
kill -TERM $pid; wait $pid || true
