package datagrid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	// maxBlockSize is the largest block accepted from a peer, Kubo's
	// limit; bitswap messages themselves are capped at 4 MiB.
	maxBlockSize = 2 << 20
	// fetchBatch is how many wants one bitswap request carries.
	fetchBatch = 512
	// storeBatch caps the blocks written in one flatfs batch.
	storeBatch = 64
	// discoverAfter is how long a fetch waits on the peers it already
	// knows (hints first) before it asks the DHT for providers.
	discoverAfter  = 2 * time.Second
	connectTimeout = 10 * time.Second
	lookupTimeout  = 30 * time.Second
	lookupMax      = 16
	protectTag     = "datagrid-fetch"
)

// Fetch brings every block of c into the local store as a cache entry (not
// pinned, evicted least-recently-used first when the quota needs room) and
// returns the bytes it fetched from peers. Hints are connected and asked
// before the DHT. Fetching an already complete DAG only marks it used.
func (g *Grid) Fetch(ctx context.Context, c cid.Cid, hints ...peer.AddrInfo) (int64, error) {
	return g.ensureLocal(ctx, fetchPlan{op: "data fetch", root: c, hints: hints}, nil)
}

// fetchPlan is what ensureLocal is asked to do.
type fetchPlan struct {
	op       string
	root     cid.Cid
	hints    []peer.AddrInfo
	progress func(done, total int64)
	pin      *pinSpec // record a pin instead of a cache entry
	wait     Wait
}

// ensureLocal makes the DAG under p.root complete locally, records it (pin
// or cache) in the same batch that clears its in-flight marker, and then
// runs after (if any) while GC is still held off.
func (g *Grid) ensureLocal(ctx context.Context, p fetchPlan, after func(ctx context.Context) error) (int64, error) {
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, p.root); err != nil {
		return 0, fmt.Errorf("%s: %s is not an acceptable CID: %w", p.op, p.root, err)
	}
	if err := p.wait.Check(); err != nil {
		return 0, fmt.Errorf("%s %s: %w", p.op, p.root, err)
	}
	if held, err := g.useHeld(ctx, p, after); held {
		return 0, err
	}
	f := g.newFetcher(ctx, p)
	defer f.close()
	marker, err := g.beginInflight(ctx, p.op)
	if err != nil {
		return 0, err
	}
	total, local, err := g.measure(ctx, f)
	if err != nil {
		_ = g.meta.Delete(context.WithoutCancel(ctx), marker)
		return f.fetched, err
	}
	res, err := g.reserve(ctx, p.op, total-min(local, total), p.root)
	if err != nil {
		_ = g.meta.Delete(context.WithoutCancel(ctx), marker)
		return f.fetched, err
	}
	defer res.release()
	f.res = res

	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	werr := f.walk(ctx)
	out := fetchOutcome{total: total, complete: werr == nil, fetched: f.fetched, done: f.done, marker: marker}
	if rerr := g.recordFetch(context.WithoutCancel(ctx), p, out); rerr != nil && werr == nil {
		werr = rerr
	}
	if werr != nil {
		return f.fetched, werr
	}
	if f.fetched > 0 {
		g.announceTree(ctx, p.root)
	}
	if after != nil {
		return f.fetched, after(ctx)
	}
	return f.fetched, nil
}

// measure gets the root block (from peers if needed) and returns the DAG's
// declared total size and the bytes already held.
func (g *Grid) measure(ctx context.Context, f *fetcher) (total, local uint64, err error) {
	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	if err := f.fetchLevel(ctx, []cid.Cid{f.plan.root}, nil); err != nil {
		return 0, 0, err
	}
	h, err := g.holding(ctx, f.plan.root)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", f.plan.op, err)
	}
	f.total = int64(h.TotalBytes)
	return h.TotalBytes, h.LocalBytes, nil
}

