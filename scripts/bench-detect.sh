#!/usr/bin/env bash
# Change-detection benchmark on a large pair, our `forest detect` beside a
# reference pipeline made of GDAL's own tools on the same files, in one run:
#   reference: gdal_calc.py (NDVI of both dates, SCL cloud/shadow mask, drop ≥ 0.30)
#              → gdal_sieve.py (8-connected, 30 px = 0.3 ha) → gdal_polygonize.py (GPKG)
#   forest:    forest detect before.tif after.tif (baseline, seasonal offset, NDVI and NBR,
#              clearing/degradation/burn, unobserved, 0.3 ha MMU, outlines, attribution to
#              the province's plots, priority, alerts written to a GeoPackage store)
# The pair: the committed sample scenes tiled into a ≥ 20,000 × 20,000 px mosaic over the
# province-scale plot layer (132 communes, 12 × 11 of them, so the mosaic inside their
# extent is over 20,000 px each way; four UInt16 bands B04 B08 B12 SCL, tiled GeoTIFF).
# Prints wall time (median of RUNS rounds, 3 by default), megapixels/s and peak memory (RSS)
# of each, and the ratio.
# Usage: bash scripts/bench-detect.sh [compression]   (NONE by default; DEFLATE also works)
set -euo pipefail
cd "$(dirname "$0")/.."
compress="${1:-NONE}"
bash scripts/setup-system.sh >/dev/null
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
cargo build --release --locked --quiet --bin forest
forest=$PWD/target/release/forest
data=target/bench-data/scale-132
work=target/bench-detect
mkdir -p "$work"
if [ ! -f "$data/province_plots.shp" ]; then
  $forest sample-data --scale 132 --out "$data" 2>/dev/null
fi
if [ ! -f "$work/plots.gpkg" ]; then
  $forest --store "$work/plots.gpkg.part" import plots "$data/province_plots.shp" >/dev/null 2>&1
  mv "$work/plots.gpkg.part" "$work/plots.gpkg"
