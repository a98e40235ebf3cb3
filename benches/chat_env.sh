# Shared set-up of the chat_load benchmarks, sourced from the repo root with PORT set: builds the
# load generator ($LOAD), makes a work directory removed at exit, and exports limits high enough
# for the generator's students, sockets and chats.
cargo bench --bench chat_load --no-run --quiet 2>/dev/null
LOAD=$(ls -t target/release/deps/chat_load-* | grep -v '\.d$' | head -1)
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export FRIEND_LOG__LEVEL=warn FRIEND_CHAT__DM_POLICY=anyone FRIEND_CHAT__MAX_SOCKETS_PER_USER=100000 \
  FRIEND_CHAT__FRAMES_PER_SECOND=100000 FRIEND_CHAT__MAX_GROUP_MEMBERS=1000 \
  FRIEND_REGISTRATION=open FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP=10000000 \
  FRIEND_CHAT__FRIEND_REQUESTS_PER_HOUR=10000000 FRIEND_CHAT__NEW_CHATS_PER_HOUR=10000000 \
  FRIEND_BACKUP__ENABLED=false
