package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/datagrid/dataset/mnistdata"
)

// DataService is the data_ namespace: the node's share of the data grid.
type DataService struct{ n *Node }

func addResult(r datagrid.AddResult) AddResult {
	out := AddResult{CID: r.Root.String(), Name: r.Name, Size: r.Size, DAGBytes: r.DAGBytes, Skipped: r.Skipped, Files: []AddedFile{}}
	for _, f := range r.Files {
		out.Files = append(out.Files, AddedFile{Path: f.Path, CID: f.Cid.String(), Size: f.Size})
	}
	return out
}

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%q is not a CID: %w", s, err)
	}
	return c, nil
}

func absPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q must be absolute: the daemon does not share the CLI's working directory", p)
	}
	return filepath.Clean(p), nil
}

// Progress is data_subscribe("progress", op): the progress events of the
// operation started with the same op ID.
func (s *DataService) Progress(ctx context.Context, op string) (*rpc.Subscription, error) {
	if op == "" {
		return nil, fmt.Errorf("op ID is empty: pick one and pass it to the operation too")
	}
	return s.n.progress.subscribe(ctx, op)
}

// Add imports a file or folder (absolute path on the daemon's machine),
// pins it and announces it. op, if not empty, names the progress stream.
func (s *DataService) Add(ctx context.Context, path string, op *string) (AddResult, error) {
	p, err := absPath(path)
	if err != nil {
		return AddResult{}, err
	}
	r, err := s.n.grid.AddPath(ctx, p, reporter(s.n.progress, deref(op), "add"))
	if err != nil {
		return AddResult{}, err
	}
	return addResult(r), nil
}

// Default limits of the data_ methods that wait on peers. Without a
// timeout, data_get and data_pin run as long as blocks keep arriving; the
// provider search and stall limits still end them when nothing does.
const (
	defaultLsTimeout = time.Minute
	defaultStall     = datagrid.DefaultStall
)

