#!/usr/bin/env bash
# The demo's MNIST job (10 rounds on 10 workers, local swarm on 127.0.0.1)
# with 0, 1 and 3 of the 10 workers cheating, with spot checks (the job's
# default rates) and without (verify.rate and min_rate_new_peers 0; the
# cheap checks before aggregation stay on), all in one run:
#
#   go build -o /tmp/gridswarm ./cmd/gridswarm
#   GRIDSWARM=/tmp/gridswarm bench/verify/accuracy.sh [KIND] [RATE]
#
# KIND and RATE are the cheaters' fault (default noise 0.3). Prints a
# Markdown table: test accuracy, what verification cost, who was banned.
set -euo pipefail
bin=${GRIDSWARM:-gridswarm}
kind=${1:-noise}
rate=${2:-0.3}
echo "| cheating workers | spot checks | test accuracy | verification cost | cheaters banned | rounds' median time |"
echo "|---|---|---|---|---|---|"
for cheaters in 0 1 3; do
  for v in on off; do
    args=(demo -n 11 --cheaters "$cheaters" --cheat-kind "$kind" --cheat-rate "$rate" --for 1s)
    if [ "$v" = off ]; then args+=(--verify-rate 0 --verify-new 0); fi
    out=$("$bin" "${args[@]}" 2>&1 | tr '\r' '\n')
    acc=$(grep -o 'test accuracy [0-9.]*%' <<<"$out" | grep -o '[0-9.]*%' || echo "failed")
    cost=$(grep -o 'verification cost [0-9.]*%' <<<"$out" | grep -o '[0-9.]*%' || echo "-")
    banned=$(grep -c '(cheater) .* yes$' <<<"$out" || true)
    median=$(grep -o 'round time: median [0-9.]* s' <<<"$out" | grep -o '[0-9.]* s' || echo "-")
    echo "| $cheaters of 10 | $v | $acc | $cost | $banned of $cheaters | $median |"
  done
done
