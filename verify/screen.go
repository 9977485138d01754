package verify

import (
	"fmt"
	"math"
	"sort"
)

// NormFactor is Screen's k: a delta whose L2 norm is more than k times
// the median norm of the round's deltas, or less than the median over k,
// is refused. Honest deltas of one round train the same model from the
// same global weights on shards of one data set, so their norms differ by
// small factors; a scaled poison (×10 or more) or a lazy zero delta falls
// outside. Subtler cheats are the replicas' job.
const NormFactor = 10.0

// MinScreened is the fewest finite deltas a round needs before Screen
// compares norms: with fewer the median says nothing.
const MinScreened = 3

// Screen runs the cheap checks on a round's deltas (keyed by tasklet or
// peer, as the caller likes) before aggregation: every weight and the loss
// finite, and the L2 norm within [median/k, median×k] of the round's
// finite deltas, k = NormFactor. It returns an error for each delta that
// fails; the map is empty when all pass.
func Screen(deltas map[string]Delta) map[string]error {
	return ScreenWith(deltas, NormFactor)
}

// ScreenWith is Screen with k in place of NormFactor (k > 1).
func ScreenWith(deltas map[string]Delta, k float64) map[string]error {
	bad := map[string]error{}
	norms := map[string]float64{}
	for id, d := range deltas {
		n, err := norm(d)
		if err != nil {
			bad[id] = err
			continue
		}
		norms[id] = n
	}
	if len(norms) < MinScreened {
		return bad
	}
	all := make([]float64, 0, len(norms))
	for _, n := range norms {
		all = append(all, n)
	}
	sort.Float64s(all)
	med := all[len(all)/2]
	if len(all)%2 == 0 {
		med = (all[len(all)/2-1] + all[len(all)/2]) / 2
	}
	for id, n := range norms {
		switch {
		case n > med*k:
			bad[id] = fmt.Errorf("delta L2 norm %.3g is more than %g× the round's median %.3g", n, k, med)
		case n < med/k:
			bad[id] = fmt.Errorf("delta L2 norm %.3g is less than 1/%g of the round's median %.3g", n, k, med)
		}
	}
	return bad
}

// norm is the L2 norm of d's weights, or an error naming the first value
// that is not finite.
func norm(d Delta) (float64, error) {
	if !finite(d.Loss) {
		return 0, fmt.Errorf("loss is %v, want a finite value", d.Loss)
	}
	var s float64
	for _, t := range d.Params {
		for i, x := range t.Data {
			if !finite(x) {
				return 0, fmt.Errorf("delta %s[%d] is %v, want a finite value", t.Name, i, x)
			}
			s += float64(x) * float64(x)
		}
	}
	return math.Sqrt(s), nil
}
