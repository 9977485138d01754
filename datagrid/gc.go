package datagrid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNotPinned is returned by Unpin for a CID without a pin.
var ErrNotPinned = errors.New("not pinned")

// GCResult tells what a collection removed.
type GCResult struct {
	RemovedBlocks int
	FreedBytes    uint64
	EvictedCache  int // cache entries dropped (EvictCache and quota eviction)
	Duration      time.Duration
}

// GC removes every block that no pin and no cache entry reaches. It refuses
// to run (and deletes nothing) when a pinned DAG is missing an inner block,
// because it could not tell which blocks that pin needs.
func (g *Grid) GC(ctx context.Context) (GCResult, error) {
	g.gcLock.Lock()
	defer g.gcLock.Unlock()
	return g.sweepLocked(ctx)
}

// EvictCache drops least-recently-used cache entries until at least bytes
// of cached DAGs are dropped (0 drops them all), then collects garbage.
// Pins are never evicted.
func (g *Grid) EvictCache(ctx context.Context, bytes uint64) (GCResult, error) {
	return g.evict(ctx, bytes, cid.Undef)
}

func (g *Grid) evict(ctx context.Context, bytes uint64, keep cid.Cid) (GCResult, error) {
	g.gcLock.Lock()
	defer g.gcLock.Unlock()
	entries, err := g.listCache(ctx)
	if err != nil {
		return GCResult{}, err
	}
	b := g.newBatch(ctx)
	var dropped uint64
	n := 0
	for _, e := range entries { // oldest first
		if bytes > 0 && dropped >= bytes {
			break
		}
		if e.Root.Equals(keep) {
			continue
		}
		b.del(ctx, cacheKey(e.Root))
		dropped += e.Bytes
		n++
	}
	if err := b.commit(ctx); err != nil {
		return GCResult{}, fmt.Errorf("data gc: cannot drop cache entries: %w", err)
	}
	res, err := g.sweepLocked(ctx)
	res.EvictedCache = n
	if n > 0 && g.cfg.Metrics != nil {
		g.cfg.Metrics.Evicted(n)
	}
	if n > 0 {
		g.log.Info("evicted cache entries", "entries", n, "freed", res.FreedBytes)
	}
	return res, err
}

func (g *Grid) sweepLocked(ctx context.Context) (res GCResult, err error) {
	start := time.Now()
	// Pins dropped from here on are seen by the next sweep.
	g.garbage.Store(false)
	defer func() {
		if err != nil {
			g.garbage.Store(true)
		}
	}()
	live, err := g.markLive(ctx)
	if err != nil {
		return GCResult{}, err
	}
	keys, err := g.raw.AllKeysChan(ctx)
	if err != nil {
		return GCResult{}, fmt.Errorf("data gc: cannot list blocks: %w", err)
	}
	var doomed []cid.Cid
	for k := range keys {
		if _, ok := live[string(k.Hash())]; !ok {
			doomed = append(doomed, k)
		}
	}
	if err := ctx.Err(); err != nil {
		return GCResult{}, fmt.Errorf("data gc: listing blocks was interrupted: %w", err)
	}
	before := g.usedBytes()
	for _, k := range doomed {
		if err := g.raw.DeleteBlock(ctx, k); err != nil {
			return res, fmt.Errorf("data gc: cannot delete block %s: %w", k, err)
		}
		res.RemovedBlocks++
	}
	if after := g.usedBytes(); before > after {
		res.FreedBytes = before - after
	}
	res.Duration = time.Since(start)
	return res, nil
}

// markLive returns the multihashes of every block reachable from a pin or
// cache entry. A pin whose inner node is missing is an error; a cache entry
// may be partial (an interrupted fetch) and is followed as far as it goes.
func (g *Grid) markLive(ctx context.Context) (map[string]struct{}, error) {
	live := map[string]struct{}{}
	pins, err := g.listPinRecords(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pins {
		if err := g.markDAG(ctx, p.Root, live, true); err != nil {
			return nil, fmt.Errorf("data gc: pinned %s is incomplete (%w); GC refused so it deletes nothing the pin needs: run gridswarm data pin %s to fetch it again, or unpin it", p.Root, err, p.Root)
		}
	}
	cache, err := g.listCache(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range cache {
		if err := g.markDAG(ctx, e.Root, live, false); err != nil {
			return nil, err
		}
	}
	return live, nil
}

func (g *Grid) markDAG(ctx context.Context, root cid.Cid, live map[string]struct{}, strict bool) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := string(c.Hash())
		if _, ok := live[key]; ok {
			continue
		}
		live[key] = struct{}{}
		if c.Type() == cid.Raw {
			continue // a leaf: nothing below it
		}
		links, err := g.localLinks(ctx, c)
		if ipld.IsNotFound(err) && !strict {
			continue
		}
		if err != nil {
			return err
		}
		for _, l := range links {
			stack = append(stack, l.Cid)
		}
	}
	return nil
}

// Pin is PinOwned for the owner "user", named by its CID.
func (g *Grid) Pin(ctx context.Context, c cid.Cid, hints ...peer.AddrInfo) error {
	return g.PinOwned(ctx, c, OwnerUser, "", hints...)
}

// Unpin removes every owner's pin of c; its blocks go at the next GC (or
// when the quota needs room) unless another pin or a cache entry
// references them. UnpinOwned removes one owner's pin.
func (g *Grid) Unpin(ctx context.Context, c cid.Cid) error {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	ok, err := g.isPinned(ctx, c)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("data unpin: %s: %w", c, ErrNotPinned)
	}
	b := g.newBatch(ctx)
	b.del(ctx, pinKey(c))
	if err := b.commit(ctx); err != nil {
		return err
	}
	g.garbage.Store(true)
	return nil
}

// Pins lists the pins, one per (CID, owner), oldest DAG first.
func (g *Grid) Pins(ctx context.Context) ([]Pin, error) {
	return g.listPins(ctx)
}

// reserve promises need bytes of the quota to an operation. When the
// quota is short it first collects released data (pins dropped since the
// last sweep), then evicts least-recently-used cache entries (never keep,
// never pins) if that makes room. When eviction cannot make room it
// touches no cache entry.
func (g *Grid) reserve(ctx context.Context, op string, need uint64, keep cid.Cid) (*reservation, error) {
	res, qerr := g.quota.tryReserve(op, need)
	if qerr == nil {
		return res, nil
	}
	if g.garbage.Load() {
		// A failed sweep (an incomplete pin, say) deletes nothing; the
		// operation may still fit by evicting cache, so go on.
		if _, err := g.GC(ctx); err != nil {
			g.log.Warn("cannot collect released data to make room", "op", op, "err", err)
		} else if res, qerr = g.quota.tryReserve(op, need); qerr == nil {
			return res, nil
		}
	}
	cache, err := g.listCache(ctx)
	if err != nil {
		return nil, err
	}
	var evictable uint64
	for _, e := range cache {
		if !e.Root.Equals(keep) {
			evictable += e.Bytes
		}
	}
	if evictable == 0 || need > qerr.Free+evictable {
		return nil, qerr
	}
	if _, err := g.evict(ctx, need-qerr.Free, keep); err != nil {
		return nil, fmt.Errorf("%s: cannot evict cache to make room: %w", op, err)
	}
	res, qerr = g.quota.tryReserve(op, need)
	if qerr != nil {
		return nil, qerr
	}
	return res, nil
}
