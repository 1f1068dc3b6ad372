#!/usr/bin/env bash
# Installs schemathesis (pinned below) into a virtual environment under
# ~/.cache/flowplane/schemathesis-<version>/ and prints the path of its `st` executable on
# stdout (progress goes to stderr). Idempotent: when the venv and its marker exist, it only
# prints the path. The API contract test (apps/server/src/contract.e2e.test.ts) runs it.
#
# FLOWPLANE_SCHEMATHESIS_BIN: use this `st` executable instead (nothing is installed).
# FLOWPLANE_PYTHON:           the interpreter to build the venv with (default python3; 3.10+).
# Needs network access to PyPI the first time only.
set -euo pipefail
. "$(dirname "$0")/lib/cached-venv.sh"
version=4.32.5

if [ -n "${FLOWPLANE_SCHEMATHESIS_BIN:-}" ]; then
  [ -x "$FLOWPLANE_SCHEMATHESIS_BIN" ] || { echo "setup-schemathesis: FLOWPLANE_SCHEMATHESIS_BIN=$FLOWPLANE_SCHEMATHESIS_BIN is not an executable" >&2; exit 1; }
  echo "$FLOWPLANE_SCHEMATHESIS_BIN"
  exit 0
fi

dir="$HOME/.cache/flowplane/schemathesis-$version"
marker="$dir/.flowplane-installed"
if ! cached_venv_ready "$dir" "$marker" "$version" bin/st; then
  cached_venv_build setup-schemathesis "$dir" "$marker" "$version" bin/st 10 99 -- "schemathesis==$version"
fi
echo "$dir/bin/st"
