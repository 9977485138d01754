package placement

import (
	"math"
	"slices"
)

// holdings tracks the inputs each peer holds in full, from the snapshot or
// planned by this Place call. Once a tasklet is placed on a peer, the peer
// will have fetched its inputs before it runs the next one, so a later
// tasklet there that shares an input (the round's weights) does not pay for
// it again. Only inputs two or more tasklets use are recorded: an input of
// one tasklet is never planned on a peer before that tasklet is ranked.
//
// A shared input is tracked when enough tasklets use it (the weights): the
// peers holding it then move to other groups (see group). The holders of any
// other input, snapshot or planned, are ranked one by one for every tasklet
// that needs it, which costs about uses² × replicas in all: cheaper than
// groups of all peers until uses² passes the number of peers.
type holdings struct {
	index   map[string]int32 // shared CID → its number
	bytes   []uint64         // per shared CID
	tracked []bool           // per shared CID
	full    [][]int32        // per peer: shared CIDs it holds in full, ascending
	holders [][]int32        // per tracked CID: peers holding it in full
	// scan maps a CID to peers whose copy of it is ranked exactly for every
	// tasklet that needs it: the holders of an untracked CID, snapshot or
	// planned, and the partial holders of a tracked one.
	scan map[string][]int32
}

func newHoldings(peers []Peer, tasklets []Tasklet) *holdings {
	uses := map[string]int{}
	for i := range tasklets {
		for _, in := range tasklets[i].Inputs {
			uses[in.CID]++
		}
	}
	trackMin := max(minHeapUses, int(math.Sqrt(float64(len(peers)))))
	h := &holdings{index: map[string]int32{}, full: make([][]int32, len(peers)), scan: map[string][]int32{}}
	for i := range tasklets {
		for _, in := range tasklets[i].Inputs {
			if _, seen := h.index[in.CID]; !seen && uses[in.CID] >= 2 {
				h.index[in.CID] = int32(len(h.bytes))
				h.bytes = append(h.bytes, in.Bytes)
				h.tracked = append(h.tracked, uses[in.CID] >= trackMin)
			}
		}
	}
	h.holders = make([][]int32, len(h.bytes))
	for i := range peers {
		for cid, b := range peers[i].Holds {
			if b == 0 || uses[cid] == 0 {
				continue
			}
			x, shared := h.index[cid]
			if shared && b >= h.bytes[x] {
				h.gain(int32(i), x)
			}
			if !shared || !h.tracked[x] || b < h.bytes[x] {
				h.scan[cid] = append(h.scan[cid], int32(i))
			}
		}
	}
	for _, hs := range h.scan {
		slices.Sort(hs) // map order is random; keep the scan order stable
	}
	return h
}

func (h *holdings) has(p, x int32) bool { return slices.Contains(h.full[p], x) }

// mask has bit j set when p holds tracked[j] in full.
func (h *holdings) mask(p int32, tracked []int32) uint8 {
	var m uint8
	if len(h.full[p]) == 0 {
		return 0
	}
	for j, x := range tracked {
		if h.has(p, x) {
			m |= 1 << j
		}
	}
	return m
}

// gain records that p holds x in full; false if it already did.
func (h *holdings) gain(p, x int32) bool {
	at, found := slices.BinarySearch(h.full[p], x)
	if found {
		return false
	}
	h.full[p] = slices.Insert(h.full[p], at, x)
	if h.tracked[x] {
		h.holders[x] = append(h.holders[x], p)
	}
	return true
}
