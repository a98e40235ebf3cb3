#!/usr/bin/env bash
# Installs Friend on this machine: builds the release binary, creates a `friend` user, a data
# directory and a systemd unit. Run as root from the repository: ./install.sh
# Variables: PREFIX (/usr/local), DATA_DIR (/var/lib/friend), CONFIG (/etc/friend/config.toml).
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${PREFIX:-/usr/local}
DATA_DIR=${DATA_DIR:-/var/lib/friend}
CONFIG=${CONFIG:-/etc/friend/config.toml}

command -v cc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq build-essential pkg-config; }
cargo build --release --locked
install -m 0755 target/release/friend "$PREFIX/bin/friend"

id friend >/dev/null 2>&1 || useradd --system --home "$DATA_DIR" --shell /usr/sbin/nologin friend
install -d -o friend -g friend -m 0750 "$DATA_DIR"
install -d -m 0755 "$(dirname "$CONFIG")"
if [ ! -f "$CONFIG" ]; then
  "$PREFIX/bin/friend" init --path "$CONFIG"
  sed -i "s|^data_dir = .*|data_dir = \"$DATA_DIR\"|" "$CONFIG"
  chown root:friend "$CONFIG" && chmod 0640 "$CONFIG"
fi

if command -v systemctl >/dev/null 2>&1; then
  cat > /etc/systemd/system/friend.service <<UNIT
[Unit]
Description=Friend study-group server
After=network.target

[Service]
User=friend
Group=friend
Environment=FRIEND_CONFIG=$CONFIG
ExecStart=$PREFIX/bin/friend serve
Restart=on-failure
KillSignal=SIGTERM
TimeoutStopSec=20
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=$DATA_DIR
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now friend
  echo "friend is running: journalctl -u friend shows the one-time admin setup link"
else
  echo "installed $PREFIX/bin/friend; start it with: FRIEND_CONFIG=$CONFIG friend serve"
fi
