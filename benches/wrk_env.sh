# Shared set-up of the wrk benchmarks, sourced from the repo root with PORT set: builds the release
# binary (or uses $BIN), makes a work directory removed at exit, and defines `start` (the server on
# $WORK/data, log in $WORK/log, pid in $pid, ready when it returns) and `login USER` (prints an
# access token; seeded users' password is bench-password).
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
[ -n "${BIN:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/friend}
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

start() {
  FRIEND_BACKUP__ENABLED=false FRIEND_LOG__LEVEL=info $BIN --bind 127.0.0.1:$PORT --data-dir "$WORK/data" >"$WORK/log" 2>&1 & pid=$!
  for _ in $(seq 1 500); do curl -skf "$BASE/readyz" >/dev/null && break; sleep 0.01; done
}
login() {
  curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"bench-password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
