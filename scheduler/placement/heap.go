package placement

import "time"

// entry is a peer in a shape's heap, keyed on its ETA when it holds none of
// the inputs; q is the queue the key was computed with.
type entry struct {
	key rankKey
	q   time.Duration
}

// entryHeap is a binary min-heap on rankKey, written out rather than through
// container/heap to avoid an interface call per comparison.
type entryHeap struct{ items []entry }

func (h *entryHeap) len() int { return len(h.items) }

func (h *entryHeap) less(i, j int) bool {
	return compareKeys(h.items[i].key, h.items[j].key) < 0
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
