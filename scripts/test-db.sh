#!/usr/bin/env bash
# Makes sure a PostgreSQL server with PostGIS answers on 127.0.0.1:5432 for the
# tests, installing postgresql-15 and postgresql-15-postgis-3 from Debian when
# absent and starting the cluster when it is down. Prints the admin URL the
# tests use (FOREST_TEST_PG). Needs root (or sudo) for apt-get and the cluster.
set -euo pipefail

url="${FOREST_TEST_PG:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  echo "test-db: installing PostgreSQL 15 + PostGIS 3" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-15-postgis-3 postgresql-client-15 >/dev/null
fi

# the server version decides the PostGIS package
read -r ver cluster port status _ < <(pg_lsclusters -h | head -n 1)
if ! installed "postgresql-${ver}-postgis-3"; then
  echo "test-db: installing postgresql-${ver}-postgis-3" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "postgresql-${ver}-postgis-3" >/dev/null
fi
if [ "$status" != "online" ]; then
  echo "test-db: starting cluster ${ver}/${cluster}" >&2
  "${sudo_cmd[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start 2>/dev/null || "${sudo_cmd[@]}" pg_ctlcluster "$ver" "$cluster" start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$port" || { echo "test-db: PostgreSQL does not answer on 127.0.0.1:$port" >&2; exit 1; }

# a fresh Debian cluster has peer/scram authentication: give postgres the test password
if ! psql "$url" -qtAc 'SELECT 1' >/dev/null 2>&1; then
  echo "test-db: setting the password of the postgres role for local tests" >&2
  "${sudo_cmd[@]}" runuser -u postgres -- psql -p "$port" -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
fi
psql "$url" -qtAc 'SELECT 1' >/dev/null || { echo "test-db: cannot connect to $url" >&2; exit 1; }
# drop databases left behind by killed test runs
for db in $(psql "$url" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'forest\_test\_%' OR datname LIKE 'forest\_cli\_%'"); do
  psql "$url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
done
echo "$url"