// useHeld serves the common case of a DAG already complete here (a
// worker's held shard, weights it fetched before): nothing is fetched or
// written, so it needs no in-flight marker, no reservation and no second
// walk, only the record. The GC lock is held from the check to the record
// so that no collection removes a block in between. It reports false and
// does nothing when a block is missing or unreadable: the fetch path then
// does the work and says what went wrong.
func (g *Grid) useHeld(ctx context.Context, p fetchPlan, after func(ctx context.Context) error) (bool, error) {
	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	h, err := g.holding(ctx, p.root)
	if err != nil || !h.Complete {
		return false, nil
	}
	if p.progress != nil {
		p.progress(int64(h.TotalBytes), int64(h.TotalBytes))
	}
	if err := g.recordFetch(context.WithoutCancel(ctx), p, fetchOutcome{total: h.TotalBytes, complete: true}); err != nil {
		return true, err
	}
	if after != nil {
		return true, after(ctx)
	}
	return true, nil
}

// fetchOutcome is what a fetch leaves to record.
type fetchOutcome struct {
	total    uint64 // the DAG's declared size
	complete bool
	fetched  int64  // bytes received from peers
	done     int64  // bytes local when the walk ended
	marker   ds.Key // the in-flight marker to clear; zero when none was written
}

// recordFetch writes the pin or cache record. A failed fetch that wrote
// blocks still gets a cache record, so its blocks stay evictable and a
// retry resumes instead of starting over.
func (g *Grid) recordFetch(ctx context.Context, p fetchPlan, o fetchOutcome) error {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	b := g.newBatch(ctx)
	if o.marker != (ds.Key{}) {
		b.del(ctx, o.marker)
	}
	pinned, err := g.isPinned(ctx, p.root)
	if err != nil {
		return err
	}
	switch {
	case p.pin != nil && o.complete:
		if err := g.claimPin(ctx, b, p.root, o.total, p.pin.owner, p.pin.name); err != nil {
			return err
		}
		b.del(ctx, cacheKey(p.root))
	case pinned:
	case o.complete:
		b.put(ctx, cacheKey(p.root), cacheEntry{Bytes: o.total, LastUsed: g.now().UTC()})
	case o.fetched > 0:
		b.put(ctx, cacheKey(p.root), cacheEntry{Bytes: uint64(o.done), LastUsed: g.now().UTC()})
	}
	return b.commit(ctx)
}

// fetcher walks a DAG level by level: local blocks are read (inner nodes)
// or just sized (raw leaves); missing ones are asked of bitswap in batches.
type fetcher struct {
	g    *Grid
	plan fetchPlan
	res  *reservation
	sess exchange.Fetcher
	// sessCancel ends the current bitswap session (renewed on stalls).
	sessCancel context.CancelFunc
	sessCtx    context.Context
	cancel     context.CancelFunc
	total      int64 // declared DAG size; -1 until the root is known
	done       int64 // bytes local so far, found or fetched
	fetched    int64 // bytes received from peers
	hinted     int   // hinted peers we are connected to
	// found counts providers the DHT lookup found (other goroutine).
	found    atomic.Int32
	havers   map[peer.ID]struct{} // peers that said HAVE or sent blocks
	probed   map[peer.ID]struct{} // peers asked whether they hold the root
	ws       *waitState
	seen     map[string]struct{}
	discover sync.Once
	wg       sync.WaitGroup
}

func (g *Grid) newFetcher(ctx context.Context, p fetchPlan) *fetcher {
	sctx, cancel := context.WithCancel(ctx)
	f := &fetcher{g: g, plan: p, sessCtx: sctx, cancel: cancel, total: -1, seen: map[string]struct{}{},
		havers: map[peer.ID]struct{}{}, probed: map[peer.ID]struct{}{}}
	deadline, _ := ctx.Deadline()
	f.ws = newWaitState(p.op, p.root, p.wait, g.now(), deadline)
	f.hinted = g.connectPeers(sctx, p.hints, true)
	return f
}

