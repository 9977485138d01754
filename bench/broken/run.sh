#!/usr/bin/env bash
# The demo's round time with one of its four workers broken (a data-grid
# quota below one shard: it declines every tasklet over-quota) against none
# broken, alternating the two so both see the same machine load.
#
#   bench/broken/run.sh [RUNS]        # default 3 runs of each
#
# Prints each run's median round time and the ratio of the medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}"
runs="${1:-3}"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/gridswarm" ./cmd/gridswarm

median_of() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
for i in $(seq "$runs"); do
  for broken in 0 1; do
    if ! "$bin/gridswarm" demo --broken "$broken" --for 1ms > "$bin/demo.log" 2>&1; then
      echo "run $i  broken $broken  the demo failed:"; tail -5 "$bin/demo.log"; exit 1
    fi
    line=$(grep '^round time:' "$bin/demo.log")
    t=$(sed -E 's/^round time: median ([0-9.]+) s.*/\1/' <<<"$line")
    echo "run $i  broken $broken  $line"
    times[$broken]+="$t "
  done
done
m0=$(tr ' ' '\n' <<<"${times[0]}" | grep . | median_of)
m1=$(tr ' ' '\n' <<<"${times[1]}" | grep . | median_of)
echo "median round time: none broken ${m0} s, one of four broken ${m1} s, ratio $(awk -v a="$m1" -v b="$m0" 'BEGIN {printf "%.2f", a/b}')"
