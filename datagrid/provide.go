package datagrid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	unixfs "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

const (
	provideWorkers = 4
	provideTimeout = 2 * time.Minute
	// maxProvideQueue bounds memory; roots beyond it wait for the next
	// reprovide instead.
	maxProvideQueue = 1 << 20
	// firstReprovide: shortly after start, so a restarted node announces
	// its pins again without waiting a full interval.
	firstReprovide = time.Minute
)

// Announcement is the outcome of one DHT provide.
type Announcement struct {
	Cid      cid.Cid
	Err      error
	Duration time.Duration
}

// announcer provides CIDs in the DHT from a queue, on a few workers, and
// re-announces every pinned and cached root on a schedule. Only roots,
// directories and files are announced, not every block: a peer looks up
// the CID it was given and bitswap finds the blocks below it from the same
// peers.
type announcer struct {
	g        *Grid
	routing  routing.ContentRouting
	interval time.Duration
	notify   func(Announcement)
	mu       sync.Mutex
	queue    []cid.Cid
	wake     chan struct{}
}

func newAnnouncer(g *Grid, cfg Config) *announcer {
	return &announcer{g: g, routing: cfg.Routing, interval: cfg.ReprovideInterval, notify: cfg.OnProvided, wake: make(chan struct{}, 1)}
}

func (a *announcer) enqueue(cs ...cid.Cid) {
	if a.routing == nil || len(cs) == 0 {
		return
	}
	a.mu.Lock()
	room := maxProvideQueue - len(a.queue)
	if len(cs) > room {
		a.g.log.Warn("provide queue full; the rest is announced at the next reprovide", "dropped", len(cs)-room)
		cs = cs[:max(room, 0)]
	}
	a.queue = append(a.queue, cs...)
	a.mu.Unlock()
	a.signal()
}

func (a *announcer) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *announcer) pop() (cid.Cid, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) == 0 {
		return cid.Undef, false
	}
	c := a.queue[0]
	a.queue = a.queue[1:]
	if len(a.queue) > 0 {
		a.signal() // wake another worker for the rest
	}
	return c, true
}

func (a *announcer) run(ctx context.Context) {
	if a.routing == nil {
		return
	}
	var wg sync.WaitGroup
	for range provideWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.work(ctx)
		}()
	}
	timer := time.NewTimer(min(firstReprovide, a.interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-timer.C:
			a.reprovide(ctx)
			timer.Reset(a.interval)
		}
	}
}

func (a *announcer) work(ctx context.Context) {
	for {
		c, ok := a.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-a.wake:
				continue
			}
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, provideTimeout)
		err := a.routing.Provide(pctx, c, true)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.g.log.Warn("DHT announcement failed; retried at the next reprovide", "cid", c.String(), "err", err)
		}
		if a.notify != nil {
			a.notify(Announcement{Cid: c, Err: err, Duration: time.Since(start)})
		}
	}
}

func (a *announcer) reprovide(ctx context.Context) {
	keys, err := a.g.announceSet(ctx)
	if err != nil {
		a.g.log.Warn("cannot list roots to reprovide", "err", err)
	}
	a.g.log.Debug("reproviding", "cids", len(keys))
	a.enqueue(keys...)
}

// announceSet is every pinned and cached root plus, for directories, every
// entry below them (files are not descended into).
func (g *Grid) announceSet(ctx context.Context) ([]cid.Cid, error) {
	pins, err := g.listPins(ctx)
	if err != nil {
		return nil, err
	}
	cache, err := g.listCache(ctx)
	if err != nil {
		return nil, err
	}
	var roots []cid.Cid
	for _, p := range pins {
		roots = append(roots, p.Root)
	}
	for _, e := range cache {
		roots = append(roots, e.Root)
	}
	seen := map[string]struct{}{}
	var out []cid.Cid
	var errs []error
	for _, r := range roots {
		errs = append(errs, g.collectEntries(ctx, r, seen, &out, 0))
	}
	return out, errors.Join(errs...)
}

// announceTree queues root and the entries of its directories.
func (g *Grid) announceTree(ctx context.Context, root cid.Cid) {
	var out []cid.Cid
	if err := g.collectEntries(ctx, root, map[string]struct{}{}, &out, 0); err != nil {
		g.log.Warn("cannot list entries to announce", "cid", root.String(), "err", err)
	}
	g.ann.enqueue(out...)
}

func (g *Grid) collectEntries(ctx context.Context, c cid.Cid, seen map[string]struct{}, out *[]cid.Cid, depth int) error {
	if _, ok := seen[c.KeyString()]; ok || depth > maxTreeDepth {
		return nil
	}
	seen[c.KeyString()] = struct{}{}
	*out = append(*out, c)
	dir, err := g.localDirectory(ctx, c)
	if err != nil || dir == nil {
		return err
	}
	return dir.ForEachLink(ctx, func(l *ipld.Link) error {
		return g.collectEntries(ctx, l.Cid, seen, out, depth+1)
	})
}

// localDirectory returns c as a UnixFS directory, or nil when c is a file
// or not stored here.
func (g *Grid) localDirectory(ctx context.Context, c cid.Cid) (uio.Directory, error) {
	if c.Type() != cid.DagProtobuf {
		return nil, nil
	}
	nd, err := g.local.Get(ctx, c)
	if ipld.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !isDirNode(nd) {
		return nil, nil
	}
	return uio.NewDirectoryFromNode(g.local, nd)
}

// isDirNode reports whether nd is a UnixFS directory or HAMT shard.
func isDirNode(nd ipld.Node) bool {
	pn, ok := nd.(interface{ Data() []byte })
	if !ok {
		return false
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return false
	}
	t := fsn.Type()
	return t == unixfs.TDirectory || t == unixfs.THAMTShard
}

// Providers asks the DHT for up to limit peers (default 20) that announced
// c, leaving this node out. It walks the DHT to the end of the query, or
// until limit peers are found.
func (g *Grid) Providers(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	return g.ProvidersUntilQuiet(ctx, c, limit, 0)
}

// ProvidersUntilQuiet is Providers that also stops once quiet has passed
// without a new provider after the first (quiet 0: never). A DHT node
// that holds c's provider records answers with all it has, in one
// message, and every one of the closest nodes holds about the same set,
// so the rest of the walk seldom adds a provider; it only adds round
// trips, each up to an ocean's RTT.
func (g *Grid) ProvidersUntilQuiet(ctx context.Context, c cid.Cid, limit int, quiet time.Duration) ([]peer.AddrInfo, error) {
	if g.cfg.Routing == nil {
		return nil, errors.New("data providers: this grid has no DHT configured")
	}
	if limit <= 0 {
		limit = 20
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var self peer.ID
	ask := limit
	if g.cfg.Host != nil {
		self = g.cfg.Host.ID()
		// The DHT counts this node among the limit when it announced c
		// itself; left out, it would cost the caller one holder.
		ask = limit + 1
	}
	var out []peer.AddrInfo
	var hush <-chan time.Time // armed at each new provider
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	found := g.cfg.Routing.FindProvidersAsync(ctx, c, ask)
walk:
	for {
		select {
		case ai, ok := <-found:
			if !ok {
				break walk
			}
			if ai.ID == self {
				continue
			}
			out = append(out, ai)
			if len(out) == limit {
				break walk
			}
			if quiet > 0 {
				if timer == nil {
					timer = time.NewTimer(quiet)
				} else {
					timer.Reset(quiet)
				}
				hush = timer.C
			}
		case <-hush:
			break walk
		}
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("data providers %s: lookup ended before any provider was found: %w", c, ctx.Err())
	}
	return out, nil
}
