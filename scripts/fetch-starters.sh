#!/usr/bin/env bash
# Fetches the 27 starter projects Langflow 1.13.0 ships (the flows Langflow users start from
# and export today) into ~/.cache/flowplane/starters-1.13.0/ and prints that folder on stdout
# (progress on stderr). They are the yardstick for "today's exports publish, deploy and run":
# same release as the pinned lfx (adapters/engine-lfx/lfx-requirements.txt).
#
# Source: the PyPI wheel langflow-base==1.13.0, files
# langflow/initial_setup/starter_projects/*.json, downloaded with pip and checked against the
# sha256 below. Never copied into the repository (they are Langflow's, and large).
# Idempotent: when the folder holds its marker, it only prints the path.
#
# FLOWPLANE_STARTERS: use this folder instead (nothing is downloaded; it must hold the JSON files).
set -euo pipefail
version=1.13.0
wheel="langflow_base-${version}-py3-none-any.whl"
# sha256 of $wheel as published on PyPI (pip download, 2026-11-30).
wheel_sha256=e15db23e16cf27d6d1ac8fcc5030cf25ad3a04356a9581862b4e97de739dd3a2
expected_count=27

if [ -n "${FLOWPLANE_STARTERS:-}" ]; then
  [ -d "$FLOWPLANE_STARTERS" ] || { echo "fetch-starters: FLOWPLANE_STARTERS=$FLOWPLANE_STARTERS is not a folder" >&2; exit 1; }
  echo "$FLOWPLANE_STARTERS"
  exit 0
fi

dir="$HOME/.cache/flowplane/starters-$version"
marker="$dir/.flowplane-wheel.sha256"
if [ "$(cat "$marker" 2>/dev/null)" = "$wheel_sha256" ]; then
  echo "$dir"
  exit 0
fi

python=${FLOWPLANE_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-starters: downloading $wheel" >&2
# --require-hashes pins the exact file: a different wheel under the same version is refused.
echo "langflow-base==$version --hash=sha256:$wheel_sha256" > "$tmp/req.txt"
"$python" -m pip download --quiet --disable-pip-version-check --no-input --no-deps \
  --only-binary=:all: --require-hashes -r "$tmp/req.txt" -d "$tmp" >&2
[ "$(sha256sum "$tmp/$wheel" | cut -d' ' -f1)" = "$wheel_sha256" ] || { echo "fetch-starters: $wheel does not have the pinned sha256" >&2; exit 1; }

# The marker is written last, so an interrupted extraction is never mistaken for a complete one.
rm -rf "$dir"
mkdir -p "$dir"
"$python" - "$tmp/$wheel" "$dir" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
prefix = "langflow/initial_setup/starter_projects/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and name.endswith(".json") and "/" not in name[len(prefix):]:
            with open(os.path.join(out, name[len(prefix):]), "wb") as f:
                f.write(z.read(name))
PY
count=$(find "$dir" -maxdepth 1 -name '*.json' | wc -l)
[ "$count" -eq "$expected_count" ] || { echo "fetch-starters: expected $expected_count starter projects, found $count" >&2; exit 1; }
echo "$wheel_sha256" > "$marker"
echo "fetch-starters: $count starter projects in $dir" >&2
echo "$dir"
