#!/usr/bin/env bash
# HTTPS against plain HTTP (issue 15): GET /me at 64 connections, and new connections a second
# (one request per connection: a TLS handshake each over HTTPS), on the same build, alternating
# ROUNDS times. The HTTPS server runs with tls.mode = local-ca (ECDSA P-256 certificate).
# Usage: benches/tls.sh [ROUNDS]   (BIN=path measures another build; needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18780}
source benches/wrk_env.sh
run() { # $1 = http|https
  rm -rf "$WORK/data"
  if [ "$1" = https ]; then export FRIEND_TLS__MODE=local-ca; else export FRIEND_TLS__MODE=off; fi
  BASE="$1://127.0.0.1:$PORT"
  FRIEND_REGISTRATION=open start
  local base=$BASE
  TOKEN=$(curl -skf -XPOST "$base/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"bench@s.test","username":"bench","password":"bench-password","name":"Bench"}' \
    | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  export TOKEN
  echo "-- $1: GET /api/v1/me, 64 connections, 15 s"
  wrk -t2 -c64 -d15s --latency -s benches/wrk/get.lua "$base/api/v1/me" | grep -E "Requests/sec|^ +(50|99)%|Non-2xx|Socket errors"
  echo "-- $1: a new connection per request (Connection: close), 16 connections, 10 s"
  wrk -t2 -c16 -d10s --latency -H "Connection: close" "$base/healthz" | grep -E "Requests/sec|^ +(50|99)%|Non-2xx|Socket errors"
  kill -TERM $pid; wait $pid || true
}
for round in $(seq 1 "${1:-2}"); do
  echo "== round $round"
  run http
  run https
done
