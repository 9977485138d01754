package worker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker/probe"
)

// gridWorker is a Worker with an offline data grid of the given quota and
// nothing else: enough for the store checks of an offer.
func gridWorker(t *testing.T, quota uint64) (*Worker, *datagrid.Grid) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "datagrid")
	g, err := datagrid.Open(context.Background(), datagrid.Config{Dir: dir, QuotaBytes: quota})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	policy := probe.IdlePolicy{}.WithDefaults()
	idle, err := probe.NewIdleTracker(policy)
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{cfg: Config{Enabled: true, Idle: policy}, deps: Deps{Grid: g, GridDir: dir, EthKey: key},
		log: slog.New(slog.DiscardHandler), changed: make(chan struct{}, 1), slots: probe.NewSlots(1), idle: idle}
	return w, g
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdmitHealthQuota(t *testing.T) {
	w, g := gridWorker(t, 2*mib)
	ctx := context.Background()
	held, err := g.AddReader(ctx, bytes.NewReader(randomBytes(t, mib)), nil) // pinned: not evictable
	if err != nil {
		t.Fatal(err)
	}
	spec := func(weights, shard uint64) tasklet.Spec {
		return tasklet.Spec{JobID: "j", Round: 1, Inputs: []tasklet.Input{
			{Name: "weights", CID: testCID(t, "w").String(), Size: weights},
			{Name: "shard", CID: testCID(t, "s").String(), Size: shard},
		}}
	}
	if h := w.admitHealth(spec(100<<10, 300<<10)); !h.ok() {
		t.Errorf("small tasklet: %s, want it admitted", h)
	}
	h := w.admitHealth(spec(100<<10, 4*mib))
	if h.Reason != tasklet.ReasonOverQuota || !strings.Contains(h.Detail, "4.2 MiB") {
		t.Errorf("tasklet with a 4 MiB shard: %+v, want over-quota with its need", h)
	}
	if got := w.Status().Reason; !strings.HasPrefix(got, "over-quota: ") {
		t.Errorf("status reason %q, want it to advertise over-quota", got)
	}
	select {
	case <-w.changed:
	default:
		t.Error("becoming unhealthy did not ask for a republish")
	}
	// Still too small after the probe; fine once the held data is released.
	if h := w.probeHealth(ctx); h.ok() {
		t.Error("probe found the worker healthy while the need still does not fit")
	}
	if err := g.Unpin(ctx, held.Root); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GC(ctx); err != nil {
		t.Fatal(err)
	}
	w.setNeedFloor(1500 << 10) // a need that fits once the pin is gone
	if h := w.probeHealth(ctx); !h.ok() {
		t.Errorf("probe after freeing space: %s, want healthy", h)
	}
	if got := w.Status().Reason; strings.HasPrefix(got, "over-quota") {
		t.Errorf("status reason %q after recovery", got)
	}
}

func TestStorageFailure(t *testing.T) {
	w, _ := gridWorker(t, 2*mib)
	qe := &datagrid.QuotaError{Op: "data fetch", Need: 4 * mib, Free: mib, Quota: 2 * mib}
	var f *tasklet.FailedError
	if err := w.storageFailure(qe); !asFailed(err, &f) || f.Reason != tasklet.ReasonOverQuota {
		t.Errorf("quota error became %v, want failed over-quota", err)
	}
	if w.health.Reason != tasklet.ReasonOverQuota || w.needFloor != 4*mib {
		t.Errorf("health %+v floor %d after a quota error", w.health, w.needFloor)
	}
	other := context.DeadlineExceeded
	if err := w.storageFailure(other); err != other {
		t.Errorf("unrelated error became %v", err)
	}
}

func asFailed(err error, f **tasklet.FailedError) bool {
	var x *tasklet.FailedError
	ok := err != nil && errors.As(err, &x)
	*f = x
	return ok
}
