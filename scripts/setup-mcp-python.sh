#!/usr/bin/env bash
# Installs the official MCP Python SDK (`mcp` from PyPI, pinned below) into a virtual environment
# under ~/.cache/flowplane/mcp-python-<version>/ for the client compatibility suite, and prints the
# path of that venv's python on stdout (progress goes to stderr). Idempotent: when the venv is
# complete it only prints the path.
#
# FLOWPLANE_PYTHON: the interpreter to build the venv with (default python3; 3.10 or newer).
set -euo pipefail
version=1.30.0
dir="$HOME/.cache/flowplane/mcp-python-$version"
marker="$dir/.flowplane-complete"

if [ -x "$dir/bin/python" ] && [ -f "$marker" ]; then
  echo "$dir/bin/python"
  exit 0
fi

python=${FLOWPLANE_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' 2>/dev/null; then
  echo "setup-mcp-python: mcp $version needs Python 3.10 or newer; '$python' is $("$python" --version 2>&1 || echo missing)" >&2
  exit 1
fi
echo "setup-mcp-python: installing mcp $version into $dir" >&2
rm -rf "$dir"
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$version" >&2
"$dir/bin/python" -c 'import mcp.client.streamable_http' >&2
# Written last, so an interrupted install is never mistaken for a complete one.
touch "$marker"
echo "$dir/bin/python"
