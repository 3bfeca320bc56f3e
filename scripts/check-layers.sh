#!/usr/bin/env bash
# Fails when a crate depends on something its layer forbids (ARCHITECTURE.md):
#   core   — no I/O: no gdal, sqlx, rusqlite, axum, tokio, hyper (not even transitively)
#   sample — pure: no gdal, sqlx, rusqlite, axum, tokio
#   store  — no gdal, axum
#   api    — builds without GDAL (no gdal anywhere below it); no direct rusqlite/sqlx
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
tree() { cargo tree -q -e normal --prefix none -p "$1" "${@:2}" | sed 's/ v.*//' | sort -u; }
forbid() { # crate pattern why [depth-args...]
  local crate=$1 pattern=$2 why=$3; shift 3
  local hits
  hits=$(tree "$crate" "$@" | grep -Ex "$pattern" | tr '\n' ' ' || true)
  if [ -n "$hits" ]; then echo "check-layers: $crate depends on $hits— $why" >&2; fail=1; fi
}
forbid forest-core   'gdal|gdal-sys|sqlx|sqlx-core|rusqlite|libsqlite3-sys|axum|tokio|hyper|reqwest' "core does no I/O"
forbid forest-sample 'gdal|gdal-sys|sqlx|sqlx-core|rusqlite|axum|tokio|hyper' "the generator is pure"
forbid forest-store  'gdal|gdal-sys|axum|hyper' "storage knows nothing of GDAL or HTTP"
forbid forest-api    'gdal|gdal-sys' "the API must build without GDAL"
forbid forest-api    'rusqlite|libsqlite3-sys|sqlx' "the API reaches storage only through forest-store" --depth 1
forbid forest-ingest 'rusqlite|sqlx|axum|tokio' "ingest reads files, it does not store or serve"
[ "$fail" -eq 0 ] && echo "check-layers: every crate keeps to its layer"
exit "$fail"
