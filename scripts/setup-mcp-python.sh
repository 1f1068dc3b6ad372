#!/usr/bin/env bash
# Installs the official MCP Python SDK (`mcp` from PyPI, pinned below) into a virtual environment
# under ~/.cache/flowplane/mcp-python-<version>/ for the client compatibility suite, and prints the
# path of that venv's python on stdout (progress goes to stderr). Idempotent: when the venv is
# complete it only prints the path.
#
# FLOWPLANE_PYTHON: the interpreter to build the venv with (default python3; 3.10 or newer).
set -euo pipefail
. "$(dirname "$0")/lib/cached-venv.sh"
version=1.30.0
dir="$HOME/.cache/flowplane/mcp-python-$version"
marker="$dir/.flowplane-complete"

if ! cached_venv_ready "$dir" "$marker" "$version" bin/python; then
  cached_venv_build setup-mcp-python "$dir" "$marker" "$version" bin/python 10 99 -- "mcp==$version"
  "$dir/bin/python" -c 'import mcp.client.streamable_http' >&2
fi
echo "$dir/bin/python"
