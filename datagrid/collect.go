package datagrid

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Released DAGs are collected in the background soon after ReleaseOwner
// drops their last pin, so space freed by a job or a worker shows up in
// Stat (and in a worker's free-space check) without waiting for the quota
// to run short. Only the released DAGs are visited, never the whole block
// store, so this stays cheap on a node holding terabytes.

// noteReleased records DAGs whose last pin went and wakes the collector.
func (g *Grid) noteReleased(roots []cid.Cid) {
	g.garbage.Store(true)
	if len(roots) == 0 {
		return
	}
	g.releasedMu.Lock()
	for _, r := range roots {
		g.released[r] = struct{}{}
	}
	g.releasedMu.Unlock()
	select {
	case g.collectCh <- struct{}{}:
	default: // a collection is already due; it takes these too
	}
}

// collectLoop runs collections until ctx ends.
func (g *Grid) collectLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.collectCh:
			res, err := g.collectReleased(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				g.log.Warn("cannot collect released data; it goes at the next gc", "err", err)
			case res.RemovedBlocks > 0:
				g.log.Debug("collected released data", "blocks", res.RemovedBlocks, "freed", res.FreedBytes)
			}
		}
	}
}

// collectReleased deletes the blocks of the released DAGs that no pin or
// cache entry reaches. On failure it deletes nothing more and leaves the
// rest to the next GC (garbage stays flagged).
func (g *Grid) collectReleased(ctx context.Context) (GCResult, error) {
	g.releasedMu.Lock()
	roots := make([]cid.Cid, 0, len(g.released))
	for r := range g.released {
		roots = append(roots, r)
	}
	clear(g.released)
	g.releasedMu.Unlock()
	if len(roots) == 0 {
		return GCResult{}, nil
	}
	start := time.Now()
	g.gcLock.Lock()
	defer g.gcLock.Unlock()
	live, err := g.markLive(ctx)
	if err != nil {
		return GCResult{}, err
	}
	before := g.usedBytes()
	var res GCResult
	seen := map[string]struct{}{}
	stack := roots
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := string(c.Hash())
		if _, ok := seen[key]; ok {
			continue
		}
		seen[key] = struct{}{}
		if _, ok := live[key]; ok {
			continue // and so is everything below it
		}
		has, err := g.raw.Has(ctx, c)
		if err != nil {
			return res, fmt.Errorf("collect released: cannot check block %s: %w", c, err)
		}
		if !has {
			continue
		}
		links, err := g.localLinks(ctx, c)
		if err != nil && !ipld.IsNotFound(err) {
			return res, fmt.Errorf("collect released %s: %w", c, err)
		}
		for _, l := range links {
			stack = append(stack, l.Cid)
		}
		if err := g.raw.DeleteBlock(ctx, c); err != nil {
			return res, fmt.Errorf("collect released: cannot delete block %s: %w", c, err)
		}
		res.RemovedBlocks++
	}
	if after := g.usedBytes(); before > after {
		res.FreedBytes = before - after
	}
	res.Duration = time.Since(start)
	return res, nil
}

// DropCached removes the cache entries of roots (a coordinator that has
// aggregated the outputs it fetched no longer needs them) and deletes in
// the background the blocks no pin or other cache entry reaches. Pins are
// untouched; a root that is not cached is skipped.
func (g *Grid) DropCached(ctx context.Context, roots ...cid.Cid) error {
	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	b := g.newBatch(ctx)
	var dropped []cid.Cid
	for _, r := range roots {
		ok, err := g.meta.Has(ctx, cacheKey(r))
		if err != nil {
			return fmt.Errorf("drop cached %s: %w", r, err)
		}
		if ok {
			b.del(ctx, cacheKey(r))
			dropped = append(dropped, r)
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	if err := b.commit(ctx); err != nil {
		return fmt.Errorf("drop %d cache entries: %w", len(dropped), err)
	}
	g.noteReleased(dropped)
	return nil
}
