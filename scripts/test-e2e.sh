#!/usr/bin/env bash
# End-to-end tests against a running service: serves the sample data with
# `forest demo` on a free loopback port and a fresh store, then
#  1. the web map in Debian's headless Chromium (playwright-core from npm
#     drives it): the page loads offline, plots render, the indicators and
#     fire-danger panels fill, a ranger clicking an alert sees its owner and
#     contract holder and can start its verification;
#  2. the whole HTTP API fuzzed from its own OpenAPI document (/api) with
#     schemathesis from PyPI, signed in as an admin: no 5xx, every status code,
#     content type, header and body as documented (a fixed seed: repeatable).
# Installs chromium, Node.js, python3-venv and the packages when absent.
# Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  echo "test-e2e: installing ${need[*]}"
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
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "test-e2e: forest demo exited" >&2; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$work/server.log" >&2; echo "test-e2e: forest demo not ready after 120 s" >&2; exit 1; }
token="$("$forest" --store "$work/forest.gpkg" token create --role ranger --name "Kiểm lâm e2e" 2>/dev/null)"
mkdir -p target/web-e2e
status=0
FOREST_URL="http://127.0.0.1:$port" FOREST_RANGER_TOKEN="$token" SCREENSHOT_DIR="$PWD/target/web-e2e" \
  timeout 600 node tests/web/map.e2e.mjs || status=1

# 2. the API from its OpenAPI document
venv=target/venv-schemathesis
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q "schemathesis==4.32.5"; }
admin="$("$forest" --store "$work/forest.gpkg" token create --role admin --name "schemathesis" 2>/dev/null)"
if timeout 900 "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api" --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $admin" --seed 20261129 --generation-deterministic --max-examples 50 --workers 1 \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    >"$work/fuzz.log" 2>&1; then
  echo "test api::fuzz_from_openapi ($(grep -Eo '[0-9]+ generated' "$work/fuzz.log" | head -1) cases, no 5xx, as documented) ... ok"
  echo "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"
else
  cat "$work/fuzz.log"
  echo "test api::fuzz_from_openapi ... FAILED"
  echo "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
  status=1
fi
exit "$status"
