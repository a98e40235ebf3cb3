#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian machine with Rust: installs what the tests need,
# then runs formatting, lint and every test. Usage: tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ] || need_apt+=(chromium-driver)
# The power-cut test mounts a FUSE file system (fusermount from fuse3, libfuse.so.2 for fusepy).
command -v fusermount >/dev/null 2>&1 || need_apt+=(fuse3)
# Emoji as students' phones show them (the mood scale), for the screenshots the browser tests save.
fc-list 2>/dev/null | grep -qi 'color emoji' || need_apt+=(fonts-noto-color-emoji)
# npm fetches axe-core, the accessibility checker the student app's browser test runs.
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
ldconfig -p 2>/dev/null | grep -q 'libfuse.so.2' || need_apt+=(libfuse2)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# The insights model's trainer (models/train.py reads what the server exports).
python3 -c "import numpy, sklearn, onnx, onnxruntime" >/dev/null 2>&1 ||
  python3 -m pip install -q --disable-pip-version-check -r models/requirements.txt
# Independent checkers used by the API tests (an OpenAPI validator, a schema-based fuzzer, an
# OpenMetrics parser, an mDNS browser) and the FUSE binding of the power-cut file system.
python3 -c "import openapi_spec_validator, schemathesis, prometheus_client, fuse, zeroconf" >/dev/null 2>&1 && command -v st >/dev/null ||
  python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt

[ -f tests/node_modules/axe-core/axe.min.js ] ||
  npm install --no-save --no-audit --no-fund --prefix tests axe-core@4.14.1 >/dev/null

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# One closing line for the whole run (cargo prints one per test binary, the doc-tests' last).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The tests run in a network namespace with only loopback, so nothing in the server can reach for
# the Internet unnoticed (a school LAN often has none). Where no namespace can be made (not root),
# they run as they are, and say so.
offline=()
# A veth pair with a LAN address stands for the school network: browsers then count themselves
# online (as on a LAN without Internet), so the student app's test can take one offline.
lan='ip link set lo up && ip link add friend0 type veth peer name friend1 && ip addr add 10.254.0.1/24 dev friend0 && ip link set friend0 up && ip link set friend1 up'
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n sh -c "$lan" 2>/dev/null; then
  cargo test --locked --no-run --quiet
  offline=(unshare -n sh -c "$lan"' && exec "$@"' sh)
  echo "running the tests offline: a network namespace with loopback and a LAN of its own, no route out"
else
  echo "running the tests with the machine's network (no network namespace here)"
fi
"${offline[@]}" cargo test --locked --offline --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit $status
