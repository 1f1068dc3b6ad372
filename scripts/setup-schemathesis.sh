#!/usr/bin/env bash
# Installs schemathesis (pinned below) into a virtual environment under
# ~/.cache/flowplane/schemathesis-<version>/ and prints the path of its `st` executable on
# stdout (progress goes to stderr). Idempotent: when the venv and its marker exist, it only
# prints the path. The API contract test (apps/server/src/http/schemathesis.api.test.ts) runs it.
#
# FLOWPLANE_SCHEMATHESIS_BIN: use this `st` executable instead (nothing is installed).
# FLOWPLANE_PYTHON:           the interpreter to build the venv with (default python3; 3.10+).
# Needs network access to PyPI the first time only.
set -euo pipefail
version=4.32.5

if [ -n "${FLOWPLANE_SCHEMATHESIS_BIN:-}" ]; then
  [ -x "$FLOWPLANE_SCHEMATHESIS_BIN" ] || { echo "setup-schemathesis: FLOWPLANE_SCHEMATHESIS_BIN=$FLOWPLANE_SCHEMATHESIS_BIN is not an executable" >&2; exit 1; }
  echo "$FLOWPLANE_SCHEMATHESIS_BIN"
  exit 0
fi

dir="$HOME/.cache/flowplane/schemathesis-$version"
marker="$dir/.flowplane-installed"
if [ -x "$dir/bin/st" ] && [ -f "$marker" ]; then
  echo "$dir/bin/st"
  exit 0
fi

python=${FLOWPLANE_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' 2>/dev/null; then
  echo "setup-schemathesis: schemathesis $version needs Python 3.10 or newer; '$python' is $("$python" --version 2>&1 || echo missing)" >&2
  exit 1
fi

started=$(date +%s)
echo "setup-schemathesis: installing schemathesis $version into $dir" >&2
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "schemathesis==$version" >&2
[ -x "$dir/bin/st" ] || { echo "setup-schemathesis: $dir/bin/st is missing after the install" >&2; exit 1; }
# Written last, so an interrupted install is never mistaken for a complete one.
echo "$version" > "$marker"
echo "setup-schemathesis: done in $(( $(date +%s) - started ))s" >&2
echo "$dir/bin/st"
