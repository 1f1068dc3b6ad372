#!/usr/bin/env bash
# `npm run bench [-- name ... [options]]`: installs what the benchmarks compare against and
# load with, as the test command installs what the tests need, then builds and runs them
# (bench/run.mjs) with a throw-away PostgreSQL on loopback. A goal is printed only when its
# comparison was measured, so nothing is left to chance on a fresh machine:
# - Debian: PostgreSQL (the store benchmarks), nginx and wrk (the gateway's comparison and its
#   load generator), HAProxy (the gateway's native fast path), valgrind (haproxy-cost counts
#   instructions under callgrind), nginx's Lua module (haproxy-cost's candidate data plane,
#   bench/lib/nginx-lua-fast-path.mjs), python3-venv (lfx);
# - lfx (the engines benchmark) and the Langflow 1.13 starter projects (the per-starter
#   figures), cached under ~/.cache/flowplane as the tests' are;
# - the Kubernetes test cluster's binaries are built by bench/k8s.mjs itself, on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/debian-packages.sh
. scripts/lib/debian-packages.sh

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3 python3-venv)
[ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v valgrind >/dev/null || need+=(valgrind)
[ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need+=(libnginx-mod-http-lua)
# Not fatal: a machine where they cannot be installed (no sudo) still runs the benchmarks that
# need none of them; those that do say what is missing (the gateway's goals: NOT MEASURED).
install_debian_packages ${need[@]+"${need[@]}"} || echo "bench: could not install ${need[*]}; the benchmarks that need them say so" >&2

[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
# Not fatal either: without lfx the engines benchmark cannot compare, without the starters it
# skips the per-starter figures (and says so); every other benchmark runs.
if [ -z "${FLOWPLANE_LFX_BIN:-}" ]; then
  FLOWPLANE_LFX_BIN=$(scripts/setup-lfx.sh) && export FLOWPLANE_LFX_BIN || { unset FLOWPLANE_LFX_BIN; echo "bench: lfx could not be installed (scripts/setup-lfx.sh)" >&2; }
fi
if [ -z "${FLOWPLANE_STARTERS:-}" ]; then
  FLOWPLANE_STARTERS=$(scripts/fetch-starters.sh) && export FLOWPLANE_STARTERS || { unset FLOWPLANE_STARTERS; echo "bench: the 1.13 starters could not be fetched (scripts/fetch-starters.sh)" >&2; }
fi

node scripts/build.mjs
exec scripts/with-postgres.sh node --enable-source-maps bench/run.mjs "$@"
