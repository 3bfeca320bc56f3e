#!/usr/bin/env bash
# HTTP load benchmark at province scale (≥ 200,000 plots), both stores, and
# Martin serving tiles from the same PostGIS table, in one run:
#   items     /collections/plots/items?limit=100&bbox=…   (random bboxes)
#   feature   /collections/plots/items/{key}               (random plots)
#   tiles     /collections/plots/tiles/WebMercatorQuad/{z}/{y}/{x} at z10, z12, z14 (random tiles over the plots)
#   martin    the same tiles from Martin (one ST_AsMVT query per tile on the same table)
# wrk on loopback, 64 connections, 2 threads; many distinct requests so caches
# do not flatter the result. Prints requests/s, p50, p99 and errors of each,
# and the server's peak memory (VmHWM).
# Each server runs twice: as configured by default (its tile cache on: 64 MiB
# for forest, 512 MiB for Martin; every tile of the list requested once before
# the run) and with the tile cache off, so every tile is built from the store.
# Usage: bash scripts/bench-api.sh [scale]   (default 120 communes ≈ 212,000 plots)
#   DURATION=20s  length of each run;  STORES="gpkg postgis";  MARTIN=0 skips Martin
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-120}"
duration="${DURATION:-20s}"
conns=64
bash scripts/setup-system.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
admin="$(bash scripts/test-db.sh)"
base="${admin%/*}"
stores="${STORES:-gpkg postgis}"
martin="${MARTIN:-1}"
cargo build --release --locked --quiet --bin forest
forest=$PWD/target/release/forest
tools=$PWD/target/bench-tools
if [ "$martin" = 1 ] && [ ! -x "$tools/bin/martin" ]; then
  echo "bench-api: building Martin from crates.io (once; several minutes)" >&2
  # 1.14 is the last release for rustc 1.95; only the PostGIS source (the default
  # "rendering" feature clones maplibre-native from GitHub at build time)
  cargo install martin@1.14.0 --locked --no-default-features --features postgres --root "$tools" --quiet
fi
data=target/bench-data/scale-$scale
work=target/bench-api
mkdir -p "$work"
[ -f "$data/province_plots.shp" ] || $forest sample-data --scale "$scale" --out "$data" 2>/dev/null
shp="$data/province_plots.shp"
plots=$(ogrinfo -so "$shp" province_plots | sed -n 's/^Feature Count: //p')
if [ ! -f "$work/plots.gpkg" ]; then
  $forest --store "$work/plots.gpkg.part" import plots "$shp" >/dev/null 2>&1
  mv "$work/plots.gpkg.part" "$work/plots.gpkg"
fi
db=bench_api
if [ "$(psql "$base/$db" -tAc 'SELECT count(*) FROM plots' 2>/dev/null || echo 0)" != "$plots" ]; then
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null
  psql "$base/$db" -qc "CREATE EXTENSION postgis" >/dev/null
  $forest --store "$base/$db" import plots "$shp" >/dev/null 2>&1
  psql "$base/$db" -qc "VACUUM ANALYZE plots" >/dev/null
fi

# The request lists: random bboxes (about 1 km) over the plots, random plot
# keys, random tiles at z10/z12/z14 that hold plots.
/usr/bin/python3 - "$shp" "$work" <<'PY'
import math, random, sys
from osgeo import ogr, osr
shp, out = sys.argv[1], sys.argv[2]
random.seed(20261129)
ds = ogr.Open(shp); layer = ds.GetLayer(0)
src = layer.GetSpatialRef()
wgs = osr.SpatialReference(); wgs.ImportFromEPSG(4326); wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
to = osr.CoordinateTransformation(src, wgs)
n = layer.GetFeatureCount()
picks = sorted(random.sample(range(n), 5000))
keys, points = [], []
for i in picks:
    f = layer.GetFeature(i)
    keys.append("%05d/%s/%s/%s" % (f.GetField("maxa"), f.GetField("tk"), f.GetField("khoanh"), f.GetField("lo")))
    c = f.GetGeometryRef().Centroid()
    lon, lat, _ = to.TransformPoint(c.GetX(), c.GetY())
    points.append((lon, lat))
