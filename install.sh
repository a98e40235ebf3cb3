#!/usr/bin/env bash
# Installs Friend on this machine (idempotent: running it again upgrades the binary and the unit and
# keeps the configuration, its secrets and the data).
#
# Usage: ./install.sh [--prefix DIR] [--no-systemd] [--binary FILE]
#        ./install.sh --uninstall [--purge] [--prefix DIR] [--no-systemd]
#
#   --prefix DIR   install into the tree under DIR instead of / (DIR/usr/local/bin/friend,
#                  DIR/etc/friend/config.toml, DIR/var/lib/friend, DIR/var/backups/friend,
#                  DIR/etc/systemd/system/friend.service)
#   --no-systemd   create no user and start nothing: files only (for tests and containers)
#   --binary FILE  install FILE instead of building target/release/friend
#   --uninstall    stop and remove the service and the binary; the data, backups and config stay
#   --purge        with --uninstall: remove the data, backups, config and the `friend` user too
set -euo pipefail
cd "$(dirname "$0")"

ROOT="" SYSTEMD=1 BINARY="" UNINSTALL=0 PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) ROOT=${2:?--prefix needs a directory}; shift ;;
    --no-systemd) SYSTEMD=0 ;;
    --binary) BINARY=${2:?--binary needs a file}; shift ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || { echo "install.sh: --purge goes with --uninstall" >&2; exit 2; }
ROOT=${ROOT%/}
BIN="$ROOT/usr/local/bin/friend"
CONFIG="$ROOT/etc/friend/config.toml"
DATA_DIR="$ROOT/var/lib/friend"
BACKUP_DIR="$ROOT/var/backups/friend"
UNIT="$ROOT/etc/systemd/system/friend.service"
# systemd is used only on a real install that asks for it.
if [ "$SYSTEMD" = 1 ] && ! command -v systemctl >/dev/null 2>&1; then SYSTEMD=0; fi
if [ "$SYSTEMD" = 1 ] && [ "$(id -u)" != 0 ]; then echo "install.sh: run as root (or use --prefix DIR --no-systemd)" >&2; exit 1; fi

if [ "$UNINSTALL" = 1 ]; then
  if [ "$SYSTEMD" = 1 ]; then
    systemctl disable --now friend 2>/dev/null || true
  fi
  rm -f "$BIN" "$UNIT"
  [ "$SYSTEMD" = 1 ] && systemctl daemon-reload
  if [ "$PURGE" = 1 ]; then
    rm -rf "$DATA_DIR" "$BACKUP_DIR" "$(dirname "$CONFIG")"
    if [ "$SYSTEMD" = 1 ] && id friend >/dev/null 2>&1; then userdel friend; fi
    echo "friend removed with its data, backups and configuration"
  else
    echo "friend removed; kept $DATA_DIR, $BACKUP_DIR and $CONFIG (--uninstall --purge removes them)"
  fi
  exit 0
fi

if [ -z "$BINARY" ]; then
  command -v cc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq build-essential pkg-config; }
  cargo build --release --locked
  BINARY=target/release/friend
fi
install -d -m 0755 "$(dirname "$BIN")" "$(dirname "$UNIT")"
install -m 0755 "$BINARY" "$BIN.new" && mv -f "$BIN.new" "$BIN"

OWNER=()
if [ "$SYSTEMD" = 1 ]; then
  id friend >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin friend
  OWNER=(-o friend -g friend)
fi
# Students' data and backups: readable by the service's user alone.
install -d "${OWNER[@]}" -m 0700 "$DATA_DIR" "$BACKUP_DIR"
install -d -m 0755 "$(dirname "$CONFIG")"
if [ ! -f "$CONFIG" ]; then
  "$BIN" init --path "$CONFIG" >/dev/null
  sed -i "s|^data_dir = .*|data_dir = \"$DATA_DIR\"|" "$CONFIG"
  # The backup directory: the `dir` key of the [backup] section.
  awk -v dir="$BACKUP_DIR" '/^\[/ { section = $0 } section == "[backup]" && /^dir = / { $0 = "dir = \"" dir "\"" } { print }' \
    "$CONFIG" > "$CONFIG.new" && mv "$CONFIG.new" "$CONFIG"
  echo "wrote $CONFIG with a generated secret"
fi
chmod 0640 "$CONFIG"
[ "$SYSTEMD" = 1 ] && chown root:friend "$CONFIG"
"$BIN" check-config --config "$CONFIG" >/dev/null

# Binding a port below 1024 (e.g. 443 for HTTPS) needs one capability, nothing else.
PORT=$(sed -n 's/^bind = "[^"]*:\([0-9]*\)".*/\1/p' "$CONFIG" | head -1)
CAPS="CapabilityBoundingSet="
if [ -n "$PORT" ] && [ "$PORT" -lt 1024 ]; then
  CAPS="CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE"
fi
cat > "$UNIT.new" <<UNITFILE
[Unit]
Description=Friend study-group server
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=friend
Group=friend
Environment=FRIEND_CONFIG=$CONFIG
ExecStart=$BIN serve
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20
UMask=0077
LimitNOFILE=65536
$CAPS
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
MemoryDenyWriteExecute=true
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
ReadWritePaths=$DATA_DIR $BACKUP_DIR
ReadOnlyPaths=$(dirname "$CONFIG")

[Install]
WantedBy=multi-user.target
UNITFILE
mv -f "$UNIT.new" "$UNIT"

if [ "$SYSTEMD" = 1 ]; then
  systemctl daemon-reload
  systemctl enable friend >/dev/null
  systemctl restart friend
  echo "friend is running: journalctl -u friend shows the address and the one-time admin setup link"
else
  echo "installed $BIN, $CONFIG, $DATA_DIR, $BACKUP_DIR and $UNIT (no service started)"
  echo "run it with: FRIEND_CONFIG=$CONFIG $BIN serve"
fi
