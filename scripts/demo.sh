#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the service, loads the sample data
# into the embedded GeoPackage store (./data/forest.gpkg) and serves it on
# http://127.0.0.1:8080 (FOREST_BIND to change). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bin forest
exec ./target/release/forest demo --sample-dir sample-data
