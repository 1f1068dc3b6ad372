#!/usr/bin/env bash
# Installs Langflow's executor (`lfx`, pinned with all its dependencies in
# adapters/engine-lfx/lfx-requirements.txt) into a virtual environment under
# ~/.cache/flowplane/lfx-<version>/, and prints the path of its `lfx` executable on stdout
# (progress goes to stderr). Idempotent: when the venv exists and its marker holds the digest
# of the same requirements file, it only prints the path (well under a second).
#
# FLOWPLANE_LFX_BIN: use this lfx executable instead (nothing is installed; it must exist).
# FLOWPLANE_PYTHON:  the interpreter to build the venv with (default python3; 3.10 to 3.14).
# Needs network access to PyPI the first time only.
set -euo pipefail
. "$(dirname "$0")/lib/cached-venv.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/adapters/engine-lfx/lfx-requirements.txt"

if [ -n "${FLOWPLANE_LFX_BIN:-}" ]; then
  [ -x "$FLOWPLANE_LFX_BIN" ] || { echo "setup-lfx: FLOWPLANE_LFX_BIN=$FLOWPLANE_LFX_BIN is not an executable" >&2; exit 1; }
  echo "$FLOWPLANE_LFX_BIN"
  exit 0
fi

version=$(sed -n 's/^lfx==//p' "$lock")
[ -n "$version" ] || { echo "setup-lfx: no lfx==<version> pin in $lock" >&2; exit 1; }
dir="$HOME/.cache/flowplane/lfx-$version"
marker="$dir/.flowplane-requirements.sha256"
digest=$(sha256sum "$lock" | cut -d' ' -f1)

if ! cached_venv_ready "$dir" "$marker" "$digest" bin/lfx; then
  cached_venv_build setup-lfx "$dir" "$marker" "$digest" bin/lfx 10 15 -- -r "$lock"
  installed=$("$dir/bin/python" -c 'import importlib.metadata as m; print(m.version("lfx"))')
  if [ "$installed" != "$version" ]; then
    rm -f "$marker"
    echo "setup-lfx: installed lfx $installed, expected $version" >&2
    exit 1
  fi
fi
echo "$dir/bin/lfx"
