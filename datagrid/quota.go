package datagrid

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gridswarm/gridswarm/internal/units"
)

// ErrQuotaExceeded is matched (errors.Is) by every *QuotaError.
var ErrQuotaExceeded = errors.New("storage quota exceeded")

// QuotaError says how much an operation needed and how much of the quota was
// free when it was refused. Nothing was written when it is returned.
type QuotaError struct {
	Op    string // "data add", "data fetch", "data get", "data pin"
	Need  uint64 // bytes the operation needs; for a stream, bytes read so far
	Free  uint64
	Quota uint64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s: needs %s but only %s of the %s quota is free; raise datagrid.quota_gib in config.toml or run gridswarm data gc",
		e.Op, humanBytes(e.Need), humanBytes(e.Free), humanBytes(e.Quota))
}

// Is makes errors.Is(err, ErrQuotaExceeded) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuotaExceeded }

func humanBytes(n uint64) string { return units.Bytes(n) }

// freeBytes is the quota left once used and reserved bytes are counted;
// ok is false for an unlimited quota.
func freeBytes(quota, used, pending uint64) (free uint64, ok bool) {
	if quota == 0 {
		return 0, false
	}
	if used+pending >= quota {
		return 0, true
	}
	return quota - used - pending, true
}

// quota tracks bytes promised to operations still writing, so two adds
// cannot both pass the up-front check and then overrun the quota together.
type quota struct {
	limit   uint64
	used    func() uint64
	mu      sync.Mutex
	pending uint64
}

// reservation is the part of the quota one operation may still write. The
// operation calls take before each write; bytes beyond the reservation are
// allowed only while the quota has room for them.
type reservation struct {
	q         *quota
	op        string
	remaining uint64
	written   uint64
}

// tryReserve reserves need bytes or reports how much is free.
func (q *quota) tryReserve(op string, need uint64) (*reservation, *QuotaError) {
	q.mu.Lock()
	defer q.mu.Unlock()
	free, limited := freeBytes(q.limit, q.used(), q.pending)
	if limited && need > free {
		return nil, &QuotaError{Op: op, Need: need, Free: free, Quota: q.limit}
	}
	if !limited {
		return &reservation{q: q, op: op}, nil
	}
	q.pending += need
	return &reservation{q: q, op: op, remaining: need}, nil
}

// free returns the free bytes now (0, false for an unlimited quota).
func (q *quota) free() (uint64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return freeBytes(q.limit, q.used(), q.pending)
}

// take accounts for n bytes about to be written.
func (r *reservation) take(n uint64) error {
	q := r.q
	q.mu.Lock()
	defer q.mu.Unlock()
	fromRes := min(n, r.remaining)
	if over := n - fromRes; over > 0 && q.limit > 0 {
		free, _ := freeBytes(q.limit, q.used(), q.pending)
		if over > free {
			return &QuotaError{Op: r.op, Need: r.written + n, Free: free + r.remaining, Quota: q.limit}
		}
	}
	r.remaining -= fromRes
	q.pending -= fromRes
	r.written += n
	return nil
}

// release gives back what the operation did not write.
func (r *reservation) release() {
	q := r.q
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending -= r.remaining
	r.remaining = 0
}