with open(out + "/feature.txt", "w") as fh:
    for k in keys:
        fh.write("/collections/plots/items/" + k.replace("/", "%2F") + "\n")
with open(out + "/items.txt", "w") as fh:
    for lon, lat in points:
        d = 0.005
        fh.write("/collections/plots/items?limit=100&bbox=%.5f,%.5f,%.5f,%.5f\n" % (lon - d, lat - d, lon + d, lat + d))
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
for z in (10, 12, 14):
    tiles = sorted({tile(lon, lat, z) for lon, lat in points})
    with open("%s/tiles-z%d.txt" % (out, z), "w") as fh:
        for x, y in tiles:
            fh.write("/collections/plots/tiles/WebMercatorQuad/%d/%d/%d\n" % (z, y, x))
    with open("%s/martin-z%d.txt" % (out, z), "w") as fh:
        for x, y in tiles:
            fh.write("/plots/%d/%d/%d\n" % (z, x, y))
PY

port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 120); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "bench-api: $1 not up" >&2; return 1; }
run() { # label url listfile
  local json
  # tiles: one request for every tile of the list first, as a server that has
  # been up a while has seen them (the tile caches, where on, hold them then;
  # the "no cache" runs build every tile every time). Then warm the page cache
  # and the pool, then measure.
  case "$3" in
    *tiles-z*|*martin-z*) sed "s|^|$2|" "$3" | xargs -P 4 -n 16 curl -s --max-time 60 >/dev/null || true ;;
  esac
  wrk -t2 -c"$conns" -d3s -s scripts/bench-api.lua "$2" -- "$3" >/dev/null 2>&1 || true
  json=$(wrk -t2 -c"$conns" -d"$duration" --timeout 10s -s scripts/bench-api.lua "$2" -- "$3" | grep '^{')
  /usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[2]); print("%-34s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   errors %d" % (sys.argv[1], d["rps"], d["p50_ms"], d["p99_ms"], d["errors"]))' "$1" "$json"
}
peak() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }

echo "HTTP load on $plots plots; wrk -t2 -c$conns -d$duration on loopback; $(nproc) cores; $(psql "$admin" -tAc 'SHOW server_version' | sed 's/^/PostgreSQL /')"
serve() { # store cache-mb; sets pid and url
  local p spec
  p=$(port)
  spec="$work/plots.gpkg"; [ "$1" = postgis ] && spec="$base/$db"
  FOREST_TILE_CACHE_MB="$2" RUST_LOG=warn "$forest" --store "$spec" serve --bind "127.0.0.1:$p" >"$work/serve-$1.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$p"
  wait_up "$url/readyz"
}
for store in $stores; do
  serve "$store" 64
  for kind in items feature tiles-z10 tiles-z12 tiles-z14; do
    run "forest ($store) $kind" "$url" "$work/$kind.txt"
  done
  echo "forest ($store) peak memory: $(peak $pid)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  serve "$store" 0
  for kind in tiles-z10 tiles-z12 tiles-z14; do
    run "forest ($store, no cache) $kind" "$url" "$work/$kind.txt"
  done
  echo "forest ($store, no cache) peak memory: $(peak $pid)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
[ "$martin" = 1 ] || exit 0
for cache in 512 0; do
  p=$(port)
  "$tools/bin/martin" --cache-size "$cache" --listen-addresses "127.0.0.1:$p" "$base/$db" >"$work/martin.log" 2>&1 &
  pid=$!
  wait_up "http://127.0.0.1:$p/catalog"
  label="martin (postgis)"; [ "$cache" = 0 ] && label="martin (postgis, no cache)"
  for z in 10 12 14; do
    run "$label tiles-z$z" "http://127.0.0.1:$p" "$work/martin-z$z.txt"
  done
  echo "$label peak memory: $(peak $pid)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
