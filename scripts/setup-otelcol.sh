#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the OTLP export test sends spans to: the Collector's own
# OTLP receiver (go.opentelemetry.io/collector v0.165.0, from the Go module proxy) with a file
# exporter (scripts/otelcol/main.go, modules pinned by its go.sum). Cached under
# ~/.cache/flowplane/otelcol-<version>/ and rebuilt only when main.go or go.sum change.
# Prints the binary's path. About 1.5 minutes on 2 cores with a warm module cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/otelcol" && pwd)
VERSION=v0.165.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/flowplane/otelcol-$VERSION
bin=$cache/otelcol
stamp=$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
if [ -x "$bin" ] && [ "$(cat "$cache/.stamp" 2>/dev/null)" = "$stamp" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "setup-otelcol: go is needed to build the collector" >&2; exit 1; }
mkdir -p "$cache/build"
cp "$here/main.go" "$here/go.mod" "$here/go.sum" "$cache/build/"
echo "setup-otelcol: building the OpenTelemetry Collector's OTLP receiver $VERSION" >&2
(cd "$cache/build" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "-s -w" -o "$bin.tmp" . >&2)
mv "$bin.tmp" "$bin"
echo "$stamp" > "$cache/.stamp"
echo "$bin"
