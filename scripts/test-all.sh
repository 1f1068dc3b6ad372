#!/usr/bin/env bash
# The README's test command, and the whole of CI (.ci/run runs it): installs what the tests need
# on a bare machine (Debian, npm and PyPI packages, binaries built from the Go module proxy; the
# slow ones cached under ~/.cache/flowplane), starts the real services they use, and runs every
# test with CI=true, under which a test whose tool is missing fails instead of being skipped.
# Runs from a clone with ../shared (the shared Langflow fixtures) beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { echo "=== [$(( $(date +%s) - started ))s] $*"; }
# shellcheck source=lib/debian-packages.sh
. scripts/lib/debian-packages.sh

step "system packages"
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# lfx (Langflow's executor) runs in a Python venv: python3 with venv and pip.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3 python3-venv)
# The web UI's browser tests drive Debian's Chromium (playwright-core, no downloaded browser).
command -v chromium >/dev/null || need+=(chromium)
# The Kubernetes tests run a real control plane: etcd from Debian, the rest built with Go.
command -v etcd >/dev/null || need+=(etcd-server)
# The CLI's completion tests check the zsh script with zsh itself.
command -v zsh >/dev/null || need+=(zsh)
# The local driver sandboxes each replica with bubblewrap (its tests require it under CI=true).
command -v bwrap >/dev/null || need+=(bubblewrap)
# FLOWPLANE_GATEWAY_PROXY=haproxy's tests run Debian's HAProxy binary as flowplane's own child
# (haproxy.e2e.test.ts); the package's system service is never started (lib/debian-packages.sh).
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# The nginx + Lua data plane's tests (apps/server/src/nginx/*.nginx.test.ts) run Debian's nginx
# with OpenResty's Lua module as flowplane's own child, as HAProxy's do.
[ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ] && [ -e /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so ] && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || need+=(nginx libnginx-mod-http-lua lua-resty-core libnginx-mod-http-headers-more-filter)
install_debian_packages ${need[@]+"${need[@]}"}

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "lfx: Langflow's executor, pinned, in a venv cached under ~/.cache/flowplane"
FLOWPLANE_LFX_BIN=$(scripts/setup-lfx.sh)
export FLOWPLANE_LFX_BIN

step "MCP Python SDK for the client compatibility suite (a venv cached under ~/.cache/flowplane)"
FLOWPLANE_MCP_PYTHON=$(scripts/setup-mcp-python.sh)
export FLOWPLANE_MCP_PYTHON

step "Langflow 1.13 starter projects (from the pinned langflow-base wheel, cached under ~/.cache/flowplane)"
FLOWPLANE_STARTERS=$(scripts/fetch-starters.sh)
export FLOWPLANE_STARTERS

step "schemathesis: the API contract test's fuzzer, pinned, in a venv cached under ~/.cache/flowplane"
FLOWPLANE_SCHEMATHESIS_BIN=$(scripts/setup-schemathesis.sh)
export FLOWPLANE_SCHEMATHESIS_BIN

step "OpenTelemetry Collector (OTLP receiver + file exporter) for the trace export test, built from the Go module proxy, cached under ~/.cache/flowplane"
FLOWPLANE_OTELCOL_BIN=$(scripts/setup-otelcol.sh)
export FLOWPLANE_OTELCOL_BIN

step "Kubernetes control-plane binaries (built once from the Go module proxy, cached under ~/.cache/flowplane)"
scripts/k8s/install-binaries.sh

step "tests (npm test) with a throw-away PostgreSQL on loopback"
export CI=true
scripts/with-postgres.sh npm test

step "Kubernetes tests (npm run test:k8s) against a real API server with kwok nodes"
npm run test:k8s
step "done"
