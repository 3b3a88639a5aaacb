#!/usr/bin/env bash
# Main job on a fresh machine: install what is missing, then run the demo cluster — 2 datacenters
# (3 racks in dc1, 1 in dc2), one dynoproxy node per rack, each beside its own real redis-server.
# `./scripts/start.sh --single` instead runs one proxy (conf/single.yml) in front of redis on 6379.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "installing redis-server and redis-tools (apt-get)..."
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund

if [ "${1:-}" != "--single" ]; then
  exec node_modules/.bin/node scripts/demo-cluster.ts
fi

REDIS_PID=
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis-server on 127.0.0.1:6379"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no >/tmp/dynoproxy-redis-6379.log 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "dynoproxy on 127.0.0.1:8102 in front of redis 127.0.0.1:6379 — try: redis-cli -p 8102 set foo bar; redis-cli -p 8102 get foo"
node_modules/.bin/node src/cli.ts -c conf/single.yml "${@:2}" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null; cleanup' EXIT INT TERM
wait $PROXY_PID