func (f *fetcher) close() {
	f.cancel()
	f.wg.Wait()
	if h := f.g.cfg.Host; h != nil {
		for _, ai := range f.plan.hints {
			h.ConnManager().Unprotect(ai.ID, protectTag)
		}
	}
}

// walk fetches the whole DAG below the root (the root is already local).
func (f *fetcher) walk(ctx context.Context) error {
	level := []cid.Cid{f.plan.root}
	f.done = 0
	clear(f.seen)
	f.seen[string(f.plan.root.Hash())] = struct{}{}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxTreeDepth {
			return fmt.Errorf("%s %s: DAG is deeper than %d levels; refusing it", f.plan.op, f.plan.root, maxTreeDepth)
		}
		var next []cid.Cid
		for i := 0; i < len(level); i += fetchBatch {
			batch := level[i:min(i+fetchBatch, len(level))]
			if err := f.fetchLevel(ctx, batch, &next); err != nil {
				return err
			}
		}
		level = next
	}
	return nil
}

// fetchLevel makes batch local and, when next is not nil, appends the
// children of its inner nodes to next in link order. A child seen before
// (repeated chunks, or a DAG built to explode a naive walk) is not walked
// again; its declared size counts as done.
func (f *fetcher) fetchLevel(ctx context.Context, batch []cid.Cid, next *[]cid.Cid) error {
	var missing []cid.Cid
	for _, c := range batch {
		present, err := f.ensurePresent(ctx, c)
		if err != nil {
			return err
		}
		if !present {
			missing = append(missing, c)
		}
	}
	if err := f.fetchMissing(ctx, missing); err != nil {
		return err
	}
	if next == nil {
		return nil
	}
	for _, c := range batch {
		if c.Type() == cid.Raw {
			continue
		}
		links, err := f.g.localLinks(ctx, c)
		if err != nil {
			return fmt.Errorf("%s %s: %w", f.plan.op, f.plan.root, err)
		}
		for _, l := range links {
			if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, l.Cid); err != nil {
				return fmt.Errorf("%s %s: node %s links to unacceptable CID %s: %w", f.plan.op, f.plan.root, c, l.Cid, err)
			}
			if _, dup := f.seen[string(l.Cid.Hash())]; dup {
				f.advance(int64(l.Size))
				continue
			}
			f.seen[string(l.Cid.Hash())] = struct{}{}
			*next = append(*next, l.Cid)
		}
	}
	return nil
}

// ensurePresent counts c as done if it is stored, or stores it when it is
// the empty block: bitswap servers answer a want for a 0-byte block with
// HAVE, never the block (boxo's engine only sends blocks of size > 0), so
// an empty file would never arrive. Its content is known.
func (f *fetcher) ensurePresent(ctx context.Context, c cid.Cid) (bool, error) {
	present, err := f.countLocal(ctx, c)
	if err != nil || present || !isEmptyBlock(c) {
		return present, err
	}
	empty, err := blocks.NewBlockWithCid(nil, c)
	if err != nil {
		return false, fmt.Errorf("%s: empty block %s: %w", f.plan.op, c, err)
	}
	if err := f.g.bstore.Put(ctx, empty); err != nil {
		return false, fmt.Errorf("%s: cannot store the empty block %s: %w", f.plan.op, c, err)
	}
	return true, nil
}

// isEmptyBlock reports whether c addresses zero bytes.
func isEmptyBlock(c cid.Cid) bool {
	e, err := c.Prefix().Sum(nil)
	return err == nil && e.Equals(c)
}

// countLocal reports whether c is stored and counts its bytes as done.
func (f *fetcher) countLocal(ctx context.Context, c cid.Cid) (bool, error) {
	size, err := f.g.bstore.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: cannot read block %s: %w", f.plan.op, c, err)
	}
	f.advance(int64(size))
	return true, nil
}

