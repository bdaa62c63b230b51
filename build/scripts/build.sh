#!/usr/bin/env bash
# Builds the desktop binary with the wails CLI.
#   build.sh [wails build flags...]   e.g. -platform windows/amd64
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
tags=()
# Distributions with only webkit2gtk 4.1 (Ubuntu 24.04+) need the tag.
if [[ " $* " != *" windows/"* ]] && ! pkg-config --exists webkit2gtk-4.0 2>/dev/null && pkg-config --exists webkit2gtk-4.1 2>/dev/null; then
	tags=(-tags webkit2_41)
fi
# -m: never run go mod tidy behind the developer's back; -s: the Makefile has built the frontend; -skipbindings: the frontend's api
# module calls window.go directly, so no generated bindings are needed.
exec "$gobin/wails" build -m -s -skipbindings -trimpath -ldflags "-X main.version=$version" "${tags[@]}" "$@"
