#!/usr/bin/env bash
# Refreshes the web map's vendored MapLibre GL JS from the npm registry.
# The files are committed (crates/api/web/vendor/) and compiled into the
# binary, so the map works offline on a commune LAN and the build needs no
# Node.js. Usage: bash scripts/vendor-web.sh [version]   (default: the pinned one)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-$(sed -n 's/^maplibre-gl@//p' crates/api/web/vendor/VERSION)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "maplibre-gl@$version" >/dev/null && tar xzf maplibre-gl-*.tgz)
dest=crates/api/web/vendor
cp "$work/package/dist/maplibre-gl.js" "$work/package/dist/maplibre-gl.css" "$dest/"
cp "$work/package/LICENSE.txt" "$dest/MAPLIBRE-LICENSE.txt"
echo "maplibre-gl@$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$work/package/package.json" | head -1)" >"$dest/VERSION"
(cd "$dest" && sha256sum maplibre-gl.js maplibre-gl.css >SHA256SUMS)
echo "vendored $(cat "$dest/VERSION") into $dest"
