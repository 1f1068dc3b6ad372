# Sourced by the scripts that install a pinned Python tool into a virtual environment under
# ~/.cache/flowplane (setup-lfx.sh, setup-mcp-python.sh, setup-schemathesis.sh).
#
# The invariant all of them rely on: a venv is complete exactly when its marker file holds the
# expected key. The marker is written last, so an interrupted install is never mistaken for a
# complete one, and a changed pin (a different key) rebuilds the venv.

# cached_venv_ready DIR MARKER KEY EXE: succeeds when DIR/EXE is executable and MARKER holds KEY.
cached_venv_ready() {
  [ -x "$1/$4" ] && [ "$(cat "$2" 2>/dev/null)" = "$3" ]
}

# cached_venv_build NAME DIR MARKER KEY EXE MIN_MINOR MAX_MINOR -- PIP_ARGS...
# Builds DIR as a venv with ${FLOWPLANE_PYTHON:-python3} (3.MIN_MINOR <= version < 3.MAX_MINOR),
# pip-installs PIP_ARGS into it, checks DIR/EXE exists, then writes KEY to MARKER.
# Progress goes to stderr; NAME prefixes every message.
cached_venv_build() {
  local name=$1 dir=$2 marker=$3 key=$4 exe=$5 min=$6 max=$7
  shift 7
  [ "$1" = "--" ] && shift
  local python=${FLOWPLANE_PYTHON:-python3}
  if ! "$python" -c "import sys; sys.exit(0 if (3, $min) <= sys.version_info[:2] < (3, $max) else 1)" 2>/dev/null; then
    echo "$name: needs Python 3.$min to 3.$((max - 1)); '$python' is $("$python" --version 2>&1 || echo missing)" >&2
    return 1
  fi
  local started
  started=$(date +%s)
  echo "$name: installing into $dir" >&2
  # A venv records its own absolute path, so it is built in place rather than moved there.
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@" >&2
  [ -x "$dir/$exe" ] || { echo "$name: $dir/$exe is missing after the install" >&2; return 1; }
  echo "$key" > "$marker"
  echo "$name: done in $(( $(date +%s) - started ))s" >&2
}
