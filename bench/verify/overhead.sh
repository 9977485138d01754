#!/usr/bin/env bash
# What spot checks cost on a real local swarm as its workers build their
# records: one demo swarm (N daemons on 127.0.0.1, default 6: a coordinator
# and 5 honest workers), then JOBS runs of examples/jobs/mnist-mlp.yaml in a
# row on it, each job's verification overhead (replica compute over used
# compute, by the workers' receipts; `gridswarm verify show`):
#
#   go build -o /tmp/gridswarm ./cmd/gridswarm
#   GRIDSWARM=/tmp/gridswarm bench/verify/overhead.sh [JOBS] [N]
set -euo pipefail
bin=${GRIDSWARM:-gridswarm}
jobs=${1:-4}
n=${2:-6}
log=$(mktemp)
"$bin" demo -n "$n" --no-train --for 2h --keep >"$log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "the swarm is up" "$log" && break; sleep 0.2; done
dir=$(sed -n 's/^creating .* repos in //p' "$log")
gs() { GRIDSWARM_PASSWORD=gridswarm-demo "$bin" --repo "$dir/node0" "$@"; }
cid=$(gs data import mnist -q)
spec=$(mktemp --suffix .yaml)
sed "s/REPLACE_WITH_DATASET_CID/$cid/" "$(dirname "$0")/../../examples/jobs/mnist-mlp.yaml" >"$spec"
echo "| job | tasklets | spot-checked | verification overhead |"
echo "|---|---|---|---|"
for k in $(seq "$jobs"); do
  id=$(gs submit "$spec" -q)
  until grep -q '"status": "\(done\|failed\|cancelled\)"' <<<"$(gs job show "$id" --json)"; do sleep 1; done
  v=$(gs verify show "$id" --json)
  num() { grep -o "\"$1\": [0-9.e+-]*" <<<"$v" | head -1 | awk '{print $2}'; }
  printf '| %d | %s | %s | %.1f%% |\n' "$k" "$(num tasklets)" "$(num checked)" "$(awk -v o="$(num overhead)" 'BEGIN{print 100*o}')"
done