fi
before=$(ls sample-data/scenes/S2B_MSIL2A_2025*.tif)
after=$(ls sample-data/scenes/S2A_MSIL2A_2026*.tif)
# Tile the sample scenes over the province plots' extent.
extent=$(ogrinfo -ro -so "$data/province_plots.shp" province_plots | sed -n 's/^Extent: //p')
for pair in "before:$before" "after:$after"; do
  name=${pair%%:*}; src=${pair#*:}
  out="$work/$name-$compress.tif"
  [ -f "$out" ] && continue
  /usr/bin/python3 - "$src" "$work/$name.vrt" "$extent" <<'PY'
import re, sys
from osgeo import gdal
src, vrt, extent = sys.argv[1], sys.argv[2], sys.argv[3]
x0, y0, x1, y1 = map(float, re.findall(r"-?\d+\.?\d*", extent))
ds = gdal.Open(src)
w, h = ds.RasterXSize, ds.RasterYSize
import math
x0, y1 = math.ceil(x0 / 10) * 10, math.floor(y1 / 10) * 10  # on the 10 m analysis grid
cols, rows = int((x1 - x0) / 10 / w), int((y1 - y0) / 10 / h)  # inside the plots' extent
assert cols * w >= 20000 and rows * h >= 20000, (cols * w, rows * h)
W, H = cols * w, rows * h
bands = []
for b in range(1, ds.RasterCount + 1):
    desc = ds.GetRasterBand(b).GetDescription()
    srcs = "".join(
        f'<SimpleSource><SourceFilename relativeToVRT="0">{src}</SourceFilename><SourceBand>{b}</SourceBand>'
        f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/><DstRect xOff="{c*w}" yOff="{r*h}" xSize="{w}" ySize="{h}"/></SimpleSource>'
        for r in range(rows) for c in range(cols))
    bands.append(f'<VRTRasterBand dataType="UInt16" band="{b}"><NoDataValue>0</NoDataValue><Description>{desc}</Description>{srcs}</VRTRasterBand>')
md = "".join(f'<MDI key="{k}">{v}</MDI>' for k, v in ds.GetMetadata().items())
open(vrt, "w").write(
    f'<VRTDataset rasterXSize="{W}" rasterYSize="{H}"><SRS>{ds.GetProjection()}</SRS>'
    f'<GeoTransform>{x0}, 10, 0, {y1}, 0, -10</GeoTransform><Metadata>{md}</Metadata>{"".join(bands)}</VRTDataset>')
print(W, H)
PY
  gdal_translate -q -of GTiff -co TILED=YES -co BLOCKXSIZE=512 -co BLOCKYSIZE=512 -co INTERLEAVE=BAND -co COMPRESS="$compress" -co BIGTIFF=YES \
    "$work/$name.vrt" "$out.part"
  mv "$out.part" "$out"
done
B="$work/before-$compress.tif"; A="$work/after-$compress.tif"
size=$(gdalinfo "$B" | sed -n 's/^Size is //p'); w=${size%,*}; h=${size#*, }
mpx=$(echo "$w * $h / 1000000" | bc -l)
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

runs="${RUNS:-3}"
# Each round runs the three reference steps and then forest detect, so both
# see the same machine; the figures are medians over $runs rounds (the
# machine is shared and a single run moves by ±20 %), memory the highest peak.
measure() { # label command...
  local label=$1; shift
  sync # the previous step's output written out first, not during this one
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >"$tmp/out" 2>&1 || { tail -20 "$tmp/out" >&2; echo "$label failed" >&2; exit 1; }
  cat "$tmp/time" >>"$tmp/$label.runs"
}
median() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
report() { # label
  local secs kb
  secs=$(awk '{ print $1 }' "$tmp/$1.runs" | median)
  kb=$(sort -n -k2 "$tmp/$1.runs" | tail -1 | awk '{ print $2 }')
  printf '%-44s %8.1f s %8.1f Mpx/s %8.0f MiB   (runs: %s)\n' "$1" "$secs" "$(echo "$mpx / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(awk '{ printf "%s%s", sep, $1; sep = " " }' "$tmp/$1.runs")"
}
echo "pair: $w × $h px ($(printf %.0f "$mpx") Mpx per scene), 4 bands UInt16, tiled 512, COMPRESS=$compress; plots: $(ogrinfo -ro -so "$data/province_plots.shp" province_plots | sed -n 's/^Feature Count: //p')"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(gdal-config --version | sed 's/^/GDAL /'), $(/usr/bin/python3 -c 'import numpy; print("numpy", numpy.__version__)')"
# warm the page cache for both so neither pays the first read
cat "$A" "$B" >/dev/null

export A B tmp
ref_calc='gdal_calc.py --quiet --overwrite --hideNoData --type=Byte --NoDataValue=0 --co TILED=YES --co COMPRESS=NONE \
    -A "$B" --A_band=1 -B "$B" --B_band=2 -C "$A" --C_band=1 -D "$A" --D_band=2 -E "$B" --E_band=4 -F "$A" --F_band=4 \
    --outfile="$tmp/mask.tif" \
    --calc="logical_and.reduce(((B.astype(float32)-A)/(B.astype(float32)+A+1e-6) - (D.astype(float32)-C)/(D.astype(float32)+C+1e-6) >= 0.30, isin(E, [2,4,5,6,7]), isin(F, [2,4,5,6,7]))).astype(uint8)"'
ref1="reference 1 gdal_calc.py"; ref2="reference 2 gdal_sieve.py"; ref3="reference 3 gdal_polygonize.py"; ours="forest detect (alerts written)"
for _ in $(seq "$runs"); do
  rm -f "$tmp/mask.tif" "$tmp/sieved.tif" "$tmp/ref.gpkg"
  measure "$ref1" bash -c "$ref_calc"
  measure "$ref2" gdal_sieve.py -q -st 30 -8 -nomask "$tmp/mask.tif" "$tmp/sieved.tif"
  measure "$ref3" gdal_polygonize.py -q -8 -mask "$tmp/sieved.tif" "$tmp/sieved.tif" -f GPKG "$tmp/ref.gpkg" alerts value
  cp "$work/plots.gpkg" "$tmp/store.gpkg"
  measure "$ours" env GDAL_NUM_THREADS=ALL_CPUS $forest --store "$tmp/store.gpkg" detect "$B" "$A"
done
for label in "$ref1" "$ref2" "$ref3" "$ours"; do report "$label"; done
# the reference's time per round: the sum of its three steps
paste -d' ' "$tmp/$ref1.runs" "$tmp/$ref2.runs" "$tmp/$ref3.runs" | awk '{ print $1 + $3 + $5, ($2 > $4 ? ($2 > $6 ? $2 : $6) : ($4 > $6 ? $4 : $6)) }' >"$tmp/reference pipeline, total.runs"
report "reference pipeline, total"
ref=$(awk '{ print $1 }' "$tmp/reference pipeline, total.runs" | median)
our=$(awk '{ print $1 }' "$tmp/$ours.runs" | median)
echo "throughput ratio forest / reference (medians): $(echo "scale=2; $ref / $our" | bc)"
echo "alerts: forest $(grep -o '^[0-9]* alert(s)' "$tmp/out" | head -1); reference polygons $(ogrinfo -ro -q -sql 'SELECT COUNT(*) AS n FROM alerts WHERE value = 1' "$tmp/ref.gpkg" | sed -n 's/.*n (Integer) = //p')"
