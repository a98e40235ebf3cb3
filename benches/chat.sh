#!/usr/bin/env bash
# Chat benchmarks (issue 4): real WebSocket clients in a separate process over loopback.
# Usage: benches/chat.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
# BIN=path measures another server build (e.g. the one before a change) with this load generator.
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/friend}
PORT=${PORT:-18720}
source benches/chat_env.sh

start() {
  rm -rf "$WORK/data"
  $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >/dev/null 2>&1 & pid=$!
  for _ in $(seq 1 500); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
}
rss() { grep VmRSS /proc/$pid/status | awk '{print $2/1024}'; }
stop() { kill -TERM $pid; wait $pid || true; }

# RSS is read once the students are registered (the generator pauses then): registering hashes
# passwords, which grows RSS by itself. heaptrack gives the exact heap a socket takes (BENCHMARKS.md).
for users in 20 500; do
  echo "== 10,000 idle sockets over $users students"
  start
  $LOAD "$BASE" idle 10000 15 $users >"$WORK/idle" & load=$!
  until grep -q "users registered" "$WORK/idle"; do sleep 0.2; done
  sleep 1; before=$(rss)
  until grep -q "sockets open" "$WORK/idle"; do sleep 0.2; done
  sleep 10; after=$(rss)
  cat "$WORK/idle"
  echo "server RSS: registered ${before} MB, with 10,000 sockets ${after} MB: $(echo "($after - $before) * 1024 * 1024 / 10000" | bc) B a socket"
  wait $load || true
  stop
done

echo "== 1,000 users in 100 groups of 10, one message per user per second, 20 s"
start
$LOAD "$BASE" groups 1000 10 20
stop

echo "== one group of 500 members, 20 messages"
start
$LOAD "$BASE" fanout 500 20
stop

echo "== GET /me while 10 sockets run full syncs of 4,000 events, 20 s"
start
$LOAD "$BASE" syncs 4000 10 20
stop

echo "== GET /chats for a reader in 50 groups with 1,000 unread messages each, 4 clients, 10 s"
start
$LOAD "$BASE" unread 50 1000 4 10
stop

echo "== durable throughput, 200 senders, 10 s"
start
$LOAD "$BASE" throughput 200 10
stop
