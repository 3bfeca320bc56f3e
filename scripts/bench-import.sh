#!/usr/bin/env bash
# Import benchmark at province scale, our `forest import plots` beside GDAL's
# ogr2ogr loading the same file into the same kind of target, in one run:
#   GeoPackage: forest -> new .gpkg   vs  ogr2ogr -f GPKG
#   PostGIS:    forest -> new database vs  ogr2ogr -f PostgreSQL (PG_USE_COPY=YES)
# Prints wall time (median of RUNS runs, 3 by default), plots/s and peak memory
# (RSS) of each, and the ratios.
# Usage: bash scripts/bench-import.sh [scale]   (default 120 communes ≈ 212,000 plots)
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-120}"
bash scripts/setup-system.sh >/dev/null
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
admin="$(bash scripts/test-db.sh)"
base="${admin%/*}"
cargo build --release --locked --quiet --bin forest
forest=./target/release/forest
data="target/bench-data/scale-$scale"
if [ ! -f "$data/province_plots.shp" ]; then
  $forest sample-data --scale "$scale" --out "$data" 2>/dev/null
fi
shp="$data/province_plots.shp"
plots=$(ogrinfo -so "$shp" province_plots | sed -n 's/^Feature Count: //p')
work="$(mktemp -d)"
trap 'rm -rf "$work"; for d in bench_forest bench_ogr; do psql "$admin" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done' EXIT

runs="${RUNS:-3}"
# Each measurement runs $runs times (after its preparation: a new target) and
# reports the median time and the highest peak memory: one run alone is at the
# mercy of whatever else the machine does (PostgreSQL flushing the previous
# load's WAL, say).
measure() { # label prepare-command command...
  local label=$1 prepare=$2; shift 2
  : >"$work/runs"
  for _ in $(seq "$runs"); do
    [ -z "$prepare" ] || $prepare
    sync
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; echo "$label failed" >&2; exit 1; }
    cat "$work/time" >>"$work/runs"
  done
  secs=$(sort -n "$work/runs" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
  kb=$(sort -n -k2 "$work/runs" | tail -1 | awk '{ print $2 }')
  printf '%-40s %8.2f s %10.0f plots/s %8.0f MiB   (runs: %s)\n' "$label" "$secs" "$(echo "$plots / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(awk '{ printf "%s%s", sep, $1; sep = " " }' "$work/runs")"
  echo "$secs" >"$work/$label.secs"
}
fresh_db() { psql "$admin" -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1" >/dev/null 2>&1; psql "$base/$1" -qc "CREATE EXTENSION postgis" >/dev/null; }
new_forest_gpkg() { rm -f "$work/forest.gpkg"; }
new_ogr_gpkg() { rm -f "$work/ogr.gpkg"; }
new_forest_db() { fresh_db bench_forest; }
new_ogr_db() { fresh_db bench_ogr; }

echo "import of $shp: $plots plots; $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(gdal-config --version | sed 's/^/GDAL /'), $(psql "$admin" -tAc 'SHOW server_version' | sed 's/^/PostgreSQL /')"
measure "forest import -> GeoPackage" new_forest_gpkg $forest --store "$work/forest.gpkg" import plots "$shp"
measure "ogr2ogr -> GeoPackage" new_ogr_gpkg ogr2ogr -f GPKG "$work/ogr.gpkg" "$shp" -nln plots -nlt MULTIPOLYGON
measure "forest import -> PostGIS" new_forest_db $forest --store "$base/bench_forest" import plots "$shp"
# libpq key=value form of the admin URL (postgres://user:password@host:port/db)
conninfo=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print("host=%s port=%s user=%s password=%s dbname=bench_ogr" % (p.hostname, p.port or 5432, p.username, p.password or ""))' "$admin")
measure "ogr2ogr -> PostGIS (COPY)" new_ogr_db env PG_USE_COPY=YES ogr2ogr -f PostgreSQL "PG:$conninfo" "$shp" -nln plots -nlt MULTIPOLYGON
measure "forest re-import, unchanged -> PostGIS" "" $forest --store "$base/bench_forest" import plots "$shp"
ratio() { echo "scale=2; $(cat "$work/$1.secs") / $(cat "$work/$2.secs")" | bc; }
echo "ratio forest/ogr2ogr (time): GeoPackage $(ratio "forest import -> GeoPackage" "ogr2ogr -> GeoPackage"), PostGIS $(ratio "forest import -> PostGIS" "ogr2ogr -> PostGIS (COPY)")"
