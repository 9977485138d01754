#!/usr/bin/env bash
# Builds Kubo's `ipfs` binary from the Go module proxy into a throwaway module,
# so nothing of Kubo is committed to gridswarm. Idempotent: an existing binary
# that reports the wanted version is kept.
#
# Usage: bench/kubo/build.sh [DIR]   (DIR defaults to $KUBO_DIR or /tmp/gridswarm-kubo)
set -euo pipefail

KUBO_VERSION=v0.38.1
# Kubo v0.38.1 pulls in swiss (through pebble) at a 2025 pseudo-version whose
# runtime-hasher hooks are build-tagged for older Go, so it fails to compile
# with Go 1.26. swiss has no tags; pin a pseudo-version that builds.
SWISS_VERSION=v0.0.0-20260820225851-333444432258

KUBO_DIR="${1:-${KUBO_DIR:-/tmp/gridswarm-kubo}}"
BIN="$KUBO_DIR/ipfs"
want="${KUBO_VERSION#v}"

if [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -q "version $want\$"; then
	echo "kubo $want already built" >&2
	echo "$BIN"
	exit 0
fi

mkdir -p "$KUBO_DIR"
cd "$KUBO_DIR"
# A module of its own: keep it out of any enclosing module or workspace.
export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"
if [[ ! -f go.mod ]]; then
	go mod init kubobuild >/dev/null
fi
cat > tools.go <<'GO'
//go:build tools

package kubobuild

import _ "github.com/ipfs/kubo/cmd/ipfs"
GO
go get "github.com/ipfs/kubo@$KUBO_VERSION"
go get "github.com/cockroachdb/swiss@$SWISS_VERSION"
go build -trimpath -o "$BIN" github.com/ipfs/kubo/cmd/ipfs

if ! "$BIN" version | grep -q "version $want\$"; then
	echo "built $BIN but it does not report version $want: $("$BIN" version)" >&2
	exit 1
fi
echo "$BIN"
