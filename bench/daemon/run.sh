#!/usr/bin/env bash
# Issue 2's benchmark: gridswarm's daemon against Kubo v0.38.1's, side by side
# in one run: exec-to-ready time, idle memory of 8 joined peers, scrypt unlock.
#
# Usage: bench/daemon/run.sh [benchmark flags, e.g. -rounds 10 -idle 60s]
#        BENCH_DAEMON_GRIDSWARM=/path/to/gridswarm bench/daemon/run.sh  (a prebuilt binary)
#
# It builds both daemons (Kubo through bench/kubo/build.sh, which needs the Go
# module proxy the first time), then re-executes itself in a new network
# namespace that holds only loopback, so neither daemon can send a packet
# off 127.0.0.0/8 whatever its configuration. The report goes to stdout and
# to bench/out/daemon-<date>.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BENCH_DAEMON_BIN:-/tmp/gridswarm-bench-daemon}"

if [[ "${BENCH_DAEMON_IN_NETNS:-}" != 1 ]]; then
	mkdir -p "$BIN" "$ROOT/bench/out"
	export CGO_CFLAGS="${CGO_CFLAGS:-} -Wno-deprecated-declarations"
	(cd "$ROOT" && go build -o "$BIN/bench-daemon" ./bench/daemon)
	if [[ -z "${BENCH_DAEMON_GRIDSWARM:-}" ]]; then
		(cd "$ROOT" && go build -o "$BIN/gridswarm" ./cmd/gridswarm)
		BENCH_DAEMON_GRIDSWARM="$BIN/gridswarm"
	fi
	IPFS_BIN="$("$ROOT/bench/kubo/build.sh" | tail -n 1)"
	export BENCH_DAEMON_IN_NETNS=1 BENCH_DAEMON_IPFS="$IPFS_BIN" BENCH_DAEMON_GRIDSWARM
	unshare_flags=(--net)
	if [[ "$(id -u)" != 0 ]]; then
		# Without root, a user namespace lets us own the new network namespace.
		unshare_flags+=(--map-root-user)
	fi
	exec unshare "${unshare_flags[@]}" "${BASH_SOURCE[0]}" "$@"
fi

# The benchmark brings loopback up itself (no iproute2 needed).
out="$ROOT/bench/out/daemon-$(date +%Y%m%d-%H%M%S).md"
"$BIN/bench-daemon" -gridswarm "$BENCH_DAEMON_GRIDSWARM" -ipfs "$BENCH_DAEMON_IPFS" -out "$out" "$@"
echo "report written to $out" >&2
