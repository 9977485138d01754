package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// health is whether this worker can store what tasklets need. An unhealthy
// worker declines offers with Reason and advertises itself as not idle with
// "Reason: Detail" until a probe finds the cause gone.
type health struct {
	Reason string // "" (healthy), tasklet.ReasonOverQuota or tasklet.ReasonUnwritable
	Detail string // numbers or the path, and what to do
}

func (h health) ok() bool { return h.Reason == "" }

// String is the capability record's IdleReason for an unhealthy worker.
func (h health) String() string {
	if h.ok() {
		return ""
	}
	return h.Reason + ": " + h.Detail
}

// space is what the quota leaves for a tasklet.
type space struct {
	Limited   bool   // false: no quota, everything fits
	Quota     uint64 // the quota
	Free      uint64 // quota neither used nor reserved
	Evictable uint64 // bytes of cached DAGs eviction may drop for this tasklet
}

// need is what a tasklet would store here.
type need struct {
	Missing uint64 // bytes of its inputs not stored here yet
	Output  uint64 // estimate of its output (the size of its weights input)
}

func (n need) total() uint64 { return n.Missing + n.Output }

// inputHolding is one input of a tasklet as this node holds it.
type inputHolding struct {
	Name     string
	Declared uint64 // tasklet.Input.Size; 0 = unknown
	Total    uint64 // DAG size as known from a local root; 0 = unknown
	Local    uint64 // bytes stored here
	Pinned   bool   // pinned (not evictable cache)
}

// needOf adds up what a tasklet's inputs still need and estimates its
// output. Cached bytes of its own inputs are returned as keep: evicting
// them to make room would only fetch them again.
func needOf(ins []inputHolding) (n need, keep uint64) {
	for _, in := range ins {
		size := max(in.Declared, in.Total)
		if size > in.Local {
			n.Missing += size - in.Local
		}
		if in.Name == contract.InputWeights {
			n.Output = size
		}
		if !in.Pinned {
			keep += in.Local
		}
	}
	return n, keep
}

// quotaHealth says whether need fits in s, and if not, why with numbers.
func quotaHealth(n need, s space) health {
	if !s.Limited {
		return health{}
	}
	avail := s.Free + s.Evictable
	if n.total() <= avail && avail > 0 {
		return health{}
	}
	if n.total() == 0 {
		return health{Reason: tasklet.ReasonOverQuota, Detail: fmt.Sprintf(
			"the %s data grid quota is full and no cache can be evicted; raise datagrid.quota_gib in config.toml or free space with gridswarm data gc",
			units.Bytes(s.Quota))}
	}
	return health{Reason: tasklet.ReasonOverQuota, Detail: fmt.Sprintf(
		"a tasklet needs %s (%s of inputs not held here and about %s of output) but only %s of the %s data grid quota is free or evictable; raise datagrid.quota_gib in config.toml or free space with gridswarm data gc",
		units.Bytes(n.total()), units.Bytes(n.Missing), units.Bytes(n.Output), units.Bytes(avail), units.Bytes(s.Quota))}
}

// probeWritable creates, writes and removes a file in dir: the cheapest
// check that the store can take new blocks (a read-only mount or disk, a
// folder that lost its permissions).
func probeWritable(dir string) health {
	f, err := os.CreateTemp(dir, ".gridswarm-probe-*")
	if err == nil {
		_, err = f.Write([]byte{0})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(f.Name()); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return health{Reason: tasklet.ReasonUnwritable, Detail: fmt.Sprintf(
			"cannot write to the data grid's block store %s (%v); make it writable (is the disk or mount read-only?) and the worker accepts tasklets again",
			dir, err)}
	}
	return health{}
}

// isUnwritable reports whether err says a write was refused by the file
// system rather than by the quota.
func isUnwritable(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOSPC)
}

// blocksDir is where the data grid writes blocks.
func (w *Worker) blocksDir() string {
	dir := w.deps.GridDir
	if dir == "" {
		dir = filepath.Join(w.deps.RepoDir, "datagrid")
	}
	return filepath.Join(dir, "blocks")
}

// space reports the quota left for a tasklet whose own cached inputs
// (keep bytes) must not be evicted.
func (w *Worker) space(ctx context.Context, keep uint64) (space, error) {
	st, err := w.deps.Grid.Stat(ctx)
	if err != nil {
		return space{}, fmt.Errorf("cannot read the data grid's usage: %w", err)
	}
	s := space{Limited: st.QuotaBytes > 0, Quota: st.QuotaBytes, Free: st.FreeBytes}
	if st.CacheBytes > keep {
		s.Evictable = st.CacheBytes - keep
	}
	return s, nil
}

