#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and run the service:
# GDAL 3.6 and PROJ 9.1 (headers and tools), SQLite, a C toolchain, and Rust.
# Idempotent: does nothing when everything is there. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(build-essential pkg-config libgdal-dev gdal-bin python3-gdal libproj-dev proj-bin libsqlite3-dev libclang-dev clang curl ca-certificates)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "setup: run as root or install sudo: apt-get needs to install ${packages[*]}" >&2; exit 1
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing the Rust toolchain with rustup (Debian 12's rustc is too old)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
    rustup component add "$c"
  fi
done
echo "setup: GDAL $(gdal-config --version), PROJ $(pkg-config --modversion proj), $(cargo --version)"
