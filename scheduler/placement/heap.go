package placement

import "time"

// entry is a member of a group's heap: peer idx with its ETA, and the
// peer's version (see planner.ver) when the ETA was computed. It is kept
// small, the tie-breaks live in keys, so that heaps of thousands stay in
// cache.
type entry struct {
	eta time.Duration
	idx int32
	ver uint32
}

// entryHeap is a binary min-heap in rankKey order, written out rather than
// through container/heap to avoid an interface call per comparison.
type entryHeap struct {
	items []entry
	keys  []rankKey // per peer, eta unset
}

func (h *entryHeap) len() int { return len(h.items) }

// key is e as a rankKey.
func (h *entryHeap) key(e entry) rankKey {
	k := h.keys[e.idx]
	k.eta = e.eta
	return k
}

func (h *entryHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.eta != b.eta {
		return a.eta < b.eta
	}
	return compareKeys(h.keys[a.idx], h.keys[b.idx]) < 0 // equal etas: the tie-breaks
}

func (h *entryHeap) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *entryHeap) push(e entry) {
	h.items = append(h.items, e)
	h.up(len(h.items) - 1)
}

func (h *entryHeap) pop() entry {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	if last > 0 {
		h.down(0)
	}
	return top
}

func (h *entryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *entryHeap) down(i int) {
	n := len(h.items)
	for {
		small := i
		if l := 2*i + 1; l < n && h.less(l, small) {
			small = l
		}
		if r := 2*i + 2; r < n && h.less(r, small) {
			small = r
		}
		if small == i {
			return
		}
		h.items[i], h.items[small] = h.items[small], h.items[i]
		i = small
	}
}