// waitLimits turns o into a context deadline and a datagrid.Wait, refusing
// values that would wait forever or not at all.
func waitLimits(o WaitOptions, op string, defTimeout time.Duration) (time.Duration, datagrid.Wait, error) {
	switch {
	case o.TimeoutSeconds < 0 || math.IsNaN(o.TimeoutSeconds) || math.IsInf(o.TimeoutSeconds, 0):
		return 0, datagrid.Wait{}, fmt.Errorf("%s: timeout_seconds %v is not a positive number of seconds (leave it out for the default)", op, o.TimeoutSeconds)
	case o.StallSeconds < 0 || math.IsNaN(o.StallSeconds) || math.IsInf(o.StallSeconds, 0):
		return 0, datagrid.Wait{}, fmt.Errorf("%s: stall_seconds %v is not a positive number of seconds (leave it out for the default %s)", op, o.StallSeconds, defaultStall)
	}
	timeout := seconds(o.TimeoutSeconds)
	w := datagrid.Wait{FindWithin: timeout, Stall: seconds(o.StallSeconds)}
	if timeout == 0 {
		timeout = defTimeout
	}
	return timeout, w, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// withTimeout bounds ctx by d unless d is 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// waitHint tells the user which flag waits longer when a fetch gave up.
func waitHint(cmd string, err error) error {
	switch {
	case errors.Is(err, datagrid.ErrNoProvider), errors.Is(err, datagrid.ErrTimedOut):
		return fmt.Errorf("%w (to wait longer: gridswarm data %s --timeout 5m)", err, cmd)
	case errors.Is(err, datagrid.ErrStalled):
		return fmt.Errorf("%w (see gridswarm data providers; to wait longer: gridswarm data %s --stall 5m)", err, cmd)
	}
	return err
}

// Get writes a CID's file or folder to an absolute path, fetching what is
// missing from the swarm. Nothing is left under path when it fails.
func (s *DataService) Get(ctx context.Context, c string, path string, opts *GetOptions) error {
	id, err := parseCID(c)
	if err != nil {
		return err
	}
	p, err := absPath(path)
	if err != nil {
		return err
	}
	o := deref(opts)
	timeout, w, err := waitLimits(WaitOptions{TimeoutSeconds: o.TimeoutSeconds, StallSeconds: o.StallSeconds}, "data get", 0)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	err = s.n.grid.Get(ctx, id, p, datagrid.GetOptions{Progress: reporter(s.n.progress, o.Op, "get"), Wait: w})
	return waitHint("get", err)
}

// Ls lists a directory CID, fetching its directory node from peers if
// needed, within opts' limits (default: 60 s in all, 30 s to find a
// provider).
func (s *DataService) Ls(ctx context.Context, c string, opts *WaitOptions) ([]Entry, error) {
	id, err := parseCID(c)
	if err != nil {
		return nil, err
	}
	timeout, w, err := waitLimits(deref(opts), "data ls", defaultLsTimeout)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	es, err := s.n.grid.LsWait(ctx, id, w)
	if err != nil {
		return nil, waitHint("ls", err)
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		out = append(out, Entry{Name: e.Name, CID: e.Cid.String(), Size: e.Size, Type: string(e.Type)})
	}
	return out, nil
}

// Pin pins a CID recursively, fetching what is missing within opts'
// limits (default: no overall limit, 30 s to find a provider, 60 s stall).
func (s *DataService) Pin(ctx context.Context, c string, opts *PinOptions) error {
	id, err := parseCID(c)
	if err != nil {
		return err
	}
	o := deref(opts)
	if o.Owner == "" {
		o.Owner = datagrid.OwnerUser
	}
	timeout, w, err := waitLimits(WaitOptions{TimeoutSeconds: o.TimeoutSeconds, StallSeconds: o.StallSeconds}, "data pin", 0)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	err = s.n.grid.PinWith(ctx, id, datagrid.PinOptions{Owner: o.Owner, Name: o.Name, Wait: w})
	return waitHint("pin", err)
}

// Unpin removes the user's pin of a CID (or opts.Owner's, or with opts.All
// every owner's); the blocks go at the next GC or when the quota needs
// room, unless another owner still pins them.
func (s *DataService) Unpin(ctx context.Context, c string, opts *UnpinOptions) error {
	id, err := parseCID(c)
	if err != nil {
		return err
	}
	o := deref(opts)
	if o.All {
		return s.n.grid.Unpin(ctx, id)
	}
	if o.Owner == "" {
		o.Owner = datagrid.OwnerUser
	}
	err = s.n.grid.UnpinOwned(ctx, id, o.Owner)
	if errors.Is(err, datagrid.ErrNotPinned) && o.Owner == datagrid.OwnerUser {
		return fmt.Errorf("%w (gridswarm data unpin %s --all removes every owner's pin)", err, c)
	}
	return err
}

// Pins lists the pins, one row per (CID, owner); with owner set, only
// the pins of that owner and the owners below it (owner/…).
func (s *DataService) Pins(ctx context.Context, owner *string) ([]PinInfo, error) {
	ps, err := s.n.grid.Pins(ctx)
	if err != nil {
		return nil, err
	}
	prefix := deref(owner)
	out := make([]PinInfo, 0, len(ps))
	for _, p := range ps {
		if prefix != "" && p.Owner != prefix && !strings.HasPrefix(p.Owner, prefix+"/") {
			continue
		}
		out = append(out, PinInfo{CID: p.Root.String(), Owner: p.Owner, Name: p.Name, Bytes: p.Bytes, Created: p.Created})
	}
	return out, nil
}

// Gc removes every block not reachable from a pin or the tasklet cache;
// with cache true it first drops the cache too (fetched, unpinned data).
func (s *DataService) Gc(ctx context.Context, cache *bool) (GCResult, error) {
	gc := s.n.grid.GC
	if deref(cache) {
		gc = func(ctx context.Context) (datagrid.GCResult, error) { return s.n.grid.EvictCache(ctx, 0) }
	}
	r, err := gc(ctx)
	if err != nil {
		return GCResult{}, err
	}
	return GCResult{RemovedBlocks: r.RemovedBlocks, FreedBytes: r.FreedBytes, EvictedCache: r.EvictedCache, Seconds: r.Duration.Seconds()}, nil
}

// Stat reports the store's use against the quota.
func (s *DataService) Stat(ctx context.Context) (Stat, error) {
	st, err := s.n.grid.Stat(ctx)
	if err != nil {
		return Stat{}, err
	}
	return Stat(st), nil
}

// Exchange reports bitswap traffic since start, with the bytes each
// peer sent: who really served a fetch.
func (s *DataService) Exchange(ctx context.Context) (Exchange, error) {
	ex, err := s.n.grid.Exchange()
	if err != nil {
		return Exchange{}, err
	}
	return Exchange{FetchedBytes: ex.FetchedBytes, FetchedBlocks: ex.FetchedBlocks, ServedBytes: ex.ServedBytes, ServedBlocks: ex.ServedBlocks, FromPeers: ex.FromPeers}, nil
}

// Holds says, for each CID, how much of its DAG this node stores.
func (s *DataService) Holds(ctx context.Context, cids []string) ([]Holding, error) {
	ids := make([]cid.Cid, 0, len(cids))
	for _, c := range cids {
		id, err := parseCID(c)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	hs, err := s.n.grid.Holds(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Holding, 0, len(hs))
	for _, h := range hs {
		out = append(out, Holding{CID: h.Root.String(), LocalBytes: h.LocalBytes, TotalBytes: h.TotalBytes, Complete: h.Complete, Pinned: h.Pinned})
	}
	return out, nil
}

// Providers looks up in the DHT which peers provide a CID, for at most
// opts.TimeoutSeconds (default 30).
func (s *DataService) Providers(ctx context.Context, c string, max *int, opts *WaitOptions) ([]FoundPeer, error) {
	id, err := parseCID(c)
	if err != nil {
		return nil, err
	}
	limit := 20
	if max != nil && *max > 0 {
		limit = min(*max, 100)
	}
	timeout, _, err := waitLimits(deref(opts), "data providers", datagrid.DefaultFindWithin)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ps, err := s.n.grid.Providers(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	return foundPeers(ps), nil
}

func foundPeers(ps []peer.AddrInfo) []FoundPeer {
	out := make([]FoundPeer, 0, len(ps))
	for _, p := range ps {
		out = append(out, FoundPeer{ID: p.ID.String(), Addrs: addrStrings(p.Addrs)})
	}
	return out
}

// ImportMnist builds the MNIST dataset from the files built into the binary
// (package mnistdata), or from the folder `from` holding the four IDX .gz
// files, and adds it to the grid.
func (s *DataService) ImportMnist(ctx context.Context, from *string, op *string) (AddResult, error) {
	src, name := mnistdata.Files(), "built-in MNIST"
	if dir := deref(from); dir != "" {
		if _, err := absPath(dir); err != nil {
			return AddResult{}, err
		}
		src, name = os.DirFS(dir), dir
	}
	tmp, err := os.MkdirTemp(s.n.repo.Dir, ".import-mnist-")
	if err != nil {
		return AddResult{}, fmt.Errorf("cannot make a work folder in the repo: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "mnist")
	report := reporter(s.n.progress, deref(op), "build")
	if _, err := dataset.BuildMNISTFS(ctx, src, name, out, dataset.MNISTOptions{Progress: func(done, total int) { report(int64(done), int64(total)) }}); err != nil {
		return AddResult{}, err
	}
	r, err := s.n.grid.AddPath(ctx, out, reporter(s.n.progress, deref(op), "add"))
	if err != nil {
		return AddResult{}, err
	}
	return addResult(r), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
