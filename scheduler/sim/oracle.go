package sim

import (
	"fmt"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// oracle is greedy list scheduling on true costs: each tasklet in turn goes
// to the peer that would really finish it first, knowing this round's actual
// throughput and each shard's nearest source. No coordinator knows these; the
// row shows how much of the gap between ours and the lower bound comes from
// estimates rather than from placing greedily.
type oracle struct{}

func (oracle) name() string { return Oracle }

func (oracle) assign(c *call) ([]int, error) {
	w, rd := c.w, c.rd
	queue := make([]time.Duration, len(c.snap))
	fetched := make([]bool, len(c.snap)) // weights already fetched in this call
	var feasible []int
	for i := range c.snap {
		queue[i] = c.snap[i].Queue
		if placement.Check(&c.snap[i], &c.ts[0]) == "" {
			feasible = append(feasible, i)
		}
	}
	if len(feasible) == 0 {
		return nil, fmt.Errorf("%s: no feasible peer among %d", Oracle, len(c.snap))
	}
	out := make([]int, len(c.ts))
	for k, t := range c.tasks {
		cid := shardCID(t)
		best, bestEnd := -1, noDrop
		for _, i := range feasible {
			p := int(c.peers[i])
			r := w.peers[p].region
			end := queue[i] + rd.setup[r] + w.compute(rd, p)
			if !fetched[i] {
				end += rd.weightsT[r]
			}
			if w.peers[p].holds[cid] < w.cfg.ShardBytes {
				end += rd.shardT[t][r]
			}
			if end < bestEnd {
				best, bestEnd = i, end
			}
		}
		out[k], queue[best], fetched[best] = best, bestEnd, true
	}
	return out, nil
}
