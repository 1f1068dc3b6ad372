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

# The marker is written last, so an interrupted install is never mistaken for a complete one.
if [ -x "$dir/bin/lfx" ] && [ "$(cat "$marker" 2>/dev/null)" = "$digest" ]; then
  echo "$dir/bin/lfx"
  exit 0
fi

python=${FLOWPLANE_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 15) else 1)' 2>/dev/null; then
  echo "setup-lfx: lfx $version needs Python 3.10 to 3.14; '$python' is $("$python" --version 2>&1 || echo missing)" >&2
  exit 1
fi

started=$(date +%s)
echo "setup-lfx: installing lfx $version into $dir" >&2
# A venv records its own absolute path, so it is built in place rather than moved there.
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$lock" >&2
installed=$("$dir/bin/python" -c 'import importlib.metadata as m; print(m.version("lfx"))')
[ "$installed" = "$version" ] || { echo "setup-lfx: installed lfx $installed, expected $version" >&2; exit 1; }
[ -x "$dir/bin/lfx" ] || { echo "setup-lfx: $dir/bin/lfx is missing after the install" >&2; exit 1; }
echo "$digest" > "$marker"
echo "setup-lfx: done in $(( $(date +%s) - started ))s" >&2
echo "$dir/bin/lfx"
