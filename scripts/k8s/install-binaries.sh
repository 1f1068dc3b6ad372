#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the Kubernetes tests run against, from the Go
# module proxy at a pinned version, plus kwok (fake nodes and kubelets); cached under
# ~/.cache/flowplane/k8s-<version>/bin and reused when present. Prints that folder.
# etcd comes from Debian's etcd-server package (.ci/run installs it).
#
# Kubernetes 1.30 is the newest line that runs on Debian 12's etcd 3.4.23: 1.31 and later
# expect health endpoints that etcd only gained in 3.4.29 / 3.5.11.
set -euo pipefail

K8S_VERSION=${FLOWPLANE_K8S_VERSION:-v1.30.14}
KWOK_VERSION=${FLOWPLANE_KWOK_VERSION:-v0.6.1}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/flowplane/k8s-$K8S_VERSION
bin=$cache/bin
want=(kube-apiserver kube-controller-manager kube-scheduler kwok)

have_all() { for b in "${want[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all && [ "$(cat "$cache/.kwok-version" 2>/dev/null)" = "$KWOK_VERSION" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "install-binaries: go is needed to build the Kubernetes binaries" >&2; exit 1; }
mkdir -p "$bin" "$cache/build"
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
build=$cache/build
cd "$build"

# k8s.io/kubernetes points its staging modules at ./staging with replace directives, which a
# dependent module cannot follow: replace each with its published v0.x twin at the same patch.
minor=${K8S_VERSION#v1.}
staging=v0.$minor
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
{
  echo "module flowplane.local/k8s-build"
  echo
  echo "go 1.22"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$gomod" | grep -E '=> \./staging/' | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
echo "install-binaries: resolving modules for Kubernetes $K8S_VERSION" >&2
go mod tidy >&2
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  if [ ! -x "$bin/$cmd" ]; then
    echo "install-binaries: building $cmd (slow the first time: several minutes on 2 cores)" >&2
    go build -trimpath -ldflags "-s -w" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
  fi
done
echo "install-binaries: building kwok $KWOK_VERSION" >&2
GOBIN=$bin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
echo "$KWOK_VERSION" > "$cache/.kwok-version"
echo "$bin"
