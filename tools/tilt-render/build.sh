#!/usr/bin/env bash
# Builds tilt-render from Debian's Go toolchain and its Starlark library (no module proxy needed).
# Usage: build.sh OUT_BINARY   (installs golang-go and golang-starlark-dev if missing)
set -euo pipefail
out=${1:-/tmp/tilt-render/tilt-render}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/go.starlark.net ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq golang-go golang-starlark-dev >/dev/null
fi
gp=$(mktemp -d)
mkdir -p "$gp/src/tiltrender"
cp "$here/main.go" "$gp/src/tiltrender/"
mkdir -p "$(dirname "$out")"
(cd "$gp/src/tiltrender" && GOPATH="$gp:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOCACHE="$gp/cache" go build -o "$out" .)
rm -rf "$gp"
echo "$out"
