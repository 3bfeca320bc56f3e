#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine too: installs the system
# packages and PostgreSQL + PostGIS when absent, then checks formatting, lints,
# crate layering, and runs every test (unit, doc, store conformance against
# GeoPackage and PostGIS, black-box CLI tests, the web map end to end in
# headless Chromium, the HTTP API fuzzed from its OpenAPI document).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
export PATH="$HOME/.cargo/bin:$PATH"
FOREST_TEST_PG="$(bash scripts/test-db.sh)"
export FOREST_TEST_PG
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo fmt --all -- --check
bash scripts/check-layers.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
log="$(mktemp)"
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# end to end: the web map in headless Chromium, the API fuzzed from /api
bash scripts/test-e2e.sh 2>&1 | tee -a "$log"
web=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$web
set -e
# one closing line for the whole run (cargo's last line is a doc-test section)
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1); if ($i == "ignored;") s += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