func (f *fetcher) advance(n int64) {
	f.done += n
	if f.plan.progress != nil && n > 0 {
		f.plan.progress(f.done, f.total)
	}
}

// fetchMissing asks bitswap for missing and stores what arrives, within
// the reservation, until all arrived or ctx ends.
func (f *fetcher) fetchMissing(ctx context.Context, missing []cid.Cid) error {
	if len(missing) == 0 {
		return nil
	}
	if f.g.bswap == nil {
		return fmt.Errorf("%s %s: %d blocks are not stored here (first %s) and this grid is offline", f.plan.op, f.plan.root, len(missing), missing[0])
	}
	if f.hinted == 0 {
		f.startDiscovery()
	}
	// Striped over the peers that hold the blocks first; a bitswap
	// session (which also finds new providers) gets what is left.
	missing, err := f.stripe(ctx, missing)
	if err != nil || len(missing) == 0 {
		return err
	}
	want := make(map[string]struct{}, len(missing))
	for _, c := range missing {
		want[string(c.Hash())] = struct{}{}
	}
	ch, err := f.request(ctx, missing, false)
	if err != nil {
		return err
	}
	stall := time.NewTimer(f.ws.next(f.g.now(), discoverAfter))
	defer stall.Stop()
	for stalls := 0; len(want) > 0; {
		select {
		case blk, ok := <-ch:
			if !ok {
				return f.gaveUp(ctx, missing, want)
			}
			// Store whatever else has arrived in the same flatfs batch:
			// one sync per batch instead of one per block.
			got := drain(ch, []blocks.Block{blk}, storeBatch)
			if err := f.store(ctx, got); err != nil {
				return err
			}
			for _, b := range got {
				delete(want, string(b.Cid().Hash()))
			}
			stalls = 0
			stall.Reset(f.ws.next(f.g.now(), discoverAfter))
		case <-stall.C:
			now := f.g.now()
			f.ws.providers = f.providers()
			if err := f.ws.verdict(now, f.done, f.total); err != nil {
				left := pending(missing, want)
				err.Missing, err.First = len(left), left[0]
				return err
			}
			stalls++
			f.startDiscovery()
			if stalls%2 == 0 {
				// Nothing for a while. Bitswap turns slow answers into
				// DONT_HAVEs and may have written off a peer that has the
				// blocks; a fresh session asks every connected peer again.
				if ch, err = f.request(ctx, pending(missing, want), true); err != nil {
					return err
				}
			}
			stall.Reset(f.ws.next(now, discoverAfter))
		case <-ctx.Done():
			return f.gaveUp(ctx, missing, want)
		}
	}
	return nil
}

// request asks bitswap for keys, in a new session when renew is set.
func (f *fetcher) request(ctx context.Context, keys []cid.Cid, renew bool) (<-chan blocks.Block, error) {
	if f.sess == nil || renew {
		if f.sessCancel != nil {
			f.sessCancel()
		}
		sctx, cancel := context.WithCancel(f.sessCtx)
		f.sess, f.sessCancel = f.g.bswap.NewSession(sctx), cancel
	}
	ch, err := f.sess.GetBlocks(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("%s %s: cannot ask peers for blocks: %w", f.plan.op, f.plan.root, err)
	}
	return ch, nil
}

// pending returns the keys of missing still in want, in order.
func pending(missing []cid.Cid, want map[string]struct{}) []cid.Cid {
	var out []cid.Cid
	for _, c := range missing {
		if _, ok := want[string(c.Hash())]; ok {
			out = append(out, c)
		}
	}
	return out
}

// drain appends blocks already waiting in ch, up to max in all.
func drain(ch <-chan blocks.Block, got []blocks.Block, max int) []blocks.Block {
	for len(got) < max {
		select {
		case b, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, b)
		default:
			return got
		}
	}
	return got
}

