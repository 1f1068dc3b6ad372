#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server on loopback, and
# FLOWPLANE_TEST_DATABASE_URL pointing at it; the server and its folder are removed afterwards.
# Usage: scripts/with-postgres.sh npm test
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql). As root, the server
# runs as the postgres user (PostgreSQL refuses to run as root).
set -euo pipefail

if [ -n "${FLOWPLANE_TEST_DATABASE_URL:-}" ]; then exec "$@"; fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "with-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi

port=${FLOWPLANE_TEST_PG_PORT:-$((20000 + RANDOM % 20000))}
dir=$(mktemp -d /tmp/flowplane-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U flowplane --no-sync >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

export FLOWPLANE_TEST_DATABASE_URL="postgres://flowplane@127.0.0.1:$port/postgres"
set +e
"$@"
status=$?
set -e
exit $status