// holdings describes spec's inputs as this node holds them.
func (w *Worker) holdings(ctx context.Context, spec tasklet.Spec) ([]inputHolding, error) {
	roots := make([]cid.Cid, 0, len(spec.Inputs))
	for _, in := range spec.Inputs {
		c, err := cid.Decode(in.CID)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		roots = append(roots, c)
	}
	hs, err := w.deps.Grid.Holds(ctx, roots)
	if err != nil {
		return nil, fmt.Errorf("cannot tell which inputs are stored here: %w", err)
	}
	out := make([]inputHolding, len(hs))
	for i, h := range hs {
		out[i] = inputHolding{Name: spec.Inputs[i].Name, Declared: spec.Inputs[i].Size,
			Total: h.TotalBytes, Local: h.LocalBytes, Pinned: h.Pinned}
	}
	return out, nil
}

// checkSpec decides whether spec's inputs and output fit. It never
// collects garbage itself (that would hold the grid's GC lock against
// running fetches): the grid collects released data in the background and
// again when a reservation runs short. Errors reading the store admit the
// tasklet: the fetch will say what is wrong.
func (w *Worker) checkSpec(ctx context.Context, spec tasklet.Spec) health {
	ins, err := w.holdings(ctx, spec)
	if err != nil {
		w.log.Debug("quota check skipped", "err", err)
		return health{}
	}
	n, keep := needOf(ins)
	s, err := w.space(ctx, keep)
	if err != nil {
		w.log.Debug("quota check skipped", "err", err)
		return health{}
	}
	h := quotaHealth(n, s)
	if !h.ok() {
		w.setNeedFloor(max(n.total(), 1))
	}
	return h
}

// probeHealth re-checks the store: writable, and room for the last
// tasklet that did not fit. It updates the advertised state.
func (w *Worker) probeHealth(ctx context.Context) health {
	h := probeWritable(w.blocksDir())
	if h.ok() {
		w.mu.Lock()
		floor := w.needFloor
		w.mu.Unlock()
		if floor > 0 {
			h = w.quotaFor(ctx, floor)
			if h.ok() {
				w.setNeedFloor(0)
			}
		}
	}
	w.setHealth(h)
	return h
}

// quotaFor checks whether bytes fit in the free quota and evictable cache.
func (w *Worker) quotaFor(ctx context.Context, bytes uint64) health {
	s, err := w.space(ctx, 0)
	if err != nil {
		return health{}
	}
	return quotaHealth(need{Missing: bytes}, s)
}

func (w *Worker) setNeedFloor(n uint64) {
	w.mu.Lock()
	w.needFloor = n
	w.mu.Unlock()
}

// setHealth records h and republishes the capability record on a change.
func (w *Worker) setHealth(h health) {
	w.mu.Lock()
	changed := w.health != h
	prev := w.health
	w.health = h
	w.mu.Unlock()
	if !changed {
		return
	}
	if h.ok() {
		w.log.Info("worker healthy again: accepting tasklets", "was", prev.Reason)
	} else {
		w.log.Warn("worker cannot take tasklets", "reason", h.Reason, "detail", h.Detail)
	}
	w.poke()
}

// storageFailure turns an error from fetching inputs or storing the output
// into the reason the coordinator is told, and marks the worker unhealthy
// when the store is the cause. Other errors pass through unchanged.
func (w *Worker) storageFailure(err error) error {
	if err == nil {
		return nil
	}
	var qe *datagrid.QuotaError
	if errors.As(err, &qe) {
		w.setNeedFloor(max(qe.Need, 1))
		h := health{Reason: tasklet.ReasonOverQuota, Detail: qe.Error()}
		w.setHealth(h)
		return &tasklet.FailedError{Reason: h.Reason, Detail: h.Detail}
	}
	if h := probeWritable(w.blocksDir()); !h.ok() || isUnwritable(err) {
		if h.ok() {
			h = health{Reason: tasklet.ReasonUnwritable, Detail: fmt.Sprintf("the data grid could not write (%v); check the disk and the permissions of %s", err, w.blocksDir())}
		}
		w.setHealth(h)
		return &tasklet.FailedError{Reason: h.Reason, Detail: h.Detail}
	}
	return err
}