func (f *fetcher) store(ctx context.Context, got []blocks.Block) error {
	var n int
	for _, blk := range got {
		if len(blk.RawData()) > maxBlockSize {
			return fmt.Errorf("%s %s: peer sent block %s of %d bytes, more than the %d allowed", f.plan.op, f.plan.root, blk.Cid(), len(blk.RawData()), maxBlockSize)
		}
		n += len(blk.RawData())
	}
	if f.res != nil {
		if err := f.res.take(uint64(n)); err != nil {
			return err
		}
	}
	if err := f.g.bstore.PutMany(ctx, got); err != nil {
		return fmt.Errorf("%s %s: cannot store %d blocks: %w", f.plan.op, f.plan.root, len(got), err)
	}
	// Serve them on to peers that want them too.
	_ = f.g.bswap.NotifyNewBlocks(ctx, got...)
	f.ws.blockArrived(f.g.now())
	f.fetched += int64(n)
	f.advance(int64(n))
	return nil
}

// ctxEnded explains a striped fetch whose context ended, as gaveUp does:
// a deadline is a WaitError (no provider, stalled or timed out), so the
// striped and bitswap paths fail alike.
func (f *fetcher) ctxEnded(ctx context.Context) error {
	f.ws.providers = f.providers()
	if err := f.ws.ended(f.g.now(), ctx.Err(), f.done, f.total); err != nil {
		return err
	}
	return fmt.Errorf("%s %s: %w", f.plan.op, f.plan.root, ctx.Err())
}

func (f *fetcher) gaveUp(ctx context.Context, missing []cid.Cid, want map[string]struct{}) error {
	left := pending(missing, want)
	cause := ctx.Err()
	f.ws.providers = f.providers()
	if err := f.ws.ended(f.g.now(), cause, f.done, f.total); err != nil {
		err.Missing, err.First = len(left), left[0]
		return err
	}
	if cause == nil {
		cause = errors.New("the bitswap session ended")
	}
	total := "an unknown size"
	if f.total > 0 {
		total = humanBytes(uint64(f.total))
	}
	return fmt.Errorf("%s %s: no reachable peer delivered %d blocks (first %s); have %s of %s: %w; check that a peer holding it is online or pass a provider hint",
		f.plan.op, f.plan.root, len(left), left[0], humanBytes(uint64(f.done)), total, cause)
}

// providers is how many peers may hold the root: providers the DHT
// found plus hinted peers we are connected to.
func (f *fetcher) providers() int { return int(f.found.Load()) + f.hinted }

// startDiscovery looks the root up in the DHT once and connects to its
// providers in the background; bitswap then asks them too.
func (f *fetcher) startDiscovery() {
	g := f.g
	if g.cfg.Routing == nil || g.cfg.Host == nil {
		return
	}
	f.discover.Do(func() {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			ctx, cancel := context.WithTimeout(f.sessCtx, lookupTimeout)
			defer cancel()
			provs, err := g.Providers(ctx, f.plan.root, lookupMax)
			if err != nil {
				g.log.Debug("provider lookup failed", "cid", f.plan.root.String(), "err", err)
			}
			f.found.Store(int32(len(provs)))
			g.connectPeers(ctx, provs, false)
		}()
	})
}

// connectPeers dials peers in parallel and returns how many are connected;
// protected peers stay connected while the fetch runs.
func (g *Grid) connectPeers(ctx context.Context, peers []peer.AddrInfo, protect bool) int {
	h := g.cfg.Host
	if h == nil || len(peers) == 0 {
		return 0
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for _, ai := range peers {
		if ai.ID == h.ID() {
			continue
		}
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			if err := h.Connect(cctx, ai); err != nil {
				g.log.Debug("cannot connect to provider", "peer", ai.ID.String(), "err", err)
				return
			}
			if protect {
				h.ConnManager().Protect(ai.ID, protectTag)
			}
			mu.Lock()
			n++
			mu.Unlock()
		}(ai)
	}
	wg.Wait()
	return n
}
