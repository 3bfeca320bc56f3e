#!/usr/bin/env bash
# End-to-end test of the web map in Debian's headless Chromium (playwright-core
# from npm drives it): serves the sample data with `forest demo` on a free
# loopback port and a fresh store, creates a ranger token, then checks that
# the page loads offline, plots render, the indicators and fire-danger panels
# fill, and a ranger clicking an alert sees its owner and contract holder and
# can start its verification. Installs chromium, Node.js and the npm package
# when absent. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  echo "test-web: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
fi
(cd tests/web && npm ci --no-audit --no-fund --silent)
cargo build --locked --quiet --bin forest
forest="$PWD/target/debug/forest"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
FOREST_BIND="127.0.0.1:$port" "$forest" --store "$work/forest.gpkg" demo --sample-dir sample-data >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "test-web: forest demo exited" >&2; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$work/server.log" >&2; echo "test-web: forest demo not ready after 120 s" >&2; exit 1; }
token="$("$forest" --store "$work/forest.gpkg" token create --role ranger --name "Kiểm lâm e2e" 2>/dev/null)"
mkdir -p target/web-e2e
FOREST_URL="http://127.0.0.1:$port" FOREST_RANGER_TOKEN="$token" SCREENSHOT_DIR="$PWD/target/web-e2e" \
  timeout 600 node tests/web/map.e2e.mjs
