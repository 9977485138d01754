#!/bin/sh
# Builds the mnist-wasm training program as a WASI command module.
# Reproducible: -trimpath and an empty build ID make the bytes (and so the
# program's CID) depend only on the source and the Go version.
#
#   examples/mnist-wasm/build.sh [OUT]      # default: mnist.wasm here
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/mnist.wasm}
cd "$here/../.."
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o "$out" ./examples/mnist-wasm
sha256sum "$out"
